{#- The high watermark of an incremental model: the newest `column` already in {{ this }} (rows
    matching `where`), minus `incremental_lookback_minutes`. Rows synced after it are (re)processed;
    unique keys make reprocessing harmless. -#}
{% macro incremental_watermark(column, where=none) -%}
    (
        select coalesce(max(held.{{ column }}), '-infinity'::timestamptz)
            - interval '{{ var("incremental_lookback_minutes") | int }} minutes'
        from {{ this }} as held
        {% if where %}where held.{{ where }}{% endif %}
    )
{%- endmacro %}
