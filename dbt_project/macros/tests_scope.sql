{#- Data tests of the big incremental facts test what the build wrote: a test configured with
    `where: "__this_build__"` reads only the rows whose `built_at` is the newest (every row after a
    full build, the rows rebuilt after an incremental one, found by the built_at index; the value
    is read when the test runs and written into its SQL) rather than
    scanning the whole fact on every build. The rows it wrote earlier were tested by the build that
    wrote them. `--vars '{test_all_rows: true}'` tests every row (e.g. a periodic audit). dbt's
    documented hook for this: get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__this_build__' in where -%}
            {%- set this_build -%}
                {%- if var('test_all_rows', false) -%} true
                {%- elif execute -%}
                    {#- The newest built_at as a literal, read when the test runs: compared with a
                        subquery, the planner takes every row for the newest (after a full build
                        they all were) and scans the whole fact; with the value it sees how few
                        rows an incremental build wrote and uses the built_at index. -#}
                    {%- set newest = run_query("select max(built_at)::text from " ~ relation).columns[0].values()[0] -%}
                    {%- if newest is none -%} false
                    {%- else -%} built_at = '{{ newest }}'::timestamptz
                    {%- endif -%}
                {%- else -%} built_at = (select max(newest.built_at) from {{ relation }} as newest)
                {%- endif -%}
            {%- endset -%}
            {%- set where = where | replace('__this_build__', this_build) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
