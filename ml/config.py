"""Settings of lead scoring, from the environment (docs/configuration.md, section "Lead scoring").

Everything has a default that works on the embedded stack; the variables exist so that a team can
tighten the promotion gate or the drift threshold without touching code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from growthlab.config import ConfigError, Settings, get_settings


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _float(name: str, default: float, low: float, high: float) -> float:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. {default} or unset it") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside [{low}, {high}]; the default is {default}")
    return value


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; the default is {default}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside [{low}, {high}]; the default is {default}")
    return value


def _names(name: str) -> frozenset[str]:
    raw = _raw(name)
    if raw is None:
        return frozenset()
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class MLSettings:
    model_name: str = "lead_scoring"
    experiment_name: str = "lead_scoring"
    tracking_uri: str | None = None  # None: resolved from the warehouse settings when needed
    registry_uri: str | None = None
    artifacts_dir: Path = Path(".growthlab/mlartifacts")
    label_horizon_days: int = 90
    purge_days: int = 90  # gap between train, calibration and holdout as-of dates (>= label horizon)
    calibration: str = "platt"  # platt | isotonic
    refit_all_dates: bool = True  # serve the recipe refitted on every labelled date (ml/train.py)
    seed: int = 42
    # promotion gate
    min_auc_gain: float = 0.005
    max_ece_increase: float = 0.01
    max_brier_increase: float = 0.002
    # leakage check
    leakage_auc: float = 0.98
    leakage_allow: frozenset[str] = field(default_factory=frozenset)
    # scoring
    chunk_rows: int = 50_000
    psi_alert: float = 0.25
    hubspot_batch_size: int = 100
    hubspot_requests_per_10s: int = 100


CALIBRATIONS = ("platt", "isotonic")
SINGLE_THREAD_BELOW = 50_000


def threads_for(rows: int) -> int:
    """LightGBM threads for a job of `rows` rows: GROWTHLAB_ML_THREADS if set, else one thread below
    50k rows and every core above. OpenMP threads spin while they wait: on a busy machine (an Airflow
    worker running other tasks) a small job on all cores can be ten times slower than on one."""
    configured = _int("GROWTHLAB_ML_THREADS", 0, 0, 1024)
    if configured:
        return configured
    return 1 if rows < SINGLE_THREAD_BELOW else (os.cpu_count() or 1)


def ml_settings(settings: Settings | None = None) -> MLSettings:
    """Read the GROWTHLAB_ML_* variables (and MLflow's own URIs) into one object."""
    settings = settings or get_settings()
    calibration = (_raw("GROWTHLAB_ML_CALIBRATION") or "platt").lower()
    if calibration not in CALIBRATIONS:
        raise ConfigError(f"GROWTHLAB_ML_CALIBRATION={calibration!r}: use one of {', '.join(CALIBRATIONS)}")
    horizon = _int("GROWTHLAB_ML_LABEL_HORIZON_DAYS", 90, 1, 3650)
    purge = _int("GROWTHLAB_ML_PURGE_DAYS", horizon, 0, 3650)
    batch = _int("GROWTHLAB_ML_HUBSPOT_BATCH_SIZE", 100, 1, 100)
    return MLSettings(
        model_name=_raw("GROWTHLAB_ML_MODEL_NAME") or "lead_scoring",
        experiment_name=_raw("GROWTHLAB_ML_EXPERIMENT") or _raw("GROWTHLAB_ML_MODEL_NAME") or "lead_scoring",
        tracking_uri=_raw("MLFLOW_TRACKING_URI"),
        registry_uri=_raw("MLFLOW_REGISTRY_URI") or _raw("MLFLOW_TRACKING_URI"),
        artifacts_dir=settings.mlflow_artifacts_dir,
        label_horizon_days=horizon,
        purge_days=purge,
        calibration=calibration,
        refit_all_dates=_int("GROWTHLAB_ML_REFIT_ALL_DATES", 1, 0, 1) == 1,
        seed=_int("GROWTHLAB_ML_SEED", 42, 0, 2**31 - 1),
        min_auc_gain=_float("GROWTHLAB_ML_GATE_MIN_AUC_GAIN", 0.005, -1.0, 1.0),
        max_ece_increase=_float("GROWTHLAB_ML_GATE_MAX_ECE_INCREASE", 0.01, 0.0, 1.0),
        max_brier_increase=_float("GROWTHLAB_ML_GATE_MAX_BRIER_INCREASE", 0.002, 0.0, 1.0),
        leakage_auc=_float("GROWTHLAB_ML_LEAKAGE_AUC", 0.98, 0.5, 1.0),
        leakage_allow=_names("GROWTHLAB_ML_LEAKAGE_ALLOW"),
        chunk_rows=_int("GROWTHLAB_ML_CHUNK_ROWS", 50_000, 1_000, 5_000_000),
        psi_alert=_float("GROWTHLAB_ML_PSI_ALERT", 0.25, 0.0, 100.0),
        hubspot_batch_size=batch,
        hubspot_requests_per_10s=_int("GROWTHLAB_ML_HUBSPOT_REQUESTS_PER_10S", 100, 1, 190),
    )
