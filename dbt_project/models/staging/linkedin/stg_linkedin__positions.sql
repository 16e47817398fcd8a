with

source as (

    select * from {{ source('linkedin', 'positions') }}

),

renamed as (

    select
        row_key as position_key,
        export_owner as rep,
        nullif(btrim(company_name), '') as company_name,
        nullif(btrim(title), '') as title,
        nullif(btrim(location), '') as location,
        started_on,
        finished_on,
        finished_on is null as is_current,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
