{{
    config(
        materialized='incremental',
        unique_key='connection_key',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['connection_key'], 'unique': True},
            {'columns': ['_synced_at']},
            {'columns': ['profile_url']},
        ],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- A table, not a view: fct_linkedin_touches reads it several times, and normalising names and
    profile URLs (regular expressions) is the expensive part. Incremental: raw rows synced since the
    newest `_synced_at` held are re-read and replace their rows (raw LinkedIn rows are never deleted). -#}
with

source as (

    select * from {{ source('linkedin', 'connections') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('_synced_at') }}
    {% endif %}

),

renamed as (

    select
        row_key as connection_key,
        export_owner as rep,
        {{ normalize_name('first_name') }} as first_name,
        {{ normalize_name('last_name') }} as last_name,
        {{ normalize_linkedin_url('profile_url') }} as profile_url,
        {{ normalize_email('email') }} as email,
        nullif(btrim(company), '') as company_name,
        nullif(btrim(position), '') as position,
        connected_on,
        _export_id as export_id,
        _exported_at as exported_at,
        _synced_at

    from source

),

final as (

    select
        *,
        nullif(concat_ws(' ', first_name, last_name), '') as full_name

    from renamed

)

select * from final
