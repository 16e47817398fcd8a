"""HubSpot full sync of contacts against the sandbox's stand-in HubSpot (rate limits on).

Measures, for one full listing of every contact through the real hubspot-api-client:
* requests used against the minimum, ceil(N / 100) list pages (+1 for the archived listing);
* the achieved request rate during extraction against the rate-limit ceiling the server
  announces (X-HubSpot-RateLimit-Max per -Interval-Milliseconds), goal >= 0.9;
* records lost: contacts in the portal that are not in raw_hubspot.contacts (goal 0);
* end-to-end records/s (extraction, landing, Great Expectations audit, merge).

Pages of a listing are sequential (each `after` cursor comes with the previous page), so the rate
cannot exceed 1 / response time: `mean_response_ms` and `pacing_wait_seconds` (time the pacer held
requests back) tell whether the server's speed or the rate limit bounded the run.

The world is generated once per (seed, size) into a database `bench_sandbox_<size>_s<seed>` and
reused by later runs. full: 100,000 contacts; smoke: 500.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from growthlab.warehouse.db import resolve_urls, with_database

SEED = 7


def _world(admin_url: str, size: int) -> str:
    from growthlab.sandbox import store
    from growthlab.sandbox.generate import generate_world, world_spec

    name = f"bench_sandbox_{size}_s{SEED}"
    url = with_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            try:
                with store.open_db(url, autocommit=True) as wconn:
                    world = store.get_meta(wconn, "world")
                if world and int(world.get("size", -1)) == size:
                    return url
            except Exception:  # an unfinished world: make it again
                pass
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    generate_world(url, world_spec(SEED, size))
    return url


@contextlib.contextmanager
def _servers_process(world_url: str) -> Iterator[str]:
    """The stand-in servers in a process of their own (as `growthlab sandbox up` runs them), so the
    client under test does not share its interpreter (and GIL) with the server. Yields HubSpot's URL."""
    from growthlab.sandbox import store

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "servers.json"
        env = {**os.environ, store.DATABASE_URL_ENV: world_url, "GROWTHLAB_SANDBOX_STATE": str(state)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "growthlab.sandbox.server"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while not state.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox servers did not start")
                time.sleep(0.1)
            ports = json.loads(state.read_text())["ports"]
            yield f"http://127.0.0.1:{ports['hubspot']}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def run(args) -> dict:
    from growthlab.sandbox import store
    from growthlab.sources.hubspot import sync_object
    from growthlab.sources.hubspot_api import client_from_connection
    from growthlab.warehouse.migrate import apply_migrations

    size = 500 if args.scale == "smoke" else 100_000
    admin = resolve_urls().warehouse
    started = time.perf_counter()
    world_url = _world(admin, size)
    world_seconds = time.perf_counter() - started
    wh_name = f"bench_hubspot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(wh_name)))
    wh = with_database(admin, wh_name)
    try:
        apply_migrations(wh, None)
        with store.open_db(world_url, autocommit=True) as conn:
            token = store.get_meta(conn, "secrets")["hubspot_token"]
            active, archived = conn.execute(
                "select count(*) filter (where not archived), count(*) filter (where archived) from hubspot.contacts"
            ).fetchone()
            portal_ids = {str(r[0]) for r in conn.execute("select id from hubspot.contacts")}
        with _servers_process(world_url) as hubspot_url:
            api = client_from_connection(hubspot_url, token)
            t0 = time.perf_counter()
            result = sync_object(
                wh, api, "contacts", as_of=datetime.now(UTC), full_refresh=True, with_associations=False
            )
            total_seconds = time.perf_counter() - t0
        with psycopg.connect(wh) as conn:
            loaded_ids = {r[0] for r in conn.execute("select id from raw_hubspot.contacts")}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(wh_name)))

    stats = api.stats
    minimum = math.ceil(active / 100) + max(1, math.ceil(archived / 100))
    limiter = api.limiter
    ceiling = limiter.limit / limiter.interval_s
    extract_seconds = (stats.last_request_at or 0) - (stats.first_request_at or 0)
    # n requests in a window span n-1 intervals between them
    achieved = (stats.requests - 1) / extract_seconds if extract_seconds > 0 else float("nan")
    lost = len(portal_ids - loaded_ids)
    return {
        "contacts": len(portal_ids),
        "requests_used": stats.requests,
        "requests_minimum": minimum,
        "requests_ratio": round(stats.requests / minimum, 3),
        "retries": stats.retries,
        "rate_limited_429": stats.rate_limited,
        "achieved_requests_per_s": round(achieved, 2),
        "ceiling_requests_per_s": round(ceiling, 2),
        "ratio": round(achieved / ceiling, 3),
        "goal": {"ratio": 0.9, "records_lost": 0},
        "records_lost": lost,
        "extract_seconds": round(extract_seconds, 1),
        "mean_response_ms": round(1000 * stats.http_seconds / max(stats.requests, 1), 1),
        "pacing_wait_seconds": round(limiter.waited_s, 1),
        "sync_seconds": round(total_seconds, 1),
        "records_per_s": round(len(loaded_ids) / total_seconds),
        "quarantined": result.batch.counts.rows_quarantined,
        "world_seconds": round(world_seconds, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews rates
    }
