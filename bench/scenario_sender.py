"""Email campaigns: planning, content generation and exactly-once sending throughput.

N contacts (smoke 300, full 20,000) in a marts-shaped fixture in its own database on the embedded
server; one campaign enrols them all; then `plan`, `generate` and `send` run and are timed. Sending
goes through the real `sendgrid` client to a local endpoint that accepts every request at once
(202), so the figures are growthlab's own cost (claim, gate, payload, record, audit) plus a local
HTTP round trip; real SendGrid adds 100 ms or more per request, which only widens the gap below.

Baseline, measured in the same run on the same rows: one request per email (batch_size=1), what a
naive sender does. `ratio` = batched emails/s over baseline emails/s. The baseline is measured on
min(N, 1,000) emails to keep the run short; rates are per email.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SMOKE, FULL = 300, 20_000
BASELINE_MAX = 1_000

MARTS = """
create table marts.dim_companies (company_id text primary key, company_name text, domain text,
    cleantech_segment text, country text, timezone text, renewable_share double precision, sbti_status text,
    emissions_intensity double precision, employees double precision);
create table marts.dim_contacts (contact_id text primary key, email text, first_name text, last_name text,
    job_title text, seniority text, job_function text, company_id text, company_name text, country text,
    requires_consent boolean, can_email boolean, timezone text, lifecycle_stage text, owner_id text,
    marketing_consent text, is_email_opted_out boolean, growthlab_score double precision, growthlab_grade text,
    created_at timestamptz);
"""

CAMPAIGN = """\
id: bench_{tag}
name: Benchmark {tag}
status: active
sender: {{from_email: bench@heliogrid.example, from_name: Bench, postal_address: "1 Bench Street, Berlin"}}
links: {{cta: https://heliogrid.example/demo}}
audience: {{include_unscored: true, max_new_per_day: 100000, exclude: {{contacted_within_days: 0,
  other_active_campaigns: false}}}}
schedule: {{start: 2026-01-01, daily_cap: 1000000,
  window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59"}}}}
steps:
  - id: intro
    variants:
      - {{id: savings, angle: cost_savings, template: decarb_platform/intro_savings.j2}}
      - {{id: emissions, angle: emissions_reduction, template: decarb_platform/intro_emissions.j2}}
"""


class _Accepting:
    def __init__(self) -> None:
        self.requests = 0
        self.emails = 0
        parent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parent.requests += 1
                parent.emails += len(body["personalizations"])
                self.send_response(202)
                self.send_header("X-Message-Id", uuid.uuid4().hex[:22])
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _database() -> tuple[str, str, object]:
    import psycopg

    from growthlab.config import get_settings
    from growthlab.warehouse.cli import embedded_server, up
    from growthlab.warehouse.migrate import apply_migrations

    settings = get_settings()
    if not settings.embedded:
        raise RuntimeError("the sender benchmark needs the embedded warehouse; unset GROWTHLAB_WAREHOUSE_URL")
    up(settings)
    state = embedded_server(settings).read_state()
    name = f"bench_sender_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(state.url("postgres", "postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}" owner growthlab')
    url = state.url(name)
    apply_migrations(url, None)
    with psycopg.connect(url) as conn:
        conn.execute(MARTS)
    return name, url, state


def _contacts(url: str, n: int, prefix: str) -> None:
    """n fresh contacts (the previous round's leave the marts, so each round enrols only its own)."""
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("truncate marts.dim_contacts, marts.dim_companies")
        with cur.copy(
            "copy marts.dim_companies (company_id, company_name, cleantech_segment, country, timezone,"
            " renewable_share, sbti_status) from stdin"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        f"{prefix}co{i}",
                        f"Company {i}",
                        "solar",
                        "United States",
                        "America/Chicago",
                        60,
                        "committed",
                    )
                )
        with cur.copy(
            "copy marts.dim_contacts (contact_id, email, first_name, last_name, job_title, company_id,"
            " country, requires_consent, can_email, timezone, marketing_consent, is_email_opted_out,"
            " created_at) from stdin"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        f"{prefix}{i}",
                        f"{prefix}{i}@co{i}.example",
                        f"Name{i}",
                        "Bench",
                        "CFO",
                        f"{prefix}co{i}",
                        "United States",
                        False,
                        True,
                        "America/Chicago",
                        "unknown",
                        False,
                        "2026-01-01",
                    )
                )


def _round(url: str, folder: Path, home: Path, n: int, tag: str, batch_size: int, server: _Accepting) -> dict:
    from growthlab.campaigns import pipeline
    from growthlab.campaigns.sender import SendOptions

    (folder / f"bench_{tag}.yaml").write_text(CAMPAIGN.format(tag=tag))
    for other in folder.glob("bench_*.yaml"):
        if other.name != f"bench_{tag}.yaml":
            other.unlink()
    _contacts(url, n, f"{tag}-")
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    pipeline.load_campaigns(url, "bench", folder)
    t0 = time.perf_counter()
    planned = pipeline.plan(url, now, "bench", folder)["campaigns"][0]["enrolled"]
    t1 = time.perf_counter()
    generated = pipeline.generate(url, now, "bench", home, folder)["ready"]
    t2 = time.perf_counter()
    client = pipeline.sendgrid_client(server.url, "SG.bench")
    before = server.requests
    sent = pipeline.send(
        url, client, now, "bench", SendOptions(batch_size=batch_size, ahead=timedelta(hours=1)), folder
    )["sent"]
    t3 = time.perf_counter()
    assert planned == generated == sent == n, (planned, generated, sent, n)
    return {"plan_s": t1 - t0, "generate_s": t2 - t1, "send_s": t3 - t2, "requests": server.requests - before}


def run(args: argparse.Namespace) -> dict:
    import psycopg

    n = SMOKE if args.scale == "smoke" else FULL
    baseline_n = min(n, BASELINE_MAX)
    name, url, state = _database()
    server = _Accepting()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "campaigns"
            folder.mkdir()
            (folder / "templates").symlink_to(
                Path(__file__).resolve().parent.parent / "campaigns" / "templates"
            )
            home = Path(tmp) / "home"
            home.mkdir()
            os.environ.setdefault("GROWTHLAB_UNSUBSCRIBE_SECRET", "bench-secret")
            batched = _round(url, folder, home, n, "batched", 1000, server)
            single = _round(url, folder, home, baseline_n, "single", 1, server)
    finally:
        server.server.shutdown()
        if os.environ.get("GROWTHLAB_BENCH_KEEP") != "1":
            with psycopg.connect(state.url("postgres", "postgres"), autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')
    batched_rate = n / batched["send_s"]
    single_rate = baseline_n / single["send_s"]
    return {
        "metric": "emails sent per second (claim, gate, payload, POST, record, audit)",
        "emails": n,
        "value": round(batched_rate, 1),
        "baseline": round(single_rate, 1),
        "baseline_desc": f"one request per email, measured on {baseline_n} emails",
        "ratio": round(batched_rate / single_rate, 2),
        "requests_batched": batched["requests"],
        "requests_baseline": single["requests"],
        "plan_emails_per_s": round(n / batched["plan_s"], 1),
        "generate_emails_per_s": round(n / batched["generate_s"], 1),
    }
