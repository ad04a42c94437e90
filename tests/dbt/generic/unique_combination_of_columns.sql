{#
    Fails for every combination of the given columns that occurs on more
    than one row: the test of a primary key made of several columns.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

duplicated as (
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as rows_with_key
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
)

select * from duplicated

{% endtest %}
