"""The ground truth the pipeline is measured against: each open contact's true 90-day propensity.

`propensity` is the probability that the contact becomes an opportunity within the next 90
simulated days if the pipeline does nothing more (its current warmth decays, and whatever is
already under way, an acceptance, a booked meeting, a late reply, still happens). `converted` is
that event itself, drawn once and for all from the contact's Exp(1) threshold: when the pipeline
does nothing, `advance` produces exactly these conversions. Treatments only add warmth, so with a
pipeline at work the contacts flagged `converted` still convert (sooner or later within the 90
days), and more may join them.

Rows: every contact that exists and is not yet an opportunity at the clock (already converted
contacts have no label to predict, as in marts.lead_features).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from growthlab.sandbox import behaviour, store
from growthlab.sandbox.simulation import Ids, Recorder, Simulator
from growthlab.sandbox.timeutil import DAY
from growthlab.sandbox.worldstate import load_world

TRUTH_COLUMNS = ["contact_id", "email", "propensity", "converted"]


@dataclass(frozen=True)
class TruthSummary:
    contacts: int
    converted: int
    mean_propensity: float
    oracle_auc: float | None
    oracle_expected_auc: float


def truth_frame(conn: psycopg.Connection, horizon_days: int = behaviour.HORIZON_DAYS) -> pd.DataFrame:
    world = load_world(conn)
    now = store.clock_now(conn).timestamp()
    t, s = world.traits, world.state
    open_ = (t.created_at <= now) & np.isnan(s.converted_at)
    residual0 = s.residual.copy()
    state = copy.deepcopy(s)
    ids = Ids(
        {k: 9_000_000_000_000 + i * 10**11 for i, k in enumerate(("email", "meeting", "deal", "li_message"))}
    )
    sim = Simulator(world.spec.seed, t, state, world.owners, ids, Recorder(), world.schedule)
    sim.cum_hazard = np.zeros(len(t))
    # Only contacts open now accumulate hazard (nobody new is created in the projection).
    sim.t = copy.copy(t)
    sim.t.created_at = np.where(open_, t.created_at, np.inf)
    for d in range(horizon_days):
        day_start = now + d * DAY
        sim.start_day()
        sim.finish_day(day_start)
    hazard = sim.cum_hazard[open_]
    frame = pd.DataFrame(
        {
            "contact_id": t.contact_id[open_].astype(str),
            "email": world.emails[open_],
            "propensity": behaviour.propensity(hazard),
            "converted": (residual0[open_] <= hazard).astype(int),
        }
    )
    return frame.sort_values("contact_id", key=lambda c: c.astype(np.int64)).reset_index(drop=True)


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None without both classes."""
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def expected_auc(propensity: np.ndarray, scores: np.ndarray) -> float:
    """The AUC `scores` get on average over outcomes drawn from the true `propensity`.

    E[AUC] = sum_ij p_i (1 - p_j) [s_i > s_j] / sum_(i != j) p_i (1 - p_j), ties counted half. Unlike
    the AUC against the one drawn `converted`, it has no sampling noise, which matters on a tiny world
    (a few dozen conversions): compare a model with the oracle as
    expected_auc(p, model_scores) / expected_auc(p, p).
    """
    p = np.asarray(propensity, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")
    p, s = p[order], s[order]
    neg = 1.0 - p
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(s)]))
    neg_by_group = np.bincount(group, weights=neg)
    neg_before = np.r_[0.0, np.cumsum(neg_by_group)[:-1]][group]
    ties = neg_by_group[group] - neg
    numerator = float(np.sum(p * (neg_before + 0.5 * ties)))
    denominator = float(np.sum(p * (neg.sum() - neg)))
    return numerator / denominator if denominator > 0 else float("nan")


def summarize(frame: pd.DataFrame) -> TruthSummary:
    y = frame["converted"].to_numpy()
    oracle = auc(y, frame["propensity"].to_numpy())
    return TruthSummary(
        contacts=len(frame),
        converted=int(y.sum()),
        mean_propensity=float(frame["propensity"].mean()),
        oracle_auc=oracle,
        oracle_expected_auc=expected_auc(frame["propensity"].to_numpy(), frame["propensity"].to_numpy()),
    )


def write_truth(url: str, out_path: str) -> TruthSummary:
    with store.open_db(url) as conn:
        frame = truth_frame(conn)
    frame.to_csv(out_path, index=False, float_format="%.6f")
    return summarize(frame)
