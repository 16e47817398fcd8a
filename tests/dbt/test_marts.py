"""`dbt build` on a tiny world loaded by the real ingestion: marts checked against the raw tables.

The expected values are computed here in Python, from the raw tables only, with the definitions
of the model docs (HubSpot's: open rate = opened / delivered, ...), so a wrong join, filter or
window in the SQL shows up as a difference.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from growthlab.transform.publish import REQUIRED_MARTS

pytestmark = pytest.mark.slow


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def ts(value) -> datetime | None:
    """A HubSpot property timestamp (ISO 8601 string) or None."""
    if value in (None, ""):
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def test_build_passes_every_model_test_and_unit_test(dbt_warehouse):
    build = dbt_warehouse.build
    assert build.ok and not build.failed, build.summary()
    kinds = {r.unique_id.split(".")[0] for r in build.results}
    assert {"model", "test", "unit_test", "seed"} <= kinds
    built = {r.name for r in build.results if r.resource_type == "model" and r.status == "success"}
    assert set(REQUIRED_MARTS) <= built
    with psycopg.connect(dbt_warehouse.url) as conn:
        for mart in REQUIRED_MARTS:
            assert conn.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart


def _per_send_rates(sends: dict[str, dict]) -> dict[str, float]:
    delivered = [s for s in sends.values() if s["delivered"] or s["opens"] or s["clicks"]]
    opened = [s for s in delivered if s["opens"] or s["clicks"]]
    human = [s for s in delivered if s["human_opens"] or s["clicks"]]
    clicked = [s for s in delivered if s["clicks"]]
    return {
        "sends": len(sends),
        "delivered": len(delivered),
        "open_rate": len(opened) / len(delivered),
        "human_open_rate": len(human) / len(delivered),
        "click_rate": len(clicked) / len(delivered),
        "click_to_open_rate": len(clicked) / len(opened) if opened else None,
    }


def _mart_rates(url: str, source: str, campaign: str) -> dict[str, float]:
    (sends, delivered, opened, human, clicked) = rows(
        url,
        """select sum(sends), sum(delivered), sum(opened), sum(human_opened), sum(clicked)
           from marts.email_campaign_performance where source = %s and campaign_id = %s""",
        (source, campaign),
    )[0]
    sends, delivered, opened, human, clicked = (int(v) for v in (sends, delivered, opened, human, clicked))
    return {
        "sends": sends,
        "delivered": delivered,
        "open_rate": opened / delivered,
        "human_open_rate": human / delivered,
        "click_rate": clicked / delivered,
        "click_to_open_rate": clicked / opened if opened else None,
    }


def test_sendgrid_campaign_rates_match_the_raw_events(dbt_warehouse):
    sends: dict[str, dict] = defaultdict(lambda: {"delivered": 0, "opens": 0, "human_opens": 0, "clicks": 0})
    for outbox_id, event, machine in rows(
        dbt_warehouse.url,
        "select gl_outbox_id, event, sg_machine_open from raw_sendgrid.events where gl_campaign = %s",
        (dbt_warehouse.campaign,),
    ):
        send = sends[outbox_id]
        send["delivered"] += event == "delivered"
        send["opens"] += event == "open"
        send["human_opens"] += event == "open" and not machine
        send["clicks"] += event == "click"
    expected = _per_send_rates(sends)
    assert (
        expected["sends"] > 50 and expected["human_open_rate"] < expected["open_rate"]
    )  # MPP is in the data
    assert _mart_rates(dbt_warehouse.url, "sendgrid", dbt_warehouse.campaign) == pytest.approx(expected)


def test_hubspot_marketing_campaign_rates_match_the_raw_events(dbt_warehouse):
    events = rows(
        dbt_warehouse.url,
        """select payload -> 'sentBy' ->> 'id', id, event_type, filtered_event, email_campaign_id
           from raw_hubspot.email_events""",
    )
    by_campaign: dict[str, int] = defaultdict(int)
    for _, _, kind, _, campaign in events:
        by_campaign[campaign] += kind == "SENT"
    campaign = max(sorted(by_campaign), key=lambda c: by_campaign[c])  # the biggest, deterministically
    sends: dict[str, dict] = defaultdict(lambda: {"delivered": 0, "opens": 0, "human_opens": 0, "clicks": 0})
    for sent_by, event_id, kind, filtered, camp in events:
        if camp != campaign:
            continue
        send = sends[sent_by or event_id]
        send["delivered"] += kind == "DELIVERED"
        send["opens"] += kind == "OPEN"
        send["human_opens"] += kind == "OPEN" and not filtered
        send["clicks"] += kind == "CLICK"
    expected = _per_send_rates(sends)
    assert expected["sends"] > 20
    assert _mart_rates(dbt_warehouse.url, "hubspot", campaign) == pytest.approx(expected)


def _feature_row_from_raw(url: str, contact_id: str, as_of: date, horizon: date) -> dict:
    """lead_features' definitions, recomputed from raw_* for one contact (UTC calendar days)."""
    (props,) = rows(url, "select properties from raw_hubspot.contacts where id = %s", (contact_id,))[0]
    email = props["email"].strip().lower()

    def day(moment: datetime) -> date:
        return moment.astimezone(UTC).date()

    def within(moment: datetime | None, days: int) -> bool:
        return moment is not None and as_of - timedelta(days=days) < day(moment) <= as_of

    events: list[tuple[str, datetime, bool]] = [
        (kind.lower(), at, bool(filtered))
        for kind, at, filtered in rows(
            url,
            "select event_type, created_at, filtered_event from raw_hubspot.email_events where lower(recipient) = %s",
            (email,),
        )
    ]
    events += [
        (kind, at, bool(machine))
        for kind, at, machine in rows(
            url,
            "select event, event_at, sg_machine_open from raw_sendgrid.events where gl_contact_id = %s",
            (contact_id,),
        )
    ]
    emails = rows(
        url,
        """select e.properties from raw_hubspot.emails e
           join raw_hubspot.associations a on a.from_type = 'emails' and a.from_id = e.id
             and a.to_type = 'contacts' and a.to_id = %s and not a.removed
           where not e.archived""",
        (contact_id,),
    )
    replies = [ts(p["hs_timestamp"]) for (p,) in emails if p.get("hs_email_direction") == "INCOMING_EMAIL"]
    meetings = rows(
        url,
        """select m.properties from raw_hubspot.meetings m
           join raw_hubspot.associations a on a.from_type = 'meetings' and a.from_id = m.id
             and a.to_type = 'contacts' and a.to_id = %s and not a.removed
           where not m.archived""",
        (contact_id,),
    )
    booked = [ts(p.get("hs_createdate")) for (p,) in meetings]
    completed = [
        ts(p.get("hs_meeting_start_time")) for (p,) in meetings if p.get("hs_meeting_outcome") == "COMPLETED"
    ]
    engaged = [at for kind, at, machine in events if (kind == "open" and not machine) or kind == "click"]
    engaged += [r for r in replies if r]
    engaged += [b for b in booked + completed if b]
    engaged += _linkedin_inbound(url, contact_id, props)
    engaged_days = [day(at) for at in engaged if day(at) <= as_of]
    opportunity = ts(props.get("hs_lifecyclestage_opportunity_date"))
    created = ts(props.get("createdate"))
    return {
        "days_since_created": (as_of - created.date()).days,
        "emails_delivered_30d": sum(k == "delivered" and within(at, 30) for k, at, _ in events),
        "emails_delivered_90d": sum(k == "delivered" and within(at, 90) for k, at, _ in events),
        "human_opens_30d": sum(k == "open" and not m and within(at, 30) for k, at, m in events),
        "human_opens_90d": sum(k == "open" and not m and within(at, 90) for k, at, m in events),
        "machine_opens_90d": sum(k == "open" and m and within(at, 90) for k, at, m in events),
        "clicks_30d": sum(k == "click" and within(at, 30) for k, at, _ in events),
        "clicks_90d": sum(k == "click" and within(at, 90) for k, at, _ in events),
        "replies_90d": sum(within(r, 90) for r in replies),
        "meetings_90d": sum(within(b, 90) for b in booked),
        "meetings_completed_90d": sum(within(c, 90) for c in completed),
        "days_since_last_engagement": (as_of - max(engaged_days)).days if engaged_days else None,
        "converted_90d": (
            None
            if as_of + timedelta(days=90) > horizon
            else int(opportunity is not None and opportunity.date() <= as_of + timedelta(days=90))
        ),
    }


def _linkedin_inbound(url: str, contact_id: str, props: dict) -> list[datetime]:
    """When the contact messaged or invited a rep on LinkedIn (profiles: HubSpot's, or matched)."""
    profiles = {
        url_
        for (url_,) in rows(
            url,
            """select lower(rtrim(c.profile_url, '/')) from raw_linkedin.connections c
               join raw_linkedin.contact_matches m on m.connection_row_key = c.row_key
               where m.contact_id = %s""",
            (contact_id,),
        )
    }
    if props.get("linkedin_url"):
        profiles.add(props["linkedin_url"].strip().lower().rstrip("/"))
    if not profiles:
        return []
    moments = [
        at
        for at, sender in rows(
            url, "select sent_at, lower(rtrim(sender_profile_url, '/')) from raw_linkedin.messages"
        )
        if sender in profiles and at is not None
    ]
    moments += [
        at
        for at, inviter in rows(
            url,
            "select sent_at, lower(rtrim(inviter_profile_url, '/')) from raw_linkedin.invitations where direction = 'INCOMING'",
        )
        if inviter in profiles and at is not None
    ]
    return moments


def test_one_contacts_feature_row_matches_the_raw_facts(dbt_warehouse):
    as_of = date(2026, 5, 1)  # a month start whose 90-day label is known by the horizon
    horizon = dbt_warehouse.as_of
    # The contact with the most engagement in the 90 days before the date, ties by id.
    (contact_id,) = rows(
        dbt_warehouse.url,
        """select contact_id from marts.lead_features where as_of_date = %s
           order by human_opens_90d + clicks_90d + replies_90d + meetings_90d desc, contact_id limit 1""",
        (as_of,),
    )[0]
    with psycopg.connect(dbt_warehouse.url) as conn:
        cur = conn.execute(
            "select * from marts.lead_features where contact_id = %s and as_of_date = %s", (contact_id, as_of)
        )
        mart = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
    expected = _feature_row_from_raw(dbt_warehouse.url, contact_id, as_of, horizon)
    assert expected["human_opens_90d"] + expected["clicks_90d"] > 0  # an engaged contact, not all zeros
    assert {k: mart[k] for k in expected} == expected


def test_lead_features_has_month_starts_and_the_build_date_and_no_converted_contacts(dbt_warehouse):
    dates = [
        d
        for (d,) in rows(dbt_warehouse.url, "select distinct as_of_date from marts.lead_features order by 1")
    ]
    assert dates[-1] == dbt_warehouse.as_of
    assert all(d.day == 1 for d in dates[:-1]) and len(dates) >= 12
    leaked = rows(
        dbt_warehouse.url,
        """select count(*) from marts.lead_features f
           join raw_hubspot.contacts c on c.id = f.contact_id
           where (c.properties ->> 'hs_lifecyclestage_opportunity_date')::timestamptz
                   < (f.as_of_date + 1)::timestamp at time zone 'UTC'
              or (c.properties ->> 'createdate')::timestamptz >= (f.as_of_date + 1)::timestamp at time zone 'UTC'""",
    )[0][0]
    assert leaked == 0


def test_the_analyst_reads_every_mart_and_nothing_private(dbt_warehouse):
    marts = [
        name
        for (name,) in rows(
            dbt_warehouse.url, "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    ]
    assert set(REQUIRED_MARTS) <= set(marts)
    with psycopg.connect(dbt_warehouse.analyst_url, autocommit=True) as conn:
        for name in marts:
            conn.execute(f'select * from marts."{name}" limit 1').fetchall()
        for private in ("staging.stg_hubspot__contacts", "raw_hubspot.contacts", "staging.marketing_costs"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {private} limit 1")


def test_mart_docs_reach_the_database_for_analysts(dbt_warehouse):
    (comment,) = rows(
        dbt_warehouse.analyst_url,
        """select col_description('marts.email_campaign_performance'::regclass, a.attnum)
           from pg_attribute a
           where a.attrelid = 'marts.email_campaign_performance'::regclass and a.attname = 'open_rate'""",
    )[0]
    assert "opened / delivered" in comment


def test_docs_generate_works_offline(dbt_warehouse):
    from growthlab.transform.runner import run_dbt

    # The build compiled every node into the same target: only the catalog is left to read.
    run_dbt(["docs", "generate", "--no-compile"], dbt_warehouse.url, target_path=dbt_warehouse.target_path)
    catalog = json.loads((dbt_warehouse.target_path / "catalog.json").read_text())
    assert "model.growthlab.lead_features" in catalog["nodes"]
    assert (dbt_warehouse.target_path / "index.html").is_file()
