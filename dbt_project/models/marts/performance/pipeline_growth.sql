{{ config(contract={'enforced': true}) }}
{#- Pipeline by week and deal stage. HubSpot's stage history is not ingested, so a deal's stage at
    the end of a past week is: its closed stage once closed by then, its current stage if it is
    still open today, else `open_stage_unknown` (open then, closed since). A deal is therefore in at
    most two stages over its life (open_stage_unknown until the week it closed, then its closed
    stage): each stage's deal count and amount per week are running sums of the deals entering and
    leaving it, so the cost follows deals plus weeks, not deals times weeks. -#}
with

deals as (

    select
        deal_id,
        deal_stage,
        is_closed,
        coalesce(amount, 0)::numeric as amount,
        date_trunc('week', created_at at time zone 'UTC')::date as created_week,
        date_trunc('week', closed_at at time zone 'UTC')::date as closed_week,
        created_at,
        closed_at
    from {{ ref('stg_hubspot__deals') }}
    where not is_archived and created_at is not null

),

weeks as (

    select week_start::date as week_start
    from generate_series(
        (select min(created_week) from deals)::timestamp,
        (
            select date_trunc('week', max(greatest(created_at, coalesce(closed_at, created_at))) at time zone 'UTC')
            from deals
        ),
        interval '1 week'
    ) as week_start

),

-- Each deal's stages over the weeks from its creation: [from_week, to_week), to_week null = to the end.
segments as (

    -- Still open: its current stage from creation on.
    select deal_id, amount, deal_stage, created_week as from_week, null::date as to_week
    from deals
    where not is_closed

    union all

    -- Closed on a known date: open (stage unknown) until the week it closed, then its closed stage.
    select deal_id, amount, 'open_stage_unknown', created_week, closed_week
    from deals
    where is_closed and closed_at is not null and closed_week > created_week

    union all

    select deal_id, amount, deal_stage, greatest(created_week, closed_week), null
    from deals
    where is_closed and closed_at is not null

    union all

    -- Closed without a close date (or no stage): open with an unknown stage, every week.
    select deal_id, amount, 'open_stage_unknown', created_week, null
    from deals
    where is_closed is null or (is_closed and closed_at is null)

),

changes as (

    select from_week as week_start, deal_stage, 1 as deals, amount
    from segments
    union all
    select to_week, deal_stage, -1, -amount
    from segments
    where to_week is not null

),

weekly_changes as (

    select week_start, deal_stage, sum(deals) as deals, sum(amount) as amount
    from changes
    group by week_start, deal_stage

),

stage_weeks as (

    select
        weeks.week_start,
        stages.deal_stage,
        sum(coalesce(weekly_changes.deals, 0)) over stage_history as deal_count,
        sum(coalesce(weekly_changes.amount, 0)) over stage_history as amount
    from weeks
    cross join (select distinct deal_stage from segments) as stages
    left join weekly_changes
        on weekly_changes.week_start = weeks.week_start
        and weekly_changes.deal_stage = stages.deal_stage
    window stage_history as (partition by stages.deal_stage order by weeks.week_start)

),

-- A deal is created in its first week, in the stage it has then; closed in the week it closed
-- (in its closed stage), counted only from its creation on.
created as (

    select
        created_week as week_start,
        case
            when is_closed and closed_week <= created_week then deal_stage
            when not is_closed then deal_stage
            else 'open_stage_unknown'
        end as deal_stage,
        count(*) as deals_created,
        sum(amount) as amount_created
    from deals
    group by 1, 2

),

closed as (

    select closed_week as week_start, deal_stage, count(*) as deals_closed, sum(amount) as amount_closed
    from deals
    where is_closed and closed_week >= created_week
    group by 1, 2

),

aggregated as (

    select
        stage_weeks.week_start,
        stage_weeks.deal_stage,
        stage_weeks.deal_count,
        stage_weeks.amount,
        coalesce(created.deals_created, 0) as deals_created,
        coalesce(created.amount_created, 0) as amount_created,
        coalesce(closed.deals_closed, 0) as deals_closed,
        coalesce(closed.amount_closed, 0) as amount_closed
    from stage_weeks
    left join created
        on created.week_start = stage_weeks.week_start and created.deal_stage = stage_weeks.deal_stage
    left join closed
        on closed.week_start = stage_weeks.week_start and closed.deal_stage = stage_weeks.deal_stage
    where stage_weeks.deal_count > 0

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
