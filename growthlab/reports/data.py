"""What the report shows, read from the marts (and ml.lead_score_history for the score deciles).

Every query returns a small DataFrame; the report never reads raw or ops tables. Sources: by
default growthlab's own mail (`source = 'sendgrid'`); `include_history=True` adds the HubSpot
marketing email of the CRM's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import psycopg

FUNNEL_STAGES = ("sends", "delivered", "human_opened", "clicked", "replied", "conversions")


@dataclass
class ReportData:
    funnel: pd.Series  # stage -> count
    weekly: (
        pd.DataFrame
    )  # week, campaign_id, variant, angle, sends, delivered, human_opened, clicked, replied
    variants: pd.DataFrame  # campaign_id, step, variant, angle, totals and rates
    deciles: pd.DataFrame  # decile, contacts, converted, conversion_rate, mean_probability
    first_day: date | None
    last_day: date | None
    scope: str = "growthlab campaigns"


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def _frame(conn: psycopg.Connection, sql: str, params: dict) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def load(conn: psycopg.Connection, include_history: bool = False) -> ReportData:
    if not _exists(conn, "marts.email_campaign_performance"):
        raise RuntimeError(
            "marts.email_campaign_performance does not exist yet: build the marts first "
            "(`growthlab dbt build` or the warehouse_build DAG)"
        )
    params = {"all": include_history}
    perf = _frame(
        conn,
        """
        select sent_date, source, campaign_id, step, variant, angle, sends, delivered, human_opened, clicked,
               replied, unsubscribed, bounced, conversions
        from marts.email_campaign_performance
        where %(all)s or source = 'sendgrid'
        """,
        params,
    )
    counts = [
        "sends",
        "delivered",
        "human_opened",
        "clicked",
        "replied",
        "unsubscribed",
        "bounced",
        "conversions",
    ]
    for col in counts:
        perf[col] = pd.to_numeric(perf[col]).fillna(0).astype(int)
    funnel = perf[list(FUNNEL_STAGES)].sum() if len(perf) else pd.Series(0, index=list(FUNNEL_STAGES))
    if len(perf):
        perf["week"] = pd.to_datetime(perf["sent_date"]).dt.to_period("W-SUN").dt.start_time
        weekly = perf.groupby(["week", "campaign_id", "variant", "angle"], as_index=False, dropna=False)[
            counts
        ].sum()
        variants = perf.groupby(["campaign_id", "step", "variant", "angle"], as_index=False, dropna=False)[
            counts
        ].sum()
        for num, den, name in (
            ("human_opened", "delivered", "open_rate"),
            ("clicked", "delivered", "click_rate"),
            ("replied", "delivered", "reply_rate"),
            ("unsubscribed", "delivered", "unsubscribe_rate"),
        ):
            variants[name] = variants[num] / variants[den].where(variants[den] > 0)
        variants = variants.sort_values(["campaign_id", "step", "variant"]).reset_index(drop=True)
        first, last = (
            pd.to_datetime(perf["sent_date"]).min().date(),
            pd.to_datetime(perf["sent_date"]).max().date(),
        )
    else:
        weekly = pd.DataFrame(columns=["week", "campaign_id", "variant", "angle", *counts])
        variants = pd.DataFrame(columns=["campaign_id", "step", "variant", "angle", *counts])
        first = last = None
    scope = "growthlab campaigns and the CRM's marketing email" if include_history else "growthlab campaigns"
    return ReportData(funnel, weekly, variants, _deciles(conn), first, last, scope)


def _deciles(conn: psycopg.Connection) -> pd.DataFrame:
    """Conversion by score decile: each contact's first score, and whether it converted afterwards."""
    columns = ["decile", "contacts", "converted", "conversion_rate", "mean_probability"]
    if not (_exists(conn, "ml.lead_score_history") and _exists(conn, "marts.dim_contacts")):
        return pd.DataFrame(columns=columns)
    return _frame(
        conn,
        """
        with first_score as (
            select distinct on (contact_id) contact_id, as_of_date, probability
            from ml.lead_score_history order by contact_id, as_of_date, scored_at
        ),
        scored as (
            select f.probability, (c.converted_at is not null and c.converted_at::date > f.as_of_date) as converted,
                   ntile(10) over (order by f.probability) as decile
            from first_score f join marts.dim_contacts c on c.contact_id = f.contact_id
        )
        select decile, count(*) as contacts, count(*) filter (where converted) as converted,
               avg(converted::int)::float8 as conversion_rate, avg(probability)::float8 as mean_probability
        from scored group by decile order by decile
        """,
        {},
    )
