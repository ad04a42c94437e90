{#
    The "today" of every figure, as one row: var as_of_date when set, else
    the date of the last accepted event. Later events never reach the marts.

    Nothing can be modelled without an accepted event. `dbt build` stops
    right after staging then (test has_accepted_events on stg_raw__events);
    this model repeats the check for runs without tests, with the same
    message: whether the input had no rows or every row was rejected, and
    most often why. The staging tables are built by then, so the rejected
    rows can be inspected.
#}

{%- set as_of_literal = as_of_date_literal() -%}

with

events as (
    select event_at from {{ ref('stg_raw__events') }}
),

validated as (
    select reject_reason from {{ ref('stg_raw__events_validated') }}
),

reject_counts as (
    select
        reject_reason,
        count(*) as rejected_rows
    from validated
    where reject_reason is not null
    group by reject_reason
),

input_summary as (
    select
        (select count(*) from validated) as raw_rows,
        (
            select reject_counts.reject_reason
            from reject_counts
            order by
                reject_counts.rejected_rows desc,
                reject_counts.reject_reason asc
            limit 1
        ) as top_reject_reason,
        (
            select max(reject_counts.rejected_rows) from reject_counts
        ) as top_rejected_rows
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

checked as (
    select bounds.*
    from bounds
    cross join input_summary
    where {{ fail_build_if(
        'bounds.accepted_events = 0',
        no_accepted_events_message(
            'input_summary.raw_rows',
            'input_summary.top_reject_reason',
            'input_summary.top_rejected_rows'
        )
    ) }}
),

final as (
    select
        as_of_date,
        first_event_date,
        accepted_events,
        cast(
            {{ dbt.dateadd('day', 1, 'as_of_date') }} as timestamp
        ) as as_of_end_at
    from checked
)

select * from final
