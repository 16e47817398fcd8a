{{ config(contract={'enforced': true}) }}
{#- Pipeline by week and deal stage. HubSpot's stage history is not ingested, so a deal's stage at
    the end of a past week is: its closed stage once closed by then, its current stage if it is
    still open today, else `open_stage_unknown` (open then, closed since). -#}
with

deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where not is_archived and created_at is not null

),

weeks as (

    select week_start::date as week_start
    from generate_series(
        (select date_trunc('week', min(created_at) at time zone 'UTC') from deals),
        (
            select date_trunc('week', max(greatest(created_at, coalesce(closed_at, created_at))) at time zone 'UTC')
            from deals
        ),
        interval '1 week'
    ) as week_start

),

deal_weeks as (

    select
        weeks.week_start,
        deals.deal_id,
        coalesce(deals.amount, 0) as amount,
        case
            when deals.is_closed and deals.closed_at < ((weeks.week_start + 7)::timestamp at time zone 'UTC')
                then deals.deal_stage
            when not deals.is_closed then deals.deal_stage
            else 'open_stage_unknown'
        end as deal_stage,
        deals.created_at >= (weeks.week_start::timestamp at time zone 'UTC')
            and deals.created_at < ((weeks.week_start + 7)::timestamp at time zone 'UTC') as created_in_week,
        deals.is_closed
            and deals.closed_at >= (weeks.week_start::timestamp at time zone 'UTC')
            and deals.closed_at < ((weeks.week_start + 7)::timestamp at time zone 'UTC') as closed_in_week
    from weeks
    inner join deals on deals.created_at < ((weeks.week_start + 7)::timestamp at time zone 'UTC')

),

aggregated as (

    select
        week_start,
        deal_stage,
        count(*) as deal_count,
        sum(amount) as amount,
        count(*) filter (where created_in_week) as deals_created,
        coalesce(sum(amount) filter (where created_in_week), 0) as amount_created,
        count(*) filter (where closed_in_week) as deals_closed,
        coalesce(sum(amount) filter (where closed_in_week), 0) as amount_closed
    from deal_weeks
    group by 1, 2

),

final as (

    select
        (week_start || '|' || deal_stage)::text as performance_key,
        week_start::date as week_start,
        deal_stage::text as deal_stage,
        (deal_stage not in ('closedwon', 'closedlost'))::boolean as is_open_stage,
        deal_count::integer as deal_count,
        amount::double precision as amount,
        deals_created::integer as deals_created,
        amount_created::double precision as amount_created,
        deals_closed::integer as deals_closed,
        amount_closed::double precision as amount_closed,
        (
            sum(case when deal_stage not in ('closedwon', 'closedlost') then amount else 0 end)
                over (partition by week_start)
        )::double precision as week_open_pipeline_amount
    from aggregated

)

select * from final
