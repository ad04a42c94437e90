{#
    One row per user per day with any accepted event: the compact grain that
    activity features, RFM, lifecycle months and churn training rows read
    instead of scanning the event log again.

    It reads the accepted events straight from staging, not fct_events:
    naming sessions takes two window passes, counting them one. Sessions on
    a day are the distinct input session ids of the day, plus the derived
    sessions that start on the day (macro starts_derived_session), plus one
    when the day's first event without a session id continues a derived
    session begun on an earlier day. That is the number of distinct
    session_id values fct_events holds for the user and day.
#}

with

events as (
    select * from {{ ref('stg_raw__events') }}
),

gaps as (
    select
        user_id,
        session_id,
        item_id,
        event_type,
        revenue,
        event_at,
        {{ previous_sessionless_event_at(by_event_id=false) }}
            as previous_event_at
    from events
),

flagged as (
    select
        * exclude (previous_event_at),
        cast(event_at as date) as activity_date,
        event_type in {{ sql_string_list(var('activation_event_types')) }}
            as is_key_action,
        {{ starts_derived_session('previous_event_at') }}
            as starts_derived_session
    from gaps
),

days as (
    select
        user_id,
        activity_date,
        count(*) as events,
        count(distinct session_id) as input_sessions,
        count(*) filter (
            where starts_derived_session
        ) as derived_session_starts,
        min(event_at) filter (where session_id is null) as first_sessionless_at,
        min(event_at) filter (where starts_derived_session)
            as first_derived_start_at,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        count(*) filter (where event_type = 'refund') as refunds,
        count(*) filter (where is_key_action) as key_actions,
        coalesce(
            sum(revenue) filter (where event_type = 'purchase'), 0
        ) as revenue,
        coalesce(
            sum(revenue) filter (where event_type = 'refund'), 0
        ) as refunded_revenue,
        count(distinct item_id) as distinct_items,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from flagged
    group by user_id, activity_date
),

final as (
    select
        user_id,
        activity_date,
        events,
        input_sessions
        + derived_session_starts
        + case
            when first_sessionless_at is null then 0
            when first_derived_start_at is null then 1
            when first_sessionless_at < first_derived_start_at then 1
            else 0
        end as sessions,
        views,
        add_to_carts,
        purchases,
        refunds,
        key_actions,
        revenue,
        refunded_revenue,
        distinct_items,
        first_event_at,
        last_event_at
    from days
)

select * from final
