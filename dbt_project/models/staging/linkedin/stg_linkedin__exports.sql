with

source as (

    select * from {{ source('linkedin', 'exports') }}

),

renamed as (

    select
        export_id,
        export_owner as rep,
        archive_name,
        exported_at,
        rows_in,
        rows_loaded,
        rows_quarantined,
        processed_at

    from source

),

final as (

    select * from renamed

)

select * from final
