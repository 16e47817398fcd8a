"""dbt build: full vs incremental after 1% new events, and the cost of Cosmos's execution modes.

Raw data is a synthetic raw load generated inside Postgres (growthlab.transform.synthetic), in the
shapes of the raw contract: faster than driving the sandbox's stand-in APIs and ingestion at a
million contacts, and the same SQL runs on it. `--scale full`: 1,000,000 contacts and about 20M
email events; `--scale smoke`: 2,000 contacts.

1. full: `dbt build` on the fresh load (as of the world's today).
2. incremental: 1% new events (new sends the next day, late clicks on old sends) and a new LinkedIn
   export's rows, then `dbt build` as of the next day. Goal: incremental <= 15% of full. The slowest models of both come from
   run_results.json. At smoke scale a third, full-refresh build checks that the incremental
   marts equal a rebuild (`incremental_equals_full_refresh`).
3. cosmos_modes (on a 2,000-contact copy whatever the scale: it measures per-task overhead): the
   `warehouse_build` DAG under `dag.test()` in each execution mode, against a plain `dbt build`
   of the same project and data measured in the same run.

Both measured builds exclude dbt's unit tests, as warehouse_build does (they run in CI).
Runs in its own database on the embedded server (dropped afterwards; GROWTHLAB_BENCH_KEEP=1 keeps it).
GROWTHLAB_BENCH_DBT_CONTACTS overrides the number of contacts; GROWTHLAB_BENCH_COSMOS_MODES=0 skips 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMOKE_CONTACTS = 2_000
FULL_CONTACTS = 1_000_000
GOAL = 0.15
# Both measured builds run as production does (warehouse_build): dbt's unit tests check the SQL
# logic and belong to CI (`make test` runs them), not to every build of the same code.
PRODUCTION_BUILD = ["build", "--exclude-resource-type", "unit_test"]
COSMOS_MODES = ("watcher", "local", "local_subprocess")


def _server():
    from growthlab.config import get_settings
    from growthlab.warehouse.cli import embedded_server, up

    settings = get_settings()
    if not settings.embedded:
        raise RuntimeError(
            "the dbt_build benchmark creates its own database on the embedded server; unset "
            "GROWTHLAB_WAREHOUSE_URL (or run it where the embedded warehouse can start)"
        )
    up(settings)
    return settings, embedded_server(settings).read_state()


def _create_db(state, prefix: str) -> str:
    import psycopg

    from growthlab.warehouse.migrate import apply_migrations

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(state.url("postgres", "postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}" owner growthlab')
    apply_migrations(state.url(name), state.analyst_role)
    return name


def _drop_db(state, name: str) -> None:
    import psycopg

    if os.environ.get("GROWTHLAB_BENCH_KEEP"):
        return
    with psycopg.connect(state.url("postgres", "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _slowest(invocation, n: int = 8) -> list[dict]:
    return [{"model": r.name, "seconds": round(r.execution_time, 2)} for r in invocation.slowest(n)]


def _raw_counts(url: str) -> dict[str, int]:
    from growthlab.warehouse.db import connect

    with connect(url) as conn:
        return {
            "contacts": conn.execute("select count(*) from raw_hubspot.contacts").fetchone()[0],
            "email_events": conn.execute(
                "select (select count(*) from raw_sendgrid.events) + (select count(*) from raw_hubspot.email_events)"
            ).fetchone()[0],
        }


# What an incremental build must leave exactly as a full rebuild would (bookkeeping columns aside).
# lead_features: the horizon date only; earlier month starts keep what was known then (a late event
# dated in the past is in a rebuild, not in the frozen row).
CHECKSUMS = {
    "fct_email_events": """select md5(string_agg(t::text, '|' order by event_id)) from (select event_id, source,
        source_event_id, send_id, event_type, source_event_type, occurred_at, contact_id, email, campaign_id, step,
        variant, angle, message_id, outbox_id, is_machine_open, url, bounce_type, synced_at
        from marts.fct_email_events) t""",
    "fct_email_sends": """select md5(string_agg(t::text, '|' order by send_id)) from (select send_id, source,
        contact_id, campaign_id, step, variant, sent_at, contact_send_number, previous_sent_at, open_count,
        human_open_count, click_count, reply_count, was_delivered, was_opened, was_human_opened, was_clicked,
        was_bounced, was_unsubscribed, was_replied, replied_at, reply_match_method, first_response_minutes
        from marts.fct_email_sends) t""",
    "contact_engagement_daily": """select md5(string_agg(t::text, '|' order by contact_id, activity_date))
        from (select contact_id, activity_date, emails_sent, emails_delivered, email_opens, human_opens,
        machine_opens, email_clicks, email_bounces, email_unsubscribes, email_replies, linkedin_connections,
        linkedin_messages_received, meetings_booked, is_engaged from marts.contact_engagement_daily) t""",
    "lead_features@horizon": """select md5(string_agg(t::text, '|' order by contact_id)) from marts.lead_features t
        where as_of_date = (select max(as_of_date) from marts.lead_features)""",
    "email_campaign_performance": """select md5(string_agg(t::text, '|' order by performance_key)) from (select
        performance_key, sends, delivered, opened, human_opened, clicked, replied, conversions,
        attributed_pipeline, attributed_revenue, cost_usd from marts.email_campaign_performance) t""",
    "stg_linkedin__invitations": """select md5(string_agg(t::text, '|' order by invitation_key))
        from staging.stg_linkedin__invitations t""",
    "stg_linkedin__connections": """select md5(string_agg(t::text, '|' order by connection_key))
        from staging.stg_linkedin__connections t""",
    "stg_linkedin__messages": """select md5(string_agg(t::text, '|' order by message_key))
        from staging.stg_linkedin__messages t""",
    "fct_linkedin_touches": """select md5(string_agg(t::text, '|' order by touch_id)) from marts.fct_linkedin_touches t""",
    "int_contact_activity": """select md5(string_agg(t::text, '|' order by contact_id)) from (select contact_id,
        emails_sent, emails_delivered, emails_human_opened, emails_clicked, emails_replied, first_email_sent_at,
        last_email_sent_at, unsubscribed_at, bounced_at, has_spam_report, last_engaged_on
        from intermediate.int_contact_activity) t""",
    "dim_contacts": """select md5(string_agg(t::text, '|' order by contact_id)) from marts.dim_contacts t""",
}


def _checksums(url: str) -> dict[str, str]:
    from growthlab.warehouse.db import connect

    with connect(url) as conn:
        return {name: conn.execute(query).fetchone()[0] for name, query in CHECKSUMS.items()}


def full_vs_incremental(state, contacts: int, work: Path, check_against_full_refresh: bool = False) -> dict:
    from growthlab.transform.runner import run_dbt
    from growthlab.transform.synthetic import SyntheticSpec, append_new_events, load_synthetic_raw

    spec = SyntheticSpec(contacts=contacts)
    name = _create_db(state, "bench_dbt")
    url = state.url(name)
    try:
        started = time.monotonic()
        load_synthetic_raw(url, spec)
        load_seconds = time.monotonic() - started
        raw = _raw_counts(url)
        target, logs = work / "target", work / "logs"
        # Parse once up front so neither measured build pays the cold parse of a new profile.
        run_dbt(["parse"], url, target_path=target, log_path=logs)
        full = run_dbt(PRODUCTION_BUILD, url, as_of_date=spec.today, target_path=target, log_path=logs)
        added = append_new_events(url, 0.01, spec.today)
        incremental = run_dbt(
            PRODUCTION_BUILD,
            url,
            as_of_date=spec.today + timedelta(days=1),
            target_path=target,
            log_path=logs,
        )
        same: dict[str, bool] | None = None
        if check_against_full_refresh:
            after_incremental = _checksums(url)
            run_dbt(
                [*PRODUCTION_BUILD, "--full-refresh"],
                url,
                as_of_date=spec.today + timedelta(days=1),
                target_path=target,
                log_path=logs,
            )
            rebuilt = _checksums(url)
            same = {name: after_incremental[name] == rebuilt[name] for name in CHECKSUMS}
        return {
            "raw_contacts": raw["contacts"],
            "raw_email_events": raw["email_events"],
            "new_events": added,
            "synthetic_load_seconds": round(load_seconds, 1),
            "full_seconds": round(full.seconds, 1),
            "incremental_seconds": round(incremental.seconds, 1),
            "ratio": round(incremental.seconds / full.seconds, 3),
            "goal": f"incremental <= {GOAL:.0%} of full",
            "goal_met": incremental.seconds <= GOAL * full.seconds,
            "slowest_full": _slowest(full),
            "slowest_incremental": _slowest(incremental),
            **({"incremental_equals_full_refresh": same} if same is not None else {}),
        }
    finally:
        _drop_db(state, name)


def cosmos_modes(state, work: Path) -> dict:
    """warehouse_build through dag.test() per execution mode vs a plain `dbt build`, same data."""
    from growthlab.transform.runner import run_dbt
    from growthlab.transform.synthetic import SyntheticSpec, load_synthetic_raw

    spec = SyntheticSpec(contacts=SMOKE_CONTACTS)
    name = _create_db(state, "bench_cosmos")
    url = state.url(name)
    try:
        load_synthetic_raw(url, spec)
        target = work / "cosmos-target"
        run_dbt(PRODUCTION_BUILD, url, as_of_date=spec.today, target_path=target, log_path=work / "logs")
        # The baseline: the same incremental rebuild the DAG runs, without Airflow.
        plain = run_dbt(
            PRODUCTION_BUILD, url, as_of_date=spec.today, target_path=target, log_path=work / "logs"
        )
        out: dict = {"plain_dbt_build_seconds": round(plain.seconds, 1), "modes": {}}
        for mode in COSMOS_MODES:
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--cosmos-mode",
                    mode,
                    "--url",
                    url,
                    "--as-of",
                    spec.today.isoformat(),
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                out["modes"][mode] = {"error": (proc.stderr or proc.stdout).strip().splitlines()[-3:]}
                continue
            result = json.loads(lines[-1])
            result["ratio_to_plain"] = round(result["seconds"] / plain.seconds, 2)
            result["overhead_per_task_seconds"] = round(
                (result["seconds"] - plain.seconds) / result["tasks"], 2
            )
            out["modes"][mode] = result
        ok = {m: r["seconds"] for m, r in out["modes"].items() if "seconds" in r}
        out["fastest_mode"] = min(ok, key=ok.get) if ok else None
        return out
    finally:
        _drop_db(state, name)


def _run_one_mode(mode: str, url: str, as_of: str) -> None:
    """Child process: one warehouse_build run under dag.test() in `mode`; prints one JSON line."""
    from growthlab import airflow_env
    from growthlab.config import apply_telemetry_off, get_settings

    apply_telemetry_off()
    settings = get_settings()
    os.environ["GROWTHLAB_DBT_EXECUTION_MODE"] = mode
    airflow_env.apply(settings)
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = airflow_env.postgres_connection(url)
    from growthlab.airflow_runner import DagRunner, ensure_metadata_db

    log_file = settings.home / "logs" / "bench-cosmos.log"
    ensure_metadata_db(log_file)
    runner = DagRunner(settings.dags_folder, log_file)
    dag = runner.bag.get_dag("warehouse_build")
    day = date.fromisoformat(as_of)
    # A unique logical time per run, so repeated benchmarks never collide with earlier runs.
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        microseconds=time.time_ns() % 10**6
    )
    result = runner.run("warehouse_build", logical)
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": round(result.seconds, 1),
                "tasks": len(dag.tasks),
                "state": result.state,
            }
        )
    )


def run(args: argparse.Namespace) -> dict:
    _, state = _server()
    contacts = SMOKE_CONTACTS if args.scale == "smoke" else FULL_CONTACTS
    contacts = int(os.environ.get("GROWTHLAB_BENCH_DBT_CONTACTS") or contacts)
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
        work = Path(tmp)
        # A third, full-refresh build checks the incremental result; affordable at smoke scale only.
        result = full_vs_incremental(state, contacts, work, check_against_full_refresh=args.scale == "smoke")
        result["raw_data"] = "synthetic raw load (growthlab.transform.synthetic), not the sandbox generator"
        if os.environ.get("GROWTHLAB_BENCH_COSMOS_MODES", "1") != "0":
            result["cosmos_modes"] = cosmos_modes(state, work)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cosmos-mode", choices=COSMOS_MODES, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--as-of", required=True)
    cli = parser.parse_args()
    _run_one_mode(cli.cosmos_mode, cli.url, cli.as_of)
