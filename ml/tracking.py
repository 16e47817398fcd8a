"""MLflow plumbing: where tracking lives, the experiment, logging a training run, staying quiet.

The tracking and registry URI come from MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI (growthlab's
Airflow environment sets both to the `mlflow` Postgres database); outside Airflow they default to
that database of the configured warehouse. A database tracking store has no sensible artifact
default, so the experiment is created with an explicit `artifact_location` under
GROWTHLAB_MLFLOW_ARTIFACTS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from ml.config import MLSettings

log = logging.getLogger(__name__)

NOISY_LOGGERS = ("mlflow", "alembic", "urllib3", "git", "sqlalchemy.engine", "matplotlib", "PIL")
# No tqdm bars in task logs when MLflow copies artifacts.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def tracking_uri(settings: MLSettings) -> str:
    if settings.tracking_uri:
        return settings.tracking_uri
    from growthlab.warehouse.db import resolve_urls, sqlalchemy_url

    return sqlalchemy_url(resolve_urls().mlflow, "psycopg2")


def registry_uri(settings: MLSettings) -> str:
    return settings.registry_uri or tracking_uri(settings)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep task logs readable: MLflow, Alembic and friends only speak up for warnings and errors."""
    saved = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def client(settings: MLSettings):
    """An MlflowClient on the configured stores; the fluent API is pointed at them too."""
    import mlflow
    from mlflow import MlflowClient

    with quiet():
        mlflow.set_tracking_uri(tracking_uri(settings))
        mlflow.set_registry_uri(registry_uri(settings))
        return MlflowClient(tracking_uri=tracking_uri(settings), registry_uri=registry_uri(settings))


def ensure_experiment(settings: MLSettings) -> str:
    """The experiment's id, created with an explicit artifact location if it does not exist."""
    mlflow_client = client(settings)
    with quiet():
        experiment = mlflow_client.get_experiment_by_name(settings.experiment_name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                mlflow_client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        location = Path(settings.artifacts_dir) / settings.experiment_name
        location.mkdir(parents=True, exist_ok=True)
        try:
            return mlflow_client.create_experiment(
                settings.experiment_name, artifact_location=location.as_uri()
            )
        except Exception:  # created concurrently by another process: use theirs
            experiment = mlflow_client.get_experiment_by_name(settings.experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id


def pip_requirements() -> list[str]:
    """Pinned from this environment: no requirement inference (it would import and run the model)."""
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}"
        for name in ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn", "pyarrow")
    ]


def model_signature(bundle):
    """The pyfunc's contract, from the feature lists rather than inferred from a few rows: every
    numeric feature is a double and every categorical one a string, both nullable (a missing value
    is information the model handles)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("string" if f in bundle.encoder.categories else "double", f, required=False)
            for f in bundle.features
        ]
    )
    outputs = Schema(
        [
            ColSpec("double", "probability"),
            ColSpec("long", "fit_score"),
            ColSpec("long", "engagement_score"),
            ColSpec("string", "grade"),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(bundle, frame, rows: int = 5):
    """A few real rows in the signature's types (numeric as float64, categories as strings)."""
    import pandas as pd

    example = frame[bundle.features].head(rows).reset_index(drop=True).copy()
    for name in bundle.features:
        if name in bundle.encoder.categories:
            example[name] = example[name].astype(object).where(example[name].notna(), None)
        else:
            example[name] = pd.to_numeric(example[name], errors="coerce").astype("float64")
    return example


def log_training(
    trained,
    settings: MLSettings,
    now: date,
    fingerprint: str,
    actor: str,
) -> tuple[str, str, str]:
    """One MLflow run: params, data window, row counts, metrics, plots, the pyfunc model.

    Returns (run_id, model_uri, model_id).
    """
    import mlflow

    from ml.plots import calibration_figure, importance_figure, shap_summary_figure

    report = trained.report
    bundle = trained.bundle
    experiment_id = ensure_experiment(settings)
    split = report.split
    params = {
        **{f"lgb_{k}": v for k, v in report.params.items()},
        "as_of": now.isoformat(),
        "train_from": split.train[0].isoformat(),
        "train_to": split.train[-1].isoformat(),
        "train_dates": len(split.train),
        "holdout_date": split.holdout.isoformat(),
        "purge_days": split.purge_days,
        "label_horizon_days": settings.label_horizon_days,
        "calibration": settings.calibration,
        "n_features": len(report.features),
        "excluded_features": ",".join(report.leakage.excluded) or "none",
        "served_fit": f"every labelled date ({len(report.served['dates'])})"
        if report.served
        else "training dates",
    }
    metrics = {
        **report.holdout.as_dict("holdout_"),
        "holdout_fit_roc_auc": report.holdout_fit_auc,
        "holdout_engagement_roc_auc": report.holdout_engagement_auc,
        **{f"rows_{k}": v for k, v in report.rows.items()},
        **{f"positives_{k}": v for k, v in report.positives.items()},
        **{f"best_iteration_{k}": v for k, v in report.best_iterations.items()},
        **{f"cv_roc_auc_{k}": v for k, v in report.cv_auc.items()},
        **{f"cv_roc_auc_shape_{k}": v for k, v in report.shape_cv_auc.items()},
        **(
            {"rows_served": report.served["rows"], "positives_served": report.served["positives"]}
            if report.served
            else {}
        ),
        **{f"holdout_conversion_grade_{g}": r for g, r in report.grade_rates.items() if r == r},
    }
    y_hold = trained.holdout_frame["converted_90d"].to_numpy()
    X_hold = bundle.encoder.transform(trained.holdout_frame)
    with (
        quiet(),
        mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"lead_scoring as of {now.isoformat()}",
            tags={
                "growthlab.as_of": now.isoformat(),
                "growthlab.data_fingerprint": fingerprint,
                "growthlab.actor": actor,
            },
        ) as run,
    ):
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
        mlflow.log_dict(report.leakage.as_dict(), "leakage_report.json")
        mlflow.log_dict(split.as_dict(), "split.json")
        mlflow.log_dict(
            {"thresholds": bundle.thresholds, "grade_conversion_holdout": report.grade_rates},
            "grades.json",
        )
        for name, figure in (
            (
                "calibration_curve.png",
                calibration_figure(y_hold, trained.holdout_probability, f"holdout {split.holdout}"),
            ),
            ("feature_importance.png", importance_figure(bundle)),
            ("shap_summary.png", shap_summary_figure(bundle, X_hold, seed=settings.seed)),
        ):
            mlflow.log_figure(figure, name)
            import matplotlib.pyplot as plt

            plt.close(figure)
        example = input_example(bundle, trained.holdout_frame)
        signature = model_signature(bundle)
        with tempfile.TemporaryDirectory() as tmp:
            folder = bundle.save(Path(tmp) / "bundle")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(__file__).with_name("pyfunc_model.py")),
                artifacts={"bundle": str(folder)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
            )
    log.info("logged MLflow run %s (model %s)", run.info.run_id, info.model_uri)
    return run.info.run_id, info.model_uri, info.model_id
