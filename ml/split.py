"""Time-based split of `marts.lead_features` into train, calibration and holdout as-of dates.

A row's label `converted_90d` looks 90 days past its as-of date. Two consequences:

* only as-of dates whose 90 days are over at training time ("now") are labelled: as_of + horizon
  <= now (the mart also leaves the label null then, and both are checked);
* a later set must not start before the labels of an earlier set are known, or the earlier set's
  labels carry information from inside the later set's window (the same contact converting shows
  up as a positive in both). So the sets are separated by a purge gap, by default the label horizon:
  every training as-of date d satisfies d + gap <= first calibration date, and every calibration
  date c satisfies c + gap <= holdout date.

With monthly as-of dates and a 90-day gap the newest labelled month is the holdout, the month three
months earlier calibrates (and early-stops) the boosters, and the months up to three months before
that train them. The months in between are not used: that is the price of an honest holdout.
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
    calibration: tuple[date, ...]
    holdout: date
    purge_days: int
    unused: tuple[date, ...] = field(default=())

    def role(self, day: date) -> str:
        if day == self.holdout:
            return "holdout"
        if day in self.calibration:
            return "calibration"
        if day in self.train:
            return "train"
        return "unused"

    def as_dict(self) -> dict:
        return {
            "train": [d.isoformat() for d in self.train],
            "calibration": [d.isoformat() for d in self.calibration],
            "holdout": self.holdout.isoformat(),
            "unused": [d.isoformat() for d in self.unused],
            "purge_days": self.purge_days,
        }


def labelled_dates(as_of_dates: Iterable[date], now: date, horizon_days: int) -> list[date]:
    """As-of dates whose label window is over at `now`."""
    return sorted({d for d in as_of_dates if d + timedelta(days=horizon_days) <= now})


def plan_split(labelled: Iterable[date], purge_days: int, calibration_dates: int = 1) -> TimeSplit:
    """Holdout = newest labelled date; calibration = the newest dates a purge gap before it;
    train = every date a purge gap before the first calibration date."""
    dates = sorted(set(labelled))
    gap = timedelta(days=purge_days)
    if not dates:
        raise InsufficientHistory(
            "marts.lead_features has no as-of date with a complete label window; the model needs "
            "history older than the label horizon (GROWTHLAB_ML_LABEL_HORIZON_DAYS)"
        )
    holdout = dates[-1]
    cal_candidates = [d for d in dates if d + gap <= holdout and d != holdout]
    calibration = tuple(cal_candidates[-calibration_dates:])
    train: tuple[date, ...] = ()
    if calibration:
        train = tuple(d for d in dates if d + gap <= calibration[0] and d < calibration[0])
    if not calibration or not train:
        needed = 2 * purge_days
        raise InsufficientHistory(
            f"need labelled as-of dates spanning at least {needed} days (train, then a {purge_days}-day gap, "
            f"calibration, another gap, holdout); have {len(dates)} date(s) from {dates[0]} to {holdout}. "
            f"Wait for more history, or shorten the gap with GROWTHLAB_ML_PURGE_DAYS (below the label "
            f"horizon the holdout is no longer strictly out of time)"
        )
    used = set(train) | set(calibration) | {holdout}
    return TimeSplit(
        train=train,
        calibration=calibration,
        holdout=holdout,
        purge_days=purge_days,
        unused=tuple(d for d in dates if d not in used),
    )
