{#- The as-of date of this build, or none: var('as_of_date') (people, unit tests), else the env var
    GROWTHLAB_AS_OF_DATE (how Airflow passes the DAG run's date: a changed env var re-parses only the
    files that read it, a changed var re-parses the whole project). Validated as YYYY-MM-DD, since it
    is pasted into SQL. -#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date') or (env_var('GROWTHLAB_AS_OF_DATE', '') | trim) -%}
    {%- if value -%}
        {%- set value = value | string | trim -%}
        {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', value) -%}
            {{ exceptions.raise_compiler_error("as_of_date " ~ value ~ " is not a date: use YYYY-MM-DD (env GROWTHLAB_AS_OF_DATE or var as_of_date)") }}
        {%- endif -%}
        {{ return(value) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The "today" of a build (docs/architecture.md "Time"): as_of_date() when given (Airflow passes
    the DAG run's date), else the last day with data: the newest engagement day, contact
    creation or conversion. Contacts' `updatedate` is not used: growthlab's own score write-backs
    touch it. -#}
{% macro lead_features_horizon() -%}
    {%- set as_of = as_of_date() -%}
    {%- if as_of -%}
        '{{ as_of }}'::date
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
