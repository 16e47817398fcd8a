{{
    config(
        materialized='incremental',
        unique_key='invitation_key',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['invitation_key'], 'unique': True}, {'columns': ['_synced_at']}],
        post_hook=["{{ analyze_if_changed() }}"],
    )
}}
{#- A table, not a view: fct_linkedin_touches reads it several times, and normalising names and
    profile URLs (regular expressions) is the expensive part. Incremental: raw rows synced since the
    newest `_synced_at` held are re-read and replace their rows (raw LinkedIn rows are never deleted). -#}
with

source as (

    select * from {{ source('linkedin', 'invitations') }}
    {% if is_incremental() %}
    where _synced_at > {{ incremental_watermark('_synced_at') }}
    {% endif %}

),

renamed as (

    select
        row_key as invitation_key,
        export_owner as rep,
        {{ normalize_name('from_name') }} as from_name,
        {{ normalize_name('to_name') }} as to_name,
        sent_at,
        nullif(btrim(message), '') as message,
        upper(direction) as direction,
        {{ normalize_linkedin_url('inviter_profile_url') }} as inviter_profile_url,
        {{ normalize_linkedin_url('invitee_profile_url') }} as invitee_profile_url,
        _export_id as export_id,
        _synced_at

    from source

),

final as (

    select
        *,
        -- The other member: whom the rep invited, or who invited the rep.
        case when direction = 'OUTGOING' then invitee_profile_url else inviter_profile_url end as profile_url,
        case when direction = 'OUTGOING' then to_name else from_name end as member_name

    from renamed

)

select * from final
