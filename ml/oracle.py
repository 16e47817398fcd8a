"""The champion's scores against the oracle of the sandbox truth (`growthlab sandbox truth`).

The truth file has one row per open contact: its HubSpot `contact_id`, the true 90-day
`propensity` and the drawn future outcome `converted`. The oracle ranks contacts by the true
propensity; the model by `ml.lead_scores.probability`. Both are judged on the same contacts (those
the pipeline scored) against the same outcomes, so the ratio of their ROC AUCs says how much of the
knowable signal the pipeline recovers. The expected AUC over outcomes drawn from the propensity is
given too: it carries no sampling noise, which matters when few contacts convert.

Only evaluation reads the truth (the demo, tests, `growthlab model oracle`); the pipeline never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from growthlab.warehouse.db import connect
from ml.evaluate import evaluate

TRUTH_REQUIRED = ("contact_id", "propensity", "converted")


class TruthFileError(ValueError):
    """The truth file cannot be used (missing, wrong columns, no overlap with the scores)."""


@dataclass(frozen=True)
class OracleComparison:
    contacts: int
    converted: int
    model_version: str
    model_auc: float
    oracle_auc: float
    model_expected_auc: float
    oracle_expected_auc: float
    ece: float
    mean_score: float
    conversion_rate: float
    unscored: int

    @property
    def ratio(self) -> float:
        return self.model_auc / self.oracle_auc

    @property
    def expected_ratio(self) -> float:
        return self.model_expected_auc / self.oracle_expected_auc

    def summary(self) -> str:
        return (
            f"champion v{self.model_version} vs oracle on {self.contacts:,} open contacts "
            f"({self.converted:,} convert in 90 days): ROC AUC {self.model_auc:.4f} vs {self.oracle_auc:.4f} "
            f"(ratio {self.ratio:.3f}; noise-free expected AUC ratio {self.expected_ratio:.3f}), "
            f"ECE {self.ece:.4f}, mean score {self.mean_score:.4f} vs rate {self.conversion_rate:.4f}"
        )

    def as_dict(self) -> dict:
        return {
            **{k: getattr(self, k) for k in self.__dataclass_fields__},
            "ratio": self.ratio,
            "expected_ratio": self.expected_ratio,
        }


def read_truth(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise TruthFileError(f"{path}: no such file; write it with `growthlab sandbox truth --out {path}`")
    frame = pd.read_csv(path, dtype={"contact_id": str})
    missing = [c for c in TRUTH_REQUIRED if c not in frame.columns]
    if missing:
        raise TruthFileError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the output of `growthlab sandbox truth`"
        )
    return frame


def champion_vs_oracle(
    warehouse_url: str, truth_path: str | Path, as_of: date | None = None
) -> OracleComparison:
    """Compare ml.lead_scores (scored at `as_of` or later, when given) with the truth in `truth_path`."""
    from growthlab.sandbox.truth import expected_auc

    truth = read_truth(truth_path)
    query = "select contact_id, probability, model_version from ml.lead_scores"
    params: tuple = ()
    if as_of is not None:
        query += " where as_of_date >= %s"
        params = (as_of,)
    with connect(warehouse_url) as conn:
        rows = conn.execute(query, params).fetchall()
    scores = pd.DataFrame(rows, columns=["contact_id", "probability", "model_version"])
    joined = truth.merge(scores, on="contact_id", how="left")
    unscored = int(joined["probability"].isna().sum())
    joined = joined.dropna(subset=["probability"])
    if joined.empty:
        raise TruthFileError(
            f"{truth_path}: none of its {len(truth):,} contacts has a score in ml.lead_scores"
            + (f" as of {as_of} or later" if as_of else "")
            + "; run the lead_scoring DAG first"
        )
    y = joined["converted"].to_numpy(dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise TruthFileError(f"{truth_path}: the scored contacts hold a single outcome; AUC is undefined")
    p_model = joined["probability"].to_numpy(dtype=np.float64)
    p_true = joined["propensity"].to_numpy(dtype=np.float64)
    model = evaluate(y, p_model)
    oracle = evaluate(y, p_true)
    versions = sorted(set(joined["model_version"].astype(str)), key=lambda v: (len(v), v))
    return OracleComparison(
        contacts=len(joined),
        converted=int(y.sum()),
        model_version="/".join(versions),
        model_auc=model.roc_auc,
        oracle_auc=oracle.roc_auc,
        model_expected_auc=expected_auc(p_true, p_model),
        oracle_expected_auc=expected_auc(p_true, p_true),
        ece=model.ece,
        mean_score=float(p_model.mean()),
        conversion_rate=float(y.mean()),
        unscored=unscored,
    )
