"""The stand-in SendGrid, spoken to by the real `sendgrid.SendGridAPIClient`, and its signed webhook."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from python_http_client.exceptions import BadRequestsError, UnauthorizedError
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.mail import Asm, Category, CustomArg, Header, Mail, SendAt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from growthlab.sandbox import store
from growthlab.sandbox.sendgrid.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from growthlab.sandbox.web import ServerThread

VECTOR = (
    Path(__file__).resolve().parents[1] / "reference" / "sendgrid" / "signed_event_webhook_vector.json"
)  # copied from ../shared/reference


def _contacts(sandbox, n: int, offset: int) -> list[str]:
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "select email from world.contacts w join hubspot.contacts c on c.id = w.contact_id "
                "where not w.invalid_email order by c.id offset %s limit %s",
                (offset, n),
            )
        ]


def _mail(to: str, campaign: str, **extra) -> Mail:
    mail = Mail(
        from_email="news@growthlab-energy.com",
        to_emails=to,
        subject="Cut energy costs",
        html_content="<p>Hello</p>",
    )
    mail.custom_arg = [
        CustomArg("gl_campaign", campaign),
        CustomArg("gl_step", "1"),
        CustomArg("gl_variant", "a"),
        CustomArg("gl_angle", "cost_savings"),
        CustomArg("gl_contact_id", "0"),
        CustomArg("gl_outbox_id", uuid.uuid4().hex),
    ]
    mail.category = [Category("growthlab"), Category(campaign)]
    mail.header = Header("List-Unsubscribe", "<https://www.growthlab-energy.com/unsubscribe>")
    for key, value in extra.items():
        setattr(mail, key, value)
    return mail


class Receiver:
    """A webhook receiver on a free port that can be told to fail."""

    def __init__(self) -> None:
        self.batches: list[tuple[dict, str]] = []
        self.fail = False
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = (await request.body()).decode()
            if self.fail:
                return Response(status_code=503)
            with self.lock:
                self.batches.append((dict(request.headers), body))
            return Response(status_code=200)

        self.thread = ServerThread(Starlette(routes=[Route("/events", hook, methods=["POST"])]), "receiver")
        self.thread.start()
        self.url = f"{self.thread.url}/events"

    def events(self) -> list[dict]:
        return [e for _, body in self.batches for e in json.loads(body)]


@pytest.fixture(scope="module")
def receiver(sandbox):
    r = Receiver()
    sandbox.set_webhook(r.url)
    yield r
    r.thread.stop()


def test_valid_mail_gets_202_and_is_logged_per_recipient(sandbox):
    client = sandbox.sendgrid_client()
    to = _contacts(sandbox, 2, 10)
    campaign = f"test-{uuid.uuid4().hex[:8]}"
    mail = _mail(to[0], campaign)
    mail.add_cc(to[1])
    mail.asm = Asm(7)
    response = client.send(mail)
    assert response.status_code == 202
    x_message_id = response.headers["X-Message-Id"]
    rows = [m for m in sandbox.accepted_mails() if m["x_message_id"] == x_message_id]
    assert [r["to_email"] for r in rows] == to
    first = rows[0]
    assert (
        first["custom_args"]["gl_campaign"] == campaign and first["custom_args"]["gl_angle"] == "cost_savings"
    )
    assert set(first["categories"]) == {"growthlab", campaign}
    assert first["headers"]["List-Unsubscribe"].startswith("<https://")
    assert first["subject"] == "Cut energy costs" and first["asm_group_id"] == 7
    assert first["status"] == "accepted"


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b.pop("from"), "from.email"),
        (lambda b: b.__setitem__("personalizations", []), "personalizations"),
        (
            lambda b: b["personalizations"][0]["to"][0].__setitem__("email", "not an address"),
            "personalizations.0.to.0.email",
        ),
        (lambda b: b.pop("subject"), "subject"),
        (lambda b: b.pop("content"), "content"),
        (lambda b: b.__setitem__("categories", [f"c{i}" for i in range(11)]), "categories"),
        (lambda b: b.__setitem__("send_at", 4_102_444_800), "send_at"),
        (lambda b: b.__setitem__("personalizations", [b["personalizations"][0]] * 1001), "personalizations"),
        (lambda b: b.__setitem__("asm", {"group_id": "seven"}), "asm.group_id"),
        (lambda b: b.__setitem__("ip_pool_name", "x"), "ip_pool_name"),
    ],
)
def test_invalid_mail_gets_400_naming_the_field(sandbox, change, field):
    body = _mail(_contacts(sandbox, 1, 20)[0], "invalid").get()
    change(body)
    with pytest.raises(BadRequestsError) as err:
        sandbox.sendgrid_client().client.mail.send.post(request_body=body)
    errors = json.loads(err.value.body)["errors"]
    assert field in [e["field"] for e in errors]
    assert all(e["message"] and e["help"] for e in errors)


def test_send_at_is_checked_against_the_sandbox_clock(sandbox):
    clock = int(sandbox.clock().timestamp())
    ok = _mail(_contacts(sandbox, 1, 21)[0], "scheduled")
    ok.send_at = SendAt(clock + 48 * 3600)
    assert sandbox.sendgrid_client().send(ok).status_code == 202
    late = _mail(_contacts(sandbox, 1, 22)[0], "scheduled")
    late.send_at = SendAt(clock + 80 * 3600)
    with pytest.raises(BadRequestsError):
        sandbox.sendgrid_client().send(late)


def test_api_key_auth(sandbox):
    with pytest.raises(UnauthorizedError) as err:
        sandbox.sendgrid_client("SG.wrong.key").send(_mail("a@b.example", "x"))
    assert json.loads(err.value.body)["errors"][0]["message"]


def test_webhook_settings_like_the_real_api(sandbox):
    settings = sandbox.sendgrid_client().client.user.webhooks.event.settings
    before = json.loads(settings.get().body)
    changed = json.loads(
        settings.patch(request_body={"enabled": before["enabled"], "url": before["url"], "open": True}).body
    )
    assert changed["open"] is True and "url" in changed and "oauth_client_id" in changed
    signed = json.loads(settings.signed.patch(request_body={"enabled": True}).body)
    assert signed["public_key"] == sandbox.webhook_public_key


def test_signatures_are_sendgrids(sandbox):
    vector = json.loads(VECTOR.read_text())
    verifier = EventWebhook(vector["public_key"])
    assert verifier.verify_signature(vector["payload"], vector["signature"], vector["timestamp"])
    assert not verifier.verify_signature(
        vector["must_reject"]["other_payload"], vector["signature"], vector["timestamp"]
    )
    # Ours: the same scheme, our key.
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        private_pem = store.get_meta(conn, "sendgrid_signing")["private_pem"]
    signature = sign(private_pem, vector["timestamp"], vector["payload"])
    ours = EventWebhook(sandbox.webhook_public_key)
    assert ours.verify_signature(vector["payload"], signature, vector["timestamp"])
    assert not ours.verify_signature(vector["payload"] + " ", signature, vector["timestamp"])
    assert not verifier.verify_signature(vector["payload"], signature, vector["timestamp"])


def test_events_arrive_signed_with_custom_args_and_survive_a_failing_receiver(sandbox, receiver):
    client = sandbox.sendgrid_client()
    campaign = f"hook-{uuid.uuid4().hex[:8]}"
    recipients = _contacts(sandbox, 40, 100)
    for to in recipients:
        assert client.send(_mail(to, campaign)).status_code == 202
    receiver.fail = True
    summary = sandbox.advance(1)
    assert summary["mails_processed"] >= len(recipients)
    assert summary["webhooks"]["failed"] >= 1 and summary["webhooks"]["pending"] >= 1
    receiver.fail = False
    report = sandbox.deliver_webhooks(force=True)
    assert report["pending"] == 0 and report["delivered"] >= 1
    verifier = EventWebhook(sandbox.webhook_public_key)
    for headers, body in receiver.batches:
        assert verifier.verify_signature(
            body, headers[SIGNATURE_HEADER.lower()], headers[TIMESTAMP_HEADER.lower()]
        )
    ours = [e for e in receiver.events() if e.get("gl_campaign") == campaign]
    by_type: dict[str, list] = {}
    for e in ours:
        by_type.setdefault(e["event"], []).append(e)
    assert len(by_type["processed"]) == len(recipients)
    assert len(by_type["delivered"]) + len(by_type.get("bounce", [])) + len(
        by_type.get("dropped", [])
    ) == len(recipients)
    assert all(e["gl_angle"] == "cost_savings" and e["sg_event_id"] and e["sg_message_id"] for e in ours)
    assert all("sg_machine_open" in e for e in by_type.get("open", []))
    assert len({e["sg_event_id"] for e in ours}) == len(ours)
    # Nothing lost, nothing invented: what was delivered is what the sandbox recorded.
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        recorded = conn.execute(
            "select count(*) from sendgrid.events where payload->>'gl_campaign' = %s", (campaign,)
        ).fetchone()[0]
    assert recorded == len(ours)


def test_apple_mail_users_get_machine_opens(sandbox, receiver):
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        apple = [
            r[0]
            for r in conn.execute(
                "select c.email from world.contacts w join hubspot.contacts c on c.id = w.contact_id "
                "where w.apple_mail and not w.invalid_email order by c.id desc limit 15"
            )
        ]
    campaign = f"mpp-{uuid.uuid4().hex[:8]}"
    client = sandbox.sendgrid_client()
    for to in apple:
        client.send(_mail(to, campaign))
    sandbox.advance(1)
    opens = [e for e in receiver.events() if e.get("gl_campaign") == campaign and e["event"] == "open"]
    machine = [e for e in opens if e["sg_machine_open"]]
    # ~92% of Apple Mail users' mail is machine-opened; their human opens are invisible.
    assert len(machine) >= 10 and len(machine) == len(opens)
