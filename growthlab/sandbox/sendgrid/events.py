"""SendGrid Event Webhook payloads, in the shapes of SendGrid's Event Webhook reference."""

from __future__ import annotations

from typing import Any

from growthlab.sandbox.sendgrid.webhook import sg_event_id
from growthlab.sandbox.simulation import (
    DROP_BOUNCED,
    DROP_SPAM,
    DROP_UNSUBSCRIBED,
    EV_BOUNCE,
    EV_CLICK,
    EV_DEFERRED,
    EV_DELIVERED,
    EV_DROPPED,
    EV_GROUP_UNSUBSCRIBE,
    EV_OPEN,
    EV_SENT,
    EV_SPAMREPORT,
    EV_UNSUBSCRIBE,
    EVENT_NAMES,
)

CLICK_URLS = (
    "https://www.growthlab-energy.com/pricing",
    "https://www.growthlab-energy.com/case-studies",
    "https://www.growthlab-energy.com/blog/scope-3",
    "https://www.growthlab-energy.com/demo",
    "https://www.growthlab-energy.com/csrd-guide",
    "https://www.growthlab-energy.com/roi-calculator",
    "https://www.growthlab-energy.com/webinar",
)
USER_AGENT_HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
USER_AGENT_MPP = "Mozilla/5.0"
DROP_REASONS = {
    DROP_BOUNCED: "Bounced Address",
    DROP_UNSUBSCRIBED: "Unsubscribed Address",
    DROP_SPAM: "Spam Reporting Address",
}


def event_payload(message: dict, code: int, timestamp: float, aux: int = 0) -> dict[str, Any]:
    """One Event Webhook event for the recipient row `message` of sendgrid.messages."""
    categories = list(message.get("categories") or [])
    event: dict[str, Any] = {
        "email": message["to_email"],
        "timestamp": int(timestamp),
        "smtp-id": f"<{message['x_message_id']}@ismtpd0001p1iad2.sendgrid.net>",
        "event": EVENT_NAMES[code],
        "sg_event_id": sg_event_id(int(message["id"]), code, aux),
        "sg_message_id": message["sg_message_id"],
    }
    if categories:
        event["category"] = categories if len(categories) > 1 else categories[0]
    if message.get("asm_group_id"):
        event["asm_group_id"] = int(message["asm_group_id"])
    # Custom args travel as top-level keys of every event.
    for key, value in (message.get("custom_args") or {}).items():
        event.setdefault(key, value)
    if code == EV_SENT and message.get("send_at") is not None:
        event["send_at"] = int(message["send_at"].timestamp())
    elif code == EV_DELIVERED:
        event.update({"response": "250 2.0.0 OK", "ip": "149.72.154.232", "tls": 1})
    elif code == EV_DEFERRED:
        event.update(
            {
                "response": "451 4.7.1 Try again later",
                "attempt": "1",
                "domain": message["to_email"].split("@")[-1],
            }
        )
    elif code == EV_BOUNCE:
        event.update(
            {
                "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
                "status": "5.1.1",
                "type": "bounce",
                "bounce_classification": "Invalid Address",
            }
        )
    elif code == EV_DROPPED:
        event.update({"reason": DROP_REASONS.get(aux, "Bounced Address"), "status": "5.0.0"})
    elif code == EV_OPEN:
        machine = aux == 1
        event.update(
            {
                "sg_machine_open": machine,
                "useragent": USER_AGENT_MPP if machine else USER_AGENT_HUMAN,
                "ip": "17.58.0.1" if machine else "203.0.113.7",
            }
        )
    elif code == EV_CLICK:
        event.update(
            {
                "url": CLICK_URLS[aux % len(CLICK_URLS)],
                "url_offset": {"index": 0, "type": "html"},
                "useragent": USER_AGENT_HUMAN,
                "ip": "203.0.113.7",
            }
        )
    elif code in (EV_UNSUBSCRIBE, EV_GROUP_UNSUBSCRIBE):
        event.update({"useragent": USER_AGENT_HUMAN, "ip": "203.0.113.7"})
        if code == EV_GROUP_UNSUBSCRIBE:
            event["url"] = "https://www.growthlab-energy.com/preferences"
    elif code == EV_SPAMREPORT:
        pass
    return event


SUPPRESSION_KIND = {
    EV_BOUNCE: "bounce",
    EV_SPAMREPORT: "spamreport",
    EV_UNSUBSCRIBE: "unsubscribe",
    EV_GROUP_UNSUBSCRIBE: "group_unsubscribe",
}
