"""`growthlab warehouse up|down|status|url`."""

from __future__ import annotations

import argparse
import json

from growthlab.config import Settings, get_settings
from growthlab.warehouse.db import resolve_urls


def embedded_server(settings: Settings, fast: bool = False):
    from growthlab.warehouse.embedded import EmbeddedPostgres

    return EmbeddedPostgres(
        data_dir=settings.pg_data_dir,
        state_file=settings.state_file,
        port=settings.pg_port,
        os_user=settings.pg_os_user,
        analyst_role=settings.analyst_role,
        fast=fast,
    )


def up(settings: Settings) -> str:
    """Start the embedded server (unless external), then apply migrations. Returns a status line."""
    from growthlab.warehouse.migrate import apply_migrations

    if settings.embedded:
        state = embedded_server(settings).up()
        where = f"embedded PostgreSQL on 127.0.0.1:{state.port} (data in {settings.pg_data_dir})"
    else:
        where = "external PostgreSQL (GROWTHLAB_WAREHOUSE_URL); nothing embedded started"
    urls = resolve_urls(settings)
    applied = apply_migrations(urls.warehouse, settings.analyst_role)
    return f"warehouse up: {where}; {len(applied)} migration(s) applied now"


def _cmd(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.action == "up":
        print(up(settings))
    elif args.action == "down":
        if not settings.embedded:
            print("external warehouse (GROWTHLAB_WAREHOUSE_URL): nothing embedded to stop")
            return 0
        stopped = embedded_server(settings).down()
        print("warehouse stopped" if stopped else "warehouse was not running")
    elif args.action == "status":
        if not settings.embedded:
            from growthlab.warehouse.db import connect, redact

            url = resolve_urls(settings).warehouse
            with connect(url) as conn:
                version = conn.execute("show server_version").fetchone()[0]
            print(json.dumps({"external": redact(url), "running": True, "server_version": version}, indent=2))
            return 0
        status = embedded_server(settings).status()
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    elif args.action == "url":
        urls = resolve_urls(settings)
        if args.role == "analyst":
            if urls.analyst is None:
                print("the analyst URL is only known for the embedded warehouse")
                return 2
            print(urls.analyst)
        else:
            print(getattr(urls, args.db))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("warehouse", help="the embedded (or external) Postgres warehouse")
    p.add_argument("action", choices=["up", "down", "status", "url"])
    p.add_argument(
        "--db",
        choices=["warehouse", "airflow", "mlflow", "sandbox"],
        default="warehouse",
        help="with `url`: which database (default warehouse)",
    )
    p.add_argument(
        "--role",
        choices=["pipeline", "analyst"],
        default="pipeline",
        help="with `url`: connect as the pipeline role (default) or the read-only analyst",
    )
    p.set_defaults(func=_cmd)
