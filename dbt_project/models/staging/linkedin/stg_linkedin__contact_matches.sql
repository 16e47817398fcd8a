with

source as (

    select * from {{ source('linkedin', 'contact_matches') }}

),

renamed as (

    select
        connection_row_key as connection_key,
        contact_id,
        match_method,
        confidence::double precision as confidence,
        matched_at

    from source

),

final as (

    select * from renamed

)

select * from final
