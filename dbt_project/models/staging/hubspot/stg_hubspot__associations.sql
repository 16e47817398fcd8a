with

source as (

    select * from {{ source('hubspot', 'associations') }}

),

renamed as (

    select
        from_type,
        from_id,
        to_type,
        to_id,
        association_category,
        association_type_id,
        label as association_label,
        removed as is_removed,
        removed_at,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
