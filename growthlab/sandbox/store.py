"""The sandbox database: connection, schema, bulk COPY, meta values and the simulated clock."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from growthlab.warehouse.db import WarehouseNotRunning, connect, redact

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
SCHEMA_FILE = Path(__file__).with_name("schema.sql")
INDEX_FILE = Path(__file__).with_name("indexes.sql")
DATABASE_URL_ENV = "GROWTHLAB_SANDBOX_DATABASE_URL"
COPY_ROWS = 200_000
# advance takes this lock exclusively; API writes take it shared: the world stands still while it moves.
WORLD_LOCK = 0x5A4DB0C5


class SandboxError(RuntimeError):
    """The sandbox cannot do what was asked; the message says what to do."""


def sandbox_url(settings=None) -> str:
    """The sandbox database: GROWTHLAB_SANDBOX_DATABASE_URL, else the warehouse server's `sandbox`."""
    explicit = os.environ.get(DATABASE_URL_ENV, "").strip()
    if explicit:
        return explicit
    from growthlab.warehouse.db import resolve_urls

    try:
        return resolve_urls(settings).sandbox
    except WarehouseNotRunning as exc:
        raise SandboxError(
            f"the sandbox keeps its world in the warehouse's Postgres, which is not available: {exc}. "
            f"Run `growthlab warehouse up` first."
        ) from exc


def open_db(url: str, autocommit: bool = False) -> psycopg.Connection:
    try:
        return connect(url, autocommit=autocommit)
    except WarehouseNotRunning as exc:
        raise SandboxError(f"{exc} (sandbox database {redact(url)})") from exc


def ensure_database(url: str) -> None:
    """Create the sandbox database if the server lacks it (an external warehouse); say how if we cannot."""
    from urllib.parse import urlsplit

    from psycopg import sql

    try:
        open_db(url, autocommit=True).close()
        return
    except SandboxError as exc:
        if "does not exist" not in str(exc):
            raise
    name = urlsplit(url).path.lstrip("/")
    from growthlab.warehouse.db import with_database

    try:
        with connect(with_database(url, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        log.info("created the sandbox database %s", name)
    except (psycopg.Error, WarehouseNotRunning) as exc:
        raise SandboxError(
            f"the sandbox database {name!r} does not exist and could not be created ({str(exc).strip().splitlines()[0]}); "
            f"create it (owned by the pipeline role) or point {DATABASE_URL_ENV} at one"
        ) from exc


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the sandbox schema if missing; refuse a database made by another schema version."""
    conn.execute(SCHEMA_FILE.read_text())
    row = conn.execute("select value from world.meta where key = 'schema_version'").fetchone()
    if row is None:
        conn.execute(
            "insert into world.meta (key, value) values ('schema_version', %s)",
            (json.dumps(SCHEMA_VERSION),),
        )
    elif int(row[0]) != SCHEMA_VERSION:
        raise SandboxError(
            f"the sandbox database was made by schema version {row[0]}, this code expects {SCHEMA_VERSION}; "
            f"regenerate it with `growthlab sandbox up --fresh`"
        )


def create_indexes(conn: psycopg.Connection) -> None:
    conn.execute(INDEX_FILE.read_text())


def reset_world(conn: psycopg.Connection) -> None:
    """Drop every sandbox schema (a new world is about to be generated)."""
    conn.execute("drop schema if exists world, hubspot, sendgrid, linkedin cascade")


# ---- meta ------------------------------------------------------------------------------------
def get_meta(conn: psycopg.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("select value from world.meta where key = %s", (key,)).fetchone()
    return default if row is None else row[0]


def set_meta(conn: psycopg.Connection, key: str, value: Any) -> None:
    conn.execute(
        "insert into world.meta (key, value) values (%s, %s) on conflict (key) do update set value = excluded.value",
        (key, json.dumps(value)),
    )


def has_world(conn: psycopg.Connection) -> bool:
    """A complete world of this code's schema version is in the database."""
    exists = conn.execute("select to_regclass('world.meta') is not null").fetchone()[0]
    if not exists or get_meta(conn, "world") is None:
        return False
    return get_meta(conn, "schema_version") == SCHEMA_VERSION


# ---- clock -----------------------------------------------------------------------------------
def clock_now(conn: psycopg.Connection) -> datetime:
    """The simulated clock (the start of the current simulated day)."""
    row = conn.execute("select now from world.clock where id = 1").fetchone()
    if row is None:
        raise SandboxError("the sandbox has no clock yet: run `growthlab sandbox up`")
    return row[0].astimezone(UTC)


def sim_now(conn: psycopg.Connection) -> datetime:
    """The simulated instant: the clock plus the real time since it was set (capped below a day).

    Writes through the APIs between two `advance` calls are stamped with it, so successive
    changes get increasing timestamps within the current simulated day.
    """
    row = conn.execute(
        "select now + least(greatest(clock_timestamp() - set_at, interval '0'), "
        "interval '23 hours 59 minutes') from world.clock where id = 1"
    ).fetchone()
    if row is None:
        raise SandboxError("the sandbox has no clock yet: run `growthlab sandbox up`")
    return row[0].astimezone(UTC)


def set_clock(conn: psycopg.Connection, now: datetime) -> None:
    conn.execute(
        "insert into world.clock (id, now, set_at) values (1, %s, clock_timestamp()) "
        "on conflict (id) do update set now = excluded.now, set_at = excluded.set_at",
        (now,),
    )


# ---- bulk load -------------------------------------------------------------------------------
def ts(values: np.ndarray) -> pa.Array:
    """Epoch seconds (NaN: null) as a UTC timestamp column."""
    v = np.asarray(values, dtype=np.float64)
    mask = np.isnan(v)
    micros = np.where(mask, 0, np.round(v * 1e6)).astype(np.int64)
    return pa.array(micros, mask=mask, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def nullable(values: np.ndarray, type_: pa.DataType | None = None) -> pa.Array:
    """A float column with NaN as null."""
    v = np.asarray(values, dtype=np.float64)
    return pa.array(v, mask=np.isnan(v), type=type_ or pa.float64())


def texts(values, empty_is_null: bool = True) -> pa.Array:
    arr = np.asarray(values, dtype=object)
    if empty_is_null:
        arr = np.where(arr == "", None, arr)
    return pa.array(arr, type=pa.string())


def _column(value) -> pa.Array:
    if isinstance(value, pa.Array | pa.ChunkedArray):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return pa.array(arr.astype(object), type=pa.string())
    if arr.dtype == object:
        return pa.array(arr, type=pa.string())
    return pa.array(arr)


def copy_columns(conn: psycopg.Connection, table: str, columns: Mapping[str, Any]) -> int:
    """COPY aligned columns into `table`, in chunks of COPY_ROWS rows. Returns the rows written."""
    names = list(columns)
    arrays = {k: _column(v) for k, v in columns.items()}
    n = len(next(iter(arrays.values()))) if arrays else 0
    if n == 0:
        return 0
    table_arrow = pa.table(arrays)
    cols = ", ".join(f'"{c}"' for c in names)
    with conn.cursor() as cur, cur.copy(f"copy {table} ({cols}) from stdin (format csv)") as copy:
        for start in range(0, n, COPY_ROWS):
            buf = io.BytesIO()
            pacsv.write_csv(
                table_arrow.slice(start, COPY_ROWS), buf, pacsv.WriteOptions(include_header=False)
            )
            copy.write(buf.getvalue())
    return n


@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection]:
    conn = open_db(url)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()
