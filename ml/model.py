"""The served model: three LightGBM boosters, a calibrator, grade thresholds and drift references.

What is registered in MLflow is one pyfunc (`LeadScoringModel`) whose artifacts are this bundle,
so `models:/lead_scoring@champion` *is* the calibrated model: any consumer (the scoring DAG,
`mlflow models serve`, a notebook) gets calibrated probabilities, the fit and engagement scores
and the grade, never a raw booster whose probabilities are skewed by class weighting. The boosters
are stored as LightGBM text files, readable without pickle and across LightGBM versions.

* `probability`: the main booster on every feature, calibrated on held-out rows (ml/calibrate.py).
* `fit_score`, `engagement_score` (0-100): percentile rank, among the out-of-fold predictions of the training rows, of a booster
  trained on the fit features only (who they are) and one on the engagement features only (what
  they did). Separate models rather than shares of the main model's contributions, because they
  exist for every contact on every run without TreeSHAP, and because a fit score must not move
  when a contact opens an email.
* `grade`: A = top 10% of the out-of-fold calibrated probabilities of the training rows, B = next 20%,
  C = next 30%, D = the rest; the thresholds are fixed at training time and stored here, so a
  grade means the same thing for every contact scored by one model version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd

from ml.calibrate import Calibrator
from ml.config import threads_for
from ml.drift import DriftReference
from ml.features import FeatureEncoder

GRADE_SHARES = {"A": 0.10, "B": 0.20, "C": 0.30}  # D: the remaining 40%
GRADES = ("A", "B", "C", "D")


def grade_thresholds(probabilities: np.ndarray) -> dict[str, float]:
    """Lower bounds of grades A, B, C from the reference distribution of probabilities."""
    p = np.asarray(probabilities, dtype=np.float64)
    cumulative = 0.0
    out = {}
    for grade in ("A", "B", "C"):
        cumulative += GRADE_SHARES[grade]
        out[grade] = float(np.quantile(p, 1.0 - cumulative))
    return out


def assign_grades(probabilities: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    return np.where(
        p >= thresholds["A"],
        "A",
        np.where(p >= thresholds["B"], "B", np.where(p >= thresholds["C"], "C", "D")),
    )


def percentile_reference(scores: np.ndarray, points: int = 101) -> list[float]:
    return np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0, 1, points)).tolist()


def percentile_rank(scores: np.ndarray, reference: list[float]) -> np.ndarray:
    """0-100: where each score falls in the reference distribution (linear between quantiles)."""
    ref = np.asarray(reference)
    grid = np.linspace(0, 100, len(ref))
    # np.interp needs increasing x; equal quantiles (ties) are spread by taking unique values.
    xs, idx = np.unique(ref, return_index=True)
    if len(xs) == 1:
        return np.full(len(scores), 50, dtype=np.int64)
    ranks = np.interp(np.asarray(scores, dtype=np.float64), xs, grid[idx])
    return np.clip(np.rint(ranks), 0, 100).astype(np.int64)


@dataclass
class Prediction:
    margin: np.ndarray
    probability: np.ndarray
    fit_score: np.ndarray
    engagement_score: np.ndarray
    grade: np.ndarray


@dataclass
class ScoringBundle:
    encoder: FeatureEncoder
    main: lgb.Booster
    fit: lgb.Booster
    engagement: lgb.Booster
    fit_columns: list[int]
    engagement_columns: list[int]
    calibrator: Calibrator
    thresholds: dict[str, float]
    fit_reference: list[float]
    engagement_reference: list[float]
    drift: DriftReference
    metadata: dict = field(default_factory=dict)
    # The same recipe fitted without the newest labelled dates, when this bundle was refitted on
    # all of them (ml/train.refit_on_all_dates): what holdout metrics and the gate judge.
    evaluation: ScoringBundle | None = None

    @property
    def judged(self) -> ScoringBundle:
        """The bundle to measure on a holdout: never one that was fitted on it."""
        return self.evaluation if self.evaluation is not None else self

    @property
    def features(self) -> list[str]:
        return self.encoder.features

    def predict_matrix(self, X: np.ndarray) -> Prediction:
        threads = threads_for(len(X))
        margin = self.main.predict(X, raw_score=True, num_threads=threads)
        fit_raw = self.fit.predict(X[:, self.fit_columns], raw_score=True, num_threads=threads)
        engagement_raw = self.engagement.predict(
            X[:, self.engagement_columns], raw_score=True, num_threads=threads
        )
        return self.prediction(margin, fit_raw, engagement_raw)

    def prediction(self, margin: np.ndarray, fit_raw: np.ndarray, engagement_raw: np.ndarray) -> Prediction:
        """The served outputs from the three boosters' raw scores (margins)."""
        probability = self.calibrator(margin)
        return Prediction(
            margin=margin,
            probability=probability,
            fit_score=percentile_rank(fit_raw, self.fit_reference),
            engagement_score=percentile_rank(engagement_raw, self.engagement_reference),
            grade=assign_grades(probability, self.thresholds),
        )

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        pred = self.predict_matrix(self.encoder.transform(frame))
        return pd.DataFrame(
            {
                "probability": pred.probability,
                "fit_score": pred.fit_score,
                "engagement_score": pred.engagement_score,
                "grade": pred.grade.astype(object),
            },
            index=frame.index,
        )

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions to the main margin: n x (features + 1), bias last."""
        return self.main.predict(X, pred_contrib=True, num_threads=threads_for(len(X)))

    # -- persistence ---------------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.main.save_model(str(folder / "main.txt"))
        self.fit.save_model(str(folder / "fit.txt"))
        self.engagement.save_model(str(folder / "engagement.txt"))
        data = {
            "format": 1,
            "encoder": self.encoder.to_dict(),
            "fit_columns": self.fit_columns,
            "engagement_columns": self.engagement_columns,
            "calibrator": self.calibrator.to_dict(),
            "thresholds": self.thresholds,
            "fit_reference": self.fit_reference,
            "engagement_reference": self.engagement_reference,
            "drift": self.drift.to_dict(),
            "metadata": self.metadata,
            "evaluation": "evaluation" if self.evaluation is not None else None,
        }
        if self.evaluation is not None:
            self.evaluation.save(folder / "evaluation")
        (folder / "bundle.json").write_text(json.dumps(data, indent=1, default=str))
        return folder

    @classmethod
    def load(cls, folder: Path) -> ScoringBundle:
        folder = Path(folder)
        data = json.loads((folder / "bundle.json").read_text())
        if data.get("format") != 1:
            raise ValueError(
                f"{folder}/bundle.json has format {data.get('format')!r}; this code reads format 1"
            )
        return cls(
            encoder=FeatureEncoder.from_dict(data["encoder"]),
            main=lgb.Booster(model_file=str(folder / "main.txt")),
            fit=lgb.Booster(model_file=str(folder / "fit.txt")),
            engagement=lgb.Booster(model_file=str(folder / "engagement.txt")),
            fit_columns=list(data["fit_columns"]),
            engagement_columns=list(data["engagement_columns"]),
            calibrator=Calibrator.from_dict(data["calibrator"]),
            thresholds={k: float(v) for k, v in data["thresholds"].items()},
            fit_reference=list(data["fit_reference"]),
            engagement_reference=list(data["engagement_reference"]),
            drift=DriftReference.from_dict(data["drift"]),
            metadata=data.get("metadata", {}),
            evaluation=cls.load(folder / data["evaluation"]) if data.get("evaluation") else None,
        )


class LeadScoringModel(mlflow.pyfunc.PythonModel):
    """The registered pyfunc: a feature frame in, probability / fit / engagement / grade out."""

    bundle: ScoringBundle | None = None

    def load_context(self, context) -> None:
        self.bundle = ScoringBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        if self.bundle is None:
            self.load_context(context)
        return self.bundle.predict_frame(pd.DataFrame(model_input))
