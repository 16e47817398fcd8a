{{
    config(
        materialized='incremental',
        unique_key=['contact_id', 'activity_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['contact_id', 'activity_date'], 'unique': True},
            {'columns': ['activity_date']},
            {'columns': ['sendgrid_synced_at']},
            {'columns': ['hubspot_synced_at']},
            {'columns': ['has_reply_linkedin_or_meeting']},
            {'columns': ['built_at']},
        ],
    )
}}
{#- One row per contact and UTC day with any email, reply, LinkedIn or meeting activity: the
    counts lead_features sums over its windows. Incremental: the (contact, day) pairs that have
    email events synced since the last build, or whose reply, LinkedIn or meeting counts differ
    from what the table holds, are recomputed from all their facts. -#}
{%- set small_columns = [
    'email_replies', 'linkedin_requests_sent', 'linkedin_requests_received', 'linkedin_connections',
    'linkedin_messages_sent', 'linkedin_messages_received', 'linkedin_replies', 'meetings_booked',
    'meetings_completed',
] -%}
with

replies as (

    select
        contact_id,
        (replied_at at time zone 'UTC')::date as activity_date,
        1 as email_replies
    from {{ ref('int_email_replies_matched') }}
    where contact_id is not null

),

linkedin as (

    select
        contact_id,
        touch_date as activity_date,
        (touch_type = 'connection_request_sent')::int as linkedin_requests_sent,
        (touch_type = 'connection_request_received')::int as linkedin_requests_received,
        (touch_type in ('connection_accepted', 'connected'))::int as linkedin_connections,
        (touch_type = 'message_sent')::int as linkedin_messages_sent,
        (touch_type = 'message_received')::int as linkedin_messages_received,
        is_reply::int as linkedin_replies
    from {{ ref('fct_linkedin_touches') }}
    where contact_id is not null

),

meetings_booked as (

    select contact_id, (booked_at at time zone 'UTC')::date as activity_date, 1 as meetings_booked
    from {{ ref('fct_meetings') }}
    where contact_id is not null and booked_at is not null

),

meetings_completed as (

    select contact_id, (starts_at at time zone 'UTC')::date as activity_date, 1 as meetings_completed
    from {{ ref('fct_meetings') }}
    where contact_id is not null and was_completed and starts_at is not null

),

small_rows as (

    select contact_id, activity_date, email_replies,
        0 as linkedin_requests_sent, 0 as linkedin_requests_received, 0 as linkedin_connections,
        0 as linkedin_messages_sent, 0 as linkedin_messages_received, 0 as linkedin_replies,
        0 as meetings_booked, 0 as meetings_completed
    from replies
    union all
    select contact_id, activity_date, 0,
        linkedin_requests_sent, linkedin_requests_received, linkedin_connections,
        linkedin_messages_sent, linkedin_messages_received, linkedin_replies, 0, 0
    from linkedin
    union all
    select contact_id, activity_date, 0, 0, 0, 0, 0, 0, 0, meetings_booked, 0
    from meetings_booked
    union all
    select contact_id, activity_date, 0, 0, 0, 0, 0, 0, 0, 0, meetings_completed
    from meetings_completed

),

small_daily as (

    select
        contact_id,
        activity_date,
        {% for column in small_columns -%}
        sum({{ column }})::integer as {{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from small_rows
    group by contact_id, activity_date

),

{% if is_incremental() %}
changed_pairs as (

    -- Email events synced since the last build (per source: each has its own sync clock).
    select distinct contact_id, (occurred_at at time zone 'UTC')::date as activity_date
    from {{ ref('fct_email_events') }}
    where contact_id is not null
      and (
          (source = 'sendgrid' and synced_at > {{ incremental_watermark('sendgrid_synced_at') }})
          or (source = 'hubspot' and synced_at > {{ incremental_watermark('hubspot_synced_at') }})
      )

    union

    -- Replies, LinkedIn and meetings are small: compare them with what the table holds.
    select
        coalesce(fresh.contact_id, held.contact_id),
        coalesce(fresh.activity_date, held.activity_date)
    from small_daily as fresh
    full outer join (
        select contact_id, activity_date, {{ small_columns | join(', ') }}
        from {{ this }}
        where has_reply_linkedin_or_meeting
    ) as held
        on held.contact_id = fresh.contact_id and held.activity_date = fresh.activity_date
    where {% for column in small_columns -%}
        coalesce(fresh.{{ column }}, 0) <> coalesce(held.{{ column }}, 0){{ " or " if not loop.last }}
        {% endfor %}

),
{% endif %}

{%- set email_counts -%}
        count(*) filter (where events.event_type = 'sent')::integer as emails_sent,
        count(*) filter (where events.event_type = 'delivered')::integer as emails_delivered,
        count(*) filter (where events.event_type = 'open')::integer as email_opens,
        count(*) filter (where events.event_type = 'open' and not events.is_machine_open)::integer as human_opens,
        count(*) filter (where events.event_type = 'open' and events.is_machine_open)::integer as machine_opens,
        count(*) filter (where events.event_type = 'click')::integer as email_clicks,
        count(*) filter (where events.event_type = 'bounce')::integer as email_bounces,
        count(*) filter (where events.event_type = 'unsubscribe')::integer as email_unsubscribes,
        count(*) filter (where events.event_type = 'spam_report')::integer as spam_reports,
        max(events.synced_at) filter (where events.source = 'sendgrid') as sendgrid_synced_at,
        max(events.synced_at) filter (where events.source = 'hubspot') as hubspot_synced_at
{%- endset %}
email_daily as (

    {% if is_incremental() -%}
    -- Each changed (contact, day) counts its own events: a lateral probe of fct_email_events'
    -- (contact_id, occurred_at) index per pair. A join would not do: the planner cannot estimate
    -- how few pairs changed (the watermarks are subqueries) and sorts the whole fact instead.
    select changed_pairs.contact_id, changed_pairs.activity_date, day_events.*
    from changed_pairs
    cross join lateral (
        select
        {{ email_counts }}
        from {{ ref('fct_email_events') }} as events
        where events.contact_id = changed_pairs.contact_id
          and events.occurred_at >= (changed_pairs.activity_date::timestamp at time zone 'UTC')
          and events.occurred_at < ((changed_pairs.activity_date + 1)::timestamp at time zone 'UTC')
        having count(*) > 0
    ) as day_events
    {%- else -%}
    select
        events.contact_id,
        (events.occurred_at at time zone 'UTC')::date as activity_date,
        {{ email_counts }}
    from {{ ref('fct_email_events') }} as events
    where events.contact_id is not null
    group by 1, 2
    {%- endif %}

),

combined as (

    select
        coalesce(email_daily.contact_id, small_daily.contact_id) as contact_id,
        coalesce(email_daily.activity_date, small_daily.activity_date) as activity_date,
        coalesce(email_daily.emails_sent, 0) as emails_sent,
        coalesce(email_daily.emails_delivered, 0) as emails_delivered,
        coalesce(email_daily.email_opens, 0) as email_opens,
        coalesce(email_daily.human_opens, 0) as human_opens,
        coalesce(email_daily.machine_opens, 0) as machine_opens,
        coalesce(email_daily.email_clicks, 0) as email_clicks,
        coalesce(email_daily.email_bounces, 0) as email_bounces,
        coalesce(email_daily.email_unsubscribes, 0) as email_unsubscribes,
        coalesce(email_daily.spam_reports, 0) as spam_reports,
        {% for column in small_columns -%}
        coalesce(small_daily.{{ column }}, 0) as {{ column }},
        {% endfor -%}
        email_daily.sendgrid_synced_at,
        email_daily.hubspot_synced_at
    from email_daily
    full outer join small_daily
        on small_daily.contact_id = email_daily.contact_id
        and small_daily.activity_date = email_daily.activity_date
    {% if is_incremental() %}
    where (coalesce(email_daily.contact_id, small_daily.contact_id), coalesce(email_daily.activity_date, small_daily.activity_date))
        in (select contact_id, activity_date from changed_pairs)
    {% endif %}

),

final as (

    select
        contact_id,
        activity_date,
        emails_sent,
        emails_delivered,
        email_opens,
        human_opens,
        machine_opens,
        email_clicks,
        email_bounces,
        email_unsubscribes,
        spam_reports,
        {{ small_columns | join(',\n        ') }},
        -- The contact acted: a human open, click, reply, LinkedIn reply or message, or a meeting.
        (
            human_opens + email_clicks + email_replies + linkedin_messages_received
            + linkedin_requests_received + meetings_booked + meetings_completed
        ) > 0 as is_engaged,
        -- What the incremental comparison reads (an index finds the few such days).
        (
            {% for column in small_columns %}{{ column }}{{ " + " if not loop.last }}{% endfor %}
        ) > 0 as has_reply_linkedin_or_meeting,
        -- Watermarks of the next incremental build: the newest sync of the day's events, per source.
        sendgrid_synced_at,
        hubspot_synced_at,
        -- When a build last wrote the day (what dim_contacts' activity refreshes from).
        now() as built_at
    from combined

)

select * from final
