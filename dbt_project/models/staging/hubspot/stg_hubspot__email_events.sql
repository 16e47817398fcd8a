with

source as (

    select * from {{ source('hubspot', 'email_events') }}

),

renamed as (

    select
        id as email_event_id,
        lower(event_type) as event_type,
        {{ normalize_email('recipient') }} as email,
        created_at as occurred_at,
        email_campaign_id,
        filtered_event as is_filtered,
        -- Every event names the SENT event of its message (sentBy.id): that is the send's key.
        coalesce(payload -> 'sentBy' ->> 'id', case when upper(event_type) = 'SENT' then id end) as sent_event_id,
        payload ->> 'url' as url,
        payload ->> 'category' as bounce_category,
        -- STATUSCHANGE: the recipient unsubscribed from (a subscription type or) all email.
        (
            upper(event_type) = 'STATUSCHANGE'
            and (
                upper(coalesce(payload ->> 'portalSubscriptionStatus', '')) = 'UNSUBSCRIBED'
                or exists (
                    select 1
                    from jsonb_array_elements(
                        case when jsonb_typeof(payload -> 'subscriptions') = 'array'
                             then payload -> 'subscriptions' else '[]'::jsonb end
                    ) as s
                    where upper(s ->> 'status') = 'UNSUBSCRIBED'
                )
            )
        ) as is_unsubscribe,
        _synced_at

    from source

),

final as (

    select * from renamed

)

select * from final
