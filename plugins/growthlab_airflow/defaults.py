"""Defaults every growthlab DAG shares: owner, retries, and the data-interval helpers."""

from __future__ import annotations

from datetime import timedelta

import pendulum

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")

DEFAULT_ARGS = {
    "owner": "growthlab",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}
