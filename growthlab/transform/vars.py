"""The as-of date of a build (`lead_features`' "today") and how it reaches dbt.

It travels as the environment variable GROWTHLAB_AS_OF_DATE (read by the project's `as_of_date()`
macro), not as a dbt var: dbt re-parses the whole project whenever `--vars` change, and the date
changes with every DAG run; a changed env var only re-parses the files that read it. The var
`as_of_date` still works for people (`growthlab dbt build --vars '{as_of_date: 2026-08-31}'`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

AS_OF_DATE_ENV = "GROWTHLAB_AS_OF_DATE"

# Cosmos renders operator `env` as Jinja in the task's context. A run's "now" is its
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


def as_of_env(as_of_date: date | datetime | str | None) -> dict[str, str]:
    """The environment of a build as of `as_of_date` (none: the data's last day)."""
    return {AS_OF_DATE_ENV: as_of_date_str(as_of_date)} if as_of_date is not None else {}


def vars_arg(values: dict[str, Any]) -> list[str]:
    """`["--vars", "<json>"]`, or nothing when there are no vars."""
    return ["--vars", json.dumps(values, sort_keys=True)] if values else []
