"""Reading `marts.lead_features` with COPY: the training window at once, the scoring date in chunks.

Rows leave Postgres as CSV through `COPY (...) TO STDOUT` and are parsed by Arrow's CSV reader,
column types fixed by the contract (no inference, no per-value Python objects). For scoring the
COPY is streamed: Arrow reads blocks as they arrive and hands back chunks of `chunk_rows`, so memory
stays flat whatever the number of contacts. Postgres CSV writes NULL as an unquoted empty field and
an empty string as `""`; the reader keeps that distinction.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from growthlab.warehouse.db import connect
from ml.features import CONTRACT_TYPES, FEATURES, KEY_COLUMNS, LABEL

log = logging.getLogger(__name__)

TABLE = ("marts", "lead_features")

_ARROW = {
    "text": pa.string(),
    "date": pa.date32(),
    "double precision": pa.float64(),
    "integer": pa.float64(),  # engagement counts may be null; float64 is what the model reads
    "bigint": pa.int64(),
}


class FeaturesUnavailable(RuntimeError):
    """marts.lead_features is missing or breaks its contract; the message says what to fix."""


def check_contract(url: str) -> None:
    """Raise if marts.lead_features is missing or lacks a contract column (docs/architecture.md)."""
    with connect(url) as conn:
        found = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s",
                TABLE,
            ).fetchall()
        )
    if not found:
        raise FeaturesUnavailable(
            "marts.lead_features does not exist in the warehouse: build the marts first "
            "(the warehouse_build DAG, or `dbt build` in dbt_project/)"
        )
    missing = sorted(set(CONTRACT_TYPES) - set(found))
    if missing:
        raise FeaturesUnavailable(
            f"marts.lead_features lacks contract column(s) {', '.join(missing)}; the dbt model must follow "
            f"the lead_features contract in docs/architecture.md"
        )
    wrong = {c: found[c] for c, t in CONTRACT_TYPES.items() if found[c] != t}
    if wrong:
        log.warning("marts.lead_features column types differ from the contract: %s", wrong)


class _CopyStream(io.RawIOBase):
    """A readable file over psycopg's COPY blocks."""

    def __init__(self, blocks: Iterator) -> None:
        self._blocks = iter(blocks)
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not len(self._view):
            try:
                self._view = memoryview(bytes(next(self._blocks)))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._view))
        buffer[:n] = self._view[:n]
        self._view = self._view[n:]
        return n


def _arrow_options(columns: dict[str, pa.DataType], block_size: int | None = None):
    read = pacsv.ReadOptions(block_size=block_size) if block_size else pacsv.ReadOptions()
    convert = pacsv.ConvertOptions(
        column_types=columns,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        include_columns=list(columns),
    )
    return read, pacsv.ParseOptions(newlines_in_values=True), convert


def feature_column_types(extra: dict[str, str] | None = None) -> dict[str, pa.DataType]:
    cols = {c: _ARROW[CONTRACT_TYPES[c]] for c in (*KEY_COLUMNS, *FEATURES)}
    for name, pg_type in (extra or {}).items():
        cols[name] = _ARROW[pg_type]
    return cols


def copy_query(url: str, query: sql.Composable, columns: dict[str, pa.DataType]) -> pd.DataFrame:
    """Run `COPY (query) TO STDOUT` and return the rows as a DataFrame with the given types."""
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
    with connect(url) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        stream = io.BufferedReader(_CopyStream(copy), buffer_size=1 << 20)
        table = pacsv.read_csv(stream, *_arrow_options(columns))
    return table.to_pandas()


def stream_query(
    url: str, query: sql.Composable, columns: dict[str, pa.DataType], chunk_rows: int, as_arrow: bool = False
) -> Iterator[pd.DataFrame | pa.Table]:
    """Stream `COPY (query) TO STDOUT` as DataFrames (or Arrow tables) of `chunk_rows` rows."""
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
    with connect(url) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        stream = io.BufferedReader(_CopyStream(copy), buffer_size=1 << 20)
        reader = pacsv.open_csv(stream, *_arrow_options(columns, block_size=4 << 20))
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            while rows >= chunk_rows:
                table = pa.Table.from_batches(pending)
                chunk = table.slice(0, chunk_rows).combine_chunks()
                yield chunk if as_arrow else chunk.to_pandas()
                rest = table.slice(chunk_rows)
                pending = rest.to_batches()
                rows = rest.num_rows
        if rows:
            chunk = pa.Table.from_batches(pending, schema=reader.schema).combine_chunks()
            yield chunk if as_arrow else chunk.to_pandas()


def _select(columns: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("f.{}").format(sql.Identifier(c)) for c in columns)


def read_training_frame(url: str, now: date, horizon_days: int) -> pd.DataFrame:
    """Every labelled row whose label window is over at `now` (keys, features, label).

    `converted_at` is never read: nothing downstream can use it by accident.
    """
    check_contract(url)
    cutoff = now - timedelta(days=horizon_days)
    columns = feature_column_types({LABEL: "integer"})
    query = sql.SQL(
        "select {cols} from marts.lead_features f where f.as_of_date <= {cutoff} and f.{label} is not null"
    ).format(cols=_select(list(columns)), cutoff=sql.Literal(cutoff), label=sql.Identifier(LABEL))
    frame = copy_query(url, query, columns)
    frame[LABEL] = frame[LABEL].astype("int64")
    log.info("read %d labelled rows of marts.lead_features up to %s", len(frame), cutoff)
    return frame


def read_rows_at(url: str, as_of_date: date, labelled: bool = True) -> pd.DataFrame:
    """All rows of one as-of date (with the label when `labelled`)."""
    extra = {LABEL: "integer"} if labelled else {}
    columns = feature_column_types(extra)
    where = sql.SQL("f.as_of_date = {d}").format(d=sql.Literal(as_of_date))
    if labelled:
        where = sql.SQL("{} and f.{} is not null").format(where, sql.Identifier(LABEL))
    query = sql.SQL("select {cols} from marts.lead_features f where {where}").format(
        cols=_select(list(columns)), where=where
    )
    frame = copy_query(url, query, columns)
    if labelled:
        frame[LABEL] = frame[LABEL].astype("int64")
    return frame


def scoring_as_of(url: str, now: date | None) -> date | None:
    """The newest as-of date at or before `now` (None: every date): the population to score."""
    check_contract(url)
    with connect(url) as conn:
        if now is None:
            row = conn.execute("select max(as_of_date) from marts.lead_features").fetchone()
        else:
            row = conn.execute(
                "select max(as_of_date) from marts.lead_features where as_of_date <= %s", (now,)
            ).fetchone()
    return row[0] if row else None


PREVIOUS = {
    "prev_features_hash": "bigint",
    "prev_reasons_hash": "bigint",
    "prev_model_version": "text",
    "prev_as_of_date": "date",
    "prev_grade": "text",
    "prev_probability": "double precision",
    "prev_fit_score": "integer",
    "prev_engagement_score": "integer",
}


def stream_scoring_rows(url: str, as_of_date: date, chunk_rows: int) -> Iterator[pa.Table]:
    """Rows to score at `as_of_date` as Arrow tables, each row with what ml.lead_scores holds for
    the contact now (prev_* columns, null for a contact never scored)."""
    columns = feature_column_types(PREVIOUS)
    feature_cols = [c for c in columns if c not in PREVIOUS]
    query = sql.SQL(
        "select {cols}, s.features_hash as prev_features_hash, s.reasons_hash as prev_reasons_hash, "
        "s.model_version as prev_model_version, s.as_of_date as prev_as_of_date, s.grade as prev_grade, "
        "s.probability as prev_probability, s.fit_score as prev_fit_score, "
        "s.engagement_score as prev_engagement_score "
        "from marts.lead_features f left join ml.lead_scores s on s.contact_id = f.contact_id "
        "where f.as_of_date = {d}"
    ).format(cols=_select(feature_cols), d=sql.Literal(as_of_date))
    yield from stream_query(url, query, columns, chunk_rows, as_arrow=True)
