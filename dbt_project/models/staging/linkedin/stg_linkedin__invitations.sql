with

source as (

    select * from {{ source('linkedin', 'invitations') }}

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
