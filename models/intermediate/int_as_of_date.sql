{#
    The "today" of every figure, as one row: var as_of_date when set, else
    the date of the last accepted event. Later events never reach the marts.
#}

{%- set as_of_literal = as_of_date_literal() -%}

with

events as (
    select event_at from {{ ref('stg_raw__events') }}
),

bounds as (
    select
        {%- if as_of_literal is not none %}
        {{ as_of_literal }} as as_of_date,
        {%- else %}
        cast(max(event_at) as date) as as_of_date,
        {%- endif %}
        cast(min(event_at) as date) as first_event_date,
        count(*) as accepted_events
    from events
),

final as (
    select
        as_of_date,
        first_event_date,
        accepted_events,
        cast(
            {{ dbt.dateadd('day', 1, 'as_of_date') }} as timestamp
        ) as as_of_end_at
    from bounds
)

select * from final
