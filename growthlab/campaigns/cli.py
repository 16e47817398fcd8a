"""`growthlab campaigns ...`: validate, plan, generate, send, reconcile, run, status, preview, forget.

Times: `--at` is the logical time of the step (ISO 8601, UTC if no zone), as a DAG run's
data_interval_end would be; it defaults to the current hour. Credentials for SendGrid and HubSpot
come from AIRFLOW_CONN_SENDGRID / AIRFLOW_CONN_HUBSPOT when set, else from the sandbox while it is up,
else from GROWTHLAB_SENDGRID_* / GROWTHLAB_HUBSPOT_* (docs/configuration.md).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from growthlab.config import get_settings

ACTOR = "cli"


def _at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    ts = datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _url() -> str:
    from growthlab.warehouse.db import resolve_urls

    return resolve_urls(get_settings()).warehouse


def _connection(name: str) -> dict[str, Any]:
    raw = os.environ.get(f"AIRFLOW_CONN_{name.upper()}")
    if not raw:
        from growthlab.airflow_env import connections
        from growthlab.warehouse.db import resolve_urls

        settings = get_settings()
        raw = connections(settings, resolve_urls(settings))[f"AIRFLOW_CONN_{name.upper()}"]
    return json.loads(raw)


def _dir(args: argparse.Namespace) -> Path | None:
    return Path(args.dir).resolve() if getattr(args, "dir", None) else None


def _print(result: Any) -> None:
    print(json.dumps(result, indent=2, default=str))


def cmd_validate(args: argparse.Namespace) -> int:
    from growthlab.campaigns.validation import CatalogError, load_catalog

    try:
        catalog = load_catalog(_dir(args))
    except CatalogError as exc:
        print(exc)
        return 1
    for loaded in catalog.campaigns.values():
        c = loaded.campaign
        variants = sum(len(s.variants) for s in c.steps)
        print(f"ok  {c.id:<24} {c.status:<7} {len(c.steps)} steps, {variants} variants  ({loaded.file.name})")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from growthlab.campaigns import pipeline

    url = _url()
    pipeline.load_campaigns(url, ACTOR, _dir(args))
    _print(pipeline.plan(url, _at(args.at), ACTOR, _dir(args)))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from growthlab.campaigns import pipeline

    _print(pipeline.generate(_url(), _at(args.at), ACTOR, get_settings().home, _dir(args)))
    return 0


def _sendgrid() -> Any:
    from growthlab.campaigns import pipeline

    conn = _connection("sendgrid")
    return pipeline.sendgrid_client(conn.get("host"), conn.get("password"))


def _hubspot() -> Any:
    from growthlab.campaigns.followup import hubspot_client

    conn = _connection("hubspot")
    return hubspot_client(conn.get("host"), conn.get("password"))


def cmd_send(args: argparse.Namespace) -> int:
    from growthlab.campaigns import pipeline
    from growthlab.campaigns.sender import SendOptions

    options = SendOptions(batch_size=args.batch_size, ahead=timedelta(hours=args.ahead_hours))
    _print(pipeline.send(_url(), _sendgrid(), _at(args.at), ACTOR, options, _dir(args)))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from growthlab.campaigns import pipeline

    _print(pipeline.reconcile(_url(), _at(args.at), ACTOR, None if args.no_hubspot else _hubspot()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """All steps in the DAG's order, for one logical time."""
    from growthlab.campaigns import pipeline
    from growthlab.campaigns.sender import SendOptions

    url, at, folder = _url(), _at(args.at), _dir(args)
    out = {"load": pipeline.load_campaigns(url, ACTOR, folder)}
    out["plan"] = pipeline.plan(url, at, ACTOR, folder)
    out["generate"] = pipeline.generate(url, at, ACTOR, get_settings().home, folder)
    out["send"] = pipeline.send(
        url, _sendgrid(), at, ACTOR, SendOptions(ahead=timedelta(hours=args.ahead_hours)), folder
    )
    out["reconcile"] = pipeline.reconcile(url, at, ACTOR, None if args.no_hubspot else _hubspot())
    _print(out)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from growthlab.campaigns.status import campaign_status

    for line in campaign_status(_url()):
        print(line)
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from growthlab.campaigns.preview import preview

    html_path, text = preview(
        _url(), args.campaign, args.step, args.variant, args.contact, _dir(args), args.out
    )
    print(text)
    print(f"\nHTML: {html_path}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from growthlab.campaigns.privacy import forget
    from growthlab.warehouse.db import connect

    with connect(_url()) as conn:
        result = forget(conn, args.email, f"cli:{os.environ.get('USER', 'unknown')}", datetime.now(UTC))
    print(
        f"forgotten (sha256 {result.email_sha256[:16]}...): {len(result.contacts)} contact(s), "
        f"{result.stopped} sequence(s) stopped, {result.cancelled} unsent email(s) cancelled, "
        f"{result.redacted} outbox row(s) redacted; suppressed everywhere from now on"
    )
    return 0


def cmd_serve_unsubscribe(args: argparse.Namespace) -> int:
    import uvicorn

    from growthlab.campaigns.compliance import load_unsubscribe_config
    from growthlab.campaigns.unsubscribe import create_app

    cfg = load_unsubscribe_config(get_settings().home)
    print(
        f"unsubscribe endpoint on http://{args.host}:{args.port}/unsubscribe/<token> "
        f"(public URL: {cfg.https_url or 'GROWTHLAB_UNSUBSCRIBE_URL not set'})"
    )
    uvicorn.run(create_app(_url(), cfg.secret), host=args.host, port=args.port, log_level="warning")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("campaigns", help="email campaigns: validate, plan, send, forget ...")
    sub = p.add_subparsers(dest="campaigns_command", metavar="ACTION")

    def add(name: str, func, help_text: str, at: bool = True, folder: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if at:
            sp.add_argument("--at", help="logical time (ISO 8601; default: the current hour, UTC)")
        if folder:
            sp.add_argument("--dir", help="campaign folder (default: campaigns/ or GROWTHLAB_CAMPAIGNS_DIR)")
        sp.set_defaults(func=func)
        return sp

    add("validate", cmd_validate, "check every campaign file and template (file:line: reason)", at=False)
    add("plan", cmd_plan, "load the catalog, fold in events, enrol contacts and schedule follow-ups")
    add("generate", cmd_generate, "write the planned emails")
    send = add("send", cmd_send, "send what is due through SendGrid (exactly once)")
    send.add_argument(
        "--ahead-hours", type=float, default=1.0, help="hand over mail due this far ahead (send_at)"
    )
    send.add_argument("--batch-size", type=int, default=1000)
    rec = add(
        "reconcile",
        cmd_reconcile,
        "settle open batches, fold in events, create owner tasks for replies",
        folder=False,
    )
    rec.add_argument("--no-hubspot", action="store_true", help="do not create HubSpot tasks")
    run = add("run", cmd_run, "plan, generate, send and reconcile for one logical time")
    run.add_argument("--ahead-hours", type=float, default=1.0)
    run.add_argument("--no-hubspot", action="store_true")
    add("status", cmd_status, "per campaign: enrollments and emails by status", at=False, folder=False)
    prev = add(
        "preview", cmd_preview, "render one email for one contact (nothing is stored or sent)", at=False
    )
    prev.add_argument("campaign")
    prev.add_argument("--step", default=None)
    prev.add_argument("--variant", default=None)
    prev.add_argument("--contact", default=None, help="contact id (default: a sample lead)")
    prev.add_argument(
        "--out", default=None, help="where to write the HTML (default: $GROWTHLAB_HOME/previews/)"
    )
    serve = sub.add_parser("serve-unsubscribe", help="serve the one-click unsubscribe endpoint (RFC 8058)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8091)
    serve.set_defaults(func=cmd_serve_unsubscribe)
    forget_p = sub.add_parser(
        "forget", help="GDPR erasure: suppress an address everywhere and erase its emails"
    )
    forget_p.add_argument("email")
    forget_p.set_defaults(func=cmd_forget)
