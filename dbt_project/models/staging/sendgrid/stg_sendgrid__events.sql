with

source as (

    select * from {{ source('sendgrid', 'events') }}

),

renamed as (

    select
        sg_event_id as event_id,
        lower(event) as event_type,
        {{ normalize_email('email') }} as email,
        event_at as occurred_at,
        sg_message_id,
        -- sg_message_id is "<X-Message-Id>.<filter suffix>"; replies quote the X-Message-Id.
        nullif(split_part(sg_message_id, '.', 1), '') as message_id,
        coalesce(sg_machine_open, false) as is_machine_open,
        nullif(btrim(gl_campaign), '') as campaign_id,
        {{ to_integer("nullif(btrim(gl_step), '')") }} as step,
        nullif(btrim(gl_variant), '') as variant,
        nullif(btrim(gl_angle), '') as angle,
        nullif(btrim(gl_contact_id), '') as contact_id,
        nullif(btrim(gl_outbox_id), '') as outbox_id,
        payload ->> 'url' as url,
        payload ->> 'type' as bounce_type,
        payload ->> 'reason' as reason,
        received_at,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
