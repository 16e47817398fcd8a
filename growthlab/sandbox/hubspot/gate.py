"""Who may call the stand-in HubSpot, how often, and which faults it meets: the ASGI gate."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.web import DbPool, FaultInjector, RateLimiter, json_response

log = logging.getLogger(__name__)


ALL_SCOPES = frozenset(
    {
        *(f"crm.objects.{o}.{rw}" for o in ("contacts", "companies", "deals") for rw in ("read", "write")),
        "crm.objects.owners.read",
        *(f"crm.schemas.{o}.{rw}" for o in ("contacts", "companies", "deals") for rw in ("read", "write")),
        "content",
        "sales-email-read",
    }
)
READONLY_SCOPES = frozenset(s for s in ALL_SCOPES if not s.endswith(".write"))


@dataclass
class RateLimits:
    enabled: bool = True
    per_10s: int = 190
    search_per_s: int = 5
    daily: int = 650_000

    @classmethod
    def from_dict(cls, data: dict | None) -> RateLimits:
        return cls(**(data or {}))


@dataclass
class HubSpotState:
    pool: DbPool
    tokens: dict[str, frozenset[str]]
    admin_token: str
    faults: FaultInjector
    limits: RateLimits = field(default_factory=RateLimits)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    malformed_contact_id: int | None = None
    on_faults_changed: Callable[[dict], None] | None = None


def _error(status: int, message: str, category: str, **extra) -> Any:
    return json_response(HubSpotError(status, message, category, **extra).body(), status)


# ---- gate: auth, rate limits, faults ---------------------------------------------------------
class Gate:
    """ASGI middleware: bearer token, rate limits (with HubSpot's headers), fault injection."""

    def __init__(self, app, state: HubSpotState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox__"):
            await self.app(scope, receive, send)
            return
        st = self.state
        token = _bearer(scope)
        if token is None or token not in st.tokens:
            response = _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["scopes"] = st.tokens[token]
        headers: dict[str, str] = {}
        if st.limits.enabled:
            key = f"token:{token[-12:]}"
            ok_daily, daily_left, _ = st.limiter.hit(key + ":daily", st.limits.daily, 86400.0)
            if scope["path"].endswith("/search"):
                ok, left, wait = st.limiter.hit(key + ":search", st.limits.search_per_s, 1.0)
                policy, window_ms, limit = "SECONDLY", 1000, st.limits.search_per_s
            else:
                ok, left, wait = st.limiter.hit(key, st.limits.per_10s, 10.0)
                policy, window_ms, limit = "TEN_SECONDLY_ROLLING", 10000, st.limits.per_10s
            if not scope["path"].endswith("/search"):
                headers = _limit_headers(limit, left, window_ms, st.limits.daily, daily_left)
            else:
                headers = _limit_headers(
                    st.limits.per_10s,
                    max(0, st.limits.per_10s - st.limiter.count(key, 10.0)),
                    10000,
                    st.limits.daily,
                    daily_left,
                )
            if not ok or not ok_daily:
                if not ok_daily:
                    policy, wait = "DAILY", 3600.0
                await _rate_limited(scope, receive, send, policy, wait, headers)
                return
        fault = st.faults.decide()
        if fault == "429":
            await _rate_limited(
                scope,
                receive,
                send,
                "TEN_SECONDLY_ROLLING",
                1.0,
                headers or _limit_headers(190, 0, 10000, 650000, 0),
            )
            return
        if fault == "drop":
            server = getattr(scope.get("app").state, "server_thread", None) if scope.get("app") else None
            if server is None or not server.abort(scope.get("client")):
                response = _error(502, "Bad Gateway", "INTERNAL_ERROR")
                await response(scope, receive, send)
            return
        if fault == "5xx":
            status = st.faults.status_5xx()
            response = _error(status, "An internal error occurred.", "INTERNAL_ERROR")
            await response(scope, receive, send)
            return
        if fault == "slow":
            await asyncio.sleep(st.faults.config.slow_seconds)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start" and headers:
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _bearer(scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text = value.decode("latin-1").strip()
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return None


def _limit_headers(limit: int, left: int, window_ms: int, daily: int, daily_left: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(max(0, left)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(window_ms),
        "X-HubSpot-RateLimit-Daily": str(daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily_left)),
    }


async def _rate_limited(scope, receive, send, policy: str, wait: float, headers: dict[str, str]) -> None:
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "groupName": "publicapi:private-app:sandbox",
    }
    response = json_response(body, 429, {**headers, "Retry-After": str(max(1, math.ceil(wait)))})
    await response(scope, receive, send)


def tokens_from_secrets(secrets: dict) -> dict[str, frozenset[str]]:
    return {secrets["hubspot_token"]: ALL_SCOPES, secrets["hubspot_readonly_token"]: READONLY_SCOPES}
