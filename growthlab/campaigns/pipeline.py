"""The email_campaigns pipeline, one function per DAG task (and CLI command).

Every function takes the warehouse URL and the run's logical time `now` (its data_interval_end;
never the wall clock) and is idempotent for it:

* `load_campaigns`: validate campaigns/ (files, lines, templates) and mirror it into ops; a broken
  file fails here, before anything is planned or sent.
* `plan`: fold new events into the outbox (engagement, suppressions, replies, stops), then enrol
  and schedule follow-ups.
* `generate`: write every planned email (template or LLM generator) with its compliance footer.
* `send`: settle batches a crash left open, re-apply suppressions, send what is due by
  `now + ahead` through SendGrid (send_at for the exact local time).
* `reconcile`: settle open batches, fold the latest events in, and turn replies into HubSpot tasks
  for the owners.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from growthlab.campaigns import (
    followup,
    planner,
    signals,
)
from growthlab.campaigns import (
    generate as generate_mod,
)
from growthlab.campaigns import (
    reconcile as reconcile_mod,
)
from growthlab.campaigns.catalog import sync_catalog
from growthlab.campaigns.compliance import load_unsubscribe_config
from growthlab.campaigns.generators import LLMConfig
from growthlab.campaigns.sender import Checkpoint, SendOptions, _no_checkpoint, send_due
from growthlab.campaigns.validation import Catalog, load_catalog
from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)


def _catalog(root: Path | None) -> Catalog:
    return load_catalog(root)


def load_campaigns(url: str, actor: str, root: Path | None = None) -> dict[str, Any]:
    catalog = _catalog(root)
    with connect(url) as conn:
        counts = sync_catalog(conn, catalog, actor)
    return {**counts, "active": sorted(c.campaign.id for c in catalog.active())}


class MartsMissing(RuntimeError):
    pass


def _require_marts(conn) -> None:
    missing = [
        t
        for t in ("marts.dim_contacts", "marts.dim_companies")
        if not conn.execute("select to_regclass(%s) is not null", (t,)).fetchone()[0]
    ]
    if missing:
        raise MartsMissing(
            f"{', '.join(missing)} not built yet: campaigns choose their audience from the marts. Run the "
            f"warehouse_build DAG (or `growthlab dbt build`) first"
        )


def plan(url: str, now: datetime, actor: str, root: Path | None = None) -> dict[str, Any]:
    catalog = _catalog(root)
    with connect(url) as conn:
        _require_marts(conn)
        sig = signals.apply_signals(conn, now, actor)
        plans = planner.plan(conn, catalog, now, actor)
    return {"signals": asdict(sig), "campaigns": [asdict(p) for p in plans]}


def generate(url: str, now: datetime, actor: str, home: Path, root: Path | None = None) -> dict[str, Any]:
    catalog = _catalog(root)
    with connect(url) as conn:
        _require_marts(conn)
        result = generate_mod.generate(
            conn, catalog, load_unsubscribe_config(home), now, LLMConfig.from_env()
        )
    return asdict(result)


def sendgrid_client(host: str | None, api_key: str | None, timeout: float = 30.0) -> Any:
    """The real SendGrid client for a connection's host and API key."""
    import sendgrid

    if not api_key:
        raise RuntimeError(
            "the `sendgrid` connection has no API key (password); set AIRFLOW_CONN_SENDGRID or "
            "GROWTHLAB_SENDGRID_API_KEY, or start the sandbox (`growthlab sandbox up`)"
        )
    host = (host or "https://api.sendgrid.com").rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    client = sendgrid.SendGridAPIClient(api_key, host=host)
    client.client.timeout = timeout
    return client


def send(
    url: str,
    client: Any,
    now: datetime,
    actor: str,
    options: SendOptions | None = None,
    root: Path | None = None,
    checkpoint: Checkpoint = _no_checkpoint,
) -> dict[str, Any]:
    catalog = _catalog(root)
    options = options or SendOptions()
    settled = reconcile_mod.reconcile_batches(url, now, actor, max_attempts=options.max_attempts)
    with connect(url) as conn, conn.transaction():
        signals.suppress_from_events(conn, actor)
        signals.stop_sequences(conn, now, actor)
    result = send_due(url, catalog, client, now, actor, options, checkpoint)
    return {"settled": asdict(settled), **asdict(result)}


def reconcile(
    url: str,
    now: datetime,
    actor: str,
    hubspot: Any | None = None,
    grace: timedelta = reconcile_mod.DEFAULT_GRACE,
) -> dict[str, Any]:
    settled = reconcile_mod.reconcile_batches(url, now, actor, grace=grace)
    with connect(url) as conn:
        sig = signals.apply_signals(conn, now, actor)
        if hubspot is not None:
            tasks = followup.create_owner_tasks(conn, hubspot, now, actor)
        else:
            pending = conn.execute(
                "select count(*) from ops.followup_opportunities where status = 'pending'"
            ).fetchone()[0]
            if pending:
                log.warning(
                    "%d replies wait for an owner task: the `hubspot` connection has no token", pending
                )
            tasks = {"created": 0, "failed": 0, "pending_without_hubspot": pending}
    return {"settled": asdict(settled), "signals": asdict(sig), "owner_tasks": tasks}
