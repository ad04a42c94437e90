{# A text as a SQL string literal, its quotes doubled: it's -> 'it''s'. #}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{# A list var rendered as a SQL list of string literals: ('a', 'b'). #}
{% macro sql_string_list(values) -%}
    (
    {%- for value in values -%}
        {{ sql_string(value) }}{{ ', ' if not loop.last }}
    {%- endfor -%}
    )
{%- endmacro %}
