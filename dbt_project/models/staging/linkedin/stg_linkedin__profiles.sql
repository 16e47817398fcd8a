with

source as (

    select * from {{ source('linkedin', 'profiles') }}

),

renamed as (

    select
        row_key as profile_key,
        export_owner as rep,
        {{ normalize_name('first_name') }} as first_name,
        {{ normalize_name('last_name') }} as last_name,
        nullif(btrim(headline), '') as headline,
        nullif(btrim(industry), '') as industry,
        nullif(btrim(geo_location), '') as geo_location,
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
