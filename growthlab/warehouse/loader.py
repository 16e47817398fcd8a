"""Stream records into Postgres with COPY, in chunks, and merge them on the table's key.

The path of a chunk of rows (tuples in the target's column order):

1. serialise into PostgreSQL's COPY text format, column by column, with no Python loop over
   fields or rows: a column is picked out of the tuples by `operator.itemgetter`, text columns are
   joined and checked (NUL, characters to escape) in one C-level pass and escaped only when needed,
   jsonb columns are encoded by msgspec in one call, and the fields are interleaved with their
   separators by slice assignment into one list that is joined once. This runs on the producer's
   thread in small batches (`serialise_rows`), so the caller's row tuples die young (the cyclic
   garbage collector never sees them grow old in a process that holds many objects);
2. COPY the chunk's bytes into a temporary staging table (or, while the target table was empty
   when the load began, straight into the target inside a savepoint: the fast path of an initial
   load); `append=True` (landing tables) copies straight in;
3. MERGE into the target on the key: new keys are inserted, rows whose compared columns changed are
   updated, identical rows are left alone, so loading the same records twice changes nothing.

Steps 2-3 of chunk k run on a worker thread (which owns the connection and waits on the server
with the GIL released) while the producer builds and serialises chunk k+1. Memory holds at most
two chunks of COPY bytes, whatever the number of records.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import msgspec
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

NULL = "\\N"
_SPECIAL = re.compile(r"[\\\t\n\r]")
_SEP = "\x00"  # never inside a value: PostgreSQL text cannot hold NUL (checked below)
_JSON = msgspec.json.Encoder(decimal_format="number")


class LoaderError(RuntimeError):
    """A chunk could not be loaded. The message names the table, the row and the column."""


@dataclass(frozen=True)
class Column:
    name: str
    pgtype: str  # text, jsonb, json, timestamptz, date, boolean, integer, bigint, double precision, text[]


@dataclass(frozen=True)
class Target:
    """Where rows go and how they merge.

    `columns` is the order of the tuples the caller yields. `compare` (default: every column but
    the key and `meta`) decides whether an existing row changed; `meta` columns (e.g. `_synced_at`,
    `_batch_id`) are constants the loader appends to every row. `guard` is an extra SQL condition
    for updates over aliases `t` (target) and `s` (incoming), e.g. `s._exported_at >= t._exported_at`.
    """

    table: str  # schema.name
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    compare: tuple[str, ...] | None = None
    meta: tuple[Column, ...] = ()
    guard: str | None = None

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.meta

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.all_columns]

    def compared(self) -> list[str]:
        if self.compare is not None:
            return list(self.compare)
        meta = {c.name for c in self.meta}
        return [c.name for c in self.columns if c.name not in self.key and c.name not in meta]

    def ident(self) -> sql.Identifier:
        schema, _, name = self.table.partition(".")
        return sql.Identifier(schema, name)


@dataclass
class LoadStats:
    rows: int = 0  # rows handed to the loader
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # identical to what the table held (or superseded within the load)
    chunks: int = 0
    direct_chunks: int = 0  # chunks copied straight into an empty target

    @property
    def loaded(self) -> int:
        """Rows accounted for in the table (new, changed or already identical)."""
        return self.inserted + self.updated + self.unchanged

    def add(self, other: LoadStats) -> None:
        for name in ("rows", "inserted", "updated", "unchanged", "chunks", "direct_chunks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# ---------------------------------------------------------------------------------------------
# Serialisation to COPY text format (pure functions)
# ---------------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _escape_joined(joined: str) -> str:
    if _SPECIAL.search(joined) is None:
        return joined
    return _escape(joined)


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _nul_error(column: str, row: int) -> LoaderError:
    return LoaderError(
        f"column {column}, row {row}: the value contains a NUL character, which PostgreSQL "
        f"cannot store; quarantine the record before loading"
    )


def format_text_column(values: Sequence[Any], column: str = "?") -> Sequence[str]:
    """COPY text fields of one column: escaped strings, `\\N` for None.

    All-str columns without characters to escape (the usual case) are returned as they are: one
    C-level join checks them, nothing is copied per value.
    """
    nulls: list[int] = []
    try:
        joined = _SEP.join(values)
    except TypeError:  # None or non-str values: convert one by one
        nulls = [i for i, v in enumerate(values) if v is None]
        values = [v if type(v) is str else "" if v is None else _scalar_text(v) for v in values]
        joined = _SEP.join(values)
    if values and joined.count(_SEP) != len(values) - 1:
        raise _nul_error(column, next(i for i, v in enumerate(values) if _SEP in v))
    if _SPECIAL.search(joined) is not None:
        values = _escape(joined).split(_SEP)
    if nulls:
        values = list(values)
        for i in nulls:
            values[i] = NULL
    return values


def format_json_column(values: Sequence[Any], column: str = "?") -> list[str]:
    """COPY text fields of a json/jsonb column: msgspec-encoded, `\\N` for None."""
    try:
        encoded = _JSON.encode_lines(values)
    except (TypeError, msgspec.EncodeError) as exc:
        raise LoaderError(f"column {column}: a value cannot be encoded as JSON ({exc})") from None
    if b"\\" in encoded:  # JSON escapes: COPY text needs their backslashes doubled
        if b"\\u0000" in encoded:
            bad = next(i for i, v in enumerate(values) if b"\\u0000" in _JSON.encode(v))
            raise LoaderError(
                f"column {column}, row {bad}: the JSON holds a NUL character (\\u0000), which jsonb "
                f"rejects; quarantine the record before loading"
            )
        encoded = encoded.replace(b"\\", b"\\\\")
    fields = encoded.decode().split("\n")  # JSON text holds no raw newline, tab or CR
    fields.pop()  # encode_lines ends with a newline
    if "null" in fields:  # only None encodes to a bare null: it is SQL NULL
        for i, v in enumerate(values):
            if v is None:
                fields[i] = NULL
    return fields


_BOOL_TEXT = {True: "t", False: "f", None: NULL}


def format_bool_column(values: Sequence[Any], column: str = "?") -> list[str]:
    try:
        return list(map(_BOOL_TEXT.__getitem__, values))
    except (KeyError, TypeError):  # truthy values that are not bools
        return [NULL if v is None else ("t" if v else "f") for v in values]


def format_number_column(values: Sequence[Any], column: str = "?") -> list[str]:
    fields = list(map(str, values))
    if "None" in fields:
        for i, v in enumerate(values):
            if v is None:
                fields[i] = NULL
    return fields


def _array_element(value: Any) -> str:
    text = _scalar_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_array_column(values: Sequence[Any], column: str = "?") -> Sequence[str]:
    literals = [
        None if v is None else "{" + ",".join("NULL" if e is None else _array_element(e) for e in v) + "}"
        for v in values
    ]
    return format_text_column(literals, column)


def formatter_for(pgtype: str) -> Callable[[Sequence[Any], str], Sequence[str]]:
    pgtype = pgtype.lower()
    if pgtype in ("json", "jsonb"):
        return format_json_column
    if pgtype in ("boolean", "bool"):
        return format_bool_column
    if pgtype in ("integer", "bigint", "smallint", "int", "double precision", "real", "numeric"):
        return format_number_column
    if pgtype.endswith("[]"):
        return format_array_column
    return format_text_column  # text, timestamptz (ISO strings or datetimes), date, ...


def serialise(
    rows: Sequence[Sequence[Any]], columns: Sequence[Column], constants: Sequence[str] = ()
) -> bytes:
    """One COPY text payload for `rows` (tuples in `columns` order) plus constant trailing fields.

    Fields are interleaved with their separators by slice assignment into one flat list (field,
    tab, field, ..., field, constants + newline) and joined once: no tuple or string per row.
    """
    if not rows:
        return b""
    width = len(columns)
    widths = set(map(len, rows))
    if widths != {width}:
        raise LoaderError(
            f"rows must have {width} values ({', '.join(c.name for c in columns)}); got widths {sorted(widths)}"
        )
    n = len(rows)
    step = 2 * width
    flat: list[str | None] = [None] * (step * n)
    tabs = ["\t"] * n
    tail = "".join("\t" + _escape_joined(c) for c in constants) + "\n"
    for j, c in enumerate(columns):
        values = list(map(itemgetter(j), rows))
        flat[2 * j :: step] = formatter_for(c.pgtype)(values, c.name)
        flat[2 * j + 1 :: step] = tabs if j < width - 1 else [tail] * n
    return "".join(flat).encode()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def latest_per_key(
    target: Target, source: sql.Composable, order: str = "ctid", where: sql.Composable | None = None
) -> sql.Composed:
    """`select` of the source's last row per key (by `order`), with the target's columns."""
    key = sql.SQL(", ").join(map(sql.Identifier, target.key))
    cols = sql.SQL(", ").join(map(sql.Identifier, target.names))
    return sql.SQL("select distinct on ({key}) {cols} from {src}{where} order by {key}, {order} desc").format(
        key=key,
        cols=cols,
        src=source,
        where=sql.SQL(" where {}").format(where) if where is not None else sql.SQL(""),
        order=sql.Identifier(order) if order != "ctid" else sql.SQL("ctid"),
    )


def merge_statement(target: Target, source: sql.Composable) -> sql.Composed:
    """MERGE `source` (a select with the target's columns, one row per key) into the target.

    Returns one row per action (INSERT, UPDATE) with its count. Rows whose compared columns are
    unchanged are not touched (their `_synced_at`/`_batch_id` keep naming the load that wrote them).
    """
    names = target.names
    key = list(target.key)
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    on = sql.SQL(" and ").join(sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in key)
    compared = target.compared()
    changed = sql.SQL("({}) is distinct from ({})").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in compared),
        sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in compared),
    )
    if len(compared) == 1:  # a one-element row constructor needs the ROW keyword
        changed = sql.SQL("t.{0} is distinct from s.{0}").format(sql.Identifier(compared[0]))
    condition = changed
    if target.guard:
        condition = sql.SQL("{} and ({})").format(changed, sql.SQL(target.guard))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = s.{0}").format(sql.Identifier(n)) for n in names if n not in key
    )
    return sql.SQL(
        "with m as (merge into {tgt} as t using ({source}) as s on {on} "
        "when matched and {cond} then update set {updates} "
        "when not matched then insert ({cols}) values ({vals}) "
        "returning merge_action() as action) "
        "select action, count(*) from m group by action"
    ).format(
        tgt=target.ident(),
        source=source,
        on=on,
        cond=condition,
        updates=updates,
        cols=cols,
        vals=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(n)) for n in names),
    )


def merge(conn: psycopg.Connection, target: Target, source: sql.Composable) -> tuple[int, int]:
    """Run merge_statement under the table's writer lock; returns (inserted, updated)."""
    # One writer per table at a time: MERGE is not safe against concurrent inserts of a key.
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (target.table,))
    counts = dict(conn.execute(merge_statement(target, source)).fetchall())
    return int(counts.get("INSERT", 0)), int(counts.get("UPDATE", 0))


def _unescape(field: bytes) -> str | None:
    """A COPY text field back to its value (for error messages)."""
    if field == b"\\N":
        return None
    text = field.decode("utf-8", "replace")
    if "\\" not in text:
        return text
    out = re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), text)
    return out


@dataclass
class _Chunk:
    parts: list[bytes]  # COPY text, one part per serialised batch
    rows: int
    first_row: int  # number of the chunk's first row in its load() call (0-based)


class Loader:
    """Loads rows into one target table over one connection. Use as a context manager.

    Each chunk is committed on its own unless `commit=False` (then the caller owns the
    transaction). An interrupted load leaves whole chunks behind; loading again merges over them.
    With `append=True` rows are copied straight in (landing tables, which have no key).
    `serialise_rows` is the size of the batches the producer serialises (the caller's row tuples
    are dropped after each one); `chunk_rows` the rows of one COPY (and one commit).
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        target: Target,
        meta_values: Sequence[Any] = (),
        *,
        chunk_rows: int = 20_000,
        serialise_rows: int = 2_000,
        commit: bool = True,
        direct_when_empty: bool = True,
        append: bool = False,
        pipeline: bool = True,
    ) -> None:
        if len(meta_values) != len(target.meta):
            raise ValueError(
                f"{target.table}: {len(target.meta)} meta values expected, got {len(meta_values)}"
            )
        self.conn = conn
        self.target = target
        self.constants = [_scalar_text(v) for v in meta_values]
        self.chunk_rows = max(1, chunk_rows)
        self.serialise_rows = max(1, serialise_rows)
        self.commit = commit
        self.stats = LoadStats()
        self._staging = "_stage_" + re.sub(r"\W", "_", target.table)
        self._append = append
        self._direct = direct_when_empty or append
        self._checked_empty = append  # appending: COPY straight in, there is no key to merge on
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copy") if pipeline else None
        self._pending: Future | None = None

    # -- public ---------------------------------------------------------------------------

    def load(self, rows: Iterable[Sequence[Any]]) -> LoadStats:
        """Serialise and load `rows` chunk by chunk; returns the stats of this call."""
        before = LoadStats()
        before.add(self.stats)
        it = iter(rows)
        parts: list[bytes] = []
        in_chunk = seen = 0
        while True:
            batch = list(itertools.islice(it, min(self.serialise_rows, self.chunk_rows - in_chunk)))
            if batch:
                try:
                    parts.append(serialise(batch, self.target.columns, self.constants))
                except LoaderError as exc:
                    raise LoaderError(f"loading {self.target.table}, batch from row {seen}: {exc}") from None
                in_chunk += len(batch)
                seen += len(batch)
            if in_chunk and (in_chunk >= self.chunk_rows or not batch):
                self._submit(_Chunk(parts, in_chunk, seen - in_chunk))
                parts, in_chunk = [], 0
            if not batch:
                break
        self.flush()
        delta = LoadStats()
        delta.add(self.stats)
        for name in ("rows", "inserted", "updated", "unchanged", "chunks", "direct_chunks"):
            setattr(delta, name, getattr(delta, name) - getattr(before, name))
        return delta

    def flush(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and self._pending is not None:
            try:
                self._pending.result()
            except Exception:
                log.debug("pending chunk failed while unwinding", exc_info=True)
            self._pending = None
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _submit(self, chunk: _Chunk) -> None:
        self.flush()  # at most one chunk in flight: memory stays bounded
        if self._pool is None:
            self._load_chunk(chunk)
        else:
            # The worker copies (and merges) chunk k, waiting on the server with the GIL
            # released, while the producer builds and serialises chunk k+1.
            self._pending = self._pool.submit(self._load_chunk, chunk)

    def _load_chunk(self, chunk: _Chunk) -> None:
        try:
            if self._direct and not self._checked_empty:
                self._checked_empty = True
                self._direct = self.conn.execute(
                    sql.SQL("select not exists (select 1 from {})").format(self.target.ident())
                ).fetchone()[0]
            if self._direct and self._copy_direct(chunk):
                self.stats.inserted += chunk.rows
                self.stats.direct_chunks += 1
            else:
                self._copy_and_merge(chunk)
            self.stats.rows += chunk.rows
            self.stats.chunks += 1
            if self.commit:
                self.conn.commit()
        except psycopg.Error as exc:
            if self.commit:
                self.conn.rollback()
            raise LoaderError(self._explain(exc, chunk)) from exc

    def _copy(self, table: sql.Composable, chunk: _Chunk) -> None:
        cols = sql.SQL(", ").join(map(sql.Identifier, self.target.names))
        with self.conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(table, cols)) as copy:
            for part in chunk.parts:
                copy.write(part)

    def _copy_direct(self, chunk: _Chunk) -> bool:
        """COPY straight into the (empty at start) target; False if a key already exists."""
        try:
            with self.conn.transaction():
                self._copy(self.target.ident(), chunk)
        except psycopg.errors.UniqueViolation:
            if self._append:
                raise
            log.debug("%s: a key repeats; merging from now on", self.target.table)
            self._direct = False
            return False
        return True

    def _copy_and_merge(self, chunk: _Chunk) -> None:
        stg = sql.Identifier(self._staging)
        cols = sql.SQL(", ").join(map(sql.Identifier, self.target.names))
        with self.conn.transaction():
            self.conn.execute(
                sql.SQL("create temp table if not exists {} as select {} from {} with no data").format(
                    stg, cols, self.target.ident()
                )
            )
            self.conn.execute(sql.SQL("truncate {}").format(stg))
            self._copy(stg, chunk)
            inserted, updated = merge(self.conn, self.target, latest_per_key(self.target, stg))
        self.stats.inserted += inserted
        self.stats.updated += updated
        self.stats.unchanged += chunk.rows - inserted - updated

    def _row_key(self, chunk: _Chunk, line: int) -> dict[str, Any] | None:
        """The key of the chunk's `line`-th row (1-based), read back from the COPY text."""
        lines = b"".join(chunk.parts).split(b"\n")
        if not 1 <= line <= min(chunk.rows, len(lines)):
            return None
        fields = lines[line - 1].split(b"\t")
        names = self.target.names
        try:
            return {k: _unescape(fields[names.index(k)]) for k in self.target.key}
        except (ValueError, IndexError):
            return None

    def _explain(self, exc: psycopg.Error, chunk: _Chunk) -> str:
        diag = exc.diag
        where = diag.context or ""
        line = re.search(r"line (\d+)", where)
        row = ""
        if line:
            key = self._row_key(chunk, int(line.group(1)))
            if key is not None:
                row = f" (row {chunk.first_row + int(line.group(1)) - 1} of the load, key {key})"
        column = re.search(r"column (\w+)", where)
        col = f", column {column.group(1)}" if column else ""
        first = str(exc).strip().splitlines()[0]
        return (
            f"loading {self.target.table} failed{row}{col}: {first}. Fix or quarantine the record "
            f"and load again; chunks already committed stay and merge idempotently"
        )


def load_rows(
    conn: psycopg.Connection,
    target: Target,
    rows: Iterable[Sequence[Any]],
    meta_values: Sequence[Any] = (),
    **options: Any,
) -> LoadStats:
    """Load `rows` into `target` (see Loader) and return what happened to them."""
    with Loader(conn, target, meta_values, **options) as loader:
        return loader.load(rows)
