with

source as (

    select * from {{ source('linkedin', 'messages') }}

),

renamed as (

    select
        row_key as message_key,
        export_owner as rep,
        conversation_id,
        nullif(btrim(conversation_title), '') as conversation_title,
        {{ normalize_name('from_name') }} as from_name,
        {{ normalize_linkedin_url('sender_profile_url') }} as sender_profile_url,
        nullif(btrim(to_names), '') as to_names,
        {{ normalize_linkedin_url('recipient_profile_urls[1]') }} as first_recipient_profile_url,
        coalesce(cardinality(recipient_profile_urls), 0) as recipient_count,
        sent_at,
        nullif(btrim(subject), '') as subject,
        nullif(btrim(content), '') as content,
        upper(folder) as folder,
        coalesce(is_draft, false) as is_draft,
        _export_id as export_id,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
