"""A synthetic `marts.lead_features` with a known conversion propensity, for tests and benchmarks.

Not a substitute for the sandbox world (growthlab/sandbox): a small generative model with the
contract's columns, so the model code can be checked against an oracle before and besides the real
mart. Each contact has a latent fit (from firmographics, sustainability profile and role) and a
latent engagement level; the observed engagement counts are noisy draws from that level. A contact
converts with a constant monthly hazard; `converted_90d` at an as-of date is whether the conversion
falls in the next 90 days, null while those 90 days are not over at `today`. The oracle
probability of a row is the true 90-day conversion probability from the latent values.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from growthlab.portal import REVENUE_BANDS, SEGMENTS
from growthlab.portal import SBTI_STATUSES as SBTI
from growthlab.warehouse.db import connect
from ml.features import CONTRACT_TYPES

REGIONS = ("north_america", "europe", "uk", "apac", "latam")
FUNDING = ("bootstrapped", "seed", "series_a", "series_b", "series_c_plus", "public", "pe_backed")
SENIORITY = ("c_level", "vp", "director", "manager", "individual_contributor")
FUNCTIONS = (
    "executive",
    "sustainability",
    "operations",
    "engineering",
    "procurement",
    "finance",
    "marketing",
)
SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
)


@dataclass
class SyntheticWorld:
    features: pd.DataFrame  # the contract columns of marts.lead_features
    oracle: pd.DataFrame  # contact_id, as_of_date, p_true (true 90-day conversion probability)


def _month_starts(today: date, months: int) -> list[date]:
    first = date(today.year, today.month, 1)
    out = []
    for k in range(months, 0, -1):
        y, m = first.year, first.month - k
        while m <= 0:
            y, m = y - 1, m + 12
        out.append(date(y, m, 1))
    return out


def generate(
    n_contacts: int,
    today: date = date(2026, 8, 31),
    months: int = 12,
    seed: int = 7,
    base_hazard: float = -4.2,
    engagement_weight: float = 1.0,
    as_of_dates: list[date] | None = None,
) -> SyntheticWorld:
    """Contacts created over the history; one row per contact per as-of date while not converted."""
    rng = np.random.default_rng(seed)
    n = n_contacts
    start = _month_starts(today, months)[0] if months else today
    dates = as_of_dates or [*_month_starts(today, months), today]

    # Firmographics (company-level values, drawn per contact's company).
    n_companies = max(1, n // 3)
    company_of = rng.integers(0, n_companies, n)
    seg = rng.integers(0, len(SEGMENTS), n_companies)
    region = rng.choice(len(REGIONS), n_companies, p=[0.35, 0.3, 0.12, 0.15, 0.08])
    log_emp = rng.normal(5.0, 1.6, n_companies).clip(1, 12)
    employees = np.round(np.exp(log_emp))
    revenue = np.exp(log_emp + rng.normal(11.8, 0.7, n_companies))
    band = np.digitize(revenue, [1e6, 1e7, 5e7, 2.5e8, 1e9])
    funding = rng.integers(0, len(FUNDING), n_companies)
    sbti = rng.choice(len(SBTI), n_companies, p=[0.45, 0.2, 0.25, 0.1])
    esg = rng.uniform(0, 100, n_companies).round(1)
    renewable = rng.uniform(0, 100, n_companies).round(1)
    emissions = np.exp(rng.normal(4.0, 1.0, n_companies)).round(2)
    age = rng.integers(1, 60, n_companies).astype(float)
    b_corp = (rng.random(n_companies) < 0.12).astype(int)
    iso = (rng.random(n_companies) < 0.3).astype(int)
    certs = b_corp + iso + rng.binomial(3, 0.2, n_companies)
    missing_emp = rng.random(n_companies) < 0.05

    seniority = rng.choice(len(SENIORITY), n, p=[0.1, 0.15, 0.25, 0.3, 0.2])
    function = rng.integers(0, len(FUNCTIONS), n)
    source = rng.integers(0, len(SOURCES), n)
    created = np.array([start - timedelta(days=180)] * n, dtype="datetime64[D]") + rng.integers(
        0, (today - start).days + 180, n
    )

    c = company_of
    fit_logit = (
        np.array([0.3, -0.2, 0.5, 0.1, -0.3, 0.2, 0.6, -0.1, 0.4, 0.0])[seg[c]]
        + np.array([0.0, 0.9, 0.7, 0.5, 0.2])[sbti[c]]
        + np.array([0.2, 0.1, 0.0, -0.2, -0.3])[region[c]]
        + np.array([0.7, 0.5, 0.3, 0.0, -0.5])[seniority]
        + np.array([0.3, 0.8, 0.2, 0.0, 0.4, 0.1, -0.3])[function]
        + 0.25 * (log_emp[c] - 5.0)
        - 0.04 * (log_emp[c] - 5.0) ** 2
        + 0.012 * (esg[c] - 50)
        + 0.3 * b_corp[c]
    )
    engagement = rng.normal(0, 1, n) + 0.3 * fit_logit
    unsub = rng.random(n) < 0.03
    bounced = rng.random(n) < 0.015
    logit_h = base_hazard + fit_logit + engagement_weight * engagement - 1.2 * unsub - 2.0 * bounced
    hazard = 1.0 / (1.0 + np.exp(-logit_h))  # per 30 days
    # Conversion: geometric number of 30-day periods after creation, uniform inside the period.
    periods = rng.geometric(np.clip(hazard, 1e-6, 1.0)) - 1
    converted = created + (periods * 30 + rng.integers(0, 30, n)).astype("timedelta64[D]")
    p90 = 1.0 - (1.0 - hazard) ** 3

    frames, oracles = [], []
    ids = np.array([f"c{i:07d}" for i in range(n)])
    company_ids = np.array([f"co{i:06d}" for i in range(n_companies)])
    today64 = np.datetime64(today, "D")
    for d in dates:
        d64 = np.datetime64(d, "D")
        alive = np.nonzero((created <= d64) & (converted > d64))[0]
        if not len(alive):
            continue
        k = len(alive)
        ci = c[alive]
        eng = engagement[alive]
        level = np.exp(0.9 * eng)
        delivered_90 = rng.poisson(4.0, k)
        delivered_30 = rng.binomial(delivered_90, 0.35)
        open_p = 1 / (1 + np.exp(-(eng - 0.6)))
        opens_90 = rng.binomial(delivered_90, open_p)
        opens_30 = rng.binomial(opens_90, 0.35)
        machine = rng.binomial(delivered_90, 0.15)
        clicks_90 = rng.binomial(opens_90, 1 / (1 + np.exp(-(eng - 1.5))))
        clicks_30 = rng.binomial(clicks_90, 0.35)
        replies = rng.poisson(0.08 * level)
        connected = (rng.random(k) < 1 / (1 + np.exp(-(eng - 0.3)))).astype(int)
        li_msgs = rng.poisson(0.6 * level) * connected
        li_replies = rng.binomial(li_msgs, 0.3)
        meetings = rng.poisson(0.05 * level * np.exp(0.4 * fit_logit[alive]))
        held = rng.binomial(meetings, 0.8)
        touched = opens_90 + clicks_90 + replies + li_replies + meetings
        last = np.where(touched > 0, rng.integers(0, 90, k), np.nan)
        label_known = d64 + np.timedelta64(90, "D") <= today64
        conv = converted[alive]
        label = ((conv > d64) & (conv <= d64 + np.timedelta64(90, "D"))).astype(float)
        frame = pd.DataFrame(
            {
                "contact_id": ids[alive],
                "as_of_date": d,
                "company_id": company_ids[ci],
                "cleantech_segment": np.array(SEGMENTS)[seg[ci]],
                "country_region": np.array(REGIONS)[region[ci]],
                "revenue_band": np.array(REVENUE_BANDS)[band[ci]],
                "funding_stage": np.array(FUNDING)[funding[ci]],
                "sbti_status": np.array(SBTI)[sbti[ci]],
                "seniority": np.array(SENIORITY)[seniority[alive]],
                "job_function": np.array(FUNCTIONS)[function[alive]],
                "lead_source": np.array(SOURCES)[source[alive]],
                "employees": np.where(missing_emp[ci], np.nan, employees[ci]),
                "annual_revenue": revenue[ci].round(0),
                "company_age_years": age[ci],
                "emissions_intensity": emissions[ci],
                "renewable_share": renewable[ci],
                "esg_disclosure_score": esg[ci],
                "certification_count": certs[ci].astype(float),
                "has_b_corp": b_corp[ci],
                "has_iso_14001": iso[ci],
                "days_since_created": (d64 - created[alive]).astype(int),
                "emails_delivered_30d": delivered_30,
                "emails_delivered_90d": delivered_90,
                "human_opens_30d": opens_30,
                "human_opens_90d": opens_90,
                "machine_opens_90d": machine,
                "clicks_30d": clicks_30,
                "clicks_90d": clicks_90,
                "replies_90d": replies,
                "linkedin_connected": connected,
                "linkedin_messages_90d": li_msgs,
                "linkedin_replies_90d": li_replies,
                "meetings_90d": meetings,
                "meetings_completed_90d": held,
                "days_since_last_engagement": last,
                "unsubscribed": unsub[alive].astype(int),
                "bounced": bounced[alive].astype(int),
                "converted_90d": label if label_known else np.nan,
                "converted_at": pd.to_datetime(np.where(label > 0, conv, np.datetime64("NaT")), utc=True)
                if label_known
                else pd.NaT,
            }
        )
        frames.append(frame)
        oracles.append(pd.DataFrame({"contact_id": ids[alive], "as_of_date": d, "p_true": p90[alive]}))
    features = pd.concat(frames, ignore_index=True)
    features["days_since_last_engagement"] = features["days_since_last_engagement"].astype("Int64")
    features["converted_90d"] = features["converted_90d"].astype("Int64")
    return SyntheticWorld(features, pd.concat(oracles, ignore_index=True))


def create_table(url: str, replace: bool = False) -> None:
    """Create marts.lead_features with the contract's columns and types (what dbt builds)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type))
        for name, pg_type in CONTRACT_TYPES.items()
    )
    with connect(url, autocommit=True) as conn:
        if replace:
            conn.execute("drop table if exists marts.lead_features")
        conn.execute(sql.SQL("create table if not exists marts.lead_features ({})").format(columns))


def write_lead_features(
    url: str, frame: pd.DataFrame, replace: bool = True, chunk_rows: int = 200_000
) -> int:
    """COPY a features frame into marts.lead_features (created with the contract types)."""
    create_table(url, replace=replace)
    names = list(CONTRACT_TYPES)
    frame = frame[names]
    target = sql.SQL("COPY marts.lead_features ({}) FROM STDIN (FORMAT csv)").format(
        sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    with connect(url) as conn, conn.cursor() as cur:
        with cur.copy(target) as copy:
            for start in range(0, len(frame), chunk_rows):
                part = frame.iloc[start : start + chunk_rows]
                table = pa.Table.from_pandas(part, preserve_index=False)
                buf = io.BytesIO()
                pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
                copy.write(buf.getvalue())
        cur.execute("analyze marts.lead_features")
        conn.commit()
    return len(frame)
