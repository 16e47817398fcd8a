"""Connections to the warehouse and the URLs of every database growthlab uses."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg

from growthlab.config import Settings, get_settings


class WarehouseNotRunning(RuntimeError):
    pass


@dataclass(frozen=True)
class Urls:
    """libpq URLs (postgresql://...) of the databases; `analyst` is None for external warehouses."""

    warehouse: str
    airflow: str
    mlflow: str
    sandbox: str
    analyst: str | None = None


def redact(url: str) -> str:
    """The URL with its password replaced, safe for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def libpq_url(url: str) -> str:
    """Strip a SQLAlchemy driver suffix: postgresql+psycopg2://... -> postgresql://..."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit(parts._replace(scheme=scheme))


def sqlalchemy_url(url: str, driver: str = "psycopg2") -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return url
    return urlunsplit(parts._replace(scheme=f"postgresql+{driver}"))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path=f"/{database}"))


def resolve_urls(settings: Settings | None = None) -> Urls:
    """Where every database lives: the external URLs if configured, else the embedded server's."""
    settings = settings or get_settings()
    if settings.warehouse_url is not None:
        wh = libpq_url(settings.warehouse_url)
        return Urls(
            warehouse=wh,
            airflow=settings.airflow_db_url or with_database(wh, "airflow"),
            mlflow=settings.mlflow_db_url or with_database(wh, "mlflow"),
            sandbox=with_database(wh, "sandbox"),
        )
    from growthlab.warehouse.embedded import EmbeddedPostgres

    state = EmbeddedPostgres(settings.pg_data_dir, settings.state_file).read_state()
    if state is None:
        raise WarehouseNotRunning(
            f"no warehouse is configured: run `growthlab warehouse up` to start the embedded one "
            f"(state in {settings.state_file}), or set GROWTHLAB_WAREHOUSE_URL to an existing Postgres"
        )
    return Urls(
        warehouse=state.url("warehouse"),
        airflow=settings.airflow_db_url or state.url("airflow"),
        mlflow=settings.mlflow_db_url or state.url("mlflow"),
        sandbox=state.url("sandbox"),
        analyst=state.url("warehouse", state.analyst_role),
    )


def connect(url: str, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """Open a psycopg 3 connection; errors name the host and database, never the password."""
    try:
        return psycopg.connect(libpq_url(url), autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        raise WarehouseNotRunning(
            f"cannot connect to {redact(libpq_url(url))}: {str(exc).strip().splitlines()[0]}. "
            f"Is the warehouse up (`growthlab warehouse status`)?"
        ) from exc
