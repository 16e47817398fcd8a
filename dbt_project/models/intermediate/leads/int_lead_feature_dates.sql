{#- The as-of dates of lead_features: the first day of every month from the first month with
    engagement data up to the build's horizon, plus the horizon itself ("today"). -#}
with

bounds as (

    select
        {{ lead_features_horizon() }} as horizon_date,
        coalesce(
            (select min(activity_date) from {{ ref('contact_engagement_daily') }}),
            (select min((created_at at time zone 'UTC')::date) from {{ ref('dim_contacts') }})
        ) as first_date

),

month_starts as (

    select
        month_start::date as as_of_date,
        bounds.horizon_date
    from bounds
    cross join lateral generate_series(
        date_trunc('month', bounds.first_date::timestamp),
        bounds.horizon_date::timestamp,
        interval '1 month'
    ) as month_start

),

final as (

    select as_of_date, horizon_date from month_starts
    union
    select horizon_date, horizon_date from bounds where horizon_date is not null

)

select * from final
