{#- Models land in the schema their folder names (staging, intermediate, marts), not
    "<target schema>_<custom schema>": the schemas, and the analyst's grants on marts, are created by
    the warehouse migrations (growthlab/warehouse/migrations/0001_contract_schemas.sql). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
