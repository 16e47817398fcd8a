"""Time-based split of `marts.lead_features`: training as-of dates, a purge gap, the newest holdout.

A row's label `converted_90d` looks 90 days past its as-of date. Two consequences:

* only as-of dates whose 90 days are over at training time ("now") are labelled: as_of + horizon
  <= now (the mart also leaves the label null then, and both are checked);
* the training rows must not carry information from inside the holdout's label window, or the
  same contact converting shows up as a positive on both sides (rows of one contact at different
  dates have overlapping windows). So every training as-of date d satisfies d + gap <= holdout,
  with the gap (GROWTHLAB_ML_PURGE_DAYS) the label horizon by default.

The holdout is the newest labelled date: the metrics and the champion/challenger gate are
measured on it, and the model never sees it. Within the training dates, early stopping and
calibration use out-of-fold predictions of a k-fold split grouped by company (ml/train.py): a
company's contacts (and a contact's rows at different dates) never sit on both sides of a fold.

Measured on the sandbox world against its truth, training on every date up to the gap and
cross-fitting beats keeping a separate, later calibration date behind a second gap (which leaves
less than half the labelled history to learn from), at equal calibration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta


class InsufficientHistory(RuntimeError):
    """Not enough labelled as-of dates for an honest split. The message says what is missing."""


@dataclass(frozen=True)
class TimeSplit:
    train: tuple[date, ...]
    holdout: date
    purge_days: int
    unused: tuple[date, ...] = field(default=())

    def role(self, day: date) -> str:
        if day == self.holdout:
            return "holdout"
        if day in self.train:
            return "train"
        return "unused"

    def as_dict(self) -> dict:
        return {
            "train": [d.isoformat() for d in self.train],
            "holdout": self.holdout.isoformat(),
            "unused": [d.isoformat() for d in self.unused],
            "purge_days": self.purge_days,
        }


def labelled_dates(as_of_dates: Iterable[date], now: date, horizon_days: int) -> list[date]:
    """As-of dates whose label window is over at `now`."""
    return sorted({d for d in as_of_dates if d + timedelta(days=horizon_days) <= now})


def plan_split(labelled: Iterable[date], purge_days: int) -> TimeSplit:
    """Holdout = the newest labelled date; train = every date at least `purge_days` before it."""
    dates = sorted(set(labelled))
    if not dates:
        raise InsufficientHistory(
            "marts.lead_features has no as-of date with a complete label window; the model needs "
            "history older than the label horizon (GROWTHLAB_ML_LABEL_HORIZON_DAYS)"
        )
    holdout = dates[-1]
    gap = timedelta(days=purge_days)
    train = tuple(d for d in dates if d + gap <= holdout and d < holdout)
    if not train:
        raise InsufficientHistory(
            f"need labelled as-of dates spanning more than {purge_days} days (training dates, a {purge_days}-day "
            f"gap, the holdout); have {len(dates)} date(s) from {dates[0]} to {holdout}. Wait for more history, "
            f"or shorten the gap with GROWTHLAB_ML_PURGE_DAYS (below the label horizon the holdout is no longer "
            f"strictly out of time)"
        )
    return TimeSplit(
        train=train,
        holdout=holdout,
        purge_days=purge_days,
        unused=tuple(d for d in dates if d not in train and d != holdout),
    )
