"""Simulated time: epoch seconds as float64 arrays, local hours per IANA zone, HubSpot's formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from growthlab.sandbox.catalog import TIMEZONES

DAY = 86400.0
DEFAULT_TODAY = date(2026, 8, 31)
HISTORY_DAYS = 365


def epoch(d: date | datetime) -> float:
    if isinstance(d, datetime):
        return d.astimezone(UTC).timestamp() if d.tzinfo else d.replace(tzinfo=UTC).timestamp()
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def iso_ms(ts: float | datetime | None) -> str:
    """HubSpot's timestamp format: 2026-03-02T09:15:00.000Z."""
    if ts is None:
        return ""
    dt = ts if isinstance(ts, datetime) else to_datetime(float(ts))
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_hubspot_time(value: str | int | float) -> datetime:
    """A HubSpot filter/property time value: epoch milliseconds, ISO 8601, or a date."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
    if len(text) == 10:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_CHUNK_DAYS = 512


@lru_cache(maxsize=64)
def _offset_chunk(chunk: int) -> np.ndarray:
    """UTC offsets in seconds, [timezone code, day] for the days of one 512-day chunk (noon UTC, DST-aware)."""
    table = np.zeros((len(TIMEZONES), _CHUNK_DAYS), dtype=np.float64)
    base = datetime(1970, 1, 1, 12, tzinfo=UTC) + timedelta(days=chunk * _CHUNK_DAYS)
    for t, name in enumerate(TIMEZONES):
        zone = ZoneInfo(name)
        for d in range(_CHUNK_DAYS):
            off = (base + timedelta(days=d)).astimezone(zone).utcoffset()
            table[t, d] = off.total_seconds() if off is not None else 0.0
    return table


def utc_offsets(ts: np.ndarray, tz: np.ndarray) -> np.ndarray:
    """UTC offset (seconds) of each timestamp in its contact's timezone code."""
    ts = np.asarray(ts, dtype=np.float64)
    if ts.size == 0:
        return np.zeros(ts.shape)
    days = np.floor(ts / DAY).astype(np.int64)
    tz = np.broadcast_to(np.asarray(tz, dtype=np.int64), days.shape)
    chunks = days // _CHUNK_DAYS
    first, last = int(chunks.min()), int(chunks.max())
    if first == last:
        return _offset_chunk(first)[tz, days - first * _CHUNK_DAYS]
    out = np.empty(days.shape)
    for c in range(first, last + 1):
        mask = chunks == c
        if mask.any():
            out[mask] = _offset_chunk(c)[tz[mask], days[mask] - c * _CHUNK_DAYS]
    return out


def local_hour_weekday(ts: np.ndarray, tz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local hour (0-23) and weekday (0=Monday) of UTC timestamps in the given timezone codes."""
    local = np.asarray(ts, dtype=np.float64) + utc_offsets(ts, tz)
    hour = (np.floor(local / 3600.0) % 24).astype(np.int64)
    weekday = ((np.floor(local / DAY).astype(np.int64) + 3) % 7).astype(np.int64)  # 1970-01-01: Thu
    return hour, weekday


def at_local_time(day_start: float | np.ndarray, tz: np.ndarray, hour: np.ndarray | float) -> np.ndarray:
    """UTC timestamps of `hour` (float hours) local time on the UTC day(s) starting at `day_start`."""
    tz = np.asarray(tz)
    start = np.broadcast_to(np.asarray(day_start, dtype=np.float64), tz.shape)
    return start + np.asarray(hour, dtype=np.float64) * 3600.0 - utc_offsets(start + DAY / 2, tz)


def timezone_code(name: str) -> int:
    return TIMEZONES.index(name)
