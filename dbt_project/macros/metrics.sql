{#- A rate: numerator / denominator as double precision, null when the denominator is 0 or null
    (a rate over nothing is unknown, not zero). -#}
{% macro safe_divide(numerator, denominator) -%}
    case when ({{ denominator }}) > 0 then ({{ numerator }})::double precision / ({{ denominator }}) end
{%- endmacro %}
