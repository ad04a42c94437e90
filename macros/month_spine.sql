{#
    Table expression with one column month_start: the first day of every
    month from start_month to end_month, both included (date expressions).
#}
{% macro month_series(start_month, end_month) %}
    {{ return(adapter.dispatch('month_series', 'ulm')(start_month, end_month)) }}
{% endmacro %}

{% macro duckdb__month_series(start_month, end_month) -%}
    unnest(generate_series(
        cast({{ start_month }} as timestamp),
        cast({{ end_month }} as timestamp),
        interval 1 month
    ))
{%- endmacro %}
