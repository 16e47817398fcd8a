"""Sending through the real `sendgrid` client: batches, attribution, compliance at send time, and
what happens when SendGrid refuses, fails or never answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from growthlab.campaigns import pipeline
from growthlab.campaigns.compliance import email_sha256
from growthlab.campaigns.sender import SendAborted, SendOptions, send_due
from growthlab.campaigns.validation import load_catalog
from tests.campaigns.conftest import write_simple_campaign
from tests.campaigns.faults import FaultySendGrid

NOW = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def faulty():
    server = FaultySendGrid()
    yield server
    server.close()


def _prepare(world, campaign_dir, home) -> None:
    write_simple_campaign(campaign_dir)
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    pipeline.plan(world.url, NOW, "test", campaign_dir)
    pipeline.generate(world.url, NOW, "test", home, campaign_dir)


def _client(server: FaultySendGrid, timeout: float = 30.0):
    return pipeline.sendgrid_client(server.url, "SG.test-key", timeout=timeout)


def _statuses(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select status, count(*) from ops.outbox group by 1").fetchall())


def test_batches_of_at_most_1000_with_attribution_and_unsubscribe_headers(
    world, campaign_dir, settings, faulty
):
    world.bulk(1005)
    _prepare(world, campaign_dir, settings.home)
    result = pipeline.send(world.url, _client(faulty), NOW, "test", SendOptions(), campaign_dir)
    assert result["sent"] == 1005 and result["batches"] == 2
    assert [len(b["personalizations"]) for b in faulty.requests] == [1000, 5]
    body = faulty.requests[0]
    assert body["categories"] == ["growthlab", "test_seq"]
    p = body["personalizations"][0]
    assert set(p["custom_args"]) == {
        "gl_campaign",
        "gl_step",
        "gl_variant",
        "gl_angle",
        "gl_contact_id",
        "gl_outbox_id",
        "gl_batch",
    }
    assert p["custom_args"]["gl_step"] == "1" and p["custom_args"]["gl_campaign"] == "test_seq"
    assert p["headers"]["List-Unsubscribe"].startswith(
        "<mailto:sales@heliogrid.example?subject=unsubscribe%20"
    )
    html, text = p["substitutions"]["-gl_html-"], p["substitutions"]["-gl_text-"]
    assert (
        "HelioGrid Analytics GmbH, Torstrasse 49" in html
        and "HelioGrid Analytics GmbH, Torstrasse 49" in text
    )
    assert "Unsubscribe" in html and "Unsubscribe: mailto:" in text
    assert {c["value"] for c in body["content"]} == {"-gl_html-", "-gl_text-"}
    # every email once, each recorded with its message id and an audit row
    assert sorted(faulty.recipients()) == sorted({r for r in faulty.recipients()})
    with psycopg.connect(world.url) as conn:
        sent = conn.execute(
            "select count(*), count(distinct sg_message_id) from ops.outbox where status = 'sent'"
        ).fetchone()
        audits = conn.execute("select count(*) from ops.audit_log where action = 'email.sent'").fetchone()[0]
    assert sent == (1005, 2) and audits == 1005
    # a second send for the same interval sends nothing
    again = pipeline.send(world.url, _client(faulty), NOW, "test", SendOptions(), campaign_dir)
    assert again["sent"] == 0 and len(faulty.requests) == 2


def test_send_time_gate_blocks_what_changed_since_planning(world, campaign_dir, settings, faulty):
    ok = world.contact()
    unsubscribed = world.contact(email="later.unsub@x.example")
    opted_out = world.contact()
    consent_withdrawn = world.contact(country="Germany", consent="granted")
    _prepare(world, campaign_dir, settings.home)
    with psycopg.connect(world.url) as conn:
        conn.execute(
            "insert into ops.suppression (email_sha256, reason, source, suppressed_at) values (%s, 'unsubscribe', 't', %s)",
            (email_sha256("later.unsub@x.example"), NOW),
        )
        conn.execute(
            "update marts.dim_contacts set is_email_opted_out = true where contact_id = %s", (opted_out,)
        )
        conn.execute(
            "update marts.dim_contacts set marketing_consent = 'unknown' where contact_id = %s",
            (consent_withdrawn,),
        )
    # the sender itself re-checks at claim time (the pipeline also stops suppressed sequences first)
    result = send_due(world.url, load_catalog(campaign_dir), _client(faulty), NOW, "test")
    assert result.sent == 1
    assert [p["custom_args"]["gl_contact_id"] for b in faulty.requests for p in b["personalizations"]] == [ok]
    with psycopg.connect(world.url) as conn:
        blocked = dict(
            conn.execute(
                "select contact_id, status_reason from ops.outbox where status = 'cancelled'"
            ).fetchall()
        )
        audits = conn.execute("select count(*) from ops.audit_log where action = 'email.blocked'").fetchone()[
            0
        ]
    assert blocked == {
        unsubscribed: "blocked at send time: suppressed",
        opted_out: "blocked at send time: hs_email_optout",
        consent_withdrawn: "blocked at send time: consent_required",
    }
    assert audits == 3


def test_a_bad_request_fails_the_rows_and_a_rate_limit_puts_them_back(world, campaign_dir, settings, faulty):
    for _ in range(3):
        world.contact()
    _prepare(world, campaign_dir, settings.home)
    faulty.script.extend([429])
    with pytest.raises(SendAborted, match="back in the queue"):
        pipeline.send(world.url, _client(faulty), NOW, "test", SendOptions(), campaign_dir)
    assert _statuses(world.url) == {"ready": 3}
    faulty.script.extend([400])
    result = pipeline.send(world.url, _client(faulty), NOW, "test", SendOptions(), campaign_dir)
    assert result["failed"] == 3 and _statuses(world.url) == {"failed": 3}
    assert not faulty.accepted


@pytest.mark.parametrize("fault", ["hang", "drop", 503])
def test_an_unknown_answer_is_settled_by_events_never_by_guessing(
    world, campaign_dir, settings, faulty, fault
):
    for _ in range(4):
        world.contact()
    _prepare(world, campaign_dir, settings.home)
    faulty.script.append(fault)
    with pytest.raises(SendAborted, match="unknown"):
        pipeline.send(world.url, _client(faulty, timeout=1.0), NOW, "test", SendOptions(), campaign_dir)
    assert _statuses(world.url) == {"sending": 4}
    # a rerun before any event arrived resends nothing
    result = pipeline.send(
        world.url, _client(faulty), NOW + timedelta(minutes=5), "test", SendOptions(), campaign_dir
    )
    assert result["sent"] == 0 and result["settled"]["open_posting"] == 1
    assert len(faulty.requests) == 1
    if fault in ("hang", "drop"):  # SendGrid did accept: its events say so
        faulty.emit_events(world.url, NOW + timedelta(minutes=1))
        result = pipeline.send(
            world.url, _client(faulty), NOW + timedelta(hours=1), "test", SendOptions(), campaign_dir
        )
        assert result["settled"]["confirmed"] == 4 and len(faulty.requests) == 1
    else:  # it did not: once SendGrid reports later events and none of these, they go again
        world.contact()
        pipeline.plan(world.url, NOW + timedelta(hours=1), "test", campaign_dir)
        pipeline.generate(world.url, NOW, "test", settings.home, campaign_dir)
        pipeline.send(
            world.url, _client(faulty), NOW + timedelta(hours=1), "test", SendOptions(), campaign_dir
        )
        faulty.emit_events(world.url, NOW + timedelta(hours=1, minutes=1))
        result = pipeline.send(
            world.url, _client(faulty), NOW + timedelta(hours=10), "test", SendOptions(), campaign_dir
        )
        assert result["settled"]["not_accepted"] == 4 and result["sent"] == 4
    assert _statuses(world.url) == {"sent": 4 if fault != 503 else 5}
    assert sorted(faulty.recipients()) == sorted(set(faulty.recipients()))  # nobody twice


def test_an_unknown_answer_in_a_backfill_run_is_not_released_by_older_news(
    world, campaign_dir, settings, faulty
):
    """A run for a past interval posts when SendGrid has already reported later events: those events
    say nothing about this request, so its rows must wait for newer ones."""
    first = [world.contact() for _ in range(2)]
    _prepare(world, campaign_dir, settings.home)
    pipeline.send(world.url, _client(faulty), NOW, "test", SendOptions(), campaign_dir)
    faulty.emit_events(world.url, NOW + timedelta(days=10))  # the stream is at NOW + 10 days
    world.contact()
    backfill = NOW - timedelta(days=1)
    pipeline.plan(world.url, backfill, "test", campaign_dir)
    pipeline.generate(world.url, backfill, "test", settings.home, campaign_dir)
    faulty.script.append(503)
    with pytest.raises(SendAborted):
        pipeline.send(world.url, _client(faulty), backfill, "test", SendOptions(), campaign_dir)
    result = pipeline.reconcile(world.url, backfill + timedelta(hours=2), "test")
    assert result["settled"]["open_posting"] == 1 and result["settled"]["not_accepted"] == 0
    assert _statuses(world.url) == {"sent": len(first), "sending": 1}
    # still unsettled hours later (wall clock): one alert for the operator, not one per run
    with psycopg.connect(world.url) as conn:
        conn.execute(
            "update ops.send_batches set posted_at = now() - interval '7 hours' where status = 'posting'"
        )
    for _ in range(2):
        pipeline.reconcile(world.url, backfill + timedelta(hours=3), "test")
    with psycopg.connect(world.url) as conn:
        alerts = conn.execute(
            "select severity, message from ops.alerts where source = 'campaigns.reconcile'"
        ).fetchall()
    assert len(alerts) == 1 and alerts[0][0] == "warning" and "1 emails" in alerts[0][1]
