{{
    config(
        materialized='incremental',
        unique_key='email_engagement_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['email_engagement_id'], 'unique': True},
            {'columns': ['_synced_at']},
        ],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- A table, not a view: several marts read it and parsing HubSpot's property strings is the
    expensive part (a view re-parses every raw row for every reader). Incremental: raw rows synced
    since the newest `_synced_at` held are re-parsed and replace their rows. -#}
with

source as (

    select * from {{ source('hubspot', 'emails') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('_synced_at') }}
    {% endif %}

),

renamed as (

    select
        id as email_engagement_id,
        {{ hs_timestamp('hs_timestamp') }} as occurred_at,
        upper({{ hs_text('hs_email_direction') }}) as direction,
        {{ hs_text('hs_email_subject') }} as subject,
        upper({{ hs_text('hs_email_status') }}) as email_status,
        {{ hs_text('hs_email_headers') }} as headers_json,
        {{ hs_text('hubspot_owner_id') }} as owner_id,
        coalesce({{ hs_timestamp('hs_createdate') }}, created_at) as created_at,
        coalesce(updated_at, {{ hs_timestamp('hs_lastmodifieddate') }}) as updated_at,
        archived as is_archived,
        _synced_at

    from source

),

final as (

    select
        email_engagement_id,
        coalesce(occurred_at, created_at) as occurred_at,
        direction,
        direction = 'INCOMING_EMAIL' as is_incoming,
        subject,
        email_status,
        -- hs_email_headers is a JSON string. Message ids are compared by their local part
        -- ("<abc@host>" -> "abc"): a reply's In-Reply-To names the SendGrid X-Message-Id of a
        -- growthlab mail, or the Message-ID of a rep's one-to-one email. Read with a pattern, so a
        -- malformed header string cannot stop the build.
        nullif(split_part(btrim(
            substring(headers_json from '(?i)"In-Reply-To"\s*:\s*"([^"]*)"'), ' <>'
        ), '@', 1), '') as in_reply_to_key,
        nullif(split_part(btrim(
            substring(headers_json from '(?i)"Message-ID"\s*:\s*"([^"]*)"'), ' <>'
        ), '@', 1), '') as message_id_key,
        owner_id,
        created_at,
        updated_at,
        is_archived,
        _synced_at

    from renamed

)

select * from final
