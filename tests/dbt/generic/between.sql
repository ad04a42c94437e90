{#
    Fails for every row whose value lies outside [min_value, max_value],
    both included. Either bound may be left out; nulls pass (pair with
    not_null where a value is required).
#}
{% test between(model, column_name, min_value=none, max_value=none) %}

select {{ column_name }}
from {{ model }}
where
    {%- if min_value is not none %}
    {{ column_name }} < {{ min_value }}
    {%- endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %}
    {{ column_name }} > {{ max_value }}
    {%- endif %}
    {%- if min_value is none and max_value is none %}
    false
    {%- endif %}

{% endtest %}
