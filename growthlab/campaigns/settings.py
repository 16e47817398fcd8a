"""Settings other areas set for campaigns at run time: the optimiser's variant weights.

ops.campaign_settings belongs to the optimisation area (migrations 0050-0059). What campaigns read
from it (docs/architecture.md, "Email campaigns"): per (`campaign_id`, `step_id`, `variant_id`) the
`weight` of the row with the latest `valid_from` at or before the run's logical time. A weight of 0
switches a variant off; variants without a row keep their YAML weight. Until the table exists (or
while it lacks those columns) the YAML weights apply.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)
REQUIRED = {"campaign_id", "step_id", "variant_id", "weight", "valid_from"}


def variant_weights(conn: psycopg.Connection, campaign_id: str, now: datetime) -> dict[str, dict[str, float]]:
    """{step_id: {variant_id: weight}} in force at `now`."""
    columns = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ops' and table_name = 'campaign_settings'"
        )
    }
    if not columns:
        return {}
    if not REQUIRED.issubset(columns):
        log.warning(
            "ops.campaign_settings lacks %s: variant weights from the YAML files apply",
            ", ".join(sorted(REQUIRED - columns)),
        )
        return {}
    out: dict[str, dict[str, float]] = {}
    for step_id, variant_id, weight in conn.execute(
        """
        select distinct on (step_id, variant_id) step_id, variant_id, weight
        from ops.campaign_settings
        where campaign_id = %s and valid_from <= %s and weight is not null
        order by step_id, variant_id, valid_from desc
        """,
        (campaign_id, now),
    ):
        out.setdefault(step_id, {})[variant_id] = max(0.0, float(weight))
    return out
