"""The dbt profile from a warehouse URL, as environment variables.

`dbt_project/profiles.yml` reads its connection from `GROWTHLAB_DBT_*` variables and the password
from `DBT_ENV_SECRET_GROWTHLAB_PASSWORD` (dbt scrubs `DBT_ENV_SECRET_*` values from its logs).
Airflow does not use this file: Cosmos builds the profile from the `warehouse` connection
(`growthlab.transform.cosmos_build.profile_config`).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from growthlab.config import TELEMETRY_OFF, ConfigError
from growthlab.transform.project import DEFAULT_THREADS, project_dir
from growthlab.warehouse.db import libpq_url, redact

PASSWORD_VAR = "DBT_ENV_SECRET_GROWTHLAB_PASSWORD"


def dbt_env(url: str, threads: int = DEFAULT_THREADS) -> dict[str, str]:
    """Environment variables that point dbt (and `dbt_project/profiles.yml`) at `url`."""
    parts = urlsplit(libpq_url(url))
    database = parts.path.lstrip("/")
    if not parts.hostname or not database:
        raise ConfigError(
            f"warehouse URL {redact(url)} must name a host and a database, "
            f"e.g. postgresql://growthlab:secret@127.0.0.1:5432/warehouse"
        )
    env = dict(TELEMETRY_OFF)
    env.update(
        {
            "DBT_PROFILES_DIR": str(project_dir()),
            "DBT_PROJECT_DIR": str(project_dir()),
            "GROWTHLAB_DBT_HOST": parts.hostname,
            "GROWTHLAB_DBT_PORT": str(parts.port or 5432),
            "GROWTHLAB_DBT_USER": unquote(parts.username or ""),
            "GROWTHLAB_DBT_DBNAME": unquote(database),
            "GROWTHLAB_DBT_THREADS": str(threads),
            PASSWORD_VAR: unquote(parts.password or ""),
        }
    )
    return env
