{#- The "today" of a build (docs/architecture.md "Time"): var('as_of_date') when given (Airflow
    passes the DAG run's date), else the last day with data: the newest engagement day, contact
    creation or conversion. Contacts' `updatedate` is not used: growthlab's own score write-backs
    touch it. -#}
{% macro lead_features_horizon() -%}
    {%- if var('as_of_date') -%}
        '{{ var("as_of_date") }}'::date
    {%- else -%}
        (
            select greatest(
                (select max(activity_date) from {{ ref('contact_engagement_daily') }}),
                (select max((created_at at time zone 'UTC')::date) from {{ ref('dim_contacts') }}),
                (select max((became_opportunity_at at time zone 'UTC')::date) from {{ ref('dim_contacts') }})
            )
        )
    {%- endif -%}
{%- endmacro %}

{#- lead_features keeps month starts up to the horizon and the horizon itself: an incremental
    build drops the previous build's "today" (and anything after the horizon). -#}
{% macro lead_features_prune() -%}
    delete from {{ this }}
    where as_of_date > {{ lead_features_horizon() }}
       or (
           as_of_date < {{ lead_features_horizon() }}
           and as_of_date <> date_trunc('month', as_of_date::timestamp)::date
       )
{%- endmacro %}
