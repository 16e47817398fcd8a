{#- dbt's delete+insert strategy for PostgreSQL, with one statement added: the new rows are
    analyzed before the delete. Without statistics on them the planner cannot tell one new key
    from a million, and may scan the whole target to delete a few keys (lead_features scanned ~10M
    rows to replace one date that was not there). With them it probes the key's index. -#}
{% macro postgres__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- if unique_key %}
    analyze {{ source }};
    {% endif -%}
    {{ default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) }}
{%- endmacro %}
