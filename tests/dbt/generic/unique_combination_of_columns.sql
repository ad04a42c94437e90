{#
    Fails for every combination of the given columns that occurs on more
    than one row: the test of a primary key made of several columns. Like
    the project's `unique`, it groups 64-bit hashes of the keys first and
    the keys themselves only for rows whose hash repeats.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set key = combination_of_columns | join(', ') %}

with

repeated_hashes as (
    select hash({{ key }}) as key_hash
    from {{ model }}
    group by hash({{ key }})
    having count(*) > 1
),

duplicated as (
    select
        {{ key }},
        count(*) as rows_with_key
    from {{ model }}
    where
        hash({{ key }}) in (
            select repeated_hashes.key_hash from repeated_hashes
        )
    group by {{ key }}
    having count(*) > 1
)

select * from duplicated

{% endtest %}
