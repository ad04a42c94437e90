{#
    fail_build_if(condition, message): a boolean for a where clause. It is
    true while condition is false; when condition is true the query stops
    with message (a SQL text expression), so the model fails with that
    message and dbt skips everything downstream. For checks that need the
    data and so cannot run when the SQL is compiled. An engine without a
    function that raises an error skips the check.
#}
{% macro fail_build_if(condition, message) %}
    {{ return(adapter.dispatch('fail_build_if', 'ulm')(condition, message)) }}
{% endmacro %}

{% macro duckdb__fail_build_if(condition, message) -%}
    case when {{ condition }} then error({{ message }}) else true end
{%- endmacro %}

{% macro bigquery__fail_build_if(condition, message) -%}
    case when {{ condition }} then error({{ message }}) else true end
{%- endmacro %}

{% macro spark__fail_build_if(condition, message) -%}
    case when {{ condition }} then raise_error({{ message }}) else true end
{%- endmacro %}

{% macro default__fail_build_if(condition, message) -%}
    true
{%- endmacro %}
