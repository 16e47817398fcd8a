"""What a run loaded: its batches from ops.ingest_batches, checked to balance."""

from __future__ import annotations

import logging

from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)


class UnbalancedBatch(RuntimeError):
    pass


def run_batches(url: str, source: str, run_id: str | None) -> list[dict]:
    """The run's batches of `source` (one row per object); raises if one is not balanced."""
    with connect(url) as conn:
        rows = conn.execute(
            """select object, status, rows_in, rows_loaded, rows_quarantined, rows_inserted, rows_updated
               from ops.ingest_batches where source = %s and run_id is not distinct from %s
               order by started_at""",
            (source, run_id),
        ).fetchall()
    out = [
        dict(
            zip(
                (
                    "object",
                    "status",
                    "rows_in",
                    "rows_loaded",
                    "rows_quarantined",
                    "rows_inserted",
                    "rows_updated",
                ),
                r,
                strict=True,
            )
        )
        for r in rows
    ]
    for b in out:
        if b["status"] == "succeeded" and b["rows_in"] != b["rows_loaded"] + b["rows_quarantined"]:
            raise UnbalancedBatch(f"{source}.{b['object']}: rows in {b['rows_in']} != loaded + quarantined")
        log.info(
            "%s.%s: %s, %d in, %d loaded (%d new, %d changed), %d quarantined",
            source, b["object"], b["status"], b["rows_in"], b["rows_loaded"], b["rows_inserted"],
            b["rows_updated"], b["rows_quarantined"],
        )  # fmt: skip
    return out
