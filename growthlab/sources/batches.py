"""The ingestion ledger: one row in ops.ingest_batches per load of one source object."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)


@dataclass
class Counts:
    """What happened to the records of a batch. rows_in = rows_loaded + rows_quarantined."""

    rows_in: int = 0
    rows_quarantined: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0

    @property
    def rows_loaded(self) -> int:
        return self.rows_in - self.rows_quarantined

    def as_dict(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_inserted": self.rows_inserted,
            "rows_updated": self.rows_updated,
        }


@dataclass
class Batch:
    batch_id: str
    source: str
    object: str
    synced_at: datetime
    run_id: str | None = None
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    counts: Counts = field(default_factory=Counts)
    details: dict = field(default_factory=dict)


def new_batch_id(source: str, obj: str, as_of: datetime | None) -> str:
    stamp = (as_of or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M")
    return f"{source}.{obj}.{stamp}.{uuid.uuid4().hex[:8]}"


def start_batch(
    conn: psycopg.Connection,
    source: str,
    obj: str,
    *,
    run_id: str | None = None,
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
) -> Batch:
    """Open a batch (status running) and commit it, so a crash leaves a visible trace."""
    batch = Batch(
        batch_id=new_batch_id(source, obj, interval_end),
        source=source,
        object=obj,
        synced_at=datetime.now(UTC),
        run_id=run_id,
        interval_start=interval_start,
        interval_end=interval_end,
    )
    conn.execute(
        """insert into ops.ingest_batches (batch_id, source, object, run_id, data_interval_start,
               data_interval_end, started_at) values (%s, %s, %s, %s, %s, %s, %s)""",
        (batch.batch_id, source, obj, run_id, interval_start, interval_end, batch.synced_at),
    )
    conn.commit()
    log.info("batch %s started", batch.batch_id)
    return batch


def finish_batch(conn: psycopg.Connection, batch: Batch) -> None:
    """Record the batch's counts as succeeded (in the caller's transaction: commit with the data)."""
    c = batch.counts
    conn.execute(
        """update ops.ingest_batches set rows_in = %s, rows_loaded = %s, rows_quarantined = %s,
               rows_inserted = %s, rows_updated = %s, finished_at = now(), status = 'succeeded',
               details = %s
           where batch_id = %s""",
        (
            c.rows_in,
            c.rows_loaded,
            c.rows_quarantined,
            c.rows_inserted,
            c.rows_updated,
            Jsonb(batch.details),
            batch.batch_id,
        ),
    )
    log.info(
        "batch %s: %d in, %d loaded (%d new, %d changed), %d quarantined",
        batch.batch_id,
        c.rows_in,
        c.rows_loaded,
        c.rows_inserted,
        c.rows_updated,
        c.rows_quarantined,
    )


def fail_batch(conn: psycopg.Connection, batch: Batch, error: str) -> None:
    """Mark the batch failed (own transaction: whatever the caller's state)."""
    try:
        conn.rollback()
        c = batch.counts
        conn.execute(
            """update ops.ingest_batches set status = 'failed', finished_at = now(), error = %s,
                   rows_in = %s, rows_quarantined = %s, details = %s
               where batch_id = %s""",
            (error[:4000], c.rows_in, c.rows_quarantined, Jsonb(batch.details), batch.batch_id),
        )
        conn.commit()
    except psycopg.Error:
        log.exception("could not record the failure of batch %s", batch.batch_id)
