"""Monthly retraining of the lead-scoring model, with the champion/challenger gate."""

from __future__ import annotations

from airflow.sdk import dag, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url

DOC = """
### lead_model_train

Retrains the lead-scoring model on `marts.lead_features` once a month (ml/, docs/architecture.md).

1. **train_and_register**: time-based split of the labelled as-of dates (training dates, a 90-day
   purge gap, the newest labelled date as holdout); on the training dates k folds grouped by
   company give early stopping and the out-of-fold margins Platt calibration is fitted on; leakage
   check; LightGBM (main, fit-only, engagement-only) with class weighting. One MLflow run (params,
   data window, row counts, metrics, calibration curve, feature importance, SHAP summary); the
   calibrated pyfunc registered as a new version of `lead_scoring`, alias `challenger`.
2. **gate**: evaluates the new version and the `champion` on the same holdout; promotes only if ROC
   AUC improves by GROWTHLAB_ML_GATE_MIN_AUC_GAIN without worse calibration. The decision and both
   sets of numbers are tagged on the version and written to `ops.audit_log`.

"Now" is the run's `data_interval_end`. Idempotent: a second run for the same date on the same data
returns the version trained the first time, and a version is gated once.
"""


@dag(
    dag_id="lead_model_train",
    schedule="@monthly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "ml", "lead_scoring"],
    doc_md=DOC,
)
def lead_model_train():
    @task
    def train_and_register(data_interval_end=None, logical_date=None) -> dict:
        from ml.airflow_tasks import train_task

        return train_task(warehouse_url(), data_interval_end or logical_date)

    @task
    def gate(trained: dict) -> dict:
        from ml.airflow_tasks import gate_task

        return gate_task(warehouse_url(), trained["version"])

    gate(train_and_register())


lead_model_train()
