"""The model on the sandbox world, end to end from the real marts: against the oracle of its truth.

The tiny world (tests/fixtures/dbt.py: ingested through the real clients and built by dbt) is
small: ~800 open contacts, ~60 of whom convert in the next 90 days, so the bar here is lower
than the issue's 0.97 x oracle, which is checked on the small world (see the report of issue 6).
The held-out contacts are the current population: their labels lie in the world's future, which
only the sandbox truth knows.
"""

from __future__ import annotations

import numpy as np
import psycopg
from sklearn.metrics import roc_auc_score

from ml.data import read_training_frame
from ml.evaluate import evaluate
from ml.score import score_contacts
from ml.train import fit_bundle, plan_for


def test_model_against_the_oracle_on_the_sandbox_world(dbt_warehouse, ml_settings_sqlite, pg_state):
    from growthlab.sandbox import store
    from growthlab.sandbox.truth import truth_frame
    from tests.fixtures.databases import clone_database, drop_database

    as_of = dbt_warehouse.as_of
    frame = read_training_frame(dbt_warehouse.url, as_of, ml_settings_sqlite.label_horizon_days)
    trained = fit_bundle(frame, plan_for(frame, as_of, ml_settings_sqlite), ml_settings_sqlite)

    clone = clone_database(pg_state, dbt_warehouse.database, "ml_world")
    try:
        url = pg_state.url(clone)
        result = score_contacts(url, ml_settings_sqlite, trained.bundle, "1", now=as_of)
        with psycopg.connect(url) as conn:
            scores = dict(conn.execute("select contact_id, probability from ml.lead_scores").fetchall())
            reasons = [r for (rs,) in conn.execute("select reasons from ml.lead_scores") for r in rs]
            active = conn.execute(
                "select count(*) from marts.lead_features where as_of_date = %s", (as_of,)
            ).fetchone()[0]
    finally:
        drop_database(pg_state, clone)
    assert result.rows_scored == len(scores) == active
    assert {r["feature"] for r in reasons} <= set(trained.bundle.features) and all(r["text"] for r in reasons)

    with store.open_db(dbt_warehouse.world_url) as conn:
        truth = truth_frame(conn)
    truth["contact_id"] = truth["contact_id"].astype(str)
    truth = truth[truth["contact_id"].isin(scores)]
    y = truth["converted"].to_numpy()
    p = truth["contact_id"].map(scores).to_numpy(dtype=np.float64)
    oracle = roc_auc_score(y, truth["propensity"])
    model = evaluate(y, p)
    print(
        f"\nsandbox tiny world, {len(truth)} open contacts, {int(y.sum())} convert: model ROC AUC {model.roc_auc:.4f}, "
        f"oracle {oracle:.4f} (ratio {model.roc_auc / oracle:.3f}); ECE {model.ece:.4f}, mean score "
        f"{p.mean():.4f} vs rate {y.mean():.4f}; holdout {trained.report.split.holdout} ROC AUC "
        f"{trained.report.holdout.roc_auc:.4f}"
    )
    assert len(truth) == len(scores)
    assert model.roc_auc >= 0.8 * oracle
    assert abs(p.mean() - y.mean()) < 0.03
