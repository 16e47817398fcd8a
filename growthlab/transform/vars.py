"""The dbt vars growthlab passes: the as-of date of `lead_features`, and how Airflow templates it."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

# Cosmos renders operator `vars` as Jinja in the task's context. A run's "now" is its
# data_interval_end, else its logical date, else when it was due (asset-triggered runs have neither);
# `dag_run.conf["as_of_date"]` overrides all three (manual backfills).
AS_OF_DATE_TEMPLATE = (
    "{{ (dag_run.conf or {}).get('as_of_date') or "
    "(data_interval_end or logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}"
)


def as_of_date_str(value: date | datetime | str) -> str:
    """ISO date (YYYY-MM-DD) of `value`; raises ValueError naming the bad value."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ValueError(f"as_of_date {value!r} is not a date; use YYYY-MM-DD") from None


def build_vars(as_of_date: date | datetime | str | None = None, **extra: Any) -> dict[str, Any]:
    """The `--vars` of a build: `as_of_date` when given (else the model's default: the data's last day)."""
    out: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if as_of_date is not None:
        out["as_of_date"] = as_of_date_str(as_of_date)
    return out


def vars_arg(values: dict[str, Any]) -> list[str]:
    """`["--vars", "<json>"]`, or nothing when there are no vars."""
    return ["--vars", json.dumps(values, sort_keys=True)] if values else []
