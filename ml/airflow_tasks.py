"""Bodies of the lead_model_train and lead_scoring tasks (the DAG files only wire them).

Each returns a small JSON-able summary for XCom (never data); each raises AirflowSkipException
when there is legitimately nothing to do, so the run shows it instead of failing or hiding it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

log = logging.getLogger(__name__)


def _day(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value


def _skip(message: str):
    from airflow.exceptions import AirflowSkipException

    log.warning(message)
    return AirflowSkipException(message)


def train_task(url: str, now: datetime | date | None) -> dict:
    from ml.config import ml_settings
    from ml.retrain import run_training

    day = _day(now)
    if day is None:
        raise ValueError("the training run has no data_interval_end nor logical date")
    result = run_training(url, day, ml_settings(), actor="lead_model_train.train_and_register")
    return result.as_dict()


def gate_task(url: str, version: str) -> dict:
    from ml.config import ml_settings
    from ml.retrain import run_gate_for

    decision = run_gate_for(url, version, ml_settings(), actor="lead_model_train.gate")
    return {"version": decision.version, "decision": decision.decision, "reason": decision.reason}


def score_task(url: str, now: datetime | date | None) -> dict:
    from ml.config import ml_settings
    from ml.score import NothingToScore, run_scoring

    try:
        result = run_scoring(url, ml_settings(), _day(now))
    except NothingToScore as exc:
        raise _skip(str(exc)) from None
    return {
        "as_of_date": result.as_of_date.isoformat(),
        "model_version": result.model_version,
        "rows_scored": result.rows_scored,
        "rows_written": result.rows_written,
        "rows_reasoned": result.rows_reasoned,
        "rows_removed": result.rows_removed,
        "max_psi": result.max_psi,
    }


def drift_task(url: str, scored: dict) -> list:
    from ml.config import ml_settings
    from ml.drift import raise_drift_alerts

    settings = ml_settings()
    drifted = raise_drift_alerts(
        url, date.fromisoformat(scored["as_of_date"]), scored["model_version"], settings.psi_alert
    )
    return [[subject, value] for subject, value in drifted]


def push_task(url: str, host: str | None, token: str | None) -> dict:
    from ml.config import ml_settings
    from ml.hubspot_push import make_api, push_changed_scores

    if not token:
        raise _skip(
            "the Airflow connection `hubspot` has no token: scores are not pushed (set GROWTHLAB_HUBSPOT_TOKEN "
            "or start the sandbox); they stay pending and go out on the next run that has one"
        )
    settings = ml_settings()
    api = make_api(host or "", token, settings.hubspot_requests_per_10s)
    return push_changed_scores(
        url, api, settings.hubspot_batch_size, actor="lead_scoring.push_to_hubspot"
    ).as_dict()
