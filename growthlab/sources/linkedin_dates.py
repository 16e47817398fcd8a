"""The date and time formats of LinkedIn's data export, parsed without locale surprises.

| file | column | example |
|---|---|---|
| Connections.csv | Connected On | `02 Sep 2025`, `3 Mar 2023` |
| Invitations.csv | Sent At | `9/27/25, 8:41 AM` (also with a narrow no-break space before AM) |
| messages.csv | DATE | `2025-10-06 23:49:02 UTC` |
| Shares.csv | Date | `2025-09-22 21:06:44` |
| Positions.csv | Started On, Finished On | `Aug 2023`, `2023` |

Times without a zone are UTC. `parse_when` returns a date or an aware datetime, or raises
ValueError saying which formats it expected.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_ISO_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"\s*(UTC|GMT|Z|[+-]\d{2}:?\d{2})?$",
    re.I,
)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]\.?M\.?)?$", re.I
)
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_DAY_MON_YEAR = re.compile(r"^(\d{1,2})[ -]([A-Za-z]+)\.?[ -](\d{4})$")
_MON_DAY_YEAR = re.compile(r"^([A-Za-z]+)\.? (\d{1,2}),? (\d{4})$")
_MON_YEAR = re.compile(r"^([A-Za-z]+)\.? (\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")

FORMATS = (
    "2025-10-06 23:49:02 UTC, 2025-09-22 21:06:44, 9/27/25, 8:41 AM, 02 Sep 2025, Sep 2, 2025, "
    "Aug 2023, 2023, 2025-09-02"
)


def _month(name: str) -> int:
    try:
        return MONTHS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown month {name!r}") from None


def _year(text: str) -> int:
    y = int(text)
    return 2000 + y if len(text) == 2 else y


def _zone(text: str | None) -> timezone:
    if not text or text.upper() in ("UTC", "GMT", "Z"):
        return UTC
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_when(text: str) -> date | datetime:
    """A LinkedIn export date/time: a `date`, or an aware `datetime` (UTC when no zone is given)."""
    value = _SPACES.sub(" ", text).strip()
    try:
        if m := _ISO_TIME.match(value):
            y, mo, d, h, mi, s, frac, zone = m.groups()
            micro = int((frac or "0").ljust(6, "0"))
            return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro, tzinfo=_zone(zone))
        if m := _US.match(value):
            mo, d, y, h, mi, s, ampm = m.groups()
            hour = int(h)
            if ampm:
                if not 1 <= hour <= 12:
                    raise ValueError(f"hour {hour} with {ampm}")
                pm = ampm.upper().startswith("P")
                hour = hour % 12 + (12 if pm else 0)
            return datetime(_year(y), int(mo), int(d), hour, int(mi), int(s or 0), tzinfo=UTC)
        if m := _ISO_DATE.match(value):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _DAY_MON_YEAR.match(value):
            return date(int(m.group(3)), _month(m.group(2)), int(m.group(1)))
        if m := _MON_DAY_YEAR.match(value):
            return date(int(m.group(3)), _month(m.group(1)), int(m.group(2)))
        if m := _MON_YEAR.match(value):
            return date(int(m.group(2)), _month(m.group(1)), 1)
        if m := _US_DATE.match(value):
            return date(_year(m.group(3)), int(m.group(1)), int(m.group(2)))
        if m := _YEAR.match(value):
            return date(int(m.group(1)), 1, 1)
    except ValueError as exc:  # e.g. 31 Feb, month 13
        raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    raise ValueError(f"{text!r} is not a date in a known LinkedIn format ({FORMATS})")


def as_date(text: str) -> date:
    value = parse_when(text)
    return value.date() if isinstance(value, datetime) else value


def as_datetime(text: str) -> datetime:
    value = parse_when(text)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
