{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['contact_id'], 'unique': True}, {'columns': ['built_at']}],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- One row per contact with email sends or activity days: what dim_contacts shows of their
    engagement so far. Incremental, so that dim_contacts never aggregates the whole send and daily
    facts: the contacts with sends or activity days written since this table was (`built_at`, the
    build's clock on both sides) are recomputed from all of their sends and days. -#}
with

{% if is_incremental() %}
changed_contacts as (

    select contact_id
    from {{ ref('fct_email_sends') }}
    where built_at > (select coalesce(max(held.built_at), '-infinity'::timestamptz) from {{ this }} as held)
      and contact_id is not null

    union

    select contact_id
    from {{ ref('contact_engagement_daily') }}
    where built_at > (select coalesce(max(held.built_at), '-infinity'::timestamptz) from {{ this }} as held)

),
{% endif %}

sends as (

    select
        contact_id,
        count(*) as emails_sent,
        count(*) filter (where was_delivered) as emails_delivered,
        count(*) filter (where was_human_opened) as emails_human_opened,
        count(*) filter (where was_clicked) as emails_clicked,
        count(*) filter (where was_replied) as emails_replied,
        min(sent_at) as first_email_sent_at,
        max(sent_at) as last_email_sent_at,
        min(unsubscribed_at) as unsubscribed_at,
        min(bounced_at) as bounced_at,
        bool_or(was_spam_reported) as has_spam_report
    from {{ ref('fct_email_sends') }}
    where contact_id is not null
    {% if is_incremental() %}
      and contact_id in (select contact_id from changed_contacts)
    {% endif %}
    group by contact_id

),

engagement as (

    select
    {% if is_incremental() -%}
        changed.contact_id,
        last_engaged.activity_date as last_engaged_on
    -- Each changed contact's newest engaged day: a backward probe of the (contact_id,
    -- activity_date) index, not every day of every changed contact.
    from (select distinct contact_id from changed_contacts) as changed
    left join lateral (
        select daily.activity_date
        from {{ ref('contact_engagement_daily') }} as daily
        where daily.contact_id = changed.contact_id and daily.is_engaged
        order by daily.activity_date desc
        limit 1
    ) as last_engaged on true
    {%- else -%}
        contact_id,
        max(activity_date) filter (where is_engaged) as last_engaged_on
    from {{ ref('contact_engagement_daily') }}
    group by contact_id
    {%- endif %}

),

final as (

    select
        coalesce(sends.contact_id, engagement.contact_id) as contact_id,
        sends.emails_sent,
        sends.emails_delivered,
        sends.emails_human_opened,
        sends.emails_clicked,
        sends.emails_replied,
        sends.first_email_sent_at,
        sends.last_email_sent_at,
        sends.unsubscribed_at,
        sends.bounced_at,
        sends.has_spam_report,
        engagement.last_engaged_on,
        now() as built_at
    from sends
    full outer join engagement on engagement.contact_id = sends.contact_id

)

select * from final
