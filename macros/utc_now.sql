{# The build's clock as a UTC timestamp without time zone. #}
{% macro utc_now() %}
    {{ return(adapter.dispatch('utc_now', 'ulm')()) }}
{% endmacro %}

{% macro duckdb__utc_now() -%}
    timezone('UTC', now())
{%- endmacro %}

{% macro default__utc_now() -%}
    {{ dbt.current_timestamp() }}
{%- endmacro %}

{# The as_of_date var as a SQL date literal, or none when it is not set. #}
{% macro as_of_date_literal() %}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or value | string | lower in ('', 'none', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("cast('" ~ value ~ "' as date)") }}
{% endmacro %}
