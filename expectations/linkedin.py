"""Suites of the raw_linkedin tables (LinkedIn data exports)."""

from __future__ import annotations

from datetime import datetime

from expectations.suite import (
    TableSuite,
    email_format,
    not_null,
    one_of,
    ordered,
    sane_date,
    sane_time,
    unique,
)

SOURCE = "linkedin"
ROW_REF = "l._source_file || ':' || l._source_line"
BASE = "l._seq, l.row_key, l.export_owner"


def _suite(table: str, select: str, rules: tuple, **kw) -> TableSuite:
    return TableSuite(
        table=f"raw_linkedin.{table}",
        source=SOURCE,
        key=("row_key",),
        select=f"{BASE}, {select}" if select else BASE,
        rules=(not_null("row_key"), unique("row_key"), not_null("export_owner"), *rules),
        row_ref=ROW_REF,
        **kw,
    )


def suites(as_of: datetime) -> dict[str, TableSuite]:
    """Table name -> suite, with time ranges relative to the data interval's end `as_of`."""
    return {
        "profiles": _suite("profiles", "l.first_name", (not_null("first_name"),)),
        "connections": _suite(
            "connections",
            "l.email, l.connected_on, l.profile_url",
            (email_format("email"), sane_date("connected_on", as_of)),
        ),
        "invitations": _suite(
            "invitations",
            "l.direction, l.sent_at",
            (one_of("direction", ["OUTGOING", "INCOMING"]), not_null("sent_at"), sane_time("sent_at", as_of)),
        ),
        "messages": _suite(
            "messages",
            "l.conversation_id, l.sent_at",
            (not_null("conversation_id"), not_null("sent_at"), sane_time("sent_at", as_of)),
        ),
        "positions": _suite(
            "positions",
            "l.started_on, l.finished_on",
            (
                sane_date("started_on", as_of),
                sane_date("finished_on", as_of),
                ordered("started_on", "finished_on"),
            ),
        ),
        "shares": _suite("shares", "l.shared_at", (sane_time("shared_at", as_of),)),
    }
