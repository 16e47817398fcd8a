"""The embedded warehouse: idempotent up/down, stale pid recovery, migrations once, clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from growthlab.warehouse.embedded import EmbeddedPostgres, PortBusyError, WarehouseError
from growthlab.warehouse.migrate import applied, apply_migrations

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_dir():
    base = Path(tempfile.mkdtemp(prefix="growthlab-wh-"))
    os.chmod(base, 0o755)
    yield base
    import shutil

    shutil.rmtree(base, ignore_errors=True)


def _server(base: Path, port: int = 0) -> EmbeddedPostgres:
    return EmbeddedPostgres(base / "pgdata", base / "warehouse.json", port=port, fast=True)


def test_up_down_up_is_idempotent_and_keeps_data(scratch_dir):
    server = _server(scratch_dir)
    state = server.up()
    try:
        again = server.up()  # second `up` while running: same server, no error
        assert again.port == state.port
        assert server.status()["running"]
        with psycopg.connect(state.url("warehouse"), autocommit=True) as conn:
            conn.execute("create table public.kept (x int)")
            conn.execute("insert into public.kept values (42)")
        assert server.down() is True
        assert server.down() is False  # already stopped
        assert not server.status()["running"]
        state2 = server.up()
        with psycopg.connect(state2.url("warehouse")) as conn:
            assert conn.execute("select x from public.kept").fetchone() == (42,)
        # the four databases exist and the pipeline role owns them
        with psycopg.connect(state2.url("postgres", "postgres")) as conn:
            owners = dict(
                conn.execute(
                    "select datname, pg_get_userbyid(datdba) from pg_database "
                    "where datname in ('warehouse','airflow','mlflow','sandbox')"
                ).fetchall()
            )
        assert owners == {d: "growthlab" for d in ("warehouse", "airflow", "mlflow", "sandbox")}
    finally:
        server.down()


def test_state_file_is_private_and_server_refuses_wrong_password(scratch_dir):
    server = _server(scratch_dir)
    state = server.up()
    try:
        assert (scratch_dir / "warehouse.json").stat().st_mode & 0o077 == 0
        bad = state.url("warehouse").replace(state.pipeline_password, "wrong")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(bad, connect_timeout=3)
    finally:
        server.down()


def test_stale_pid_file_is_recovered(scratch_dir):
    server = _server(scratch_dir)
    server.up()
    server.down()
    # A crash leaves postmaster.pid behind with a pid that no longer runs postgres.
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile = scratch_dir / "pgdata" / "postmaster.pid"
    pidfile.write_text(f"{dead.pid}\n{scratch_dir / 'pgdata'}\n")
    try:
        state = server.up()
        assert server.status()["running"]
        assert state.port
    finally:
        server.down()


def test_busy_port_is_a_clear_error(scratch_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        with pytest.raises(PortBusyError, match=rf"port {busy} .* in use.*GROWTHLAB_PG_PORT"):
            _server(scratch_dir, port=busy).up()


def test_missing_data_dir_with_existing_state_is_a_clear_error(scratch_dir):
    server = _server(scratch_dir)
    server.up()
    server.down()
    import shutil

    shutil.rmtree(scratch_dir / "pgdata")
    with pytest.raises(WarehouseError, match=r"missing or empty.*Restore the folder, or delete"):
        server.up()


def test_non_empty_foreign_data_dir_is_refused(scratch_dir):
    (scratch_dir / "pgdata").mkdir()
    (scratch_dir / "pgdata" / "notes.txt").write_text("not postgres")
    with pytest.raises(WarehouseError, match="not a PostgreSQL data directory"):
        _server(scratch_dir).up()


def test_migrations_are_applied_once(fresh_db):
    before = applied(fresh_db)
    assert before and before[0][0] == 1
    assert apply_migrations(fresh_db) == []
    assert applied(fresh_db) == before
    with psycopg.connect(fresh_db) as conn:
        schemas = {r[0] for r in conn.execute("select schema_name from information_schema.schemata")}
    assert {"raw_hubspot", "raw_linkedin", "raw_sendgrid", "quarantine", "ml", "ops", "marts"} <= schemas


def test_edited_migration_is_refused(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("update ops.schema_migrations set checksum = 'edited' where version = 1")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        apply_migrations(fresh_db)


def _cli(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "growthlab.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_cli_busy_port_says_what_to_do(scratch_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        proc = _cli(
            {
                "GROWTHLAB_HOME": str(scratch_dir),
                "GROWTHLAB_PG_DATA_DIR": str(scratch_dir / "pg"),
                "GROWTHLAB_PG_PORT": str(busy),
            },
            "warehouse",
            "up",
        )
    assert proc.returncode == 2
    assert f"port {busy}" in proc.stderr and "GROWTHLAB_PG_PORT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_status_without_data_dir_says_what_to_do(scratch_dir):
    proc = _cli(
        {
            "GROWTHLAB_HOME": str(scratch_dir / "nowhere"),
            "GROWTHLAB_PG_DATA_DIR": str(scratch_dir / "nowhere" / "pg"),
        },
        "warehouse",
        "url",
    )
    assert proc.returncode == 2
    assert "growthlab warehouse up" in proc.stderr and "GROWTHLAB_WAREHOUSE_URL" in proc.stderr


def test_cli_bad_url_says_what_to_do(scratch_dir):
    proc = _cli({"GROWTHLAB_WAREHOUSE_URL": "mysql://x@h/db"}, "warehouse", "status")
    assert proc.returncode == 2
    assert "GROWTHLAB_WAREHOUSE_URL" in proc.stderr and "postgresql://" in proc.stderr
    proc = _cli(
        {"GROWTHLAB_WAREHOUSE_URL": "postgresql://u:secretpw@127.0.0.1:1/warehouse"}, "warehouse", "status"
    )
    assert proc.returncode == 2
    assert "cannot connect" in proc.stderr and "secretpw" not in proc.stderr


def test_external_url_starts_nothing_embedded(scratch_dir, warehouse_url):
    proc = _cli(
        {"GROWTHLAB_HOME": str(scratch_dir), "GROWTHLAB_WAREHOUSE_URL": warehouse_url}, "warehouse", "up"
    )
    assert proc.returncode == 0, proc.stderr
    assert "nothing embedded started" in proc.stdout
    assert not (scratch_dir / "pgdata").exists()
