{#- A rate: numerator / denominator as double precision, null when the denominator is 0 or null
    (a rate over nothing is unknown, not zero). -#}
{% macro safe_divide(numerator, denominator) -%}
    case when ({{ denominator }}) > 0 then ({{ numerator }})::double precision / ({{ denominator }}) end
{%- endmacro %}

{#- Days from `earlier` to `later` (timestamps), rounded to 0.01; null when either is null. -#}
{% macro days_between(later, earlier) -%}
    round((extract(epoch from {{ later }} - {{ earlier }}) / 86400.0)::numeric, 2)::double precision
{%- endmacro %}
