{#- What each send earned, last touch: a contact's conversion (becoming an opportunity) is credited
    to their latest send in the `attribution_window_days` before it; a deal's amount (pipeline, and
    revenue once won) to the latest send to any of its contacts in the window before the deal was
    created. Every conversion and deal is credited at most once. -#}
with

contacts as (

    select contact_id, became_opportunity_at
    from {{ ref('dim_contacts') }}
    where became_opportunity_at is not null

),

deal_contacts as (

    select from_id as deal_id, to_id as contact_id
    from {{ ref('stg_hubspot__associations') }}
    where from_type = 'deals' and to_type = 'contacts' and not is_removed
    group by from_id, to_id

),

deals as (

    select deal_id, amount, is_won, created_at, updated_at
    from {{ ref('stg_hubspot__deals') }}
    where not is_archived and created_at is not null

),

-- Each conversion's (and each deal contact's) latest send in the window before it, looked up by
-- fct_email_sends' (contact_id, sent_at) index: the cost follows the conversions and deals, which
-- are few, never the sends.
conversions as (

    select latest_send.send_id, contacts.contact_id
    from contacts
    cross join lateral (
        select sends.send_id
        from {{ ref('fct_email_sends') }} as sends
        where sends.contact_id = contacts.contact_id
          and sends.sent_at <= contacts.became_opportunity_at
          and sends.sent_at > contacts.became_opportunity_at - interval '{{ var("attribution_window_days") | int }} days'
        order by sends.sent_at desc, sends.send_id desc
        limit 1
    ) as latest_send

),

deal_credits as (

    select distinct on (deals.deal_id)
        latest_send.send_id,
        deals.deal_id,
        deals.amount,
        deals.is_won,
        deals.updated_at
    from deals
    inner join deal_contacts on deal_contacts.deal_id = deals.deal_id
    cross join lateral (
        select sends.send_id, sends.sent_at
        from {{ ref('fct_email_sends') }} as sends
        where sends.contact_id = deal_contacts.contact_id
          and sends.sent_at <= deals.created_at
          and sends.sent_at > deals.created_at - interval '{{ var("attribution_window_days") | int }} days'
        order by sends.sent_at desc, sends.send_id desc
        limit 1
    ) as latest_send
    order by deals.deal_id, latest_send.sent_at desc, latest_send.send_id desc

),

final as (

    select
        send_id,
        sum(conversions) as conversions,
        sum(deals) as attributed_deals,
        sum(pipeline) as attributed_pipeline,
        sum(revenue) as attributed_revenue,
        max(deal_updated_at) as last_deal_updated_at
    from (
        select
            send_id, 1 as conversions, 0 as deals, 0::double precision as pipeline,
            0::double precision as revenue, null::timestamptz as deal_updated_at
        from conversions
        union all
        select
            send_id, 0, 1, coalesce(amount, 0), case when is_won then coalesce(amount, 0) else 0 end,
            updated_at
        from deal_credits
    ) as credits
    group by send_id

)

select * from final
