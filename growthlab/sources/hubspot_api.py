"""The HubSpot API as growthlab reads it: the real `hubspot-api-client`, paced and retried.

* Built from the Airflow connection `hubspot` (host + private-app token).
* Every call goes through the generated clients' `*_with_http_info` methods with
  `_preload_content=False`: the raw JSON is what we keep (the record as received) and the
  response headers feed the pacer. Email events use the client's generic request helper.
* Pacing: a rolling-window limiter learns the limit from `X-HubSpot-RateLimit-Max` /
  `-Interval-Milliseconds` and also slows down when `-Remaining` runs low; search calls have
  their own limiter (HubSpot allows about 5 per second per token).
* Retries: 429 (waiting Retry-After), 5xx, timeouts and dropped connections, with capped
  exponential backoff and jitter. Any other 4xx is permanent: HubSpotError with HubSpot's message.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

log = logging.getLogger(__name__)

_decode = msgspec.json.Decoder().decode
TIMEOUT = (10.0, 60.0)  # connect, read (seconds)


class HubSpotError(RuntimeError):
    """A permanent error from HubSpot (or retries exhausted); carries HubSpot's own message."""

    def __init__(self, message: str, status: int | None = None, correlation_id: str | None = None) -> None:
        self.status, self.correlation_id = status, correlation_id
        super().__init__(message)


class _Transient(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        self.reason, self.wait = reason, wait
        super().__init__(reason)


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the attempt-th retry (1-based)."""
        return random.uniform(0.5, 1.0) * min(self.cap_s, self.base_s * 2 ** (attempt - 1))


class RollingLimiter:
    """At most `limit` calls in any `interval_s`, learned from HubSpot's headers as they come."""

    def __init__(
        self, limit: int, interval_s: float, margin: int = 2, clock: Callable[[], float] = time.monotonic
    ):
        self.limit, self.interval_s, self.margin = limit, interval_s, margin
        self.clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self) -> None:
        with self._lock:
            while True:
                now = self.clock()
                while self._calls and now - self._calls[0] >= self.interval_s:
                    self._calls.popleft()
                allowed = max(1, self.limit - self.margin)
                if len(self._calls) < allowed:
                    self._calls.append(now)
                    return
                wait = self.interval_s - (now - self._calls[0]) + 0.005
                self.waited_s += wait
                time.sleep(wait)

    def learn(self, headers: Any) -> None:
        """Adopt the server's limit and window; pause if it says we are nearly out."""
        try:
            limit = int(headers.get("X-HubSpot-RateLimit-Max"))
            interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")) / 1000.0
            remaining = int(headers.get("X-HubSpot-RateLimit-Remaining"))
        except (TypeError, ValueError):
            return
        with self._lock:
            if interval == self.interval_s and limit > 0:
                self.limit = limit
            if remaining <= 0 and self._calls:
                # The server counts more than we do (other clients share the token): let the
                # oldest call of the window age out before the next one.
                now = self.clock()
                self._calls.append(now)
                while len(self._calls) > max(1, self.limit - self.margin):
                    self._calls.popleft()


@dataclass
class CallStats:
    requests: int = 0  # HTTP requests sent (retries included)
    calls: int = 0  # logical calls (pages) that succeeded
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    dropped: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    first_request_at: float | None = None  # time.monotonic() of the first and last request sent
    last_request_at: float | None = None
    http_seconds: float = 0.0  # time spent waiting for HubSpot's answers

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _headers_of(resp: Any) -> Any:
    headers = getattr(resp, "headers", None)
    if headers is None and hasattr(resp, "getheaders"):
        headers = resp.getheaders()
    return headers or {}


def _error_message(body: Any, status: int | None) -> tuple[str, str | None]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = msgspec.json.decode(body) if isinstance(body, str) and body else {}
    except msgspec.DecodeError:
        data = {}
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"]), data.get("correlationId")
    return (str(body)[:300] if body else f"HTTP {status}"), None


class HubSpotApi:
    """Raw-JSON, paced, retried calls to HubSpot through `hubspot.HubSpot`."""

    def __init__(
        self,
        host: str,
        access_token: str,
        *,
        retry: RetryPolicy | None = None,
        limit: int = 100,
        interval_s: float = 10.0,
        search_per_s: int = 4,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        from hubspot import HubSpot
        from urllib3.util.retry import Retry

        if not access_token:
            raise HubSpotError(
                "no HubSpot token: set the password of the Airflow connection `hubspot` "
                "(GROWTHLAB_HUBSPOT_TOKEN) to a private-app access token"
            )
        self.host = host.rstrip("/")
        # urllib3 must not retry by itself: retries are ours (paced and counted).
        self.client = HubSpot(access_token=access_token, host=self.host, retry=Retry(total=0, redirect=0))
        self.retry = retry or RetryPolicy()
        self.limiter = RollingLimiter(limit, interval_s)
        self.search_limiter = RollingLimiter(search_per_s, 1.0, margin=0)
        self.timeout = timeout
        self.stats = CallStats()
        self._apis: dict[tuple[str, ...], Any] = {}
        self._apis_lock = threading.Lock()
        self._session: Any = None  # requests.Session of the generic helper (keep-alive)

    # -- the one way out ---------------------------------------------------------------------

    def _call(self, kind: str, fn: Callable[[], Any], *, search: bool = False) -> Any:
        import urllib3

        attempt = 0
        while True:
            attempt += 1
            (self.search_limiter if search else self.limiter).acquire()
            if search:
                self.limiter.acquire()  # search calls count against the 10-second budget too
            self.stats.requests += 1
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
            self.stats.last_request_at = time.monotonic()
            if self.stats.first_request_at is None:
                self.stats.first_request_at = self.stats.last_request_at
            sent = time.monotonic()
            try:
                try:
                    resp = fn()
                finally:
                    self.stats.http_seconds += time.monotonic() - sent
                headers = _headers_of(resp)
                self.limiter.learn(headers)
                status = getattr(resp, "status", None) or getattr(resp, "status_code", 200)
                if status == 429 or status >= 500:  # the generic helper does not raise
                    raise self._classify(status, getattr(resp, "content", b""), headers)
                if status >= 400:
                    message, corr = _error_message(getattr(resp, "content", b""), status)
                    raise HubSpotError(f"HubSpot {kind}: {status} {message}", status, corr)
                data = resp.data if hasattr(resp, "data") else resp.content
                if hasattr(resp, "release_conn"):
                    resp.release_conn()
                result = _decode(data) if data else {}
                self.stats.calls += 1
                return result
            except HubSpotError:
                raise
            except _Transient as exc:
                self._retry_or_fail(kind, attempt, exc.reason, exc.wait)
            except Exception as exc:
                transient = self._transient_from(exc, urllib3)
                if transient is None:
                    raise
                self._retry_or_fail(kind, attempt, transient.reason, transient.wait)

    def _transient_from(self, exc: Exception, urllib3) -> _Transient | None:
        import requests

        status = getattr(exc, "status", None)
        if isinstance(status, int) and status:
            headers = getattr(exc, "headers", None) or {}
            self.limiter.learn(headers)
            classified = self._classify(status, getattr(exc, "body", b""), headers)
            if isinstance(classified, HubSpotError):
                raise classified from None
            return classified
        if isinstance(exc, urllib3.exceptions.TimeoutError | requests.Timeout | TimeoutError):
            self.stats.timeouts += 1
            return _Transient(f"timeout ({type(exc).__name__})")
        if isinstance(
            exc,
            urllib3.exceptions.ProtocolError
            | urllib3.exceptions.MaxRetryError
            | urllib3.exceptions.NewConnectionError
            | requests.ConnectionError
            | ConnectionError
            | msgspec.DecodeError,
        ):
            self.stats.dropped += 1
            return _Transient(f"connection dropped ({type(exc).__name__}: {str(exc)[:120]})")
        if status == 0:  # the generated client's wrapper of SSL errors
            return _Transient(f"transport error: {str(exc)[:120]}")
        return None

    def _classify(self, status: int, body: Any, headers: Any) -> Exception:
        if status == 429:
            self.stats.rate_limited += 1
            try:
                wait = float(headers.get("Retry-After"))
            except (TypeError, ValueError):
                wait = None
            return _Transient("429 rate limited", wait)
        if status >= 500:
            self.stats.server_errors += 1
            return _Transient(f"{status} server error")
        message, corr = _error_message(body, status)
        hint = {
            401: " (check the token of the Airflow connection `hubspot`)",
            403: " (the private app lacks a scope)",
        }.get(status, "")
        return HubSpotError(f"HubSpot answered {status}: {message}{hint}", status, corr)

    def _retry_or_fail(self, kind: str, attempt: int, reason: str, wait: float | None) -> None:
        if attempt >= self.retry.max_attempts:
            raise HubSpotError(f"HubSpot {kind}: gave up after {attempt} attempts; last: {reason}")
        delay = wait if wait is not None else self.retry.backoff(attempt)
        delay = min(delay, max(self.retry.cap_s, 1.0))
        self.stats.retries += 1
        log.info("HubSpot %s: %s; retry %d in %.2fs", kind, reason, attempt, delay)
        time.sleep(delay)

    # -- endpoints ----------------------------------------------------------------------------

    def _api(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        """One generated API object per kind, kept: the client's discovery builds a new
        Configuration, ApiClient and connection pool (and reads the package metadata) on every
        attribute access, i.e. a new TCP connection and milliseconds of set-up per request."""
        api = self._apis.get(key)
        if api is None:
            with self._apis_lock:
                api = self._apis.get(key)
                if api is None:
                    api = self._apis[key] = make()
        return api

    def _basic(self, object_type: str):
        crm = self.client.crm
        if object_type in ("contacts", "companies", "deals"):
            return self._api(("basic", object_type), lambda: getattr(crm, object_type).basic_api)
        return self._api(("basic", object_type), lambda: getattr(crm.objects, object_type).basic_api)

    def _search_api(self, object_type: str):
        crm = self.client.crm
        if object_type in ("contacts", "companies", "deals"):
            return self._api(("search", object_type), lambda: getattr(crm, object_type).search_api)
        return self._api(("search", object_type), lambda: getattr(crm.objects, object_type).search_api)

    def list_page(
        self, object_type: str, properties: list[str], after: str | None, archived: bool, limit: int = 100
    ) -> dict:
        api = self._basic(object_type)
        return self._call(
            f"{object_type}.list",
            lambda: api.get_page_with_http_info(
                limit=limit,
                after=after,
                properties=properties,
                archived=archived,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def search_page(self, object_type: str, request: dict) -> dict:
        api = self._search_api(object_type)
        return self._call(
            f"{object_type}.search",
            lambda: api.do_search_with_http_info(
                public_object_search_request=request, _preload_content=False, _request_timeout=self.timeout
            ),
            search=True,
        )

    def owners_page(self, after: str | None, archived: bool, limit: int = 100) -> dict:
        api = self._api(("owners",), lambda: self.client.crm.owners.owners_api)
        return self._call(
            "owners.list",
            lambda: api.get_page_with_http_info(
                after=after,
                limit=limit,
                archived=archived,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def associations_batch(self, from_type: str, to_type: str, ids: list[str]) -> dict:
        api = self._api(("associations",), lambda: self.client.crm.associations.v4.batch_api)
        body = {"inputs": [{"id": i} for i in ids]}
        return self._call(
            f"associations.{from_type}.{to_type}",
            lambda: api.get_page_with_http_info(
                from_type,
                to_type,
                batch_input_public_fetch_associations_batch_request=body,
                _preload_content=False,
                _request_timeout=self.timeout,
            ),
        )

    def email_events_page(self, start_ms: int, end_ms: int, offset: str | None, limit: int = 1000) -> dict:
        """One page of /email/public/v1/events through the client's generic request helper."""
        import requests
        from hubspot.utils.requests.http_request_builder import Request

        qs: dict[str, Any] = {"startTimestamp": start_ms, "endTimestamp": end_ms, "limit": limit}
        if offset:
            qs["offset"] = offset
        options = {"method": "GET", "path": "/email/public/v1/events", "qs": qs, "base_url": self.host}

        if self._session is None:
            self._session = requests.Session()

        def send():
            # The helper builds URL, auth and headers; we send with a timeout (it sets none) on
            # one kept session (requests.request would open a connection per page).
            request = Request(self.client.config, options)
            return self._session.request(
                request.get_method(),
                request.get_url(),
                timeout=self.timeout,
                **request.get_options_for_sending(),
            )

        return self._call("email_events.list", send)


def client_from_connection(host: str, password: str, **kwargs: Any) -> HubSpotApi:
    """HubSpotApi from the `hubspot` connection's host and token (password)."""
    host = host or "https://api.hubapi.com"
    if "://" not in host:
        host = "https://" + host
    return HubSpotApi(host, password, **kwargs)
