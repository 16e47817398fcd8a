"""The time split: labelled dates only, purge gaps between train, calibration and holdout."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ml.split import InsufficientHistory, labelled_dates, plan_split

MONTHS = [date(2025, m, 1) for m in range(8, 13)] + [date(2026, m, 1) for m in range(1, 9)]


def test_only_dates_whose_label_window_is_over_are_labelled():
    now = date(2026, 8, 31)
    labelled = labelled_dates([*MONTHS, now], now, 90)
    assert labelled[-1] == date(2026, 6, 1)  # 2026-06-01 + 90 days = 2026-08-30 <= now
    assert date(2026, 7, 1) not in labelled and now not in labelled


def test_split_keeps_a_label_horizon_before_the_holdout():
    labelled = labelled_dates(MONTHS, date(2026, 8, 31), 90)
    split = plan_split(labelled, purge_days=90)
    assert split.holdout == date(2026, 6, 1)
    assert split.train == tuple(d for d in MONTHS if d <= date(2026, 3, 1))
    # no training label window reaches into the holdout's as-of date
    assert all(d + timedelta(days=90) <= split.holdout for d in split.train)
    assert split.unused == (date(2026, 4, 1), date(2026, 5, 1))
    assert split.role(date(2026, 4, 1)) == "unused" and split.role(split.holdout) == "holdout"


def test_too_little_history_is_an_error_that_says_what_to_do():
    with pytest.raises(InsufficientHistory, match="GROWTHLAB_ML_PURGE_DAYS"):
        plan_split([date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)], purge_days=90)
    assert plan_split([date(2026, 3, 1), date(2026, 6, 1)], purge_days=90).train == (date(2026, 3, 1),)
    with pytest.raises(InsufficientHistory, match="label horizon"):
        plan_split([], purge_days=90)
