"""The clock: the world reacts as time passes, consistently with the truth and whatever the step size."""

from __future__ import annotations

from datetime import timedelta

import pytest

from growthlab.sandbox import store
from tests.sandbox.test_world import _digests


@pytest.fixture(scope="module")
def twin_worlds(sandbox_factory):
    """Two identical worlds (same seed and size) nobody else touches."""
    return sandbox_factory(seed=11, size=500), sandbox_factory(seed=11, size=500)


def _opportunities(sb, start, end) -> set[str]:
    with store.open_db(sb.database_url, autocommit=True) as conn:
        return {
            str(r[0])
            for r in conn.execute(
                "select id from hubspot.contacts where hs_lifecyclestage_opportunity_date > %s "
                "and hs_lifecyclestage_opportunity_date <= %s and created_at <= %s",
                (start, end, start),
            )
        }


def test_without_the_pipeline_the_world_does_what_the_truth_said_in_any_step_size(twin_worlds):
    one, other = twin_worlds
    truth = one.truth()
    start = one.clock()
    one.advance(90)
    for days in (30, 1, 29, 30):
        other.advance(days)
    end = start + timedelta(days=90)
    assert one.clock() == other.clock() == end
    expected = set(truth.loc[truth["converted"] == 1, "contact_id"])
    assert expected, "a 90-day horizon has conversions"
    assert _opportunities(one, start, end) == expected
    # Same world whatever the step size.
    assert _digests(one.database_url) == _digests(other.database_url)


def test_conversions_come_with_deals_owners_and_stages(twin_worlds):
    one, _ = twin_worlds
    with store.open_db(one.database_url, autocommit=True) as conn:
        orphans = conn.execute(
            """select count(*) from hubspot.contacts c where c.hs_lifecyclestage_opportunity_date is not null
               and not exists (select 1 from hubspot.associations a where a.from_type = 'contacts' and a.from_id = c.id
                               and a.to_type = 'deals')"""
        ).fetchone()[0]
        stages = dict(conn.execute("select dealstage, count(*) from hubspot.deals group by 1").fetchall())
        advanced = conn.execute("select count(*) from world.advance_log").fetchone()[0]
    assert orphans == 0
    assert (
        stages.get("closedwon", 0) > 0
        and stages.get("closedlost", 0) > 0
        and stages.get("appointmentscheduled", 0) >= 0
    )
    assert advanced == 1


def test_a_meeting_the_pipeline_books_gets_an_outcome_after_it_happens(sandbox):
    client = sandbox.hubspot_client()
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        contact_id, owner_id = conn.execute(
            "select c.id, c.hubspot_owner_id from hubspot.contacts c join world.contacts w on w.contact_id = c.id "
            "where w.converted_at is null order by w.fit desc limit 1"
        ).fetchone()
    start = sandbox.clock() + timedelta(days=2, hours=15)
    iso = start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    meeting = client.crm.objects.meetings.basic_api.create(
        {
            "properties": {
                "hs_meeting_title": "Demo",
                "hs_timestamp": iso,
                "hs_meeting_start_time": iso,
                "hs_meeting_end_time": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "hs_meeting_outcome": "SCHEDULED",
                "hubspot_owner_id": str(owner_id),
            },
            "associations": [
                {
                    "to": {"id": str(contact_id)},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}],
                }
            ],
        }
    )
    sandbox.advance(1)
    assert (
        client.crm.objects.meetings.basic_api.get_by_id(
            meeting.id, properties=["hs_meeting_outcome"]
        ).properties["hs_meeting_outcome"]
        == "SCHEDULED"
    )
    sandbox.advance(2)
    outcome = client.crm.objects.meetings.basic_api.get_by_id(
        meeting.id, properties=["hs_meeting_outcome"]
    ).properties["hs_meeting_outcome"]
    assert outcome in ("COMPLETED", "NO_SHOW", "CANCELED")


def test_advance_refuses_nonsense(sandbox):
    from growthlab.sandbox.advance import advance

    with pytest.raises(ValueError, match="--days"):
        advance(sandbox.database_url, 0)


def test_late_engagement_with_the_historys_newsletters_shows_up_in_the_email_events_api(sandbox):
    # The session world (seed SANDBOX_TEST_SEED) ends its history with opens still to come.
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        today = store.get_meta(conn, "world")["today"]
    if sandbox.clock().date().isoformat() == today:
        sandbox.advance(1)
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        late, orphans, types = conn.execute(
            """select count(*),
                      count(*) filter (where not exists (select 1 from hubspot.email_events s
                                                         where s.id = e.sent_by_id and s.type = 'SENT')),
                      array_agg(distinct e.type)
               from hubspot.email_events e where e.created >= extract(epoch from %s::date) * 1000""",
            (today,),
        ).fetchone()
    assert late > 0 and orphans == 0
    assert "SENT" not in types  # nobody sends HubSpot marketing email after the history
