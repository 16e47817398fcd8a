"""Point SendGrid's Event Webhook at the receiver, the way production does it (v3 API).

`configure_event_webhook` enables every event type growthlab reads on
`PATCH /v3/user/webhooks/event/settings`, turns signing on with
`PATCH /v3/user/webhooks/event/settings/signed`, and returns the verification public key SendGrid
answers with (the receiver needs it: GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY or the `sendgrid`
connection's `webhook_public_key`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

EVENT_FLAGS = (
    "processed",
    "dropped",
    "delivered",
    "deferred",
    "bounce",
    "open",
    "click",
    "spam_report",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
)


class WebhookSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    enabled: bool
    signed: bool
    public_key: str | None


def _client(host: str, api_key: str):
    from sendgrid import SendGridAPIClient

    return SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))


def _body(response) -> dict:
    raw = response.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return json.loads(raw) if raw else {}


def configure_event_webhook(
    host: str, api_key: str, receiver_url: str, *, signed: bool = True
) -> WebhookSettings:
    """Send every growthlab event type to `receiver_url`; returns the settings SendGrid confirmed."""
    from python_http_client.exceptions import HTTPError

    client = _client(host, api_key).client.user.webhooks.event.settings
    body = {"enabled": True, "url": receiver_url, **{flag: True for flag in EVENT_FLAGS}}
    try:
        confirmed = _body(client.patch(request_body=body))
        public_key = None
        if signed:
            public_key = _body(client.signed.patch(request_body={"enabled": True})).get("public_key")
    except HTTPError as exc:
        detail = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
        raise WebhookSetupError(
            f"SendGrid refused the Event Webhook settings ({exc.status_code}): {detail}. Check the API key "
            f"has the 'Mail Settings' scope"
        ) from None
    if signed and not public_key:
        raise WebhookSetupError("SendGrid enabled signing but returned no public key")
    log.info("SendGrid Event Webhook -> %s (signed: %s)", receiver_url, signed)
    return WebhookSettings(
        url=confirmed.get("url", receiver_url),
        enabled=bool(confirmed.get("enabled", True)),
        signed=signed,
        public_key=public_key,
    )
