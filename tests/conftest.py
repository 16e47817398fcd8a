"""Test fixtures: one embedded PostgreSQL for the session, real Airflow metadata, fresh databases.

The server starts in `pytest_configure` (before any test module imports Airflow, which reads its
configuration at import time) in a throwaway folder, on a free port, with fsync off, and stops at
the end of the session. Nothing reaches the network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_STATE: dict = {}


def pytest_configure(config: pytest.Config) -> None:
    from growthlab.config import apply_telemetry_off

    apply_telemetry_off()
    base = Path(tempfile.mkdtemp(prefix="growthlab-test-"))
    os.chmod(base, 0o755)  # the server's unprivileged OS user must traverse it
    home = base / "home"
    home.mkdir()
    os.environ.update(
        {
            "GROWTHLAB_HOME": str(home),
            "GROWTHLAB_PG_DATA_DIR": str(home / "pgdata"),
            "GROWTHLAB_PG_PORT": "0",
            "GROWTHLAB_ENV_FILE": str(base / "no.env"),
        }
    )
    for var in ("GROWTHLAB_WAREHOUSE_URL", "GROWTHLAB_AIRFLOW_DB_URL", "GROWTHLAB_MLFLOW_DB_URL"):
        os.environ.pop(var, None)

    from growthlab import airflow_env
    from growthlab.config import get_settings
    from growthlab.warehouse.cli import embedded_server
    from growthlab.warehouse.migrate import apply_migrations

    settings = get_settings()
    server = embedded_server(settings, fast=True)
    state = server.up()
    apply_migrations(state.url("warehouse"), settings.analyst_role)
    airflow_env.apply(settings)
    _STATE.update(base=base, settings=settings, server=server, state=state)


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _STATE.get("server")
    if server is not None:
        try:
            server.down()
        finally:
            shutil.rmtree(_STATE["base"], ignore_errors=True)


@pytest.fixture(scope="session")
def settings():
    return _STATE["settings"]


@pytest.fixture(scope="session")
def pg_state():
    """The session server's state: port and the generated credentials."""
    return _STATE["state"]


@pytest.fixture(scope="session")
def warehouse_url(pg_state) -> str:
    """The session's `warehouse` database (migrated), as the pipeline role."""
    return pg_state.url("warehouse")


@pytest.fixture
def fresh_db(pg_state) -> Iterator[str]:
    """A new, empty, migrated database for one test, as the pipeline role; dropped afterwards."""
    from tests.fixtures.databases import create_database, drop_database

    name = create_database(pg_state, "t")
    yield pg_state.url(name)
    drop_database(pg_state, name)


@pytest.fixture(scope="session")
def airflow_db(settings) -> Path:
    """The Airflow metadata database of the session server, migrated once."""
    from growthlab.airflow_runner import ensure_metadata_db

    log_file = settings.home / "logs" / "airflow-tests.log"
    ensure_metadata_db(log_file)
    return log_file


@pytest.fixture(scope="session")
def dag_runner(settings, airflow_db):
    from growthlab.airflow_runner import DagRunner

    return DagRunner(settings.dags_folder, settings.home / "logs" / "dag-tests.log")


# Fixtures of each area live in tests/fixtures/<area>.py and are imported here, one line each.
# ruff: noqa: E402, F403
from tests.fixtures.dbt import *
from tests.fixtures.ml import *
from tests.fixtures.sandbox import *
