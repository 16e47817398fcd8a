"""`growthlab sandbox up|down|status`: the world in the database, the servers in a detached process."""

from __future__ import annotations

import json
import os
from pathlib import Path

from growthlab.sandbox import store


def sandbox_document(database_url: str, endpoints, inbox: Path) -> dict:
    """The content of $GROWTHLAB_HOME/sandbox.json (read by growthlab/airflow_env.py)."""
    with store.open_db(database_url, autocommit=True) as conn:
        world = store.get_meta(conn, "world")
        secrets = store.get_meta(conn, "secrets")
        signing = store.get_meta(conn, "sendgrid_signing")
        today = store.clock_now(conn).date().isoformat()
    return {
        "seed": world["seed"],
        "size": world["size"],
        "today": today,
        "hubspot": {
            "url": endpoints.hubspot,
            "token": secrets["hubspot_token"],
            "readonly_token": secrets["hubspot_readonly_token"],
        },
        "sendgrid": {
            "url": endpoints.sendgrid,
            "api_key": secrets["sendgrid_api_key"],
            "webhook_public_key": signing["public_key"],
        },
        "linkedin": {
            "inbox": str(inbox),
            "adapter_url": endpoints.linkedin,
            "token": secrets["linkedin_token"],
        },
        "database_url_env": store.DATABASE_URL_ENV,
    }


def write_sandbox_json(path: Path, database_url: str, endpoints, inbox: Path) -> dict:
    """Write sandbox.json (mode 0600: it holds tokens) atomically."""
    doc = sandbox_document(database_url, endpoints, inbox)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
    os.replace(tmp, path)
    return doc
