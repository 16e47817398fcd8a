"""What the three stand-in servers share: a database pool, rate limits, fault injection, threads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

import psycopg
import uvicorn
from starlette.responses import Response

from growthlab.warehouse.db import libpq_url

log = logging.getLogger(__name__)


class DbPool:
    """A small thread-safe pool of autocommit psycopg connections."""

    def __init__(self, url: str, size: int = 8) -> None:
        self.url = libpq_url(url)
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self._slots.acquire(timeout=30):
            raise RuntimeError("sandbox database pool exhausted for 30 s")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
                if conn.closed or conn.broken:
                    conn = None
            except queue.Empty:
                conn = None
            if conn is None:
                conn = psycopg.connect(self.url, autocommit=True)
            yield conn
        except BaseException:
            if conn is not None:
                conn.close()
                conn = None
            raise
        finally:
            if conn is not None:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.close()
                elif not self._closed:
                    self._idle.put(conn)
                else:
                    conn.close()
            self._slots.release()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if status == 204:
        return Response(status_code=204, headers=headers)
    return Response(
        json.dumps(body, separators=(",", ":"), default=str),
        status_code=status,
        media_type="application/json;charset=utf-8",
        headers=headers,
    )


class RateLimiter:
    """Rolling-window counters per key (thread-safe)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_s: float) -> tuple[bool, int, float]:
        """Count a request; (allowed, remaining, seconds until a slot frees when refused)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            if len(hits) >= limit:
                return False, 0, max(0.0, hits[0] + window_s - now)
            hits.append(now)
            return True, limit - len(hits), 0.0

    def count(self, key: str, window_s: float) -> int:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key, deque())
            return sum(1 for h in hits if h > now - window_s)


@dataclass
class FaultConfig:
    """Faults a stand-in server injects. Off by default.

    burst_429: the next N requests get 429 (with the rate-limit headers), then normal service;
    error_5xx: share of requests answered 500/502/503; slow: share delayed by slow_seconds;
    drop: share whose connection is closed without an answer; malformed: HubSpot list/search/read
    responses render one contact (the lowest id) with unparseable properties; seed: of the draws.
    """

    burst_429: int = 0
    error_5xx: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0
    drop: float = 0.0
    malformed: bool = False
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict | None) -> FaultConfig:
        data = data or {}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s) {sorted(unknown)}; known: {sorted(known)}")
        cfg = cls(**data)
        for name in ("error_5xx", "slow", "drop"):
            value = float(getattr(cfg, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name}={value} must be a share between 0 and 1")
            setattr(cfg, name, value)
        cfg.burst_429 = int(cfg.burst_429)
        cfg.slow_seconds = float(cfg.slow_seconds)
        cfg.malformed = (
            bool(cfg.malformed)
            if not isinstance(cfg.malformed, str)
            else cfg.malformed.lower() in ("1", "true", "yes", "on")
        )
        cfg.seed = int(cfg.seed)
        return cfg

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return bool(self.burst_429 or self.error_5xx or self.slow or self.drop or self.malformed)


def parse_fault_spec(spec: str) -> dict[str, dict]:
    """`burst_429=5,error_5xx=0.1,sendgrid.drop=0.05` -> full FaultConfig dicts per service.

    Keys without a `service.` prefix apply to HubSpot; `off` (or an empty spec) clears all faults.
    """
    out: dict[str, dict] = {"hubspot": {}, "sendgrid": {}, "linkedin": {}}
    spec = (spec or "").strip()
    if spec in ("", "off", "none"):
        return out
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"fault setting {part!r} is not key=value (e.g. burst_429=5, error_5xx=0.1)")
        key, value = (x.strip() for x in part.split("=", 1))
        service, _, name = key.rpartition(".")
        service = service or "hubspot"
        if service not in out:
            raise ValueError(f"fault setting {key!r}: service must be hubspot, sendgrid or linkedin")
        out[service][name] = value
    return {service: FaultConfig.from_dict(values).as_dict() for service, values in out.items()}


class FaultInjector:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._burst_left = config.burst_429
            self._rng = random.Random(config.seed)

    def decide(self) -> str | None:
        """'429', '5xx', 'drop', 'slow' or None for this request."""
        with self._lock:
            cfg = self.config
            if self._burst_left > 0:
                self._burst_left -= 1
                return "429"
            r = self._rng.random()
            if r < cfg.drop:
                return "drop"
            r -= cfg.drop
            if r < cfg.error_5xx:
                return "5xx"
            r -= cfg.error_5xx
            if r < cfg.slow:
                return "slow"
            return None

    def status_5xx(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503))


class ServerThread:
    """One uvicorn server on 127.0.0.1 in its own thread (with its own event loop)."""

    def __init__(self, app, name: str, port: int = 0) -> None:
        self.name = name
        self.sock = _bind(port)
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            limit_concurrency=256,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=f"sandbox-{name}", daemon=True)
        app.state.server_thread = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"the sandbox {self.name} server stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox {self.name} server did not start within {timeout:.0f}s")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()

    def abort(self, client: tuple[str, int] | None) -> bool:
        """Close the connection of `client` without an answer (the 'dropped connection' fault)."""
        state = getattr(self.server, "server_state", None)
        if state is None or client is None:
            return False
        for protocol in list(state.connections):
            if getattr(protocol, "client", None) == tuple(client):
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()
                    return True
        return False


def _bind(port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP;
    # without it every response waits ~40 ms for Nagle and the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        if port == 0:
            raise
        log.warning("port %s is taken; the sandbox picks a free one", port)
        sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
