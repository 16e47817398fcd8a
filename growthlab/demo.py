"""`growthlab demo`: the whole pipeline, run through Airflow, on the embedded default.

1. the embedded warehouse and the simulated clean-tech market (`growthlab sandbox up`, small world);
2. the SendGrid webhook receiver as a process of its own, SendGrid's Event Webhook pointed at it;
3. day 0 on the sandbox clock: ingestion (HubSpot, LinkedIn exports, SendGrid events), the dbt
   build through Cosmos, monthly model training (MLflow registry, champion gate) and lead scoring;
   the champion's ranking is compared with the oracle of the sandbox truth;
4. simulated days: the campaigns DAG sends through SendGrid, the world reacts (`advance`), events,
   replies and exports come back through ingestion; a weekly build and rescoring;
5. the HTML performance report and a summary.

Every DAG runs with `dag.test()` (real DagRuns in the metadata database, visible in `make airflow`).
Airflow's own output goes to `$GROWTHLAB_HOME/logs/demo.log`; the terminal gets one line per run.
The world and its clock persist: a second `make demo` continues where the first one stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from growthlab.config import Settings, get_settings

DEFAULT_DAYS = 7  # simulated days of campaigning; GROWTHLAB_DEMO_DAYS or --days


def _say(message: str) -> None:
    print(message, flush=True)


def warehouse_summary(url: str) -> list[tuple[str, int]]:
    """(schema.table, rows) for every table of the contract schemas that has rows."""
    from psycopg import sql

    from growthlab.warehouse.db import connect

    rows = []
    with connect(url) as conn:
        tables = conn.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_type = 'BASE TABLE'
              and table_schema in ('raw_hubspot','raw_linkedin','raw_sendgrid','quarantine','marts','ml','ops')
            order by 1, 2
            """
        ).fetchall()
        for schema, table in tables:
            count = conn.execute(
                sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchone()[0]
            if count:
                rows.append((f"{schema}.{table}", int(count)))
    return rows


class Receiver:
    """`growthlab receiver serve` in a process of its own, like production."""

    def __init__(self, settings: Settings, log_file: Path) -> None:
        from growthlab.warehouse.embedded import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/sendgrid/events"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_file, "a")  # noqa: SIM115 - lives as long as the process
        exe = str(Path(sys.prefix) / "bin" / "growthlab")
        self.proc = subprocess.Popen(
            [exe, "receiver", "serve", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the SendGrid receiver exited ({self.proc.returncode}); see {self._log.name}"
                )
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"the SendGrid receiver did not answer within {timeout:.0f}s; see {self._log.name}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


class Demo:
    def __init__(self, settings: Settings, days: int) -> None:
        self.settings = settings
        self.days = days
        self.log_file = settings.home / "logs" / "demo.log"
        self.runs: list = []
        self.receiver: Receiver | None = None

    # ---- helpers -----------------------------------------------------------------------------
    def run(self, dag_id: str, at: datetime, conf: dict | None = None):
        result = self.runner.run(dag_id, at, conf)
        self.runs.append(result)
        _say(f"  {dag_id:<22} {at:%Y-%m-%d %H:%M}  {result.state:<8} {result.seconds:6.1f}s")
        return result

    def clock(self) -> datetime:
        doc = json.loads(self.settings.sandbox_file.read_text())
        return datetime.fromisoformat(doc["today"]).replace(tzinfo=UTC)

    # ---- stages ------------------------------------------------------------------------------
    def start_stack(self) -> None:
        from growthlab import airflow_env
        from growthlab.airflow_runner import DagRunner, ensure_metadata_db, redirect_fds
        from growthlab.sandbox.control import up as sandbox_up
        from growthlab.sources.sendgrid_webhook import configure_event_webhook
        from growthlab.transform.manifest import ensure_manifest
        from growthlab.warehouse.cli import up

        _say(up(self.settings))
        sandbox_up(self.settings, say=lambda m: _say(f"sandbox: {m}"))
        # After the sandbox: the Airflow connections point at its servers.
        for key in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
            del os.environ[key]
        airflow_env.apply(self.settings)
        _say(f"Airflow metadata database and dbt manifest (log: {self.log_file})")
        ensure_metadata_db(self.log_file)
        with redirect_fds(self.log_file):
            ensure_manifest()
        self.receiver = Receiver(self.settings, self.settings.home / "logs" / "receiver.log")
        doc = json.loads(self.settings.sandbox_file.read_text())
        configure_event_webhook(doc["sendgrid"]["url"], doc["sendgrid"]["api_key"], self.receiver.url)
        _say(f"SendGrid receiver on {self.receiver.url}; the stand-in SendGrid posts signed events to it")
        self.runner = DagRunner(self.settings.dags_folder, self.log_file)

    def day_zero(self) -> datetime:
        from growthlab.sandbox import store
        from growthlab.sandbox.truth import write_truth

        day0 = self.clock()
        at = day0 + timedelta(hours=6)
        # The truth as of day 0, before the pipeline acts: only evaluation reads it.
        self.settings.reports_dir.mkdir(parents=True, exist_ok=True)
        self.truth_file = self.settings.reports_dir / f"truth-{day0:%Y-%m-%d}.csv"
        write_truth(store.sandbox_url(self.settings), self.truth_file)
        _say(f"\nday 0 ({day0:%Y-%m-%d}): ingest, build, train, score")
        for dag_id in (
            "hubspot_ingest",
            "linkedin_ingest",
            "sendgrid_events",
            "warehouse_build",
            "lead_model_train",
            "lead_scoring",
        ):
            self.run(dag_id, at)
        self.evaluate_model(day0)
        return day0

    def evaluate_model(self, day0: datetime) -> None:
        from growthlab.warehouse.db import resolve_urls
        from ml.oracle import champion_vs_oracle

        result = champion_vs_oracle(resolve_urls(self.settings).warehouse, self.truth_file, day0.date())
        _say(f"  {result.summary()}")

    def campaign_days(self, day0: datetime) -> None:
        from growthlab.sandbox.control import advance_world

        _say(f"\n{self.days} simulated day(s): campaigns send, the world reacts, events come back")
        for d in range(self.days):
            at = day0 + timedelta(days=d, hours=6)
            self.run("email_campaigns", at, conf={"send_ahead_hours": 24})
            summary = advance_world(self.settings, 1)
            _say(f"  sandbox advanced to {self.clock():%Y-%m-%d}: {_brief(summary)}")
            nxt = day0 + timedelta(days=d + 1, hours=5)
            self.run("sendgrid_events", nxt)
            self.run("hubspot_ingest", nxt)
            if (d + 1) % 7 == 0 and d + 1 < self.days:
                self.run("linkedin_ingest", nxt)
                self.run("warehouse_build", nxt)
                self.run("lead_scoring", nxt)

    def wrap_up(self) -> None:
        from growthlab.campaigns.status import campaign_status
        from growthlab.reports.report import write_report
        from growthlab.warehouse.db import resolve_urls

        at = self.clock() + timedelta(hours=5, minutes=30)
        _say("\nfinal build and scoring")
        self.run("linkedin_ingest", at)
        self.run("warehouse_build", at)
        self.run("lead_scoring", at)
        self.run("maintenance_warehouse", at)
        url = resolve_urls(self.settings).warehouse
        _say("\ncampaigns:")
        for line in campaign_status(url):
            _say(f"  {line}")
        report = write_report(url, self.settings.reports_dir)
        _say(f"\nperformance report: {report.path}")
        for line in report.summary:
            _say(f"  {line}")
        _say("\nwarehouse tables with rows:")
        for name, count in warehouse_summary(url):
            _say(f"  {name:<45} {count:>10,}")


def _brief(summary: dict) -> str:
    keys = (
        "mails_processed",
        "events",
        "replies",
        "conversions",
        "new_contacts",
        "webhook_batches_delivered",
    )
    parts = [f"{k.replace('_', ' ')} {summary[k]}" for k in keys if isinstance(summary.get(k), int)]
    return ", ".join(parts) or "ok"


def run_demo(settings: Settings, days: int = DEFAULT_DAYS) -> int:
    import logging

    started = time.monotonic()
    # One line per request or file drowns the summary; the servers and Airflow's log keep them.
    for name in ("httpx", "httpcore", "growthlab.sandbox", "growthlab.reports"):
        logging.getLogger(name).setLevel(logging.WARNING)
    demo = Demo(settings, days)
    try:
        demo.start_stack()
        day0 = demo.day_zero()
        demo.campaign_days(day0)
        demo.wrap_up()
    finally:
        if demo.receiver is not None:
            demo.receiver.stop()
    failed = [r for r in demo.runs if not r.ok]
    _say(
        f"\ndemo finished in {time.monotonic() - started:.0f}s: {len(demo.runs)} DAG runs, {len(failed)} failed. "
        f"Look around:\n"
        f'  psql "$(.venv/bin/growthlab warehouse url)"      the warehouse (analysts: --role analyst)\n'
        f"  make airflow                                     the Airflow UI on http://localhost:8080 with these runs\n"
        f"  make mlflow                                      the MLflow UI: the lead_scoring model and its champion\n"
        f"  {demo.log_file}   Airflow's task logs of this demo"
    )
    return 1 if failed else 0


def _cmd(args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else int(os.environ.get("GROWTHLAB_DEMO_DAYS", DEFAULT_DAYS))
    return run_demo(get_settings(), days)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the whole pipeline through Airflow on the embedded stack")
    p.add_argument(
        "--days",
        type=int,
        default=None,
        help=f"simulated days of campaigning (default GROWTHLAB_DEMO_DAYS or {DEFAULT_DAYS})",
    )
    p.set_defaults(func=_cmd)


if __name__ == "__main__":
    sys.exit(run_demo(get_settings()))
