{#
    Stops the build right after staging when not a single event was
    accepted (an empty input, or every row rejected), with a message that
    says which and names the main reject_reason. Nothing downstream could be
    modelled, and in `dbt build` a test that errors skips every model after
    the one it tests. `validated` is the model that holds every judged row.
#}
{% test has_accepted_events(model, validated) %}

with

judged as (
    select reject_reason from {{ validated }}
),

reasons as (
    select
        reject_reason,
        count(*) as rejected_rows
    from judged
    where reject_reason is not null
    group by reject_reason
),

summary as (
    select
        (select count(*) from {{ model }}) as accepted_events,
        (select count(*) from judged) as raw_rows,
        (
            select reasons.reject_reason
            from reasons
            order by reasons.rejected_rows desc, reasons.reject_reason asc
            limit 1
        ) as top_reject_reason,
        (select max(reasons.rejected_rows) from reasons) as top_rejected_rows
)

select *
from summary
where
    accepted_events = 0
    and {{ fail_build_if(
        'accepted_events = 0',
        no_accepted_events_message(
            'raw_rows', 'top_reject_reason', 'top_rejected_rows'
        )
    ) }}

{% endtest %}
