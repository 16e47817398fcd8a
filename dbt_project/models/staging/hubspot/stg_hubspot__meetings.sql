with

source as (

    select * from {{ source('hubspot', 'meetings') }}

),

renamed as (

    select
        id as meeting_id,
        {{ hs_text('hs_meeting_title') }} as meeting_title,
        {{ hs_timestamp('hs_timestamp') }} as meeting_at,
        {{ hs_timestamp('hs_meeting_start_time') }} as starts_at,
        {{ hs_timestamp('hs_meeting_end_time') }} as ends_at,
        upper({{ hs_text('hs_meeting_outcome') }}) as outcome,
        {{ hs_text('hubspot_owner_id') }} as owner_id,
        coalesce({{ hs_timestamp('hs_createdate') }}, created_at) as booked_at,
        coalesce(updated_at, {{ hs_timestamp('hs_lastmodifieddate') }}) as updated_at,
        archived as is_archived,
        _synced_at

    from source

),

final as (

    select
        meeting_id,
        meeting_title,
        coalesce(starts_at, meeting_at) as starts_at,
        ends_at,
        coalesce(outcome, 'SCHEDULED') as outcome,
        owner_id,
        coalesce(booked_at, meeting_at) as booked_at,
        updated_at,
        is_archived,
        _synced_at

    from renamed

)

select * from final
