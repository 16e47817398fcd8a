{{
    config(
        materialized='incremental',
        unique_key='message_key',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['message_key'], 'unique': True}, {'columns': ['_synced_at']}],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- A table, not a view: fct_linkedin_touches reads it several times, and normalising names and
    profile URLs (regular expressions) is the expensive part. Incremental: raw rows synced since the
    newest `_synced_at` held are re-read and replace their rows (raw LinkedIn rows are never deleted). -#}
with

source as (

    select * from {{ source('linkedin', 'messages') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('_synced_at') }}
    {% endif %}

),

renamed as (

    select
        row_key as message_key,
        export_owner as rep,
        conversation_id,
        nullif(btrim(conversation_title), '') as conversation_title,
        {{ normalize_name('from_name') }} as from_name,
        {{ normalize_linkedin_url('sender_profile_url') }} as sender_profile_url,
        nullif(btrim(to_names), '') as to_names,
        {{ normalize_linkedin_url('recipient_profile_urls[1]') }} as first_recipient_profile_url,
        coalesce(cardinality(recipient_profile_urls), 0) as recipient_count,
        sent_at,
        nullif(btrim(subject), '') as subject,
        nullif(btrim(content), '') as content,
        upper(folder) as folder,
        coalesce(is_draft, false) as is_draft,
        _export_id as export_id,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
