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

{#- The as-of dates lead_features holds, each with whether its label is still unknown (null for
    all of a date's rows or for none, so its first row tells): a loose index scan, one probe of the
    as_of_date index per date. `where as_of_date = <a date>` would not do: the planner expects a
    date's rows everywhere and scans the table for the first one, and a date it does not hold (the
    new "today") costs a scan of the whole table. -#}
{% macro lead_features_held_dates() -%}
    (
        with recursive walk as (
            (
                select held.as_of_date, held.converted_90d is null as label_unknown
                from {{ this }} as held
                order by held.as_of_date
                limit 1
            )
            union all
            select next_date.as_of_date, next_date.label_unknown
            from walk
            cross join lateral (
                select held.as_of_date, held.converted_90d is null as label_unknown
                from {{ this }} as held
                where held.as_of_date > walk.as_of_date
                order by held.as_of_date
                limit 1
            ) as next_date
        )
        select as_of_date, label_unknown from walk
    )
{%- endmacro %}

{#- lead_features keeps month starts up to the horizon and the horizon itself: an incremental
    build drops the previous build's "today" (and anything after the horizon), found through the
    held dates (index), never by scanning the table: the delete reads its rows through the primary
    key (sequential scans off for it alone; the planner cannot know the dates to drop are one of
    ~14). -#}
{% macro lead_features_prune() -%}
    set local enable_seqscan = off;
    delete from {{ this }}
    where as_of_date = any(array(
        select held_dates.as_of_date
        from {{ lead_features_held_dates() }} as held_dates
        where held_dates.as_of_date > {{ lead_features_horizon() }}
           or (
               held_dates.as_of_date < {{ lead_features_horizon() }}
               and held_dates.as_of_date <> date_trunc('month', held_dates.as_of_date::timestamp)::date
           )
    ));
    set local enable_seqscan to default
{%- endmacro %}
