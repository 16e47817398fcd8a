"""The vocabulary of the suites: rules (one GX expectation each) and table suites.

A `TableSuite` audits one landed batch of one raw table. Its `select` projects the landed rows
(alias `l`, already reduced to the last row per key) into the columns the rules check, so
properties inside jsonb can be validated like columns. Rules are data, not GX objects: GX is
imported only by the runner, and only when a validation runs.

Severities:
* `row`: a failing row moves to quarantine.rows with the rule's name; if more than
  `max_bad_fraction` of the batch fails (and at least `min_systemic_rows` rows), the whole load
  fails instead: that is a systemic problem, not a bad row;
* `systemic`: a table-level rule (e.g. a property that vanished from every record: a schema
  change); failing it fails the load;
* `warn`: recorded in ops.validation_results, nothing moves (referential checks against tables
  that another load may fill later).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Severity = Literal["row", "systemic", "warn"]

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$"
EARLIEST = "2000-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Rule:
    name: str  # growthlab's name, also the `rule` of quarantine.rows
    expectation: str  # GX expectation class in great_expectations.expectations
    kwargs: Mapping[str, Any]
    severity: Severity = "row"
    reason: str = ""

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


@dataclass(frozen=True)
class TableSuite:
    table: str  # the raw table, schema.name
    source: str
    key: tuple[str, ...]
    select: str  # projection over the landed rows `l` (must not contain '%')
    rules: tuple[Rule, ...]
    joins: str = ""  # extra joins (e.g. for referential checks) after `from ... l`
    row_ref: str = ""  # SQL for quarantine.rows.row_ref (default: the key)
    payload: str = "to_jsonb(l) - '_seq'"  # SQL for quarantine.rows.payload
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"growthlab.{self.table}"

    @property
    def landing_table(self) -> str:
        return "landing." + self.table.replace(".", "__")

    @property
    def row_ref_sql(self) -> str:
        if self.row_ref:
            return self.row_ref
        return " || '/' || ".join(f"coalesce(l.{k}::text, '<null>')" for k in self.key)


# -- rule builders ---------------------------------------------------------------------------


def not_null(column: str, name: str | None = None) -> Rule:
    return Rule(
        name or f"{column}_not_null",
        "ExpectColumnValuesToNotBeNull",
        {"column": column},
        reason=f"{column} is missing",
    )


def unique(column: str) -> Rule:
    return Rule(
        f"{column}_unique", "ExpectColumnValuesToBeUnique", {"column": column}, reason=f"{column} repeats"
    )


def email_format(column: str = "email") -> Rule:
    return Rule(
        "email_format",
        "ExpectColumnValuesToMatchRegex",
        {"column": column, "regex": EMAIL_REGEX},
        reason=f"{column} is not an email address",
    )


def one_of(column: str, values: Sequence[str], name: str | None = None) -> Rule:
    return Rule(
        name or f"{column}_enum",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": list(values)},
        reason=f"{column} is not one of {', '.join(values)}",
    )


def sane_time(column: str, as_of: datetime, future: timedelta = timedelta(days=2)) -> Rule:
    """Not before 2000 and not after the data interval's end (plus a little clock skew)."""
    latest = (as_of + future).isoformat()
    return Rule(
        f"{column}_in_range",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": EARLIEST, "max_value": latest},
        reason=f"{column} is before 2000 or after {latest}",
    )


def between(column: str, low: float | None, high: float | None) -> Rule:
    return Rule(
        f"{column}_in_range",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": low, "max_value": high},
        reason=f"{column} is outside [{low}, {high}]",
    )


def present_somewhere(flag_column: str, what: str) -> Rule:
    """Systemic: at least one row of the batch has `flag_column` = 1 (e.g. a property exists)."""
    return Rule(
        f"schema.{what}",
        "ExpectColumnMaxToBeBetween",
        {"column": flag_column, "min_value": 1},
        severity="systemic",
        reason=f"{what} is absent from every record of the batch: the source's schema changed",
    )


def references(flag_column: str, what: str) -> Rule:
    """Warn: `flag_column` (1 when the referenced row exists, null when nothing is referenced)."""
    return Rule(
        f"ref.{what}",
        "ExpectColumnValuesToBeInSet",
        {"column": flag_column, "value_set": [1]},
        severity="warn",
        reason=f"{what} points at a record the warehouse does not hold (yet)",
    )


def sane_date(column: str, as_of: datetime, future: timedelta = timedelta(days=2)) -> Rule:
    """A date column: not before 2000 and not after the data interval's end (plus skew)."""
    latest = (as_of + future).date().isoformat()
    return Rule(
        f"{column}_in_range",
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": EARLIEST[:10], "max_value": latest},
        reason=f"{column} is before 2000 or after {latest}",
    )


def ordered(first: str, then: str) -> Rule:
    """Row-level: `then` is not before `first` (when both are set)."""
    return Rule(
        f"{then}_after_{first}",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": then, "column_B": first, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
        reason=f"{then} is before {first}",
    )
