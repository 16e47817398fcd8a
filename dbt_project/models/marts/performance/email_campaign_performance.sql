{{
    config(
        materialized='incremental',
        unique_key='sent_date',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        contract={'enforced': true},
        indexes=[{'columns': ['sent_date']}, {'columns': ['campaign_id', 'sent_date']}],
    )
}}
{#- Email performance by send day, source, campaign, step, variant and segment (the contact's
    company cleantech segment), with HubSpot's definitions (see the column docs). Counts are of
    sends; rates are over the sends of the row, so re-aggregate counts, never average rates.
    Incremental by send day: the days of sends rebuilt since this table was, and the days whose
    credited conversions, pipeline or revenue differ from the held rows (a new conversion or deal,
    a deal won or changed long after it was created, a credit that moved): credits are few, so
    they are recomputed for every day and compared, never the sends. A changed company segment or
    cost seed needs --full-refresh. -#}
with

credits as (

    select * from {{ ref('int_email_sends_attributed') }}

),

-- Credited sends are few: reach them from the credits (an index lookup each) and roll them up to
-- the grain separately, rather than joining every send to the credits.
credited_by_grain as (

    select
        credited_send.sent_date,
        credited_send.source,
        coalesce(credited_send.campaign_id, '(none)') as campaign_id,
        credited_send.step,
        coalesce(credited_send.variant, '(none)') as variant,
        coalesce(credited_company.cleantech_segment, 'unknown') as segment,
        sum(credits.conversions) as conversions,
        sum(credits.attributed_pipeline) as attributed_pipeline,
        sum(credits.attributed_revenue) as attributed_revenue
    from credits
    inner join {{ ref('fct_email_sends') }} as credited_send on credited_send.send_id = credits.send_id
    left join {{ ref('dim_contacts') }} as credited_contact on credited_contact.contact_id = credited_send.contact_id
    left join {{ ref('dim_companies') }} as credited_company
        on credited_company.company_id = credited_contact.company_id
    group by 1, 2, 3, 4, 5, 6

),

{% if is_incremental() %}
refreshed_days as (

    select sent_date
    from {{ ref('fct_email_sends') }}
    where built_at > (select coalesce(max(held.built_at), '-infinity'::timestamptz) from {{ this }} as held)

    union

    select coalesce(fresh.sent_date, held.sent_date)
    from credited_by_grain as fresh
    full outer join (
        select * from {{ this }}
        where conversions <> 0 or attributed_pipeline <> 0 or attributed_revenue <> 0
    ) as held
        on held.sent_date = fresh.sent_date
        and held.source = fresh.source
        and held.campaign_id = fresh.campaign_id
        and coalesce(held.step, -1) = coalesce(fresh.step, -1)
        and held.variant = fresh.variant
        and held.segment = fresh.segment
    where (held.conversions, held.attributed_pipeline, held.attributed_revenue)
        is distinct from (fresh.conversions::integer, fresh.attributed_pipeline::double precision,
                          fresh.attributed_revenue::double precision)

),
{% endif %}

sends as (

    select * from {{ ref('fct_email_sends') }}
    {% if is_incremental() %}
    -- An array: the sent_date index finds the few days' sends (a semi-join would scan them all).
    where sent_date = any(array(select sent_date from refreshed_days))
    {% endif %}

),

contacts as (

    select contact_id, company_id from {{ ref('dim_contacts') }}

),

companies as (

    select company_id, cleantech_segment from {{ ref('dim_companies') }}

),

costs as (

    select * from {{ ref('marketing_costs') }} where cost_unit = 'send'

),

enriched as (

    select
        sends.*,
        coalesce(companies.cleantech_segment, 'unknown') as segment,
        coalesce(costs.unit_cost_usd, 0) as cost_usd
    from sends
    left join contacts on contacts.contact_id = sends.contact_id
    left join companies on companies.company_id = contacts.company_id
    left join costs
        on costs.channel = case when sends.source = 'sendgrid' then 'email' else 'hubspot_email' end
        and sends.sent_date >= costs.valid_from
        and (costs.valid_to is null or sends.sent_date <= costs.valid_to)

),

aggregated as (

    select
        sent_date,
        source,
        coalesce(campaign_id, '(none)') as campaign_id,
        step,
        coalesce(variant, '(none)') as variant,
        segment,
        max(angle) as angle,
        count(*) as sends,
        count(*) filter (where was_delivered) as delivered,
        count(*) filter (where was_opened) as opened,
        count(*) filter (where was_human_opened) as human_opened,
        count(*) filter (where was_clicked) as clicked,
        count(*) filter (where was_replied) as replied,
        count(*) filter (where was_unsubscribed) as unsubscribed,
        count(*) filter (where was_bounced) as bounced,
        count(*) filter (where was_spam_reported) as spam_reported,
        avg(first_response_minutes) as avg_lead_response_minutes,
        sum(cost_usd) as cost_usd
    from enriched
    group by 1, 2, 3, 4, 5, 6

),

credited as (

    select * from credited_by_grain
    {% if is_incremental() %}
    where sent_date in (select sent_date from refreshed_days)
    {% endif %}

),

combined as (

    select
        aggregated.*,
        coalesce(credited.conversions, 0) as conversions,
        coalesce(credited.attributed_pipeline, 0) as attributed_pipeline,
        coalesce(credited.attributed_revenue, 0) as attributed_revenue
    from aggregated
    left join credited
        on credited.sent_date = aggregated.sent_date
        and credited.source = aggregated.source
        and credited.campaign_id = aggregated.campaign_id
        and coalesce(credited.step, -1) = coalesce(aggregated.step, -1)
        and credited.variant = aggregated.variant
        and credited.segment = aggregated.segment

),

final as (

    select
        concat_ws('|', sent_date, source, campaign_id, coalesce(step::text, '-'), variant, segment)::text
            as performance_key,
        sent_date::date as sent_date,
        source::text as source,
        campaign_id::text as campaign_id,
        step::integer as step,
        variant::text as variant,
        angle::text as angle,
        segment::text as segment,
        sends::integer as sends,
        delivered::integer as delivered,
        opened::integer as opened,
        human_opened::integer as human_opened,
        clicked::integer as clicked,
        replied::integer as replied,
        unsubscribed::integer as unsubscribed,
        bounced::integer as bounced,
        spam_reported::integer as spam_reported,
        {{ safe_divide('delivered', 'sends') }} as delivery_rate,
        {{ safe_divide('opened', 'delivered') }} as open_rate,
        {{ safe_divide('human_opened', 'delivered') }} as human_open_rate,
        {{ safe_divide('clicked', 'delivered') }} as click_rate,
        {{ safe_divide('clicked', 'opened') }} as click_to_open_rate,
        {{ safe_divide('clicked', 'human_opened') }} as human_click_to_open_rate,
        {{ safe_divide('replied', 'delivered') }} as reply_rate,
        {{ safe_divide('unsubscribed', 'delivered') }} as unsubscribe_rate,
        {{ safe_divide('bounced', 'sends') }} as bounce_rate,
        {{ safe_divide('spam_reported', 'delivered') }} as spam_rate,
        conversions::integer as conversions,
        {{ safe_divide('conversions', 'delivered') }} as conversion_rate,
        avg_lead_response_minutes::double precision as avg_lead_response_minutes,
        attributed_pipeline::double precision as attributed_pipeline,
        attributed_revenue::double precision as attributed_revenue,
        cost_usd::double precision as cost_usd,
        {{ safe_divide('attributed_revenue - cost_usd', 'cost_usd') }} as roi,
        now() as built_at
    from combined

)

select * from final
