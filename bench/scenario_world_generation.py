"""Sandbox world generation: a million contacts with a year of history, its time and peak memory.

`--scale full`: 1,000,000 contacts (about 167k companies and 14M HubSpot email events plus deals,
meetings, engagements, associations and LinkedIn history); baseline: the same generation at
100,000 contacts, measured in the same run. `--scale smoke`: 20,000 vs 2,000 contacts.

Each size runs in its own process (so its peak RSS is its own) and its own database on the
embedded server (dropped afterwards; GROWTHLAB_BENCH_KEEP=1 keeps them). Reported: seconds, peak
RSS, rows written and rows/s for both sizes; `ratio` = seconds(full) / (seconds(baseline) x the size
ratio): 1.0 means generation scales linearly, < 1 better than linear. Goal (issue 3): 1M contacts
within a few GB of memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"smoke": (20_000, 2_000), "full": (1_000_000, 100_000)}
MEMORY_GOAL_MB = 4_000


def _server():
    from growthlab.config import get_settings
    from growthlab.warehouse.cli import embedded_server, up

    settings = get_settings()
    if not settings.embedded:
        raise RuntimeError(
            "the world_generation benchmark creates its own databases on the embedded server; unset "
            "GROWTHLAB_WAREHOUSE_URL (or run it where the embedded warehouse can start)"
        )
    up(settings)
    return embedded_server(settings).read_state()


def _measure(url: str, contacts: int, seed: int) -> dict:
    """Generate in a child process; its JSON result includes its own peak RSS."""
    code = (
        "import json, sys, threading, time, psutil\n"
        "from growthlab.sandbox.generate import generate_world, world_spec\n"
        "proc = psutil.Process(); peak = [0]; stop = threading.Event()\n"
        "def watch():\n"
        "    while not stop.wait(0.1):\n"
        "        peak[0] = max(peak[0], proc.memory_info().rss)\n"
        "threading.Thread(target=watch, daemon=True).start()\n"
        "started = time.monotonic()\n"
        "counts = generate_world(sys.argv[1], world_spec(int(sys.argv[3]), int(sys.argv[2])), progress=lambda m: None)\n"
        "seconds = time.monotonic() - started\n"
        "stop.set(); peak[0] = max(peak[0], proc.memory_info().rss)\n"
        "print(json.dumps({'seconds': seconds, 'peak_rss_mb': peak[0] / 1e6, 'counts': counts}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, url, str(contacts), str(seed)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"generating {contacts:,} contacts failed: {result.stderr[-2000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    counts = {k: v for k, v in out["counts"].items() if k not in ("seconds", "timing")}
    rows = int(sum(counts.values()))
    return {
        "contacts": contacts,
        "seconds": round(out["seconds"], 1),
        "peak_rss_mb": round(out["peak_rss_mb"]),
        "rows_written": rows,
        "rows_per_second": round(rows / out["seconds"]),
        "email_events": counts.get("email_events", 0),
        "deals": counts.get("deals", 0),
        "phase_seconds": out["counts"].get("timing", {}),
    }


def _with_database(state, fn):
    import psycopg

    name = f"bench_world_{uuid.uuid4().hex[:8]}"
    admin = state.url("postgres", "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}" owner growthlab')
    try:
        return fn(state.url(name))
    finally:
        if not os.environ.get("GROWTHLAB_BENCH_KEEP"):
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')


def run(args: argparse.Namespace) -> dict:
    state = _server()
    full, base = SIZES[args.scale]
    started = time.monotonic()
    baseline = _with_database(state, lambda url: _measure(url, base, 42))
    measured = _with_database(state, lambda url: _measure(url, full, 42))
    ratio = measured["seconds"] / (baseline["seconds"] * full / base)
    return {
        "measured": measured,
        "baseline": baseline,
        "ratio": round(ratio, 3),
        "ratio_means": "seconds(full) / (seconds(baseline) x size ratio); 1.0 = linear scaling",
        "goal": f"{full:,} contacts with peak RSS under {MEMORY_GOAL_MB:,} MB",
        "goal_met": measured["peak_rss_mb"] < MEMORY_GOAL_MB,
        "total_seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="smoke", choices=["smoke", "full"])
    print(json.dumps(run(parser.parse_args())))
