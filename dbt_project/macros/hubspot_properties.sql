{#- HubSpot sends every property as a string (docs/architecture.md "The HubSpot portal"): empty
    strings and absent keys are null; anything that does not parse as the type becomes null here and
    is counted by the `unparsed_property_values` test of the staging model, never silently. -#}

{% macro hs_text(property, column='properties') -%}
    nullif(btrim({{ column }} ->> '{{ property }}'), '')
{%- endmacro %}

{% macro hs_number(property, column='properties') -%}
    {{ to_double(hs_text(property, column)) }}
{%- endmacro %}

{% macro hs_integer(property, column='properties') -%}
    {{ to_integer(hs_text(property, column)) }}
{%- endmacro %}

{% macro hs_bool(property, column='properties') -%}
    {{ to_boolean(hs_text(property, column)) }}
{%- endmacro %}

{% macro hs_timestamp(property, column='properties') -%}
    {{ to_timestamptz(hs_text(property, column)) }}
{%- endmacro %}

{#- Casts of text that may be malformed: null instead of an error that would stop the build. -#}

{% macro numeric_pattern() -%}
    '^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$'
{%- endmacro %}

{% macro to_double(expr) -%}
    case when {{ expr }} ~ {{ numeric_pattern() }} then ({{ expr }})::double precision end
{%- endmacro %}

{% macro to_integer(expr) -%}
    case when {{ expr }} ~ {{ numeric_pattern() }}
              and abs(({{ expr }})::numeric) < 2147483647
         then round(({{ expr }})::numeric)::integer end
{%- endmacro %}

{% macro to_boolean(expr) -%}
    case lower({{ expr }})
        when 'true' then true when '1' then true when 'yes' then true
        when 'false' then false when '0' then false when 'no' then false
    end
{%- endmacro %}

{#- ISO 8601 (HubSpot's format, with or without time and zone; no zone means UTC) or epoch
    milliseconds (older HubSpot date properties). -#}
{% macro to_timestamptz(expr) -%}
    case
        when {{ expr }} ~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$'
            then case
                when {{ expr }} ~ '(Z|[+-]\d{2}(:?\d{2})?)$' and {{ expr }} ~ '[T ]' then ({{ expr }})::timestamptz
                else (({{ expr }})::timestamp at time zone 'UTC')
            end
        when {{ expr }} ~ '^\d{12,14}$' then to_timestamp(({{ expr }})::bigint / 1000.0)
    end
{%- endmacro %}
