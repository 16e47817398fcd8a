"""Who a campaign may email: the recipient rows read from the marts and `ml.lead_scores`.

`RECIPIENTS_CTE` is the single place that knows the marts' column names (dbt_project/models/marts):
everything else in growthlab.campaigns reads the normalised fields of
`growthlab.campaigns.content.RECIPIENT_FIELDS`. `eligible_contacts` applies a campaign's audience
rules, exclusions, consent rule and suppression list in one set-based query.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from growthlab.campaigns.compliance import consent_countries, consent_sql
from growthlab.campaigns.definitions import Campaign

# Recipient rows: one per contact, with the company and the current lead score. The score is
# ml.lead_scores (probability as 0-100) when scoring has run, else the growthlab_score HubSpot holds.
RECIPIENTS_CTE = """
recipients as (
    select
        c.contact_id::text                 as contact_id,
        nullif(trim(c.email), '')          as email,
        c.first_name                       as first_name,
        c.last_name                        as last_name,
        c.job_title                        as job_title,
        c.seniority                        as seniority,
        c.job_function                     as job_function,
        c.country                          as country,
        c.requires_consent                 as requires_consent,
        coalesce(c.can_email, true)        as can_email,
        coalesce(nullif(c.timezone, ''), co.timezone) as timezone,
        c.owner_id::text                   as owner_id,
        c.lifecycle_stage                  as lifecycle_stage,
        c.marketing_consent                as marketing_consent,
        coalesce(c.is_email_opted_out, false) as email_optout,
        c.created_at                       as created_at,
        c.company_id::text                 as company_id,
        coalesce(co.company_name, c.company_name) as company_name,
        co.domain                          as company_domain,
        co.cleantech_segment               as cleantech_segment,
        co.country                         as company_country,
        co.timezone                        as company_timezone,
        co.renewable_share::float8         as renewable_share,
        co.sbti_status                     as sbti_status,
        co.emissions_intensity::float8     as emissions_intensity,
        co.employees::float8               as employees,
        {score}
    from marts.dim_contacts c
    left join marts.dim_companies co on co.company_id = c.company_id
    {score_join}
)
"""
_SCORED = """coalesce(s.probability * 100, c.growthlab_score)::float8 as score,
        coalesce(s.grade, c.growthlab_grade) as grade,
        s.reasons as reasons"""
_UNSCORED = """c.growthlab_score::float8 as score,
        c.growthlab_grade as grade,
        null::jsonb as reasons"""


def recipients_cte(conn: psycopg.Connection) -> str:
    """The recipients CTE, joining ml.lead_scores once the scoring area has created it."""
    scored = conn.execute("select to_regclass('ml.lead_scores') is not null").fetchone()[0]
    if scored:
        return RECIPIENTS_CTE.format(
            score=_SCORED, score_join="left join ml.lead_scores s on s.contact_id = c.contact_id::text"
        )
    return RECIPIENTS_CTE.format(score=_UNSCORED, score_join="")


SUPPRESSED_SQL = """
exists (
    select 1 from ops.suppression sp
    where sp.email_sha256 = encode(sha256(convert_to(lower(trim({email})), 'UTF8')), 'hex')
       or sp.contact_id = {contact_id}
)
"""


def suppressed_sql(email: str, contact_id: str) -> str:
    return SUPPRESSED_SQL.format(email=email, contact_id=contact_id)


def _in(column: str, values: tuple, params: dict[str, Any], name: str, lower: bool = False) -> str:
    if not values:
        return "true"
    params[name] = [str(v).lower() if lower else str(v) for v in values]
    col = f"lower({column})" if lower else column
    return f"{col} = any(%({name})s::text[])"


def eligible_contacts(
    conn: psycopg.Connection, campaign: Campaign, now: datetime, limit: int
) -> list[dict[str, Any]]:
    """Contacts the campaign may enrol now, best score first (at most `limit`)."""
    a = campaign.audience
    ex = a.exclude
    params: dict[str, Any] = {
        "campaign_id": campaign.id,
        "now": now,
        "limit": limit,
        "policy": campaign.consent,
        "consent_countries": consent_countries(),
        "contacted_since": now - timedelta(days=ex.contacted_within_days),
        "company_reply_since": now - timedelta(days=60),
    }
    filters = [
        "r.email is not null and r.email like '%%@%%'",
        "(r.created_at is null or r.created_at <= %(now)s)",
        _in("r.cleantech_segment", a.segments, params, "segments"),
        _in("r.seniority", a.seniority, params, "seniority"),
        _in("r.job_function", a.job_functions, params, "job_functions"),
        _in("r.sbti_status", a.sbti_statuses, params, "sbti"),
        _in("r.lifecycle_stage", a.lifecycle_stages, params, "stages"),
        _in("r.grade", a.grades, params, "grades")
        if not a.include_unscored
        else f"(r.grade is null or {_in('r.grade', a.grades, params, 'grades')})",
        (
            "("
            + _in(
                "coalesce(nullif(r.country, ''), r.company_country)",
                a.countries,
                params,
                "countries",
                lower=True,
            )
            + ")"
        ),
        "not " + _in("coalesce(r.lifecycle_stage, '')", ex.lifecycle_stages, params, "ex_stages")
        if ex.lifecycle_stages
        else "true",
        "not " + _in("lower(split_part(r.email, '@', 2))", ex.domains, params, "ex_domains", lower=True)
        if ex.domains
        else "true",
        consent_sql(
            "r.email_optout",
            "r.marketing_consent",
            "r.country",
            "r.company_country",
            "%(policy)s",
            "r.requires_consent",
        ),
        "r.can_email",
        "not " + suppressed_sql("r.email", "r.contact_id"),
        # never twice in the same campaign
        "not exists (select 1 from ops.campaign_enrollments e "
        "where e.campaign_id = %(campaign_id)s and e.contact_id = r.contact_id)",
        # a colleague replied recently: the owner is talking to this company
        "(r.company_id is null or not exists (select 1 from ops.outbox o where o.company_id = r.company_id "
        "and o.replied_at >= %(company_reply_since)s and o.replied_at <= %(now)s))",
        # the company's sequences were stopped by a colleague's reply
        "(r.company_id is null or not exists (select 1 from ops.campaign_enrollments e "
        "where e.company_id = r.company_id and e.stopped_reason in ('replied', 'company_replied') "
        "and e.ended_at >= %(company_reply_since)s))",
    ]
    if a.min_score is not None:
        params["min_score"] = a.min_score
        filters.append("(r.score >= %(min_score)s" + (" or r.score is null)" if a.include_unscored else ")"))
    elif not a.include_unscored:
        filters.append("r.score is not null")
    if ex.contacted_within_days:
        filters.append(
            "not exists (select 1 from ops.outbox o where o.contact_id = r.contact_id "
            "and o.status in ('sending', 'sent') and o.sent_at >= %(contacted_since)s)"
        )
    if ex.other_active_campaigns:
        filters.append(
            "not exists (select 1 from ops.campaign_enrollments e where e.contact_id = r.contact_id "
            "and e.status = 'active')"
        )
    sql = (
        "with "
        + recipients_cte(conn)
        + " select r.* from recipients r where "
        + "\n and ".join(f"({f})" for f in filters)
        + " order by r.score desc nulls last, r.contact_id limit %(limit)s"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql, params))


def recipients_by_id(conn: psycopg.Connection, contact_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Current recipient rows of the given contacts (for content generation and send-time checks)."""
    if not contact_ids:
        return {}
    sql = (
        "with "
        + recipients_cte(conn)
        + " select r.* from recipients r where r.contact_id = any(%(ids)s::text[])"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = list(cur.execute(sql, {"ids": contact_ids}))
    out = {}
    for row in rows:
        if isinstance(row.get("reasons"), str):
            row["reasons"] = json.loads(row["reasons"])
        out[row["contact_id"]] = row
    return out
