{#
    One row per user, item and event type: how often and how recently the
    user touched the item. The *_before_holdout columns count only events
    before the holdout start (the end of as_of_date minus var
    holdout_days), so the recommendation metrics can train on the past and
    score the holdout without another scan of the event log. It reads the
    accepted events straight from staging: nothing here needs a session.

    Rows are stored in key order (user_id, item_id, event_type): three
    Python models read this table in that order, and one sort here spares
    each of them a sort of its own.
#}

with

events as (
    select * from {{ ref('stg_raw__events') }}
    where item_id is not null
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

holdout as (
    select
        {{ dbt.dateadd(
            'day', -1 * var('holdout_days', 30), 'as_of.as_of_end_at'
        ) }} as holdout_start_at
    from as_of
),

interactions as (
    select
        events.user_id,
        events.item_id,
        events.event_type,
        count(*) as events,
        count(*) filter (
            where events.event_at < holdout.holdout_start_at
        ) as events_before_holdout,
        sum(events.quantity) as quantity,
        min(events.event_at) as first_at,
        max(events.event_at) as last_at,
        max(events.event_at) filter (
            where events.event_at < holdout.holdout_start_at
        ) as last_before_holdout_at
    from events
    cross join holdout
    group by events.user_id, events.item_id, events.event_type
),

final as (
    select * from interactions
    order by user_id, item_id, event_type
)

select * from final
