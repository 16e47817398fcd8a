"""Events drive the sequences: replies stop them (also the colleagues'), unsubscribes, hard bounces
and GDPR requests suppress everywhere. Inputs are rows as ingestion lands them in raw_*."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from growthlab.campaigns import pipeline
from growthlab.campaigns.compliance import email_sha256
from growthlab.campaigns.privacy import forget
from growthlab.campaigns.sender import SendOptions
from growthlab.campaigns.status import campaign_status
from tests.campaigns.conftest import write_simple_campaign
from tests.campaigns.faults import FaultySendGrid

NOW = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def _sent_world(world, campaign_dir, settings, contacts: list[str]) -> FaultySendGrid:
    server = FaultySendGrid()
    write_simple_campaign(campaign_dir)
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    pipeline.plan(world.url, NOW, "test", campaign_dir)
    pipeline.generate(world.url, NOW, "test", settings.home, campaign_dir)
    client = pipeline.sendgrid_client(server.url, "SG.k")
    pipeline.send(world.url, client, NOW, "test", SendOptions(), campaign_dir)
    server.emit_events(world.url, NOW + timedelta(minutes=5))
    return server


def _reply(
    url: str, reply_id: str, contact_id: str, in_reply_to: str | None, at: datetime, subject: str = "Re: hi"
):
    """A reply as HubSpot ingestion lands it: raw_hubspot.emails plus its emails->contacts association."""
    props = {
        "hs_email_direction": "INCOMING_EMAIL",
        "hs_timestamp": at.isoformat().replace("+00:00", "Z"),
        "hs_email_subject": subject,
        "hs_email_headers": json.dumps({"In-Reply-To": f"<{in_reply_to}>"} if in_reply_to else {}),
    }
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw_hubspot.emails (id, properties, payload, created_at, updated_at, _synced_at, _batch_id) "
            "values (%s, %s, '{}', %s, %s, now(), 't')",
            (reply_id, json.dumps(props), at, at),
        )
        conn.execute(
            "insert into raw_hubspot.associations (from_type, from_id, to_type, to_id, association_type_id,"
            " _synced_at, _batch_id) values ('emails', %s, 'contacts', %s, 198, now(), 't')",
            (reply_id, contact_id),
        )


def _event(url: str, sg_event_id: str, event: str, email: str, contact_id: str, at: datetime, **payload):
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw_sendgrid.events (sg_event_id, event, email, event_at, gl_contact_id, payload,"
            " received_at, _synced_at, _batch_id) values (%s, %s, %s, %s, %s, %s, now(), now(), 't')",
            (sg_event_id, event, email, at, contact_id, json.dumps({"event": event, **payload})),
        )


def test_a_reply_stops_the_contact_and_the_colleagues_and_opens_an_owner_task(world, campaign_dir, settings):
    world.company("acme", name="Acme Solar")
    replier = world.contact(company_id="acme", owner_id="501")
    colleague = world.contact(company_id="acme")
    other = world.contact()
    server = _sent_world(world, campaign_dir, settings, [replier, colleague, other])
    with psycopg.connect(world.url) as conn:
        xid = conn.execute(
            "select sg_message_id from ops.outbox where contact_id = %s", (replier,)
        ).fetchone()[0]
    _reply(world.url, "r-1", replier, xid, NOW + timedelta(days=1))
    result = pipeline.plan(world.url, NOW + timedelta(days=4), "test", campaign_dir)
    assert result["signals"]["replies"] == 1 and result["signals"]["opportunities"] == 1
    with psycopg.connect(world.url) as conn:
        enrollments = dict(
            conn.execute("select contact_id, coalesce(stopped_reason, status) from ops.campaign_enrollments")
        )
        opportunity = conn.execute(
            "select contact_id, owner_id, status, outbox_id is not null from ops.followup_opportunities"
        ).fetchone()
        followups = {r[0] for r in conn.execute("select contact_id from ops.outbox where step_id <> 'intro'")}
    assert enrollments == {replier: "replied", colleague: "company_replied", other: "active"}
    assert opportunity == (replier, "501", "pending", True)
    assert followups == {other}  # only the unrelated contact gets a follow-up (no open -> bump)
    # nothing is counted twice on the next run
    again = pipeline.plan(world.url, NOW + timedelta(days=5), "test", campaign_dir)
    assert again["signals"]["replies"] == 0 and again["signals"]["opportunities"] == 0
    status = campaign_status(world.url)
    assert status[1].split() == ["test_seq", "active", "3", "1", "3", "1", "0", "0", "0", "1"]
    assert status[-1] == "suppressed addresses: 0; owner tasks for replies: 0 of 1"
    server.close()


def test_unsubscribe_and_hard_bounce_suppress_a_blocked_bounce_does_not(world, campaign_dir, settings):
    a, b, c = (
        world.contact(email="a@x.example"),
        world.contact(email="b@x.example"),
        world.contact(email="c@x.example"),
    )
    server = _sent_world(world, campaign_dir, settings, [a, b, c])
    _event(world.url, "u1", "unsubscribe", "a@x.example", a, NOW + timedelta(hours=3))
    _event(world.url, "b1", "bounce", "b@x.example", b, NOW + timedelta(hours=1), type="bounce")
    _event(world.url, "b2", "bounce", "c@x.example", c, NOW + timedelta(hours=1), type="blocked")
    pipeline.plan(world.url, NOW + timedelta(days=4), "test", campaign_dir)
    with psycopg.connect(world.url) as conn:
        suppressed = dict(conn.execute("select email_sha256, reason from ops.suppression"))
        enrollments = dict(
            conn.execute("select contact_id, coalesce(stopped_reason, status) from ops.campaign_enrollments")
        )
        audited = conn.execute(
            "select count(*) from ops.audit_log where action = 'contact.suppressed'"
        ).fetchone()[0]
    assert suppressed == {email_sha256("a@x.example"): "unsubscribe", email_sha256("b@x.example"): "bounce"}
    assert enrollments[a] == "suppressed:unsubscribe" and enrollments[b] == "suppressed:bounce"
    assert enrollments[c] == "active" and audited == 2
    server.close()


def test_forget_suppresses_everywhere_and_erases_the_emails(world, campaign_dir, settings):
    gone = world.contact(email="Erase.Me@x.example")
    kept = world.contact()
    server = _sent_world(world, campaign_dir, settings, [gone, kept])
    with psycopg.connect(world.url) as conn:
        result = forget(conn, " erase.me@X.example", "test", NOW)
        row = conn.execute(
            "select to_email, subject, body_html, status from ops.outbox where contact_id = %s", (gone,)
        ).fetchone()
        state = conn.execute(
            "select stopped_reason from ops.campaign_enrollments where contact_id = %s", (gone,)
        ).fetchone()
        audit = conn.execute(
            "select details::text from ops.audit_log where action = 'privacy.erased'"
        ).fetchone()[0]
    assert result.contacts == [gone] and result.stopped == 1 and result.redacted == 1
    assert row == (None, None, None, "sent")  # the fact of the send stays, the personal data goes
    assert state == ("suppressed:gdpr_erasure",)
    assert "erase.me" not in audit.lower()
    # and the address is never enrolled again, in any campaign
    write_simple_campaign(campaign_dir, "second_campaign", only=False)
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    pipeline.plan(world.url, NOW + timedelta(days=30), "test", campaign_dir)
    with psycopg.connect(world.url) as conn:
        second = {
            r[0]
            for r in conn.execute(
                "select contact_id from ops.campaign_enrollments where campaign_id = 'second_campaign'"
            )
        }
    assert gone not in second
    server.close()


def test_one_click_unsubscribe_link(world, campaign_dir, settings, monkeypatch):
    from starlette.testclient import TestClient

    from growthlab.campaigns.compliance import load_unsubscribe_config
    from growthlab.campaigns.unsubscribe import create_app

    monkeypatch.setenv("GROWTHLAB_UNSUBSCRIBE_URL", "https://growth.heliogrid.example/unsubscribe")
    leaver = world.contact(email="leaver@x.example")
    stayer = world.contact()
    server = _sent_world(world, campaign_dir, settings, [leaver, stayer])
    sent = server.requests[0]["personalizations"]
    headers = next(p["headers"] for p in sent if p["custom_args"]["gl_contact_id"] == leaver)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = headers["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert https.startswith("https://growth.heliogrid.example/unsubscribe/")
    path = "/unsubscribe/" + https.rsplit("/", 1)[1]
    client = TestClient(create_app(world.url, load_unsubscribe_config(settings.home).secret))
    assert client.get(path).status_code == 200  # a page with a button: a GET never unsubscribes
    with psycopg.connect(world.url) as conn:
        assert conn.execute("select count(*) from ops.suppression").fetchone()[0] == 0
    response = client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "unsubscribed" in response.text
    assert client.post(path[:-3] + "AAA").status_code == 404  # forged
    with psycopg.connect(world.url) as conn:
        suppressed = conn.execute("select email_sha256, reason, source from ops.suppression").fetchall()
        state = dict(
            conn.execute("select contact_id, coalesce(stopped_reason, status) from ops.campaign_enrollments")
        )
    assert suppressed == [(email_sha256("leaver@x.example"), "unsubscribe", "unsubscribe_link")]
    assert state == {leaver: "suppressed:unsubscribe", stayer: "active"}
    server.close()
