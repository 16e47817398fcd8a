"""`growthlab receiver serve` and `growthlab ingest ...`: ingestion outside Airflow.

The DAGs (hubspot_ingest, linkedin_ingest, sendgrid_events) are the scheduled path; these
commands run the same functions by hand, and serve the SendGrid webhook receiver.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from growthlab.config import get_settings


def _as_of(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _warehouse() -> str:
    from growthlab.warehouse.db import resolve_urls

    return resolve_urls(get_settings()).warehouse


def _connection(name: str) -> dict:
    """An Airflow-style connection (AIRFLOW_CONN_<NAME> or what growthlab would export)."""
    import os

    raw = os.environ.get(f"AIRFLOW_CONN_{name.upper()}")
    if not raw:
        from growthlab.airflow_env import connections
        from growthlab.warehouse.db import resolve_urls

        settings = get_settings()
        raw = connections(settings, resolve_urls(settings))[f"AIRFLOW_CONN_{name.upper()}"]
    conn = json.loads(raw)
    if isinstance(conn.get("extra"), str):
        conn["extra"] = json.loads(conn["extra"] or "{}")
    return conn


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from growthlab.sources.sendgrid_events import SignatureCheck, create_app, public_key_from_environment

    key = (
        args.public_key
        or public_key_from_environment()
        or _connection("sendgrid").get("extra", {}).get("webhook_public_key")
    )
    if not key:
        raise RuntimeError(
            "no SendGrid webhook public key: set GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY, or run "
            "`growthlab ingest webhook --url <receiver url>` which enables signing and prints it"
        )
    app = create_app(_warehouse(), SignatureCheck(key, tolerance_s=args.tolerance), path=args.path)
    print(f"SendGrid webhook receiver on http://{args.host}:{args.port}{args.path}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    url = _warehouse()
    as_of = _as_of(args.as_of)
    if args.source == "linkedin":
        from growthlab.sources.linkedin_ingest import inbox_dir, ingest_inbox

        inbox = inbox_dir() if not args.inbox else __import__("pathlib").Path(args.inbox)
        result = ingest_inbox(url, inbox, as_of=as_of, run_id="cli")
        print(json.dumps({"processed": result.processed, "skipped": result.skipped, "tables": result.tables}))
    elif args.source == "sendgrid":
        from growthlab.sources.sendgrid_events import load_spooled_events

        loaded = load_spooled_events(url, as_of=as_of, run_id="cli")
        print(json.dumps({"webhook_batches": loaded.spooled_batches, **loaded.batch.counts.as_dict()}))
    elif args.source == "hubspot":
        from growthlab.sources.hubspot import client_from_connection, sync_all

        conn = _connection("hubspot")
        api = client_from_connection(conn.get("host", ""), conn.get("password") or "")
        results = sync_all(url, api, as_of=as_of, full_refresh=args.full_refresh, run_id="cli")
        print(json.dumps({name: b.counts.as_dict() for name, b in results.items()}))
    return 0


def _webhook(args: argparse.Namespace) -> int:
    from growthlab.sources.sendgrid_webhook import configure_event_webhook

    conn = _connection("sendgrid")
    settings = configure_event_webhook(conn.get("host", ""), conn.get("password") or "", args.url)
    print(json.dumps({"url": settings.url, "enabled": settings.enabled, "public_key": settings.public_key}))
    return 0


def _status(args: argparse.Namespace) -> int:
    from growthlab.sources.sendgrid_events import spool_status
    from growthlab.warehouse.db import connect

    with connect(_warehouse()) as conn:
        batches = conn.execute(
            """select distinct on (source, object) source, object, status, rows_in, rows_loaded,
                      rows_quarantined, finished_at, error
               from ops.ingest_batches order by source, object, started_at desc"""
        ).fetchall()
        failures = conn.execute(
            """select table_name, rule, severity, unexpected_count, element_count, validated_at
               from ops.validation_results where not success order by validated_at desc limit 20"""
        ).fetchall()
        quarantined = conn.execute(
            "select table_name, rule, count(*) from quarantine.rows group by 1, 2 order by 3 desc"
        ).fetchall()
        spool = spool_status(conn)
    print("last load per source object:")
    for s, o, status, n_in, loaded, quarantined_n, finished, error in batches:
        print(f"  {s}.{o:<16} {status:<9} in {n_in:>7}  loaded {loaded:>7}  quarantined {quarantined_n:>5}  "
              f"{finished or ''} {('ERROR ' + error[:120]) if error else ''}")  # fmt: skip
    print("quarantine.rows by table and rule:")
    for table, rule, n in quarantined:
        print(f"  {table:<28} {rule:<32} {n}")
    print("recent failed expectations:")
    for table, rule, severity, bad, total, at in failures:
        print(f"  {at:%Y-%m-%d %H:%M} {table:<28} {rule:<32} {severity:<8} {bad}/{total}")
    print(f"sendgrid webhook spool: {spool}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    r = subparsers.add_parser("receiver", help="the SendGrid Event Webhook receiver")
    rsub = r.add_subparsers(dest="receiver_command", metavar="ACTION", required=True)
    serve = rsub.add_parser("serve", help="serve the signed-webhook receiver (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--path", default="/sendgrid/events")
    serve.add_argument(
        "--tolerance", type=int, default=600, help="max signature age in seconds (default 600)"
    )
    serve.add_argument("--public-key", help="webhook verification key (default: environment/connection)")
    serve.set_defaults(func=_serve)

    p = subparsers.add_parser("ingest", help="load HubSpot, LinkedIn exports or SendGrid events by hand")
    sub = p.add_subparsers(dest="ingest_command", metavar="ACTION", required=True)
    for source, help_text in (
        ("hubspot", "sync HubSpot objects, associations and email events"),
        ("linkedin", "ingest the LinkedIn export inbox"),
        ("sendgrid", "load spooled SendGrid webhook batches"),
    ):
        s = sub.add_parser(source, help=help_text)
        s.add_argument("--as-of", help="ISO time standing for the data interval's end (default: now)")
        if source == "hubspot":
            s.add_argument("--full-refresh", action="store_true")
        if source == "linkedin":
            s.add_argument("--inbox", help="inbox folder (default GROWTHLAB_LINKEDIN_INBOX)")
        s.set_defaults(func=_ingest, source=source)
    w = sub.add_parser("webhook", help="point SendGrid's Event Webhook at a receiver URL and enable signing")
    w.add_argument("--url", required=True, help="public URL of `growthlab receiver serve`")
    w.set_defaults(func=_webhook)
    st = sub.add_parser("status", help="last loads, quarantine and failed expectations")
    st.set_defaults(func=_status)
