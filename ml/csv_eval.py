"""`growthlab model evaluate-csv`: the lead-scoring pipeline cross-validated on any table of leads.

For a cold start from a historical export (a CRM dump, a spreadsheet): any delimiter, mixed numeric
and categorical columns, missing values spelled in any common way, a binary target given by name.
The same components as the monthly model (ml/features encoding, the booster parameters, early
stopping, class weighting, Platt calibration) run in stratified k-fold cross-validation. There are
no as-of dates in such a file, so the inner folds are stratified rather than grouped by company;
otherwise it is `ml.train.cross_fit`: early stopping and calibration on out-of-fold predictions of
an inner 4-fold split of each training fold, then a refit on all its rows. A default-parameter
`LGBMClassifier` runs on the same folds as the baseline.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ml.calibrate import fit_calibrator
from ml.config import threads_for
from ml.evaluate import Metrics, evaluate
from ml.features import FeatureEncoder
from ml.leakage import LeakageReport, check_leakage
from ml.train import booster_params, cross_fit

log = logging.getLogger(__name__)

MISSING_TOKENS = frozenset(
    {
        "",
        "na",
        "n/a",
        "n.a.",
        "nan",
        "null",
        "none",
        "nil",
        "unknown",
        "unk",
        "missing",
        "?",
        "-",
        "--",
        "#n/a",
        "#na",
        "#null!",
        "not available",
        "undefined",
    }
)
TRUE_TOKENS = frozenset({"1", "yes", "y", "true", "t", "positive", "pos", "converted", "won"})
FALSE_TOKENS = frozenset({"0", "no", "n", "false", "f", "negative", "neg", "not converted", "lost"})
ID_LIKE_UNIQUE_SHARE = 0.9


class CsvError(ValueError):
    """The file cannot be evaluated as asked; the message names the file, column and fix."""


@dataclass
class PreparedTable:
    frame: pd.DataFrame  # feature columns: float64 numeric, string categorical
    y: np.ndarray
    numeric: list[str]
    categorical: list[str]
    delimiter: str
    rows_read: int
    rows_without_target: int
    missing_cells: int
    ignored: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    dropped: list[str] = field(default_factory=list)


@dataclass
class CvResult:
    name: str
    roc_auc: list[float]
    pr_auc: list[float]
    brier: list[float] = field(default_factory=list)
    ece: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        out = {}
        for key in ("roc_auc", "pr_auc", "brier", "ece"):
            values = getattr(self, key)
            if values:
                out[f"{key}_mean"] = float(np.mean(values))
                out[f"{key}_std"] = float(np.std(values))
        return out


@dataclass
class CsvEvaluation:
    path: str
    target: str
    table: PreparedTable
    folds: int
    pipeline: CvResult
    baseline: CvResult
    leakage: LeakageReport

    def as_dict(self) -> dict:
        t = self.table
        return {
            "path": self.path,
            "target": self.target,
            "rows": len(t.y),
            "positives": int(t.y.sum()),
            "delimiter": t.delimiter,
            "numeric_columns": t.numeric,
            "categorical_columns": t.categorical,
            "ignored_columns": t.ignored,
            "dropped_columns": t.dropped,
            "rows_without_target": t.rows_without_target,
            "missing_cells": t.missing_cells,
            "folds": self.folds,
            "pipeline": self.pipeline.summary(),
            "baseline_default_lightgbm": self.baseline.summary(),
            "leakage": self.leakage.as_dict(),
        }


def sniff_delimiter(path: Path) -> str:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(64 * 1024)
    if not sample.strip():
        raise CsvError(f"{path} is empty")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.splitlines()[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            raise CsvError(
                f"{path}: cannot tell the delimiter (tried , ; tab |); save it as comma-separated"
            ) from None
        return best


def _normalise(series: pd.Series) -> pd.Series:
    """Strip, and turn every spelling of 'missing' into NA."""
    text = series.astype("string").str.strip()
    return text.mask(text.str.lower().isin(MISSING_TOKENS))


_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?$")


def _as_number(text: pd.Series) -> pd.Series | None:
    """The column as float64 if every present value is a number (decimal comma and % allowed)."""
    present = text.dropna()
    if present.empty:
        return None
    cleaned = present.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    if not cleaned.str.match(_NUMBER).all():
        # thousands separators: 1,234,567 or 1.234.567
        return None
    has_dot = cleaned.str.contains(".", regex=False).any()
    has_comma = cleaned.str.contains(",", regex=False).any()
    if has_comma and not has_dot:
        cleaned = cleaned.str.replace(",", ".", regex=False)
    elif has_comma and has_dot:
        return None
    values = pd.to_numeric(cleaned.str.rstrip("%"), errors="coerce")
    if values.isna().any():
        return None
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    out.loc[values.index] = values.astype("float64")
    return out


def _target(raw: pd.Series, name: str, path: Path) -> np.ndarray:
    """1/0/NaN from yes/no/true/false/1/0 (any case)."""
    text = _normalise(raw).str.lower()
    present = text.dropna()
    values = set(present.unique())
    unknown = values - TRUE_TOKENS - FALSE_TOKENS
    if unknown or not values:
        examples = ", ".join(sorted(map(repr, list(unknown or values)))[:6]) or "(only missing values)"
        raise CsvError(
            f"{path}: target column {name!r} must be binary (yes/no, true/false or 1/0); found {examples}. "
            f"Choose a binary column with --target or recode it"
        )
    positive = {v for v in values if v in TRUE_TOKENS}
    if not positive or positive == values:
        raise CsvError(
            f"{path}: target column {name!r} has a single class ({', '.join(sorted(values))}); "
            f"a model needs both converted and not converted rows"
        )
    y = np.full(len(text), np.nan)
    mask = text.notna().to_numpy()
    y[mask] = text[mask].isin(TRUE_TOKENS).to_numpy().astype(float)
    return y


def prepare(path: Path, target: str, drop: list[str] | None = None) -> PreparedTable:
    """Read and type the file; decide which columns are features."""
    path = Path(path)
    if not path.is_file():
        raise CsvError(f"{path} does not exist or is not a file")
    delimiter = sniff_delimiter(path)
    raw = pd.read_csv(
        path,
        sep=delimiter,
        dtype=str,
        keep_default_na=False,
        na_values=[],
        encoding="utf-8-sig",
        skipinitialspace=True,
        engine="python" if len(delimiter) > 1 else "c",
    )
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = {c.lower(): c for c in raw.columns}
    if target not in raw.columns:
        if target.lower() in columns:
            target = columns[target.lower()]
        else:
            raise CsvError(f"{path}: no target column {target!r}; columns are: {', '.join(raw.columns)}")
    drop = [d.strip() for d in (drop or []) if d.strip()]
    unknown_drop = [d for d in drop if d not in raw.columns and d.lower() not in columns]
    if unknown_drop:
        raise CsvError(
            f"{path}: --drop names unknown column(s) {', '.join(unknown_drop)}; columns are: "
            f"{', '.join(raw.columns)}"
        )
    dropped = [d if d in raw.columns else columns[d.lower()] for d in drop]
    if target in dropped:
        raise CsvError(f"{path}: the target {target!r} cannot also be dropped")
    y_all = _target(raw[target], target, path)
    keep = ~np.isnan(y_all)
    frame = raw.loc[keep, [c for c in raw.columns if c != target and c not in dropped]].reset_index(drop=True)
    y = y_all[keep].astype(np.int64)

    out = pd.DataFrame(index=frame.index)
    numeric, categorical, ignored = [], [], {}
    missing_cells = 0
    for name in frame.columns:
        text = _normalise(frame[name])
        missing_cells += int(text.isna().sum())
        if text.notna().sum() == 0:
            ignored[name] = "every value is missing"
            continue
        number = _as_number(text)
        if number is not None:
            if number.nunique(dropna=True) <= 1:
                ignored[name] = "constant"
                continue
            out[name] = number
            numeric.append(name)
            continue
        present = text.dropna()
        if present.nunique() <= 1:
            ignored[name] = "constant"
            continue
        if present.nunique() >= ID_LIKE_UNIQUE_SHARE * len(present) and present.nunique() > 50:
            ignored[name] = "nearly every value is distinct (an identifier or free text)"
            continue
        out[name] = text
        categorical.append(name)
    if not numeric and not categorical:
        raise CsvError(f"{path}: no usable feature column besides the target {target!r}")
    return PreparedTable(
        frame=out,
        y=y,
        numeric=numeric,
        categorical=categorical,
        delimiter=delimiter,
        rows_read=len(raw),
        rows_without_target=int((~keep).sum()),
        missing_cells=missing_cells,
        ignored=ignored,
        dropped=dropped,
    )


def fit_pipeline_fold(
    X: np.ndarray, y: np.ndarray, names: list[str], cats: list[int], seed: int, calibration: str = "platt"
):
    """The monthly model's recipe (ml.train.cross_fit): early stopping and calibration from inner
    4-fold out-of-fold predictions, then a refit on all rows. Returns (booster, calibrator)."""
    inner = list(StratifiedKFold(n_splits=4, shuffle=True, random_state=seed).split(X, y))
    fitted = cross_fit(X, y, inner, names, cats, seed)
    return fitted.booster, fit_calibrator(fitted.oof_margin, y, calibration)


def _baseline_frame(table: PreparedTable) -> pd.DataFrame:
    frame = table.frame.copy()
    for name in table.categorical:
        frame[name] = frame[name].astype("category")
    return frame


def cross_validate(
    table: PreparedTable, folds: int = 5, seed: int = 42, calibration: str = "platt"
) -> tuple[CvResult, CvResult]:
    """(pipeline, default LightGBM baseline) on the same stratified folds."""
    y = table.y
    if int(y.sum()) < folds or int((1 - y).sum()) < folds:
        raise CsvError(
            f"too few rows of one class for {folds}-fold cross-validation ({int(y.sum())} positive, "
            f"{int((1 - y).sum())} negative); use --folds with a smaller number"
        )
    features = table.numeric + table.categorical
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    ours = CvResult("growthlab pipeline", [], [])
    base = CvResult("default LightGBM", [], [])
    base_frame = _baseline_frame(table)[features]
    for fold, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(y)), y)):
        train = table.frame.iloc[train_idx]
        test = table.frame.iloc[test_idx]
        encoder = FeatureEncoder.fit(train, features, set(table.categorical))
        X_train, X_test = encoder.transform(train), encoder.transform(test)
        booster, calibrator = fit_pipeline_fold(
            X_train, y[train_idx], encoder.features, encoder.categorical_indices, seed + fold, calibration
        )
        p = calibrator(booster.predict(X_test, raw_score=True, num_threads=threads_for(len(X_test))))
        m: Metrics = evaluate(y[test_idx], p)
        ours.roc_auc.append(m.roc_auc)
        ours.pr_auc.append(m.pr_auc)
        ours.brier.append(m.brier)
        ours.ece.append(m.ece)

        # default parameters; n_jobs only sets threads (see ml.config.threads_for), not the model
        default = lgb.LGBMClassifier(verbose=-1, random_state=seed, n_jobs=threads_for(len(train_idx)))
        default.fit(base_frame.iloc[train_idx], y[train_idx])
        pb = default.predict_proba(base_frame.iloc[test_idx])[:, 1]
        mb = evaluate(y[test_idx], pb)
        base.roc_auc.append(mb.roc_auc)
        base.pr_auc.append(mb.pr_auc)
        base.brier.append(mb.brier)
        base.ece.append(mb.ece)
    return ours, base


def leakage_for(table: PreparedTable, threshold: float, seed: int = 42) -> LeakageReport:
    features = table.numeric + table.categorical
    cats = set(table.categorical)
    y = table.y

    def others_auc(subset: list[str]) -> float:
        """3-fold CV AUC at the early-stopped iteration: if anything optimistic, so a feature is
        called suspect only when it clearly beats the rest."""
        encoder = FeatureEncoder.fit(table.frame, subset, cats)
        params = {**booster_params(len(y), int(y.sum()), seed), "learning_rate": 0.1}
        result = lgb.cv(
            params,
            lgb.Dataset(
                encoder.transform(table.frame),
                y,
                feature_name=encoder.features,
                categorical_feature=encoder.categorical_indices,
            ),
            num_boost_round=500,
            folds=StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(np.zeros(len(y)), y),
            callbacks=[lgb.early_stopping(20, first_metric_only=True, verbose=False)],
        )
        return float(result["valid auc-mean"][-1])

    return check_leakage(
        table.frame, y, features, cats, threshold=threshold, others_auc=others_auc, seed=seed
    )


def evaluate_csv(
    path: Path,
    target: str,
    drop: list[str] | None = None,
    folds: int = 5,
    seed: int = 42,
    leakage_threshold: float = 0.98,
    calibration: str = "platt",
) -> CsvEvaluation:
    if folds < 2:
        raise CsvError("--folds must be at least 2")
    table = prepare(Path(path), target, drop)
    leakage = leakage_for(table, leakage_threshold, seed)
    excluded = set(leakage.excluded)
    if excluded:
        table.numeric = [c for c in table.numeric if c not in excluded]
        table.categorical = [c for c in table.categorical if c not in excluded]
        for name in excluded:
            table.ignored[name] = "leak: predicts the target almost perfectly on its own"
    ours, base = cross_validate(table, folds, seed, calibration)
    return CsvEvaluation(str(path), target, table, folds, ours, base, leakage)


def render(result: CsvEvaluation) -> str:
    t = result.table
    p, b = result.pipeline.summary(), result.baseline.summary()
    lines = [
        f"{result.path}: {len(t.y):,} rows with a target ({int(t.y.sum()):,} positive, {t.y.mean():.1%}), "
        f"delimiter {t.delimiter!r}",
        f"features: {len(t.numeric)} numeric, {len(t.categorical)} categorical; "
        f"{t.missing_cells:,} cells read as missing",
    ]
    if t.dropped:
        lines.append(f"dropped by request: {', '.join(t.dropped)}")
    for name, why in t.ignored.items():
        lines.append(f"not used: {name} ({why})")
    if t.rows_without_target:
        lines.append(f"rows without a target value, left out: {t.rows_without_target:,}")
    lines += [
        "",
        f"{result.folds}-fold stratified cross-validation, the same folds for both:",
        f"  {'':<26}{'ROC AUC':>18}{'PR AUC':>18}",
        f"  {'growthlab pipeline':<26}{p['roc_auc_mean']:>10.4f} ± {p['roc_auc_std']:.4f}"
        f"{p['pr_auc_mean']:>10.4f} ± {p['pr_auc_std']:.4f}",
        f"  {'default LightGBM':<26}{b['roc_auc_mean']:>10.4f} ± {b['roc_auc_std']:.4f}"
        f"{b['pr_auc_mean']:>10.4f} ± {b['pr_auc_std']:.4f}",
        f"  difference in ROC AUC: {p['roc_auc_mean'] - b['roc_auc_mean']:+.4f}",
        f"  calibration of the pipeline: Brier {p['brier_mean']:.4f}, ECE {p['ece_mean']:.4f} "
        f"(default LightGBM: Brier {b['brier_mean']:.4f}, ECE {b['ece_mean']:.4f})",
        "",
        "leakage report:",
        *[f"  {line}" for line in result.leakage.lines()],
    ]
    return "\n".join(lines)
