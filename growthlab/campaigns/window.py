"""Sending windows in the recipient's local time (pure functions).

A window is a set of weekdays and a daily [start, end) interval of local wall-clock time. The
first moment at or after a due time that falls inside the window is when the email should arrive.
Daylight-saving gaps are handled by zoneinfo: times are built in local time and converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from growthlab.campaigns.definitions import WEEKDAYS, Window


def zone(name: str | None, fallback: str) -> tuple[ZoneInfo, str]:
    """The recipient's zone, or the fallback when the name is missing or unknown."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate), candidate
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC"), "UTC"


def next_in_window(due: datetime, tz: ZoneInfo, window: Window) -> datetime:
    """The first instant >= `due` inside the window, in UTC."""
    if due.tzinfo is None:
        raise ValueError("due must be timezone-aware")
    local = due.astimezone(tz)
    days = {WEEKDAYS.index(d) for d in window.days}
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in days:
            continue
        start = datetime.combine(day, window.start, tzinfo=tz)
        end = datetime.combine(day, window.end, tzinfo=tz)
        if offset == 0 and local >= end:
            continue
        candidate = max(start, local) if offset == 0 else start
        return candidate.astimezone(UTC)
    raise ValueError(f"window {window} has no open day")  # unreachable: validation requires a day


def next_window_day_start(after: datetime, tz: ZoneInfo, window: Window) -> datetime:
    """The opening of the first window strictly on a later local day than `after`."""
    local = after.astimezone(tz)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return next_in_window(next_midnight.astimezone(UTC), tz, window)
