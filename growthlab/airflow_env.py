"""The environment Airflow runs in: settings, connections (`AIRFLOW_CONN_*`) and telemetry off.

`growthlab airflow ...`, `growthlab demo`, `make airflow` and the tests all take their Airflow
configuration from `airflow_environ()`, so nobody exports variables by hand. Variables the user has
already set win over the computed ones.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from growthlab.config import TELEMETRY_OFF, Settings, get_settings
from growthlab.warehouse.db import Urls, resolve_urls, sqlalchemy_url


def _conn_json(conn_type: str, **fields) -> str:
    return json.dumps({"conn_type": conn_type, **{k: v for k, v in fields.items() if v is not None}})


def postgres_connection(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return _conn_json(
        "postgres",
        host=parts.hostname,
        port=parts.port or 5432,
        login=unquote(parts.username or ""),
        password=unquote(parts.password or "") or None,
        schema=parts.path.lstrip("/"),
    )


def sandbox_endpoints(settings: Settings) -> dict:
    """What `growthlab sandbox up` wrote: the stand-in servers' URLs and tokens (or {})."""
    try:
        return json.loads(settings.sandbox_file.read_text())
    except (OSError, ValueError):
        return {}


def connections(settings: Settings, urls: Urls) -> dict[str, str]:
    """AIRFLOW_CONN_* for warehouse, hubspot and sendgrid.

    HubSpot and SendGrid point at the sandbox when it is up, else at the real services with the
    token from GROWTHLAB_HUBSPOT_TOKEN / GROWTHLAB_SENDGRID_API_KEY.
    """
    sandbox = sandbox_endpoints(settings)
    hub = sandbox.get("hubspot", {})
    sg = sandbox.get("sendgrid", {})
    conns = {
        "AIRFLOW_CONN_WAREHOUSE": postgres_connection(urls.warehouse),
        "AIRFLOW_CONN_HUBSPOT": _conn_json(
            "http",
            host=hub.get("url") or os.environ.get("GROWTHLAB_HUBSPOT_HOST", "https://api.hubapi.com"),
            password=hub.get("token") or os.environ.get("GROWTHLAB_HUBSPOT_TOKEN"),
        ),
        "AIRFLOW_CONN_SENDGRID": _conn_json(
            "http",
            host=sg.get("url") or os.environ.get("GROWTHLAB_SENDGRID_HOST", "https://api.sendgrid.com"),
            password=sg.get("api_key") or os.environ.get("GROWTHLAB_SENDGRID_API_KEY"),
            extra=json.dumps(
                {
                    k: v
                    for k, v in {
                        "webhook_public_key": sg.get("webhook_public_key")
                        or os.environ.get("GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY"),
                    }.items()
                    if v
                }
            ),
        ),
    }
    return conns


def airflow_environ(settings: Settings | None = None, urls: Urls | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    urls = urls or resolve_urls(settings)
    home = settings.airflow_home
    env: dict[str, str] = dict(TELEMETRY_OFF)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(urls.airflow, "psycopg2"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__PORT": "8080",
            "MLFLOW_TRACKING_URI": sqlalchemy_url(urls.mlflow, "psycopg2"),
            "MLFLOW_REGISTRY_URI": sqlalchemy_url(urls.mlflow, "psycopg2"),
            "GROWTHLAB_HOME": str(settings.home),
            "GROWTHLAB_PROJECT_DIR": str(settings.project_root),
            "GROWTHLAB_DBT_EXECUTABLE": str(Path(sys.prefix) / "bin" / "dbt"),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(settings.project_root), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
    )
    env.update(connections(settings, urls))
    # What the user set explicitly wins.
    for key in list(env):
        if key in os.environ and key != "PYTHONPATH":
            env[key] = os.environ[key]
    return env


def apply(settings: Settings | None = None) -> dict[str, str]:
    """Put the Airflow environment into this process (before airflow is imported)."""
    env = airflow_environ(settings)
    os.environ.update(env)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env
