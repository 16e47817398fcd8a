"""Fitting the lead-scoring bundle on a time split of `marts.lead_features` (pure: frames in, model out).

1. Rows are split by as-of date (ml/split.py): training dates, a purge gap, the newest labelled
   date as holdout. The holdout is only ever used to measure.
2. The training rows are split into k folds grouped by company (a company's contacts, and a
   contact's rows at different dates, stay on one side). Out-of-fold predictions give early
   stopping (mean validation ROC AUC over the folds), the calibration rows and the reference
   distributions; each booster is then refitted on all training rows with the chosen rounds.
3. The leakage check (ml/leakage.py) scores each feature alone, out of fold; near-perfect ones are
   excluded unless allowed.
4. Three boosters: the main one on every feature, one on the fit features, one on the engagement
   features. Class imbalance: positives are weighted by sqrt(negatives / positives), a middle ground
   between none (rare positives get few splits) and full balancing (noisy, over-weights a few hundred
   positives); ranking is what early stopping watches, so the weighting cannot stop it early.
   The tree shape (TREE_SHAPES: stumps, i.e. an additive model, or small trees of 7 leaves) is
   chosen by cross-validated ROC AUC for the main booster and reused by the other two; both keep
   TreeSHAP cheap.
5. Platt (or isotonic) calibration of the main margin on the out-of-fold margins.
6. Grade thresholds, fit/engagement percentile references and drift references from the
   out-of-fold predictions and the training rows; metrics on the holdout.
7. The served model (GROWTHLAB_ML_REFIT_ALL_DATES, on by default): the same recipe refitted on
   every labelled date, the purge gap and the holdout included; the model of steps 1-6 travels
   with it as `evaluation`, which the holdout metrics and the promotion gate judge.
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
from sklearn.model_selection import GroupKFold

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
CV_FOLDS = 4


@dataclass(frozen=True)
class TreeShape:
    """How big each tree is and how far each step goes (more leaves: slower steps)."""

    num_leaves: int
    learning_rate: float
    sample_fraction: float = 0.8  # of rows (bagging) and of features, per tree; 1.0: no sampling

    def __str__(self) -> str:
        return f"{self.num_leaves} leaves, learning rate {self.learning_rate}"

    @property
    def key(self) -> str:
        return f"{self.num_leaves}_leaves"


# The shapes cross_fit chooses from by cross-validated ROC AUC. Stumps (2 leaves) make the booster an
# additive model in the features' (binned) effects, like a GAM: when the log-odds are close to a sum
# of per-feature effects (conversion hazards usually are) they need far fewer rows to estimate than
# trees that spend splits on interactions; small trees (7 leaves) win when interactions matter.
# Stumps do not sample rows or features: one split per tree is regularisation enough, and sampling
# only made the model depend on the order of the rows (measured on the sandbox world: the ROC AUC
# against the truth moved by 0.007 between two orders of the same rows; without sampling, not at all).
TREE_SHAPES = (TreeShape(2, 0.15, 1.0), TreeShape(7, 0.05, 0.8))


def booster_params(n_rows: int, positives: int, seed: int, shape: TreeShape = TREE_SHAPES[-1]) -> dict:
    negatives = max(n_rows - positives, 1)
    return {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": shape.learning_rate,
        "num_leaves": shape.num_leaves,
        "min_data_in_leaf": int(min(200, max(20, n_rows // 250))),
        "feature_fraction": shape.sample_fraction,
        "bagging_fraction": shape.sample_fraction,
        "bagging_freq": 1 if shape.sample_fraction < 1.0 else 0,
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


@dataclass
class CrossFit:
    booster: lgb.Booster  # refitted on every training row
    oof_margin: np.ndarray  # out-of-fold raw scores, one per training row
    rounds: int
    cv_auc: float
    shape: TreeShape
    shape_cv_auc: dict[str, float] = field(default_factory=dict)  # every candidate's, by shape.key
    params: dict = field(default_factory=dict)


def cross_fit(
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    names: list[str],
    categorical: list[int],
    seed: int,
    shapes: Sequence[TreeShape] = TREE_SHAPES,
) -> CrossFit:
    """For each tree shape, early stopping on the folds' mean validation ROC AUC; the shape with the
    best cross-validated AUC gives the out-of-fold margins and is refitted on every row."""
    dataset = lgb.Dataset(X, y, feature_name=names, categorical_feature=categorical, free_raw_data=False)
    best = None
    scores: dict[str, float] = {}
    for shape in shapes:
        params = booster_params(len(y), int(np.sum(y)), seed, shape)
        cv = lgb.cv(
            params,
            dataset,
            num_boost_round=MAX_ROUNDS,
            folds=folds,
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)],
            return_cvbooster=True,
        )
        auc = float(cv["valid auc-mean"][-1])
        scores[shape.key] = auc
        if best is None or auc > best[0]:
            best = (auc, shape, params, cv)
    auc, shape, params, cv = best
    rounds = len(cv["valid auc-mean"])
    oof = np.zeros(len(y))
    for booster, (_, other) in zip(cv["cvbooster"].boosters, folds, strict=True):
        oof[other] = booster.predict(
            X[other], raw_score=True, num_iteration=rounds, num_threads=threads_for(len(other))
        )
    final = lgb.train(
        params, lgb.Dataset(X, y, feature_name=names, categorical_feature=categorical), num_boost_round=rounds
    )
    if len(shapes) > 1:
        log.info(
            "tree shape: %s (cross-validated ROC AUC %s)",
            shape,
            ", ".join(f"{k}: {v:.4f}" for k, v in scores.items()),
        )
    return CrossFit(final, oof, rounds, auc, shape, scores, params)


def company_groups(frame: pd.DataFrame) -> np.ndarray:
    """The company of each row (the contact itself when it has none)."""
    company = frame["company_id"].astype(object)
    return company.where(company.notna(), "contact:" + frame["contact_id"].astype(str)).to_numpy()


def grouped_folds(
    frame: pd.DataFrame, y: np.ndarray, k: int = CV_FOLDS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds grouped by company (contact when it has none); each fold must hold both classes."""
    groups = company_groups(frame)
    n_groups = len(pd.unique(groups))
    k = max(2, min(k, n_groups))
    folds = list(GroupKFold(n_splits=k).split(np.zeros(len(y)), y, groups))
    for _, other in folds:
        if y[other].min() == y[other].max():
            raise InsufficientHistory(
                f"a cross-validation fold of the training rows holds a single class ({len(y)} rows, {int(y.sum())} "
                f"conversions): more labelled history is needed"
            )
    return folds


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
    cv_auc: dict[str, float]
    grade_rates: dict[str, float]
    best_iterations: dict[str, int]
    params: dict = field(default_factory=dict)
    shape_cv_auc: dict[str, float] = field(default_factory=dict)  # the main booster's candidates
    served: dict = field(default_factory=dict)  # the refit on every labelled date, when made


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
        "train": frame[as_of.isin(split.train)].reset_index(drop=True),
        "holdout": frame[as_of == split.holdout].reset_index(drop=True),
    }


def plan_for(frame: pd.DataFrame, now: date, settings: MLSettings) -> TimeSplit:
    dates = pd.to_datetime(frame["as_of_date"]).dt.date.unique()
    return plan_split(labelled_dates(dates, now, settings.label_horizon_days), settings.purge_days)


def _check_classes(parts: dict[str, pd.DataFrame], split: TimeSplit) -> None:
    for role, part in parts.items():
        y = label_array(part)
        if len(part) == 0 or y.min() == y.max():
            dates = split.train if role == "train" else (split.holdout,)
            raise InsufficientHistory(
                f"the {role} rows ({', '.join(map(str, dates))}) hold {len(part)} rows and "
                f"{int(y.sum()) if len(y) else 0} conversions: both classes are needed"
            )


@dataclass
class FittedRecipe:
    bundle: ScoringBundle
    main: CrossFit
    fit: CrossFit
    engagement: CrossFit
    rows: int
    positives: int


def fit_recipe(
    rows: pd.DataFrame,
    used: Sequence[str],
    settings: MLSettings,
    shapes: Sequence[TreeShape] = TREE_SHAPES,
    metadata: dict | None = None,
) -> FittedRecipe:
    """The three boosters, calibration, grade thresholds and references, fitted on `rows` (labelled)
    with the features `used`: steps 2 and 4-6 of the module docstring."""
    y = label_array(rows)
    folds = grouped_folds(rows, y)
    encoder = FeatureEncoder.fit(rows, list(used), CATEGORICAL)
    X = encoder.transform(rows)
    cats = encoder.categorical_indices
    fit_cols = [encoder.features.index(f) for f in used if f in FIT_FEATURES]
    eng_cols = [encoder.features.index(f) for f in used if f in ENGAGEMENT_FEATURES]

    main = cross_fit(X, y, folds, encoder.features, cats, settings.seed, shapes)

    def on(cols: list[int]) -> CrossFit:
        """The fit and engagement boosters, in the shape chosen for the main one."""
        names = [encoder.features[c] for c in cols]
        sub_cats = [i for i, c in enumerate(cols) if c in cats]
        return cross_fit(X[:, cols], y, folds, names, sub_cats, settings.seed, (main.shape,))

    fit_model = on(fit_cols)
    eng_model = on(eng_cols)
    calibrator = fit_calibrator(main.oof_margin, y, settings.calibration)
    p_oof = calibrator(main.oof_margin)
    bundle = ScoringBundle(
        encoder=encoder,
        main=main.booster,
        fit=fit_model.booster,
        engagement=eng_model.booster,
        fit_columns=fit_cols,
        engagement_columns=eng_cols,
        calibrator=calibrator,
        thresholds=grade_thresholds(p_oof),
        fit_reference=percentile_reference(fit_model.oof_margin),
        engagement_reference=percentile_reference(eng_model.oof_margin),
        drift=build_reference(X, encoder.features, encoder.categories, p_oof),
        metadata=dict(metadata or {}),
    )
    return FittedRecipe(bundle, main, fit_model, eng_model, len(y), int(y.sum()))


def fit_bundle(
    frame: pd.DataFrame,
    split: TimeSplit,
    settings: MLSettings,
    features: Sequence[str] = FEATURES,
) -> TrainedModel:
    """Fit the scoring bundle on a labelled frame (keys, features, label) and its time split."""
    assert_no_label_features(features)
    parts = partition(frame, split)
    _check_classes(parts, split)
    train, hold = parts["train"], parts["holdout"]
    y_train, y_hold = label_array(train), label_array(hold)
    folds = grouped_folds(train, y_train)

    # Leakage: every candidate feature alone, out of fold on the training rows.
    full = FeatureEncoder.fit(train, list(features), CATEGORICAL)
    Xf = full.transform(train)

    def others_auc(subset: list[str]) -> float:
        """Cross-validated AUC of a booster on `subset` at its early-stopped round: if anything
        optimistic, so a feature is called suspect only when it clearly beats the rest."""
        idx = [full.features.index(f) for f in subset]
        cats = [i for i, j in enumerate(idx) if full.features[j] in full.categories]
        result = lgb.cv(
            {**booster_params(len(y_train), int(y_train.sum()), settings.seed), "learning_rate": 0.1},
            lgb.Dataset(Xf[:, idx], y_train, feature_name=subset, categorical_feature=cats),
            num_boost_round=500,
            folds=folds,
            callbacks=[lgb.early_stopping(20, first_metric_only=True, verbose=False)],
        )
        return float(result["valid auc-mean"][-1])

    leakage = check_leakage(
        train,
        y_train,
        list(features),
        CATEGORICAL,
        threshold=settings.leakage_auc,
        allow=settings.leakage_allow,
        others_auc=others_auc,
        seed=settings.seed,
        groups=company_groups(train),
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

    fitted = fit_recipe(train, used, settings, metadata={"split": split.as_dict()})
    bundle, main, fit_model, eng_model = fitted.bundle, fitted.main, fitted.fit, fitted.engagement
    encoder, fit_cols, eng_cols = bundle.encoder, bundle.fit_columns, bundle.engagement_columns
    thresholds = bundle.thresholds
    X_hold = encoder.transform(hold)
    pred = bundle.predict_matrix(X_hold)
    grades = assign_grades(pred.probability, thresholds)
    grade_rates = {
        g: float(y_hold[grades == g].mean()) if np.any(grades == g) else float("nan") for g in GRADES
    }
    threads = threads_for(len(X_hold))
    report = TrainingReport(
        split=split,
        rows={k: len(v) for k, v in parts.items()},
        positives={k: int(label_array(v).sum()) for k, v in parts.items()},
        features=used,
        leakage=leakage,
        holdout=evaluate(y_hold, pred.probability),
        holdout_fit_auc=float(
            roc_auc_score(
                y_hold, fit_model.booster.predict(X_hold[:, fit_cols], raw_score=True, num_threads=threads)
            )
        ),
        holdout_engagement_auc=float(
            roc_auc_score(
                y_hold, eng_model.booster.predict(X_hold[:, eng_cols], raw_score=True, num_threads=threads)
            )
        ),
        cv_auc={"main": main.cv_auc, "fit": fit_model.cv_auc, "engagement": eng_model.cv_auc},
        grade_rates=grade_rates,
        best_iterations={"main": main.rounds, "fit": fit_model.rounds, "engagement": eng_model.rounds},
        params={**main.params, "cv_folds": len(folds)},
        shape_cv_auc=main.shape_cv_auc,
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
        "trained on %d rows (%d conversions, %d dates); holdout %s: ROC AUC %.3f, PR AUC %.3f, ECE %.4f",
        report.rows["train"],
        report.positives["train"],
        len(split.train),
        split.holdout,
        report.holdout.roc_auc,
        report.holdout.pr_auc,
        report.holdout.ece,
    )
    served = bundle
    if settings.refit_all_dates:
        served = refit_on_all_dates(frame, split, used, main.shape, bundle, settings)
        report.served = served.metadata["served_fit"]
    return TrainedModel(
        bundle=served, report=report, holdout_frame=hold, holdout_probability=pred.probability
    )


def refit_on_all_dates(
    frame: pd.DataFrame,
    split: TimeSplit,
    used: Sequence[str],
    shape: TreeShape,
    evaluated: ScoringBundle,
    settings: MLSettings,
) -> ScoringBundle:
    """The served model: the same recipe (features, tree shape) refitted on every labelled date,
    the purge gap and the holdout included, once `evaluated` (fitted without them) has been
    measured on the holdout. The newest labelled months are the most like today's contacts, and
    on the sandbox world they add a third of the converting contacts. `evaluated` travels with the
    served bundle (`ScoringBundle.evaluation`): the gate judges versions by it, on dates it never
    saw, so the holdout metrics stay honest."""
    dates = (*split.train, *split.unused, split.holdout)
    as_of = pd.to_datetime(frame["as_of_date"]).dt.date
    rows = frame[as_of.isin(dates)].reset_index(drop=True)
    refit = fit_recipe(rows, used, settings, shapes=(shape,), metadata=dict(evaluated.metadata))
    served = refit.bundle
    served.evaluation = evaluated
    served.metadata["served_fit"] = {
        "dates": [d.isoformat() for d in sorted(dates)],
        "rows": refit.rows,
        "positives": refit.positives,
        "rounds": {"main": refit.main.rounds, "fit": refit.fit.rounds, "engagement": refit.engagement.rounds},
        "cv_auc": refit.main.cv_auc,
    }
    log.info(
        "served model refitted on every labelled date (%s..%s): %d rows, %d conversions, %d rounds",
        dates[0],
        split.holdout,
        refit.rows,
        refit.positives,
        refit.main.rounds,
    )
    return served
