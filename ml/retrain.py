"""Monthly retraining, end to end: read the mart, fit, log to MLflow, register, gate.

`train_and_register` takes a frame (so a caller can train on any labelled data, e.g. a replay or a
test), `run_training` reads it from the warehouse first; `run_gate_for` re-reads the version's
holdout and applies the champion/challenger gate. Running training twice for the same as-of date
on the same data returns the version registered the first time (idempotent DAG runs); `force`
trains anyway.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date

import pandas as pd

from ml.config import MLSettings
from ml.data import read_rows_at, read_training_frame
from ml.evaluate import Metrics
from ml.registry import GateDecision, register, run_gate, version_tags
from ml.split import TimeSplit
from ml.tracking import client, ensure_experiment, log_training, quiet
from ml.train import fit_bundle, plan_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    version: str
    run_id: str
    holdout_date: str
    metrics: dict[str, float]
    excluded_features: list[str]
    reused: bool = False

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "run_id": self.run_id,
            "holdout_date": self.holdout_date,
            "metrics": self.metrics,
            "excluded_features": self.excluded_features,
            "reused": self.reused,
        }


def fingerprint(frame: pd.DataFrame, split: TimeSplit) -> str:
    """Identifies the training data: row hashes of the frame plus the split."""
    digest = hashlib.sha256()
    ordered = frame.sort_values(["as_of_date", "contact_id"], kind="mergesort").reset_index(drop=True)
    digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    digest.update(repr(split.as_dict()).encode())
    return digest.hexdigest()[:32]


def _existing(settings: MLSettings, now: date, fp: str) -> TrainingResult | None:
    c = client(settings)
    experiment_id = ensure_experiment(settings)
    with quiet():
        runs = c.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`growthlab.as_of` = '{now.isoformat()}' and tags.`growthlab.data_fingerprint` = '{fp}' "
                f"and attributes.status = 'FINISHED'"
            ),
            max_results=5,
        )
    for run in runs:
        version = run.data.tags.get("growthlab.registered_version")
        if version and run.data.tags.get("growthlab.model_name") == settings.model_name:
            return TrainingResult(
                version=version,
                run_id=run.info.run_id,
                holdout_date=run.data.params.get("holdout_date", ""),
                metrics={k: v for k, v in run.data.metrics.items() if k.startswith("holdout_")},
                excluded_features=[
                    f
                    for f in run.data.params.get("excluded_features", "none").split(",")
                    if f and f != "none"
                ],
                reused=True,
            )
    return None


def train_and_register(
    frame: pd.DataFrame, now: date, settings: MLSettings, actor: str, force: bool = False
) -> TrainingResult:
    split = plan_for(frame, now, settings)
    fp = fingerprint(frame, split)
    if not force:
        existing = _existing(settings, now, fp)
        if existing is not None:
            log.info(
                "as of %s on the same data: version %s already trained (run %s)",
                now,
                existing.version,
                existing.run_id,
            )
            return existing
    log.info(
        "training as of %s: train %s..%s (%d dates), holdout %s (purge %d days)",
        now,
        split.train[0],
        split.train[-1],
        len(split.train),
        split.holdout,
        split.purge_days,
    )
    trained = fit_bundle(frame, split, settings)
    run_id, model_uri, model_id = log_training(trained, settings, now, fp, actor)
    holdout: Metrics = trained.report.holdout
    version = register(
        settings,
        model_uri,
        model_id,
        run_id,
        {
            "as_of": now.isoformat(),
            "holdout_date": split.holdout.isoformat(),
            "holdout_roc_auc": f"{holdout.roc_auc:.6f}",
            "holdout_pr_auc": f"{holdout.pr_auc:.6f}",
            "holdout_ece": f"{holdout.ece:.6f}",
            "holdout_brier": f"{holdout.brier:.6f}",
            "excluded_features": ",".join(trained.report.leakage.excluded) or "none",
        },
    )
    c = client(settings)
    with quiet():
        c.set_tag(run_id, "growthlab.registered_version", version)
        c.set_tag(run_id, "growthlab.model_name", settings.model_name)
    return TrainingResult(
        version=version,
        run_id=run_id,
        holdout_date=split.holdout.isoformat(),
        metrics=holdout.as_dict("holdout_"),
        excluded_features=trained.report.leakage.excluded,
    )


def run_training(
    url: str, now: date, settings: MLSettings, actor: str, force: bool = False
) -> TrainingResult:
    frame = read_training_frame(url, now, settings.label_horizon_days)
    return train_and_register(frame, now, settings, actor, force=force)


def run_gate_for(
    url: str, version: str, settings: MLSettings, actor: str, force: bool = False
) -> GateDecision:
    """Gate a registered version on its own holdout date, re-read from the warehouse."""
    holdout_date = version_tags(settings, version).get("holdout_date")
    if not holdout_date:
        raise RuntimeError(
            f"{settings.model_name} v{version} has no holdout_date tag: was it registered by growthlab?"
        )
    holdout = read_rows_at(url, date.fromisoformat(holdout_date), labelled=True)
    if holdout.empty:
        raise RuntimeError(
            f"marts.lead_features has no labelled rows at {holdout_date} any more; cannot gate v{version}"
        )
    return run_gate(settings, version, holdout, holdout_date, url, actor, force=force)
