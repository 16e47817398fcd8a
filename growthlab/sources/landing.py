"""Write-audit-publish of one batch into one raw table.

    with BatchLoad(conn, url, raw_table, suite, batch) as load:
        load.land(rows)                 # COPY into landing.<schema>__<table> (chunked, streamed)
        load.reject(rejected)           # records the source could not turn into rows
    load.publish()                      # GX audit -> quarantine -> MERGE into raw, one transaction

`land` can be called many times (one per page of an API, per file...). Nothing reaches the raw
table before `publish`, which audits the landed batch with the table's suite: rows failing a row
rule move to quarantine.rows, a systemic failure raises and leaves the raw table untouched. Then
the batch's landed rows (last per key) are merged into the raw table and the ledger row is
closed with rows_in = rows_loaded + rows_quarantined, in one transaction.

A session advisory lock makes one load per raw table at a time; a load interrupted before
`publish` leaves only landing rows, which the next load of the table purges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from expectations.runner import MAX_BAD_FRACTION, MIN_SYSTEMIC_ROWS, Outcome, SystemicDataQualityError
from expectations.suite import TableSuite
from growthlab.sources.batches import Batch, fail_batch, finish_batch
from growthlab.sources.quarantine import Rejected, quarantine, quarantine_from_landing
from growthlab.warehouse.loader import Column, Loader, Target, latest_per_key, merge

log = logging.getLogger(__name__)

META = (Column("_synced_at", "timestamptz"), Column("_batch_id", "text"))


class LoadBusy(RuntimeError):
    pass


def raw_target(table: str, columns: Sequence[Column], key: Sequence[str], **kw: Any) -> Target:
    """The Target of a raw table whose rows end with the _synced_at/_batch_id meta columns."""
    return Target(table=table, columns=tuple(columns), key=tuple(key), meta=META, **kw)


def landing_target(raw: Target) -> Target:
    return Target(
        table="landing." + raw.table.replace(".", "__"), columns=raw.columns, key=raw.key, meta=raw.meta
    )


Validator = Callable[[str, TableSuite, str], Outcome]


def _default_validator(url: str, suite: TableSuite, batch_id: str) -> Outcome:
    from expectations.runner import validate

    return validate(url, suite, batch_id)


class BatchLoad:
    """One batch of one raw table through landing, audit and publish (see module doc)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        url: str,
        raw: Target,
        suite: TableSuite,
        batch: Batch,
        *,
        chunk_rows: int = 20_000,
        validator: Validator | None = None,
        after_publish: Callable[[psycopg.Connection], None] | None = None,
    ) -> None:
        self.conn = conn
        self.url = url
        self.raw = raw
        self.suite = suite
        self.batch = batch
        self.landing = landing_target(raw)
        self.chunk_rows = chunk_rows
        self.validator = validator or _default_validator
        self.after_publish = after_publish
        self.outcome: Outcome | None = None
        self._loader: Loader | None = None
        self._lock_key = f"ingest:{raw.table}"
        self._locked = False

    # -- context ----------------------------------------------------------------------------

    def __enter__(self) -> BatchLoad:
        got = self.conn.execute("select pg_try_advisory_lock(hashtext(%s))", (self._lock_key,)).fetchone()[0]
        self.conn.commit()
        if not got:
            raise LoadBusy(f"another load of {self.raw.table} is running; retry when it has finished")
        self._locked = True
        self._close_interrupted()
        self._purge_stale()
        self._loader = Loader(
            self.conn,
            self.landing,
            (self.batch.synced_at, self.batch.batch_id),
            chunk_rows=self.chunk_rows,
            append=True,
        )
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._loader is not None:
                if exc_type is None:
                    self._loader.close()
                else:
                    try:
                        self._loader.close()
                    except Exception:
                        log.debug("landing loader failed while unwinding", exc_info=True)
        finally:
            if exc_type is not None:
                fail_batch(self.conn, self.batch, f"{exc_type.__name__}: {exc}")
                self.release()

    def release(self) -> None:
        if self._locked:
            self.conn.rollback()
            self.conn.execute("select pg_advisory_unlock(hashtext(%s))", (self._lock_key,))
            self.conn.commit()
            self._locked = False

    # -- steps ------------------------------------------------------------------------------

    def _close_interrupted(self) -> None:
        """Batches of this table still 'running' belong to a load that died: we hold its lock now."""
        from psycopg.types.json import Jsonb

        self.conn.execute(
            "update ops.ingest_batches set details = details || %s where batch_id = %s",
            (Jsonb({"table": self.raw.table}), self.batch.batch_id),
        )
        closed = self.conn.execute(
            """update ops.ingest_batches set status = 'failed', finished_at = now(),
                   error = 'interrupted: the load stopped before publishing (nothing of it reached the raw table)'
               where status = 'running' and details->>'table' = %s and batch_id <> %s""",
            (self.raw.table, self.batch.batch_id),
        ).rowcount
        self.conn.commit()
        if closed:
            log.warning("%s: %d interrupted load(s) marked failed", self.raw.table, closed)

    def _purge_stale(self) -> None:
        deleted = self.conn.execute(
            sql.SQL("delete from {} where _batch_id is distinct from %s").format(self.landing.ident()),
            (self.batch.batch_id,),
        ).rowcount
        self.conn.commit()
        if deleted:
            log.info("%s: purged %d landed rows of interrupted loads", self.landing.table, deleted)

    def land(self, rows: Iterable[Sequence[Any]]) -> int:
        """COPY rows into the landing table (committed chunk by chunk). Returns rows landed."""
        assert self._loader is not None, "use BatchLoad as a context manager"
        stats = self._loader.load(rows)
        self.batch.counts.rows_in += stats.rows
        return stats.rows

    def reject(self, rejected: Iterable[Rejected]) -> int:
        """Quarantine records the source could not turn into rows (they count as rows in)."""
        n = quarantine(self.conn, self.suite.source, self.raw.table, rejected, self.batch.batch_id)
        self.conn.commit()
        self.batch.counts.rows_in += n
        self.batch.counts.rows_quarantined += n
        self.batch.details.setdefault("rejected_before_landing", 0)
        self.batch.details["rejected_before_landing"] += n
        return n

    def publish(self) -> Batch:
        """Audit, quarantine, merge into the raw table and close the batch. Raises
        SystemicDataQualityError (raw table untouched) when the batch is wrong as a whole."""
        try:
            if self._loader is not None:
                self._loader.close()
            counts = self.batch.counts
            rejected = counts.rows_quarantined
            if rejected >= MIN_SYSTEMIC_ROWS and rejected > MAX_BAD_FRACTION * max(counts.rows_in, 1):
                raise SystemicDataQualityError(
                    f"{self.raw.table}: {rejected} of {counts.rows_in} records could not be read "
                    f"(see quarantine.rows where batch_id = '{self.batch.batch_id}'); the source "
                    f"format changed or the input is damaged"
                )
            landed = counts.rows_in - rejected
            if landed:
                # Statistics of what just landed: without them the planner takes the batch for a
                # handful of rows and answers the audit, the merge and the anti-joins of
                # after_publish with nested loops over the whole batch (quadratic).
                self.conn.execute(sql.SQL("analyze {}").format(self.landing.ident()))
                self.conn.commit()
                self.outcome = self.validator(self.url, self.suite, self.batch.batch_id)
                from expectations.runner import record

                record(self.conn, self.outcome)
                self.conn.commit()
                problems = self.outcome.systemic_failures()
                if problems:
                    raise SystemicDataQualityError(
                        "; ".join(problems)
                        + f". Nothing was published; inspect landing rows of batch {self.batch.batch_id} "
                        f"and ops.validation_results"
                    )
            with self.conn.transaction():
                if landed:
                    counts.rows_quarantined += self._quarantine_failures()
                    inserted, updated = merge(
                        self.conn,
                        self.raw,
                        latest_per_key(
                            self.raw,
                            self.landing.ident(),
                            order="_seq",
                            where=sql.SQL("_batch_id = {}").format(sql.Literal(self.batch.batch_id)),
                        ),
                    )
                    counts.rows_inserted += inserted
                    counts.rows_updated += updated
                if self.after_publish is not None:  # sees the batch's landed rows, in the same transaction
                    self.after_publish(self.conn)
                if landed:
                    self.conn.execute(
                        sql.SQL("delete from {} where _batch_id = %s").format(self.landing.ident()),
                        (self.batch.batch_id,),
                    )
                finish_batch(self.conn, self.batch)
            self.conn.commit()
            return self.batch
        except Exception as exc:
            fail_batch(self.conn, self.batch, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.release()

    def _quarantine_failures(self) -> int:
        """Move the landed rows that failed row rules to quarantine; returns distinct rows moved."""
        assert self.outcome is not None
        moved: set[int] = set()
        for failure in self.outcome.row_failures():
            quarantine_from_landing(
                self.conn,
                source=self.suite.source,
                table_name=self.raw.table,
                landing_table=self.landing.table,
                batch_id=self.batch.batch_id,
                rule=failure.rule.name,
                reason=failure.rule.reason,
                seqs=failure.seqs,
                row_ref_sql=self.suite.row_ref_sql,
                payload_sql=self.suite.payload,
            )
            moved.update(failure.seqs)
        if not moved:
            return 0
        # Every landed row with a quarantined row's key goes: an older version of the record in the
        # same batch must not be published in its place.
        key = sql.SQL(", ").join(map(sql.Identifier, self.raw.key))
        deleted = self.conn.execute(
            sql.SQL(
                "delete from {t} where _batch_id = %(b)s and ({key}) in "
                "(select {key} from {t} where _batch_id = %(b)s and _seq = any(%(s)s))"
            ).format(t=self.landing.ident(), key=key),
            {"b": self.batch.batch_id, "s": sorted(moved)},
        ).rowcount
        self.batch.details["quarantined_by_rules"] = {
            f.rule.name: f.unexpected_count for f in self.outcome.row_failures()
        }
        return deleted
