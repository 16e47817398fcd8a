"""The stand-in SendGrid API (ASGI): what `sendgrid.SendGridAPIClient` talks to.

* `POST /v3/mail/send`: validated like SendGrid (sendgrid/validate.py); 202 with `X-Message-Id`,
  or 400 with `{"errors": [{"message", "field", "help"}]}`. Every accepted recipient becomes a row
  of `sendgrid.messages` (the sandbox's log of what it accepted); `advance` turns them into
  events. `mail_settings.sandbox_mode.enable` validates only (200, nothing sent), like SendGrid.
* `GET|PATCH /v3/user/webhooks/event/settings`, `GET|PATCH /v3/user/webhooks/event/settings/signed`
  (returns the public key), `POST /v3/user/webhooks/event/test`.
* `GET /v3/suppression/bounces|spam_reports|unsubscribes`, `GET /v3/asm/suppressions`.
* `/__sandbox__/health`, `/__sandbox__/faults` (admin token).

Auth: `Authorization: Bearer <API key>`; 401 with SendGrid's error body otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from growthlab.sandbox import store
from growthlab.sandbox.sendgrid import webhook
from growthlab.sandbox.sendgrid.validate import validate_mail
from growthlab.sandbox.web import DbPool, FaultConfig, FaultInjector, json_response

log = logging.getLogger(__name__)


@dataclass
class SendGridState:
    pool: DbPool
    api_key: str
    admin_token: str
    faults: FaultInjector
    on_faults_changed: Any = None


def _errors(status: int, errors: list[dict]) -> Response:
    return json_response({"errors": errors}, status)


class Gate:
    def __init__(self, app, state: SendGridState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox__"):
            await self.app(scope, receive, send)
            return
        auth = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1").strip()
        if not auth:
            await _errors(401, [{"field": None, "message": "authorization required", "help": None}])(
                scope, receive, send
            )
            return
        if auth != f"Bearer {self.state.api_key}":
            await _errors(
                401,
                [
                    {
                        "field": None,
                        "message": "The provided authorization grant is invalid, expired, or revoked",
                        "help": None,
                    }
                ],
            )(scope, receive, send)
            return
        fault = self.state.faults.decide()
        if fault == "429":
            await json_response(
                {"errors": [{"field": None, "message": "too many requests"}]},
                429,
                {
                    "X-RateLimit-Limit": "600",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "1",
                    "Retry-After": "1",
                },
            )(scope, receive, send)
            return
        if fault == "drop":
            server = getattr(scope["app"].state, "server_thread", None) if scope.get("app") else None
            if server is None or not server.abort(scope.get("client")):
                await _errors(502, [{"field": None, "message": "Bad Gateway"}])(scope, receive, send)
            return
        if fault == "5xx":
            await _errors(
                self.state.faults.status_5xx(), [{"field": None, "message": "Internal server error"}]
            )(scope, receive, send)
            return
        if fault == "slow":
            await asyncio.sleep(self.state.faults.config.slow_seconds)
        await self.app(scope, receive, send)


def _state(request: Request) -> SendGridState:
    return request.app.state.sendgrid


async def _json(request: Request) -> tuple[Any, Response | None]:
    raw = await request.body()
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, _errors(400, [{"field": None, "message": "Bad Request", "help": None}])


def new_message_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")[:22]


def _custom_args(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value or {})


def message_rows(body: dict, x_message_id: str, accepted_at: datetime) -> list[dict]:
    """One row per recipient (to, cc, bcc) of every personalization, with the merged settings."""
    rows = []
    top_headers = body.get("headers") or {}
    top_args = _custom_args(body.get("custom_args"))
    content_types = [c.get("type") for c in body.get("content") or [] if isinstance(c, dict)]
    asm = body.get("asm") or {}
    bypass = bool(((body.get("mail_settings") or {}).get("bypass_list_management") or {}).get("enable"))
    for p_index, p in enumerate(body["personalizations"]):
        send_at = p.get("send_at", body.get("send_at"))
        send_at_dt = datetime.fromtimestamp(send_at, tz=UTC) if isinstance(send_at, int) else None
        effective = max(accepted_at, send_at_dt) if send_at_dt else accepted_at
        headers = {**top_headers, **(p.get("headers") or {})}
        args = {**top_args, **_custom_args(p.get("custom_args"))}
        for kind in ("to", "cc", "bcc"):
            for r_index, r in enumerate(p.get(kind) or []):
                rows.append(
                    {
                        "x_message_id": x_message_id,
                        "sg_message_id": f"{x_message_id}.recvd-sandbox-{p_index}-{kind}-{r_index}.0",
                        "personalization": p_index,
                        "recipient_kind": kind,
                        "to_email": r["email"],
                        "to_name": r.get("name"),
                        "from_email": (p.get("from") or body["from"])["email"],
                        "from_name": (p.get("from") or body["from"]).get("name"),
                        "subject": p.get("subject", body.get("subject")),
                        "categories": list(body.get("categories") or []),
                        "custom_args": Jsonb(args),
                        "headers": Jsonb(headers),
                        "content_types": content_types,
                        "template_id": body.get("template_id"),
                        "asm_group_id": asm.get("group_id"),
                        "bypass_list_management": bypass,
                        "send_at": send_at_dt,
                        "batch_id": body.get("batch_id"),
                        "accepted_at": accepted_at,
                        "effective_at": effective,
                    }
                )
    return rows


def _accept(state: SendGridState, body: Any) -> Response:
    with state.pool.connection() as conn:
        now = store.sim_now(conn)
        problems = validate_mail(body, now)
        if problems:
            return _errors(400, problems)
        if ((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"):
            return Response(status_code=200)
        x_message_id = new_message_id()
        rows = message_rows(body, x_message_id, now)
        columns = list(rows[0])
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock_shared(%s)", (store.WORLD_LOCK,))
            with conn.cursor() as cur:
                cur.executemany(
                    f"insert into sendgrid.messages ({', '.join(columns)}) values ({', '.join(['%s'] * len(columns))})",
                    [tuple(r[c] for c in columns) for r in rows],
                )
    return Response(status_code=202, headers={"X-Message-Id": x_message_id})


async def mail_send(request: Request) -> Response:
    body, bad = await _json(request)
    if bad is not None:
        return bad
    try:
        return await run_in_threadpool(_accept, _state(request), body)
    except Exception:
        log.exception("sandbox SendGrid: mail send failed")
        return _errors(500, [{"field": None, "message": "Internal server error"}])


def _settings_json(settings: dict) -> dict:
    out = {k: v for k, v in settings.items() if k not in ("signed",)}
    out.update({"oauth_client_id": None, "oauth_token_url": None})
    return out


async def event_settings(request: Request) -> Response:
    state = _state(request)
    body, bad = await _json(request)
    if bad is not None:
        return bad

    def run():
        with state.pool.connection() as conn:
            if request.method == "PATCH":
                if not isinstance(body, dict):
                    return _errors(400, [{"field": None, "message": "request body must be an object"}])
                allowed = {
                    "enabled",
                    "url",
                    *webhook.SETTING_FLAGS,
                    "oauth_client_id",
                    "oauth_client_secret",
                    "oauth_token_url",
                }
                unknown = set(body) - allowed
                if unknown:
                    return _errors(400, [{"field": sorted(unknown)[0], "message": "unknown field"}])
                if body.get("enabled") and not (body.get("url") or webhook.get_settings(conn).get("url")):
                    return _errors(
                        400, [{"field": "url", "message": "url is required when the webhook is enabled"}]
                    )
                if "url" in body and body["url"] and not str(body["url"]).startswith(("http://", "https://")):
                    return _errors(400, [{"field": "url", "message": "url must be an http(s) URL"}])
                changes = {k: v for k, v in body.items() if k in {"enabled", "url", *webhook.SETTING_FLAGS}}
                return json_response(_settings_json(webhook.update_settings(conn, changes)))
            return json_response(_settings_json(webhook.get_settings(conn)))

    return await run_in_threadpool(run)


async def signed_settings(request: Request) -> Response:
    state = _state(request)
    body, bad = await _json(request)
    if bad is not None:
        return bad

    def run():
        with state.pool.connection() as conn:
            settings = webhook.get_settings(conn)
            if request.method == "PATCH":
                if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
                    return _errors(400, [{"field": "enabled", "message": "enabled must be true or false"}])
                settings = webhook.update_settings(conn, {"signed": body["enabled"]})
            key = store.get_meta(conn, "sendgrid_signing")["public_key"] if settings.get("signed") else ""
            return json_response({"public_key": key})

    return await run_in_threadpool(run)


async def test_event(request: Request) -> Response:
    state = _state(request)
    body, bad = await _json(request)
    if bad is not None:
        return bad
    url = (body or {}).get("url")
    if not url:
        return _errors(400, [{"field": "url", "message": "url is required"}])

    def run():
        with state.pool.connection() as conn:
            webhook.send_test_event(conn, url)
        return Response(status_code=204)

    return await run_in_threadpool(run)


async def suppressions(request: Request) -> Response:
    state = _state(request)
    kind = {
        "bounces": "bounce",
        "spam_reports": "spamreport",
        "unsubscribes": "unsubscribe",
        "suppressions": "group_unsubscribe",
    }[request.path_params["kind"]]

    def run():
        with state.pool.connection() as conn:
            rows = conn.execute(
                "select email, group_id, extract(epoch from created_at)::bigint from sendgrid.suppressions "
                "where kind = %s order by created_at, email",
                (kind,),
            ).fetchall()
        if kind == "group_unsubscribe":
            return json_response([{"email": e, "group_id": g, "created_at": c} for e, g, c in rows])
        return json_response([{"email": e, "created": c} for e, _, c in rows])

    return await run_in_threadpool(run)


async def health(request: Request) -> Response:
    return json_response({"status": "ok", "service": "sendgrid"})


async def faults(request: Request) -> Response:
    state = _state(request)
    if request.headers.get("authorization", "") != f"Bearer {state.admin_token}":
        return json_response({"status": "error", "message": "admin token required"}, 401)
    if request.method == "PUT":
        try:
            cfg = FaultConfig.from_dict(await request.json())
        except (ValueError, TypeError) as exc:
            return json_response({"status": "error", "message": str(exc)}, 400)
        state.faults.configure(cfg)
        if state.on_faults_changed is not None:
            await run_in_threadpool(state.on_faults_changed, cfg.as_dict())
    return json_response(state.faults.config.as_dict())


def build_app(state: SendGridState) -> Starlette:
    routes = [
        Route("/__sandbox__/health", health),
        Route("/__sandbox__/faults", faults, methods=["GET", "PUT"]),
        Route("/v3/mail/send", mail_send, methods=["POST"]),
        Route("/v3/user/webhooks/event/settings", event_settings, methods=["GET", "PATCH"]),
        Route("/v3/user/webhooks/event/settings/signed", signed_settings, methods=["GET", "PATCH"]),
        Route("/v3/user/webhooks/event/test", test_event, methods=["POST"]),
        Route("/v3/suppression/{kind:str}", suppressions, methods=["GET"]),
        Route("/v3/asm/{kind:str}", suppressions, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sendgrid = state
    app.add_middleware(Gate, state=state)
    return app
