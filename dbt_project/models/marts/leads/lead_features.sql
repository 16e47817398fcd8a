{%- set label_days = var('label_window_days') | int -%}
{{
    config(
        materialized='incremental',
        unique_key='as_of_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        contract={'enforced': true},
        pre_hook=["set local work_mem = '256MB'"],
        post_hook=["{{ lead_features_prune() }}", "analyze {{ this }} (as_of_date, contact_id)"],
    )
}}
{#- No index besides the primary key (as_of_date, contact_id): it serves every lookup by date
    (scoring, the held dates, the delete and prune below), and PostgreSQL 18 skip-scans it for one
    contact's history (few dates). A build writes a whole date at the right end of it, where an
    index on contact_id alone would take ~1M random insertions a day. Hash aggregates of ~1M
    contacts get 256MB (`set local`: this model's transaction only). -#}
{#- Analyzed after the prune, always, on its keys: each build adds a date (every contact's row for
    "today") that scoring selects by; the feature columns' distributions barely move (a full build
    analyzes them all). -#}
{#- The model's only input: one row per contact per as-of date, point in time. A row for date D
    uses only facts dated on or before D (UTC days): engagement counts over (D-30, D] and (D-90, D],
    connections, unsubscribes and bounces up to D. Contacts created after D, or already converted
    (became an opportunity) on or before D, have no row for D. The label converted_90d says whether
    the contact became an opportunity in (D, D+90] and is null while D+90 is beyond the horizon.
    Incremental: the horizon date, new dates and dates whose label just became known are computed
    (the as_of_date index finds a date's rows for the delete, the prune hook and the checks below);
    every other stored date is final (what was known then). Run --full-refresh to rebuild history,
    e.g. after a backfill of old events or contacts. -#}
with

dates as (

    -- depends_on: {{ ref('contact_engagement_daily') }} {{ ref('dim_contacts') }} (the prune hook reads them)
    select candidates.as_of_date, candidates.horizon_date
    from {{ ref('int_lead_feature_dates') }} as candidates
    {% if is_incremental() %}
    -- Computed now: the horizon ("today", always), dates not in the table yet, and dates whose
    -- label becomes known with this horizon (macros/lead_features_dates.sql).
    left join {{ lead_features_held_dates() }} as held_dates on held_dates.as_of_date = candidates.as_of_date
    where candidates.as_of_date = candidates.horizon_date
       or held_dates.as_of_date is null
       or (candidates.as_of_date + {{ label_days }} <= candidates.horizon_date and held_dates.label_unknown)
    {% endif %}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

companies as (

    select * from {{ ref('dim_companies') }}

),

spine as (

    select
        contacts.contact_id,
        dates.as_of_date,
        dates.horizon_date
    from dates
    inner join contacts
        on (contacts.created_at is null or (contacts.created_at at time zone 'UTC')::date <= dates.as_of_date)
        and (
            contacts.became_opportunity_at is null
            or (contacts.became_opportunity_at at time zone 'UTC')::date > dates.as_of_date
        )

),

-- Each engagement day joins the as-of dates it counts for: those within 90 days after it (the
-- windows), and in a full build, for engaged days, any later date (last engagement). One hash
-- aggregate per (contact, date). An incremental build usually computes one date (today): it reads
-- the last 90 days of engagement only, and takes the last engagement from dim_contacts (below).
{% if is_incremental() -%}
-- The engagement days of the 90 days before the earliest computed date, read in one pass over the
-- table (materialized: joined to the dates, the planner would fetch a quarter of the table's rows
-- through the activity_date index, in index order, one random page after another).
recent_daily as materialized (

    select
        contact_id, activity_date, emails_delivered, human_opens, machine_opens, email_clicks,
        email_replies, linkedin_messages_sent, linkedin_replies, meetings_booked, meetings_completed, is_engaged
    from {{ ref('contact_engagement_daily') }}
    where activity_date > (select min(as_of_date) - 90 from dates)

),
{%- endif %}

windowed as (

    select
        daily.contact_id,
        dates.as_of_date,
        sum(daily.emails_delivered) filter (where daily.activity_date > dates.as_of_date - 30) as emails_delivered_30d,
        sum(daily.emails_delivered) filter (where daily.activity_date > dates.as_of_date - 90) as emails_delivered_90d,
        sum(daily.human_opens) filter (where daily.activity_date > dates.as_of_date - 30) as human_opens_30d,
        sum(daily.human_opens) filter (where daily.activity_date > dates.as_of_date - 90) as human_opens_90d,
        sum(daily.machine_opens) filter (where daily.activity_date > dates.as_of_date - 90) as machine_opens_90d,
        sum(daily.email_clicks) filter (where daily.activity_date > dates.as_of_date - 30) as clicks_30d,
        sum(daily.email_clicks) filter (where daily.activity_date > dates.as_of_date - 90) as clicks_90d,
        sum(daily.email_replies) filter (where daily.activity_date > dates.as_of_date - 90) as replies_90d,
        sum(daily.linkedin_messages_sent) filter (where daily.activity_date > dates.as_of_date - 90)
            as linkedin_messages_90d,
        sum(daily.linkedin_replies) filter (where daily.activity_date > dates.as_of_date - 90) as linkedin_replies_90d,
        sum(daily.meetings_booked) filter (where daily.activity_date > dates.as_of_date - 90) as meetings_90d,
        sum(daily.meetings_completed) filter (where daily.activity_date > dates.as_of_date - 90)
            as meetings_completed_90d,
        max(daily.activity_date) filter (where daily.is_engaged) as last_engaged_day
    from dates
    {% if is_incremental() -%}
    inner join recent_daily as daily
        on daily.activity_date <= dates.as_of_date
        and daily.activity_date > dates.as_of_date - 90
    {%- else -%}
    inner join {{ ref('contact_engagement_daily') }} as daily
        on daily.activity_date <= dates.as_of_date
        and (daily.activity_date > dates.as_of_date - 90 or daily.is_engaged)
        {%- endif %}
    group by daily.contact_id, dates.as_of_date

),

features as (

    select
        spine.contact_id,
        spine.as_of_date,
        spine.horizon_date,
        windowed.emails_delivered_30d,
        windowed.emails_delivered_90d,
        windowed.human_opens_30d,
        windowed.human_opens_90d,
        windowed.machine_opens_90d,
        windowed.clicks_30d,
        windowed.clicks_90d,
        windowed.replies_90d,
        windowed.linkedin_messages_90d,
        windowed.linkedin_replies_90d,
        windowed.meetings_90d,
        windowed.meetings_completed_90d,
        windowed.last_engaged_day
    from spine
    left join windowed
        on windowed.contact_id = spine.contact_id
        and windowed.as_of_date = spine.as_of_date

),

final as (

    select
        features.contact_id::text as contact_id,
        features.as_of_date::date as as_of_date,
        contacts.company_id::text as company_id,
        companies.cleantech_segment::text as cleantech_segment,
        coalesce(contacts.country_region, companies.country_region)::text as country_region,
        companies.revenue_band::text as revenue_band,
        companies.funding_stage::text as funding_stage,
        companies.sbti_status::text as sbti_status,
        contacts.seniority::text as seniority,
        contacts.job_function::text as job_function,
        contacts.lead_source::text as lead_source,
        companies.employees::double precision as employees,
        companies.annual_revenue::double precision as annual_revenue,
        (extract(year from features.as_of_date) - companies.founded_year)::double precision as company_age_years,
        companies.emissions_intensity::double precision as emissions_intensity,
        companies.renewable_share::double precision as renewable_share,
        companies.esg_disclosure_score::double precision as esg_disclosure_score,
        companies.certification_count::double precision as certification_count,
        coalesce(companies.has_b_corp, false)::integer as has_b_corp,
        coalesce(companies.has_iso_14001, false)::integer as has_iso_14001,
        (features.as_of_date - (contacts.created_at at time zone 'UTC')::date)::integer as days_since_created,
        coalesce(features.emails_delivered_30d, 0)::integer as emails_delivered_30d,
        coalesce(features.emails_delivered_90d, 0)::integer as emails_delivered_90d,
        coalesce(features.human_opens_30d, 0)::integer as human_opens_30d,
        coalesce(features.human_opens_90d, 0)::integer as human_opens_90d,
        coalesce(features.machine_opens_90d, 0)::integer as machine_opens_90d,
        coalesce(features.clicks_30d, 0)::integer as clicks_30d,
        coalesce(features.clicks_90d, 0)::integer as clicks_90d,
        coalesce(features.replies_90d, 0)::integer as replies_90d,
        coalesce((contacts.linkedin_connected_at at time zone 'UTC')::date <= features.as_of_date, false)::integer
            as linkedin_connected,
        coalesce(features.linkedin_messages_90d, 0)::integer as linkedin_messages_90d,
        coalesce(features.linkedin_replies_90d, 0)::integer as linkedin_replies_90d,
        coalesce(features.meetings_90d, 0)::integer as meetings_90d,
        coalesce(features.meetings_completed_90d, 0)::integer as meetings_completed_90d,
        {% if is_incremental() -%}
        -- The contact's last engaged day overall (dim_contacts) when it is on or before the date
        -- (today: nearly everyone), else the last one on or before it, looked up by the daily
        -- table's (contact_id, activity_date) index.
        (
            features.as_of_date - case
                when contacts.last_engaged_on <= features.as_of_date then contacts.last_engaged_on
                when contacts.last_engaged_on > features.as_of_date then (
                    select max(daily.activity_date)
                    from {{ ref('contact_engagement_daily') }} as daily
                    where daily.contact_id = features.contact_id
                      and daily.is_engaged
                      and daily.activity_date <= features.as_of_date
                )
            end
        )::integer as days_since_last_engagement,
        {%- else -%}
        (features.as_of_date - features.last_engaged_day)::integer as days_since_last_engagement,
        {%- endif %}
        coalesce((contacts.unsubscribed_at at time zone 'UTC')::date <= features.as_of_date, false)::integer
            as unsubscribed,
        coalesce((contacts.bounced_at at time zone 'UTC')::date <= features.as_of_date, false)::integer as bounced,
        (
            case
                when features.as_of_date + {{ label_days }} > features.horizon_date then null
                when (contacts.became_opportunity_at at time zone 'UTC')::date <= features.as_of_date + {{ label_days }}
                    then 1
                else 0
            end
        )::integer as converted_90d,
        (
            case
                when (contacts.became_opportunity_at at time zone 'UTC')::date <= features.horizon_date
                    then contacts.became_opportunity_at
            end
        )::timestamptz as converted_at
    from features
    inner join contacts on contacts.contact_id = features.contact_id
    left join companies on companies.company_id = contacts.company_id

)

select * from final
