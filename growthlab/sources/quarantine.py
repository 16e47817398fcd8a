"""quarantine.rows: records that could not be loaded, with the rule they broke and why.

Nothing is dropped silently: a parser that cannot read a row, or an expectation a landed row
fails, puts the record here. Seeing the same bad record again (same source, table, row_ref and
rule) refreshes its row instead of adding one, so reruns stay idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

UPSERT = """
insert into quarantine.rows (source, table_name, rule, reason, row_ref, payload, batch_id)
values (%s, %s, %s, %s, %s, %s, %s)
on conflict (source, table_name, row_ref, rule) do update set
    reason = excluded.reason,
    payload = excluded.payload,
    quarantined_at = now(),
    times_seen = quarantine.rows.times_seen
        + case when quarantine.rows.batch_id is distinct from excluded.batch_id then 1 else 0 end,
    batch_id = excluded.batch_id
"""


@dataclass(frozen=True)
class Rejected:
    """A record a source could not turn into a row."""

    rule: str  # e.g. parse.date, parse.columns, encoding.nul
    reason: str  # what is wrong and where, for a human
    row_ref: str  # the record id, or file:line
    payload: Any  # the record as received (JSON-able)


def _clean(value: Any) -> Any:
    """jsonb refuses NUL characters: make them visible instead of failing the quarantine."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def quarantine(
    conn: psycopg.Connection, source: str, table_name: str, rejects: Iterable[Rejected], batch_id: str
) -> int:
    """Upsert rejected records (in the caller's transaction). Returns how many were given."""
    params = [
        (source, table_name, r.rule, r.reason, r.row_ref, Jsonb(_clean(r.payload)), batch_id) for r in rejects
    ]
    if params:
        with conn.cursor() as cur:
            cur.executemany(UPSERT, params)
    return len(params)


def quarantine_from_landing(
    conn: psycopg.Connection,
    *,
    source: str,
    table_name: str,
    landing_table: str,
    batch_id: str,
    rule: str,
    reason: str,
    seqs: list[int],
    row_ref_sql: str,
    payload_sql: str,
) -> int:
    """Copy landed rows (by _seq) of one failed rule into quarantine.rows, in SQL."""
    if not seqs:
        return 0
    schema, _, name = landing_table.partition(".")
    from psycopg import sql

    stmt = sql.SQL(
        """insert into quarantine.rows (source, table_name, rule, reason, row_ref, payload, batch_id)
           select distinct on (row_ref) %(source)s, %(table)s, %(rule)s, %(reason)s, row_ref, payload, %(batch)s
           from (select {row_ref} as row_ref, {payload} as payload, l._seq
                 from {landing} l where l._batch_id = %(batch)s and l._seq = any(%(seqs)s)) q
           order by row_ref, _seq desc
           on conflict (source, table_name, row_ref, rule) do update set
               reason = excluded.reason, payload = excluded.payload, quarantined_at = now(),
               times_seen = quarantine.rows.times_seen
                   + case when quarantine.rows.batch_id is distinct from excluded.batch_id then 1 else 0 end,
               batch_id = excluded.batch_id"""
    ).format(
        row_ref=sql.SQL(row_ref_sql),
        payload=sql.SQL(payload_sql),
        landing=sql.Identifier(schema, name),
    )
    cur = conn.execute(
        stmt,
        {
            "source": source,
            "table": table_name,
            "rule": rule,
            "reason": reason,
            "batch": batch_id,
            "seqs": seqs,
        },
    )
    return cur.rowcount
