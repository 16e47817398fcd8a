with

source as (

    select * from {{ source('hubspot', 'owners') }}

),

renamed as (

    select
        id as owner_id,
        {{ normalize_email("coalesce(properties ->> 'email', payload ->> 'email')") }} as email,
        {{ normalize_name("coalesce(properties ->> 'firstName', payload ->> 'firstName')") }} as first_name,
        {{ normalize_name("coalesce(properties ->> 'lastName', payload ->> 'lastName')") }} as last_name,
        coalesce(properties ->> 'userId', payload ->> 'userId') as user_id,
        archived as is_archived,
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
