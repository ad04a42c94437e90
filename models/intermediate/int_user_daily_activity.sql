{#
    One row per user per day with any accepted event: the compact grain that
    activity features, lifecycle months and churn training rows read instead
    of scanning the event log again.
#}

with

events as (
    select * from {{ ref('fct_events') }}
),

daily as (
    select
        user_id,
        event_date as activity_date,
        count(*) as events,
        count(distinct session_id) as sessions,
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
    from events
    group by user_id, event_date
)

select * from daily
