"""Top reasons of a score, in words a sales rep reads.

A reason is one feature's signed contribution to the booster's margin (log-odds; TreeSHAP from
LightGBM's `pred_contrib`), with the feature's value and a sentence stating the fact: "Opened 4
emails in the last 30 days", "Company has a validated science-based target". The sign says whether
it pushed the score up or down; the sentence never interprets, it states.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml.features import CLOCK_BUCKETS, FeatureEncoder

TOP_N = 3

_PRETTY = {
    "ev_charging": "EV charging",
    "grid_software": "grid software",
    "heat_pumps": "heat pumps",
    "carbon_management": "carbon management",
    "circular_materials": "circular materials",
    "building_efficiency": "building efficiency",
    "storage": "energy storage",
    "series_a": "Series A",
    "series_b": "Series B",
    "series_c_plus": "Series C or later",
    "pe_backed": "private-equity backed",
    "c_level": "a C-level executive",
    "vp": "a VP",
    "director": "a director",
    "manager": "a manager",
    "individual_contributor": "an individual contributor",
    "ORGANIC_SEARCH": "organic search",
    "PAID_SEARCH": "paid search",
    "EMAIL_MARKETING": "email marketing",
    "SOCIAL_MEDIA": "social media",
    "REFERRALS": "a referral",
    "OTHER_CAMPAIGNS": "another campaign",
    "DIRECT_TRAFFIC": "direct traffic",
    "OFFLINE": "an offline source",
}


def _pretty(value: str) -> str:
    return _PRETTY.get(value, value.replace("_", " "))


def _n(value: float, singular: str, plural: str | None = None) -> str:
    n = round(value)
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


def _money(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"${value / limit:,.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"${value:,.0f}"


def _days(value: float, subject: str) -> str:
    d = round(value)
    for limit, words in (
        (7, "the last week"),
        (14, "the last 2 weeks"),
        (30, "the last month"),
        (60, "the last 2 months"),
        (90, "the last 3 months"),
        (180, "the last 6 months"),
        (365, "the last year"),
        (730, "the last 2 years"),
    ):
        if d <= limit:
            return f"{subject} within {words}"
    return f"{subject} more than 2 years ago"


def _count(template_some: str, template_none: str, singular: str, plural: str | None = None):
    def render(v: float) -> str:
        return template_none if round(v) == 0 else template_some.format(n=_n(v, singular, plural))

    return render


def _flag(yes: str, no: str):
    return lambda v: yes if v >= 0.5 else no


SBTI = {
    "targets_set": "Company has a validated science-based target",
    "committed": "Company has committed to set a science-based target",
    "net_zero_committed": "Company has committed to net zero",
    "none": "Company has no science-based target",
}

_TEXT: dict[str, Callable] = {
    "cleantech_segment": lambda v: f"Company works in {_pretty(v)}",
    "country_region": lambda v: f"Based in {_pretty(v)}",
    "revenue_band": lambda v: f"Company revenue band {v} USD",
    "funding_stage": lambda v: (
        f"Company is {_pretty(v)}"
        if v in ("bootstrapped", "public", "pe_backed")
        else f"Company funding stage: {_pretty(v)}"
    ),
    "sbti_status": lambda v: SBTI.get(v, f"Science-based target status: {_pretty(v)}"),
    "seniority": lambda v: f"Contact is {_pretty(v)}",
    "job_function": lambda v: f"Works in {_pretty(v)}",
    "lead_source": lambda v: f"Came in through {_pretty(v)}",
    "employees": lambda v: f"Company has {_n(v, 'employee')}",
    "annual_revenue": lambda v: f"Company revenue about {_money(v)} a year",
    "company_age_years": lambda v: f"Company founded {_n(v, 'year')} ago",
    "emissions_intensity": lambda v: f"Emissions intensity {v:,.0f} tCO2e per $1M revenue",
    "renewable_share": lambda v: f"{v:.0f}% of the company's energy is renewable",
    "esg_disclosure_score": lambda v: f"ESG disclosure score {v:.0f}/100",
    "certification_count": _count(
        "Company holds {n}", "Company holds no sustainability certification", "sustainability certification"
    ),
    "has_b_corp": _flag("Company is a certified B Corp", "Company is not a B Corp"),
    "has_iso_14001": _flag("Company is ISO 14001 certified", "Company is not ISO 14001 certified"),
    "days_since_created": lambda v: _days(v, "Added to the CRM"),
    "emails_delivered_30d": _count(
        "Received {n} in the last 30 days", "No email received in the last 30 days", "email"
    ),
    "emails_delivered_90d": _count(
        "Received {n} in the last 90 days", "No email received in the last 90 days", "email"
    ),
    "human_opens_30d": _count(
        "Opened {n} in the last 30 days", "Opened no email in the last 30 days", "email"
    ),
    "human_opens_90d": _count(
        "Opened {n} in the last 90 days", "Opened no email in the last 90 days", "email"
    ),
    "machine_opens_90d": _count(
        "{n} by a mail privacy proxy in the last 90 days",
        "No automatic (privacy proxy) opens in the last 90 days",
        "automatic open",
    ),
    "clicks_30d": _count("Clicked {n} in emails in the last 30 days", "No click in the last 30 days", "link"),
    "clicks_90d": _count("Clicked {n} in emails in the last 90 days", "No click in the last 90 days", "link"),
    "replies_90d": _count("Replied {n} in the last 90 days", "No email reply in the last 90 days", "time"),
    "linkedin_connected": _flag("Connected with us on LinkedIn", "Not connected with us on LinkedIn"),
    "linkedin_messages_90d": _count(
        "{n} exchanged in the last 90 days", "No LinkedIn message in the last 90 days", "LinkedIn message"
    ),
    "linkedin_replies_90d": _count(
        "Replied on LinkedIn {n} in the last 90 days", "No LinkedIn reply in the last 90 days", "time"
    ),
    "meetings_90d": _count(
        "{n} booked in the last 90 days", "No meeting booked in the last 90 days", "meeting"
    ),
    "meetings_completed_90d": _count(
        "{n} held in the last 90 days", "No meeting held in the last 90 days", "meeting"
    ),
    "days_since_last_engagement": lambda v: _days(v, "Last engaged"),
    "unsubscribed": _flag("Unsubscribed from our emails", "Subscribed to our emails"),
    "bounced": _flag("Email address bounced", "Email address is deliverable"),
}

_MISSING = {
    "days_since_last_engagement": "Has never engaged with us",
    "sbti_status": "Science-based target status unknown",
}


def reason_text(feature: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING.get(feature, f"{feature.replace('_', ' ').capitalize()} unknown")
    render = _TEXT.get(feature)
    if render is None:
        return f"{feature.replace('_', ' ').capitalize()}: {value}"
    return render(value)


def _json_value(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ReasonWriter:
    """Top-N reasons per row as the JSON text stored in ml.lead_scores.reasons.

    Sentences are cached per (feature, value): counts and categories repeat a lot, so a million
    rows cost a few thousand sentence renderings, not three million.
    """

    def __init__(self, encoder: FeatureEncoder, top_n: int = TOP_N) -> None:
        self.encoder = encoder
        self.top_n = top_n
        self._cache: dict[tuple[int, float], str] = {}

    def _fragment(self, j: int, raw: float) -> str:
        key = (j, raw if raw == raw else -1.5e308)  # NaN is not equal to itself
        hit = self._cache.get(key)
        if hit is None:
            feature = self.encoder.features[j]
            value = self.encoder.decode(feature, raw)
            if feature in CLOCK_BUCKETS and value is not None:
                value = int(value)
            hit = (
                '{"feature": '
                + json.dumps(feature)
                + ', "value": '
                + json.dumps(_json_value(value))
                + ', "text": '
                + json.dumps(reason_text(feature, value))
                + ', "contribution": '
            )
            if len(self._cache) < 200_000:
                self._cache[key] = hit
        return hit

    def _top(self, contrib: np.ndarray) -> np.ndarray:
        """Per row, the columns of the top-N absolute contributions, largest first (ties: stable)."""
        k = min(self.top_n, contrib.shape[1])
        top = (
            np.argpartition(-np.abs(contrib), k - 1, axis=1)[:, :k]
            if k < contrib.shape[1]
            else np.tile(np.arange(contrib.shape[1]), (len(contrib), 1))
        )
        rows = np.arange(len(contrib))[:, None]
        order = np.argsort(-np.abs(contrib[rows, top]), axis=1, kind="stable")
        return top[rows, order]

    def _fragments(self, j: np.ndarray, raw: np.ndarray) -> pa.Array:
        """The fragment of every (feature, value) cell: each distinct pair rendered once."""
        values = np.where(np.isnan(raw), np.nan, raw + 0.0)  # one NaN; -0.0 == 0.0
        codes = np.empty(len(j), dtype=np.int64)
        texts: list[str] = []
        for feature in np.unique(j).tolist():
            at = np.nonzero(j == feature)[0]
            distinct, inverse = np.unique(values[at], return_inverse=True)
            codes[at] = inverse.reshape(-1) + len(texts)
            texts.extend(self._fragment(feature, value) for value in distinct.tolist())
        return pa.array(texts, pa.string()).take(pa.array(codes))

    def render_arrow(self, X: np.ndarray, contributions: np.ndarray) -> pa.Array:
        """The reasons of every row as an Arrow string array (the same text as `render`).

        Vectorised: fragments are rendered once per distinct (feature, value), contributions are
        formatted with Arrow (format_4f), and the pieces joined column-wise."""
        contrib = contributions[:, : X.shape[1]]
        top = self._top(contrib)
        rows = np.arange(len(contrib))
        parts: list = ["["]
        for r in range(top.shape[1]):
            j = top[:, r]
            if r:
                parts.append(", ")
            parts.append(self._fragments(j, X[rows, j]))
            parts.append(format_4f(contrib[rows, j]))
            parts.append("}")
        parts.append("]")
        if len(parts) == 2:
            return pa.array(["[]"] * len(contrib), pa.string())
        return pc.binary_join_element_wise(*parts, "")

    def render(self, X: np.ndarray, contributions: np.ndarray) -> list[str]:
        """X: n x k encoded features; contributions: n x (k + 1) from pred_contrib (bias last)."""
        return self.render_arrow(X, contributions).to_pylist()


def format_4f(values: np.ndarray) -> pa.Array:
    """`f"{v:.4f}"` of every value, vectorised: the value x 10^4 rounded to an integer, split into
    integer and fractional digits. Python rounds the exact binary value (half to even); where the
    product could round differently (within 1e-6 of a half, huge or not finite) Python formats it."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.abs(v) * 1e4
        rounded = np.rint(scaled)
        unsure = ~(scaled < 1e15) | (np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6)
    units = np.where(unsure, 0, rounded).astype(np.int64)
    text = pc.binary_join_element_wise(
        pc.if_else(pa.array(np.signbit(v)), "-", ""),
        pa.array(units // 10_000).cast(pa.string()),
        ".",
        pc.utf8_lpad(pa.array(units % 10_000).cast(pa.string()), 4, "0"),
        "",
    )
    if unsure.any():
        patched = np.asarray(text.to_pylist(), dtype=object)
        for i in np.nonzero(unsure)[0]:
            patched[i] = f"{v[i]:.4f}"
        text = pa.array(patched.tolist(), pa.string())
    return text
