with

events as (
    select * from {{ ref('fct_events') }}
),

sessions as (
    select
        session_id,
        user_id,
        count(*) as events,
        count(distinct item_id) as distinct_items,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        sum(net_revenue) as net_revenue,
        min(event_at) as started_at,
        max(event_at) as ended_at
    from events
    group by session_id, user_id
),

final as (
    select
        session_id,
        user_id,
        events,
        distinct_items,
        views,
        add_to_carts,
        purchases,
        net_revenue,
        {{ dbt.datediff('started_at', 'ended_at', 'second') }}
            as duration_seconds,
        purchases > 0 as has_purchase,
        cast(started_at as date) as session_date,
        started_at,
        ended_at
    from sessions
)

select * from final
