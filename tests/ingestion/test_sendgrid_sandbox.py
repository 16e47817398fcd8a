"""End to end with the sandbox's SendGrid: the webhook configured the production way, signed
batches posted by the stand-in to the receiver, loaded into raw_sendgrid.events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sendgrid.helpers.mail import CustomArg, Mail

from growthlab.sandbox.web import ServerThread
from growthlab.sources.sendgrid_events import SignatureCheck, create_app, load_spooled_events
from growthlab.sources.sendgrid_webhook import configure_event_webhook
from growthlab.warehouse.db import connect
from tests.ingestion.test_sendgrid import _free_port


@pytest.fixture(scope="module")
def world(sandbox_factory):
    return sandbox_factory(seed=5, size=100)


def test_stand_in_sendgrid_posts_signed_events_the_receiver_accepts(world, fresh_db):
    port = _free_port()
    receiver_url = f"http://127.0.0.1:{port}/sendgrid/events"
    settings = configure_event_webhook(world.sendgrid_url, world.sendgrid_api_key, receiver_url)
    assert settings.url == receiver_url and settings.enabled
    assert settings.public_key == world.webhook_public_key
    server = ServerThread(create_app(fresh_db, SignatureCheck(settings.public_key)), "receiver", port=port)
    server.start()
    try:
        client = world.sendgrid_client()
        recipients = world.truth()["email"].head(3).tolist()
        for i, email in enumerate(recipients):
            mail = Mail(
                from_email="team@growthlab.example",
                to_emails=email,
                subject="Heat pumps",
                plain_text_content="Hi",
            )
            for key, value in {"gl_campaign": "e2e", "gl_step": "1", "gl_variant": "a", "gl_angle": "cost_savings",
                               "gl_contact_id": str(i), "gl_outbox_id": f"e2e-{i}"}.items():  # fmt: skip
                mail.add_custom_arg(CustomArg(key, value))
            assert client.send(mail).status_code == 202
        # The sample event of `POST /v3/user/webhooks/event/test`, then the day's real events.
        assert (
            client.client.user.webhooks.event.test.post(request_body={"url": receiver_url}).status_code == 204
        )
        world.advance(days=1)
        world.deliver_webhooks(force=True)
    finally:
        server.stop()

    loaded = load_spooled_events(fresh_db, as_of=datetime.now(UTC))
    c = loaded.batch.counts
    assert loaded.spooled_batches >= 2 and c.rows_in == c.rows_loaded + c.rows_quarantined
    with connect(fresh_db) as conn:
        events = conn.execute(
            "select gl_outbox_id, event, gl_campaign from raw_sendgrid.events where gl_campaign = 'e2e'"
        ).fetchall()
        sample = conn.execute(
            "select count(*) from raw_sendgrid.events where email = 'example@test.com'"
        ).fetchone()[0]
    assert sample == 1
    assert {e[0] for e in events} == {"e2e-0", "e2e-1", "e2e-2"}
    assert {"processed", "delivered"} & {e[1] for e in events}
