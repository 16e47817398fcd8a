"""The unsubscribe endpoint behind GROWTHLAB_UNSUBSCRIBE_URL (`growthlab campaigns serve-unsubscribe`).

* `POST <url>/<token>`: RFC 8058 one-click (mail clients post `List-Unsubscribe=One-Click`) and the
  confirmation form: the address goes on ops.suppression (reason `unsubscribe`, source
  `unsubscribe_link`, every channel), its sequences stop, and the answer says so.
* `GET <url>/<token>`: a page with a one-button form. A GET never unsubscribes: link scanners and
  previews fetch links nobody clicked.

Tokens are HMAC-signed outbox ids (growthlab.campaigns.compliance); a forged or unknown token gets
the same 404 page as a missing one, so the endpoint reveals nothing about who is on the list.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime

import psycopg

from growthlab.campaigns.compliance import verify_unsubscribe_token
from growthlab.campaigns.signals import stop_sequences, suppress

log = logging.getLogger(__name__)
ACTOR = "unsubscribe_link"


def unsubscribe_by_token(conn: psycopg.Connection, secret: bytes, token: str, now: datetime) -> bool:
    """Suppress the recipient of the email the token was made for. False for a bad token."""
    outbox_id = verify_unsubscribe_token(secret, token)
    if outbox_id is None:
        return False
    with conn.transaction():
        row = conn.execute(
            "select email_sha256, contact_id, campaign_id from ops.outbox where outbox_id = %s", (outbox_id,)
        ).fetchone()
        if row is None:
            return False
        email_hash, contact_id, campaign_id = row
        suppress(
            conn,
            None,
            "unsubscribe",
            ACTOR,
            now,
            ACTOR,
            contact_id=contact_id,
            source_ref=str(outbox_id),
            email_hash=email_hash,
            details={"campaign": campaign_id},
        )
        stop_sequences(conn, now, ACTOR)
    return True


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:Arial,Helvetica,sans-serif;max-width:520px;margin:48px auto;padding:0 16px;color:#1f2a24">
<h1 style="font-size:22px">{title}</h1>{body}</body></html>"""


def create_app(url: str, secret: bytes):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from growthlab.warehouse.db import connect

    def page(title: str, body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)

    not_found = (
        "Link not recognised",
        "<p>This unsubscribe link is not valid. Reply to the email with "
        "\u201cunsubscribe\u201d and we will remove you.</p>",
    )

    async def confirm(request: Request) -> HTMLResponse:
        token = request.path_params["token"]
        if verify_unsubscribe_token(secret, token) is None:
            return page(*not_found, status=404)
        action = html.escape(str(request.url.path), quote=True)
        return page(
            "Unsubscribe",
            f'<p>Stop receiving these emails?</p><form method="post" action="{action}">'
            '<button type="submit" style="padding:8px 16px">Unsubscribe</button></form>',
        )

    async def unsubscribe(request: Request) -> HTMLResponse:
        from starlette.concurrency import run_in_threadpool

        token = request.path_params["token"]

        def work() -> bool:
            with connect(url) as conn:
                return unsubscribe_by_token(conn, secret, token, datetime.now(UTC))

        if not await run_in_threadpool(work):
            return page(*not_found, status=404)
        log.info("unsubscribed through the link (token %s...)", token[:6])
        return page("You are unsubscribed", "<p>You will not receive these emails any more.</p>")

    return Starlette(
        routes=[
            Route("/unsubscribe/{token}", confirm, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
        ]
    )
