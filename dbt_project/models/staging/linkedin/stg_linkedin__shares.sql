with

source as (

    select * from {{ source('linkedin', 'shares') }}

),

renamed as (

    select
        row_key as share_key,
        export_owner as rep,
        shared_at,
        nullif(btrim(share_link), '') as share_link,
        nullif(btrim(share_commentary), '') as commentary,
        nullif(btrim(shared_url), '') as shared_url,
        upper(visibility) as visibility,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
