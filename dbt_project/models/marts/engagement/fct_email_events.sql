{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['event_id'], 'unique': True},
            {'columns': ['send_id']},
            {'columns': ['source', 'synced_at']},
            {'columns': ['contact_id', 'occurred_at']},
            {'columns': ['message_id', 'contact_id']},
            {'columns': ['built_at']},
        ],
    )
}}
{#- One row per email event from either source. Incremental: only raw rows synced since the last
    build are read (per source watermark on `_synced_at`), and a re-synced event replaces its row. -#}
-- depends_on: {{ ref('stg_hubspot__contacts') }} (the incremental branch resolves addresses there)
with

sendgrid as (

    select * from {{ ref('stg_sendgrid__events') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('synced_at', "source = 'sendgrid'") }}
    {% endif %}

),

hubspot as (

    select * from {{ ref('stg_hubspot__email_events') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('synced_at', "source = 'hubspot'") }}
    {% endif %}

),

contacts_by_email as (

    {% if is_incremental() -%}
    -- Only the addresses of the new events that need one (SendGrid events carry the contact id
    -- growthlab sent them with), by int_contacts_identified's rule (the earliest created live
    -- contact with the address), through the staging table's email index (`= any(array)`: the
    -- planner cannot know how few they are) rather than resolving every contact.
    select distinct on (email) email, contact_id
    from {{ ref('stg_hubspot__contacts') }}
    where not is_archived
      and email = any(array(
          select email from sendgrid where contact_id is null
          union
          select email from hubspot
      ))
    order by email, created_at, contact_id
    {%- else -%}
    select identifier as email, contact_id
    from {{ ref('int_contacts_identified') }}
    where identifier_type = 'email'
    {%- endif %}

),

sendgrid_renamed as (

    select
        'sg:' || sendgrid.event_id as event_id,
        'sendgrid' as source,
        sendgrid.event_id as source_event_id,
        'sg:' || coalesce(sendgrid.outbox_id, sendgrid.message_id, sendgrid.event_id) as send_id,
        case sendgrid.event_type
            when 'processed' then 'sent'
            when 'spamreport' then 'spam_report'
            when 'group_unsubscribe' then 'unsubscribe'
            else sendgrid.event_type
        end as event_type,
        sendgrid.event_type as source_event_type,
        sendgrid.occurred_at,
        coalesce(sendgrid.contact_id, contacts_by_email.contact_id) as contact_id,
        sendgrid.email,
        sendgrid.campaign_id,
        sendgrid.step,
        sendgrid.variant,
        sendgrid.angle,
        sendgrid.message_id,
        sendgrid.outbox_id,
        sendgrid.event_type = 'open' and sendgrid.is_machine_open as is_machine_open,
        sendgrid.url,
        sendgrid.bounce_type,
        sendgrid._synced_at as synced_at
    from sendgrid
    left join contacts_by_email on contacts_by_email.email = sendgrid.email

),

hubspot_renamed as (

    select
        'hs:' || hubspot.email_event_id as event_id,
        'hubspot' as source,
        hubspot.email_event_id as source_event_id,
        -- An event whose SENT event is unknown stays, as a send of its own (staging warns about it).
        'hs:' || coalesce(hubspot.sent_event_id, hubspot.email_event_id) as send_id,
        case
            when hubspot.event_type = 'spamreport' then 'spam_report'
            when hubspot.event_type = 'statuschange' and hubspot.is_unsubscribe then 'unsubscribe'
            when hubspot.event_type = 'statuschange' then 'status_change'
            else hubspot.event_type
        end as event_type,
        hubspot.event_type as source_event_type,
        hubspot.occurred_at,
        contacts_by_email.contact_id,
        hubspot.email,
        hubspot.email_campaign_id as campaign_id,
        null::integer as step,
        null::text as variant,
        null::text as angle,
        null::text as message_id,
        null::text as outbox_id,
        hubspot.event_type = 'open' and hubspot.is_filtered as is_machine_open,
        hubspot.url,
        hubspot.bounce_category as bounce_type,
        hubspot._synced_at as synced_at
    from hubspot
    left join contacts_by_email on contacts_by_email.email = hubspot.email

),

final as (

    select *, now() as built_at from sendgrid_renamed
    union all
    select *, now() from hubspot_renamed

)

select * from final
