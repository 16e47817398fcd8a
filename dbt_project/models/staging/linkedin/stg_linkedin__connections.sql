with

source as (

    select * from {{ source('linkedin', 'connections') }}

),

renamed as (

    select
        row_key as connection_key,
        export_owner as rep,
        {{ normalize_name('first_name') }} as first_name,
        {{ normalize_name('last_name') }} as last_name,
        {{ normalize_linkedin_url('profile_url') }} as profile_url,
        {{ normalize_email('email') }} as email,
        nullif(btrim(company), '') as company_name,
        nullif(btrim(position), '') as position,
        connected_on,
        _export_id as export_id,
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
