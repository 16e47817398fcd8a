with

source as (

    select * from {{ source('hubspot', 'deals') }}

),

renamed as (

    select
        id as deal_id,
        {{ hs_text('dealname') }} as deal_name,
        {{ hs_number('amount') }} as amount,
        lower({{ hs_text('dealstage') }}) as deal_stage,
        {{ hs_text('pipeline') }} as pipeline,
        coalesce({{ hs_timestamp('createdate') }}, created_at) as created_at,
        {{ hs_timestamp('closedate') }} as close_date_at,
        {{ hs_text('hubspot_owner_id') }} as owner_id,
        coalesce(updated_at, {{ hs_timestamp('hs_lastmodifieddate') }}) as updated_at,
        archived as is_archived,
        _synced_at

    from source

),

final as (

    select
        *,
        deal_stage in ('closedwon', 'closedlost') as is_closed,
        deal_stage = 'closedwon' as is_won,
        -- HubSpot's closedate is the expected close date while a deal is open.
        case when deal_stage in ('closedwon', 'closedlost') then close_date_at end as closed_at

    from renamed

)

select * from final
