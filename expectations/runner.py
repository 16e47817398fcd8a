"""Run a TableSuite with Great Expectations 1.x over one landed batch and record the results.

One ephemeral GX context per process (GX's import and set-up cost seconds, its validation
milliseconds); one Postgres datasource per warehouse URL; one query asset per validation, over
`landing.<table>` filtered to the batch and reduced to the last row per key. Results go to
ops.validation_results (one row per expectation), so they are browsable with SQL
(`growthlab ingest dq`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from expectations.suite import Rule, TableSuite
from growthlab.warehouse.db import libpq_url, sqlalchemy_url

log = logging.getLogger(__name__)

MAX_BAD_FRACTION = float(os.environ.get("GROWTHLAB_DQ_MAX_BAD_FRACTION", "0.05"))
MIN_SYSTEMIC_ROWS = int(os.environ.get("GROWTHLAB_DQ_MIN_SYSTEMIC_ROWS", "3"))

_lock = threading.Lock()
_context: Any = None
_datasources: dict[str, Any] = {}


class SystemicDataQualityError(RuntimeError):
    """The batch is wrong as a whole; the message names the table and the rule(s)."""


@dataclass
class RuleOutcome:
    rule: Rule
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_percent: float
    seqs: list[int] = field(default_factory=list)  # landed rows that failed (row rules)
    error: str | None = None  # GX could not evaluate the rule

    def systemic(self, max_bad_fraction: float, min_rows: int) -> bool:
        if self.error:
            return True
        if self.rule.severity == "systemic":
            return not self.success
        if self.rule.severity == "row":
            return self.unexpected_count >= min_rows and self.unexpected_count > max_bad_fraction * max(
                self.element_count, 1
            )
        return False


@dataclass
class Outcome:
    suite: TableSuite
    batch_id: str
    validation_id: str
    element_count: int
    rules: list[RuleOutcome]

    def systemic_failures(
        self, max_bad_fraction: float = MAX_BAD_FRACTION, min_rows: int = MIN_SYSTEMIC_ROWS
    ) -> list[str]:
        out = []
        for r in self.rules:
            if r.systemic(max_bad_fraction, min_rows):
                what = r.error or (
                    f"{r.unexpected_count} of {r.element_count} rows ({r.unexpected_percent:.1f}%) failed"
                    if r.rule.severity == "row"
                    else r.rule.reason
                )
                out.append(f"{self.suite.table}: rule {r.rule.name} ({r.rule.expectation}): {what}")
        return out

    def row_failures(self) -> list[RuleOutcome]:
        return [r for r in self.rules if r.rule.severity == "row" and not r.success and r.seqs]


def _gx_context():
    global _context
    with _lock:
        if _context is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
            logging.getLogger("great_expectations").setLevel(logging.WARNING)
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                analytics_enabled=False,
            )
            _context = gx.get_context(mode="ephemeral", project_config=config)
        return _context


def _datasource(url: str):
    ctx = _gx_context()
    name = "wh_" + hashlib.sha256(libpq_url(url).encode()).hexdigest()[:12]
    with _lock:
        if name not in _datasources:
            _datasources[name] = ctx.data_sources.add_postgres(
                name, connection_string=sqlalchemy_url(libpq_url(url), "psycopg2")
            )
        return _datasources[name]


def batch_query(suite: TableSuite, batch_id: str) -> str:
    """SQL of the audited rows: the batch's landed rows, last per key, projected."""
    schema, _, table = suite.landing_table.partition(".")
    key = ", ".join(suite.key)
    literal = "'" + batch_id.replace("'", "''") + "'"
    return (
        f"select {suite.select} from (select distinct on ({key}) * from {schema}.{table} "
        f"where _batch_id = {literal} order by {key}, _seq desc) l {suite.joins}"
    )


def _build(rule: Rule):
    import great_expectations.expectations as gxe

    return getattr(gxe, rule.expectation)(**rule.kwargs)


def validate(url: str, suite: TableSuite, batch_id: str) -> Outcome:
    """Validate the batch's landed rows with GX; record and return the outcome (never raises on
    failing rows: the caller quarantines or fails)."""
    import great_expectations as gx

    ctx = _gx_context()
    ds = _datasource(url)
    validation_id = uuid.uuid4().hex
    asset_name = f"{suite.table}.{validation_id[:8]}"
    asset = ds.add_query_asset(asset_name, query=batch_query(suite, batch_id))
    try:
        gx_suite = gx.ExpectationSuite(name=f"{suite.name}.{validation_id[:8]}")
        for rule in suite.rules:
            gx_suite.add_expectation(_build(rule))
        batch = asset.add_batch_definition_whole_table("batch").get_batch()
        result = batch.validate(
            gx_suite,
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": ["_seq"],
                "return_unexpected_index_query": False,
                "partial_unexpected_count": 5,
            },
        )
    finally:
        try:
            ds.delete_asset(asset_name)
        except Exception:  # the asset is only bookkeeping of the ephemeral context
            log.debug("could not delete GX asset %s", asset_name, exc_info=True)
        try:
            ds.get_engine().dispose()  # no idle connections left behind between validations
        except Exception:
            log.debug("could not dispose the GX engine", exc_info=True)
    del ctx
    outcomes = []
    element_count = 0
    by_type: dict[tuple, list] = {}
    for r in result.results:
        cfg = r.expectation_config
        by_type.setdefault((cfg.type, cfg.kwargs.get("column")), []).append(r)
    for rule in suite.rules:
        gx_type = _snake(rule.expectation)
        r = by_type[(gx_type, rule.column)].pop(0)
        res = r.result or {}
        info = r.exception_info or {}
        error = None
        if info.get("raised_exception"):
            error = str(info.get("exception_message") or "GX raised an exception").splitlines()[0]
        seqs = [int(row["_seq"]) for row in res.get("unexpected_index_list") or [] if isinstance(row, dict)]
        count = int(res.get("element_count") or 0)
        element_count = max(element_count, count)
        outcomes.append(
            RuleOutcome(
                rule=rule,
                success=bool(r.success),
                element_count=count,
                unexpected_count=int(res.get("unexpected_count") or 0),
                unexpected_percent=float(res.get("unexpected_percent") or 0.0),
                seqs=seqs,
                error=error,
            )
        )
    return Outcome(suite, batch_id, validation_id, element_count, outcomes)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def record(conn: psycopg.Connection, outcome: Outcome) -> None:
    """Write the outcome to ops.validation_results (in the caller's transaction)."""
    params = []
    for r in outcome.rules:
        systemic = r.systemic(MAX_BAD_FRACTION, MIN_SYSTEMIC_ROWS)
        params.append(
            (
                outcome.validation_id,
                outcome.batch_id,
                outcome.suite.source,
                outcome.suite.table,
                outcome.suite.name,
                r.rule.expectation,
                r.rule.column,
                r.rule.name,
                "systemic" if systemic else r.rule.severity,
                r.success,
                r.element_count,
                r.unexpected_count,
                r.unexpected_percent,
                Jsonb({"kwargs": dict(r.rule.kwargs), "error": r.error, "sample_seqs": r.seqs[:20]}),
            )
        )
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                """insert into ops.validation_results (validation_id, batch_id, source, table_name, suite,
                   expectation, column_name, rule, severity, success, element_count, unexpected_count,
                   unexpected_percent, details) values ({})"""
            ).format(sql.SQL(", ").join([sql.Placeholder()] * 14)),
            params,
        )
