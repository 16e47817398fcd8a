"""Fitting the lead-scoring bundle on a time split of `marts.lead_features` (pure: frames in, model out).

1. Rows are split by as-of date (ml/split.py): train, calibration, holdout, with purge gaps.
2. The leakage check (ml/leakage.py) scores each feature alone, fitted on train and evaluated on
   calibration rows; near-perfect ones are excluded unless allowed.
3. Three boosters on the training rows, early-stopped on calibration ROC AUC: the main one on every
   feature, one on the fit features, one on the engagement features. Class imbalance: positives are
   weighted by sqrt(negatives / positives), a middle ground between none (rare positives get few
   splits) and full balancing (noisy, over-weights a few hundred positives); ranking is what early
   stopping watches, so the weighting cannot stop it early.
4. Platt (or isotonic) calibration of the main margin on the calibration rows.
5. Grade thresholds, fit/engagement percentile references and drift references from the
   calibration and training rows; metrics on the holdout.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ml.calibrate import fit_calibrator
from ml.config import MLSettings, threads_for
from ml.drift import build_reference
from ml.evaluate import Metrics, evaluate
from ml.features import (
    CATEGORICAL,
    ENGAGEMENT_FEATURES,
    FEATURES,
    FIT_FEATURES,
    LABEL,
    FeatureEncoder,
    assert_no_label_features,
)
from ml.leakage import LeakageReport, check_leakage
from ml.model import GRADES, ScoringBundle, assign_grades, grade_thresholds, percentile_reference
from ml.split import InsufficientHistory, TimeSplit, labelled_dates, plan_split

log = logging.getLogger(__name__)

EARLY_STOPPING_ROUNDS = 50
MAX_ROUNDS = 2000


def booster_params(n_rows: int, positives: int, seed: int) -> dict:
    negatives = max(n_rows - positives, 1)
    return {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": int(min(200, max(20, n_rows // 250))),
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "cat_smooth": 10.0,
        "cat_l2": 10.0,
        "min_data_per_group": 50,
        "max_cat_threshold": 32,
        "scale_pos_weight": math.sqrt(negatives / max(positives, 1)),
        "seed": seed,
        "deterministic": True,
        "num_threads": threads_for(n_rows),
        "force_col_wise": True,
        "verbosity": -1,
    }


def fit_booster(
    X: np.ndarray,
    y: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    categorical: list[int],
    seed: int,
    rounds: int | None = None,
) -> lgb.Booster:
    """Early-stopped on validation ROC AUC (or a fixed number of rounds when given)."""
    params = booster_params(len(y), int(np.sum(y)), seed)
    train = lgb.Dataset(X, y, feature_name=names, categorical_feature=categorical, free_raw_data=True)
    if rounds is not None:
        return lgb.train(params, train, num_boost_round=rounds)
    valid = lgb.Dataset(X_valid, y_valid, reference=train)
    return lgb.train(
        params,
        train,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid],
        valid_names=["calibration"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)],
    )


@dataclass
class TrainingReport:
    split: TimeSplit
    rows: dict[str, int]
    positives: dict[str, int]
    features: list[str]
    leakage: LeakageReport
    holdout: Metrics
    holdout_fit_auc: float
    holdout_engagement_auc: float
    grade_rates: dict[str, float]
    best_iterations: dict[str, int]
    params: dict = field(default_factory=dict)


@dataclass
class TrainedModel:
    bundle: ScoringBundle
    report: TrainingReport
    holdout_frame: pd.DataFrame
    holdout_probability: np.ndarray


def label_array(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL].to_numpy(dtype=np.int64)


def partition(frame: pd.DataFrame, split: TimeSplit) -> dict[str, pd.DataFrame]:
    as_of = pd.to_datetime(frame["as_of_date"]).dt.date
    return {
        "train": frame[as_of.isin(split.train)],
        "calibration": frame[as_of.isin(split.calibration)],
        "holdout": frame[as_of == split.holdout],
    }


def plan_for(frame: pd.DataFrame, now: date, settings: MLSettings) -> TimeSplit:
    dates = pd.to_datetime(frame["as_of_date"]).dt.date.unique()
    return plan_split(labelled_dates(dates, now, settings.label_horizon_days), settings.purge_days)


def fit_bundle(
    frame: pd.DataFrame,
    split: TimeSplit,
    settings: MLSettings,
    features: Sequence[str] = FEATURES,
) -> TrainedModel:
    """Fit the scoring bundle on a labelled frame (keys, features, label) and its time split."""
    assert_no_label_features(features)
    parts = partition(frame, split)
    for role, part in parts.items():
        y = label_array(part)
        if len(part) == 0 or y.min() == y.max():
            raise InsufficientHistory(
                f"the {role} rows ({', '.join(map(str, getattr(split, role) if role != 'holdout' else [split.holdout]))}) "
                f"hold {len(part)} rows and {int(y.sum()) if len(y) else 0} conversions: both classes are needed"
            )
    train, cal, hold = parts["train"], parts["calibration"], parts["holdout"]
    y_train, y_cal, y_hold = label_array(train), label_array(cal), label_array(hold)

    # Leakage: every candidate feature alone, fitted on train, scored on calibration rows.
    full = FeatureEncoder.fit(train, list(features), CATEGORICAL)
    Xf_train, Xf_cal = full.transform(train), full.transform(cal)

    def others_auc(subset: list[str]) -> float:
        """AUC on calibration rows of a booster on `subset`, early-stopped on those same rows: if
        anything optimistic, so a feature is called suspect only when it clearly beats the rest."""
        idx = [full.features.index(f) for f in subset]
        cats = [i for i, j in enumerate(idx) if full.features[j] in full.categories]
        train_set = lgb.Dataset(Xf_train[:, idx], y_train, feature_name=subset, categorical_feature=cats)
        quick = lgb.train(
            {**booster_params(len(y_train), int(y_train.sum()), settings.seed), "learning_rate": 0.1},
            train_set,
            num_boost_round=500,
            valid_sets=[lgb.Dataset(Xf_cal[:, idx], y_cal, reference=train_set)],
            callbacks=[lgb.early_stopping(20, first_metric_only=True, verbose=False)],
        )
        return float(
            roc_auc_score(y_cal, quick.predict(Xf_cal[:, idx], num_threads=threads_for(len(Xf_cal))))
        )

    leakage = check_leakage(
        train,
        y_train,
        list(features),
        CATEGORICAL,
        threshold=settings.leakage_auc,
        allow=settings.leakage_allow,
        others_auc=others_auc,
        eval_frame=cal,
        eval_y=y_cal,
        seed=settings.seed,
    )
    for line in leakage.lines():
        (log.warning if leakage.flagged else log.info)("leakage check: %s", line)
    used = [f for f in features if f not in leakage.excluded]
    fit_used = [f for f in used if f in FIT_FEATURES]
    engagement_used = [f for f in used if f in ENGAGEMENT_FEATURES]
    if not fit_used or not engagement_used:
        raise ValueError(
            f"after the leakage check no {'fit' if not fit_used else 'engagement'} feature is left; "
            f"check marts.lead_features or allow features with GROWTHLAB_ML_LEAKAGE_ALLOW"
        )

    encoder = FeatureEncoder.fit(train, used, CATEGORICAL)
    X_train, X_cal, X_hold = encoder.transform(train), encoder.transform(cal), encoder.transform(hold)
    cats = encoder.categorical_indices
    fit_cols = [encoder.features.index(f) for f in fit_used]
    eng_cols = [encoder.features.index(f) for f in engagement_used]

    def sub(cols: list[int]) -> tuple[list[str], list[int]]:
        return [encoder.features[c] for c in cols], [i for i, c in enumerate(cols) if c in cats]

    main = fit_booster(X_train, y_train, X_cal, y_cal, encoder.features, cats, settings.seed)
    fit_names, fit_cats = sub(fit_cols)
    fit_model = fit_booster(
        X_train[:, fit_cols], y_train, X_cal[:, fit_cols], y_cal, fit_names, fit_cats, settings.seed
    )
    eng_names, eng_cats = sub(eng_cols)
    eng_model = fit_booster(
        X_train[:, eng_cols], y_train, X_cal[:, eng_cols], y_cal, eng_names, eng_cats, settings.seed
    )

    calibrator = fit_calibrator(
        main.predict(X_cal, raw_score=True, num_threads=threads_for(len(X_cal))), y_cal, settings.calibration
    )
    p_cal = calibrator(main.predict(X_cal, raw_score=True, num_threads=threads_for(len(X_cal))))
    thresholds = grade_thresholds(p_cal)
    bundle = ScoringBundle(
        encoder=encoder,
        main=main,
        fit=fit_model,
        engagement=eng_model,
        fit_columns=fit_cols,
        engagement_columns=eng_cols,
        calibrator=calibrator,
        thresholds=thresholds,
        fit_reference=percentile_reference(
            fit_model.predict(X_cal[:, fit_cols], raw_score=True, num_threads=threads_for(len(X_cal)))
        ),
        engagement_reference=percentile_reference(
            eng_model.predict(X_cal[:, eng_cols], raw_score=True, num_threads=threads_for(len(X_cal)))
        ),
        drift=build_reference(X_train, encoder.features, encoder.categories, p_cal),
        metadata={"split": split.as_dict()},
    )
    pred = bundle.predict_matrix(X_hold)
    grades = assign_grades(pred.probability, thresholds)
    grade_rates = {
        g: float(y_hold[grades == g].mean()) if np.any(grades == g) else float("nan") for g in GRADES
    }
    report = TrainingReport(
        split=split,
        rows={k: len(v) for k, v in parts.items()},
        positives={k: int(label_array(v).sum()) for k, v in parts.items()},
        features=used,
        leakage=leakage,
        holdout=evaluate(y_hold, pred.probability),
        holdout_fit_auc=float(
            roc_auc_score(
                y_hold,
                fit_model.predict(X_hold[:, fit_cols], raw_score=True, num_threads=threads_for(len(X_hold))),
            )
        ),
        holdout_engagement_auc=float(
            roc_auc_score(
                y_hold,
                eng_model.predict(X_hold[:, eng_cols], raw_score=True, num_threads=threads_for(len(X_hold))),
            )
        ),
        grade_rates=grade_rates,
        best_iterations={
            "main": main.best_iteration or main.current_iteration(),
            "fit": fit_model.best_iteration or fit_model.current_iteration(),
            "engagement": eng_model.best_iteration or eng_model.current_iteration(),
        },
        params=booster_params(len(y_train), int(y_train.sum()), settings.seed),
    )
    bundle.metadata.update(
        {
            "features": used,
            "excluded_features": leakage.excluded,
            "rows": report.rows,
            "positives": report.positives,
            "holdout": report.holdout.as_dict(),
        }
    )
    log.info(
        "trained on %d rows (%d conversions); holdout %s: ROC AUC %.3f, PR AUC %.3f, ECE %.4f",
        report.rows["train"],
        report.positives["train"],
        split.holdout,
        report.holdout.roc_auc,
        report.holdout.pr_auc,
        report.holdout.ece,
    )
    return TrainedModel(
        bundle=bundle, report=report, holdout_frame=hold, holdout_probability=pred.probability
    )
