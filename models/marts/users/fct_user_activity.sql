{#
    Activity features per user, all measured at as_of_date from the daily
    activity grain. A window of N days ends on as_of_date and includes it.
    Sessions in a window are summed per day, so a session that crosses
    midnight counts on both days. Breadth (distinct items and categories)
    reads the accepted events in staging: their distinct user-item pairs
    cost less to find than reading int_user_item_interactions back.
#}

{%- set windows = [7, 30, 90] -%}

with

daily as (
    select * from {{ ref('int_user_daily_activity') }}
),

events as (
    select * from {{ ref('stg_raw__events') }}
),

items as (
    select * from {{ ref('stg_raw__items') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

daily_aged as (
    select
        daily.*,
        {{ dbt.datediff('daily.activity_date', 'as_of.as_of_date', 'day') }}
            as days_ago
    from daily
    cross join as_of
),

windows as (
    select
        user_id,
        {%- for days in windows %}
        cast(coalesce(
            sum(events) filter (where days_ago < {{ days }}), 0
        ) as {{ dbt.type_bigint() }}) as events_{{ days }}d,
        count(*) filter (where days_ago < {{ days }})
            as active_days_{{ days }}d,
        cast(coalesce(
            sum(sessions) filter (where days_ago < {{ days }}), 0
        ) as {{ dbt.type_bigint() }}) as sessions_{{ days }}d,
        {%- endfor %}
        cast(coalesce(
            sum(events) filter (where days_ago >= 30 and days_ago < 60), 0
        ) as {{ dbt.type_bigint() }}) as events_previous_30d,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        cast(sum(sessions) as {{ dbt.type_bigint() }}) as sessions,
        cast(sum(purchases) as {{ dbt.type_bigint() }}) as purchases,
        cast(sum(add_to_carts) as {{ dbt.type_bigint() }}) as add_to_carts,
        count(*) filter (where purchases > 0) as purchase_days,
        sum(revenue) - sum(refunded_revenue) as net_revenue,
        min(days_ago) as days_since_last_event,
        max(days_ago) as tenure_days,
        min(days_ago) filter (where purchases > 0) as days_since_last_purchase,
        max(days_ago) filter (where purchases > 0) as days_since_first_purchase,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at
    from daily_aged
    group by user_id
),

user_items as (
    select distinct
        user_id,
        item_id
    from events
    where item_id is not null
),

breadth as (
    select
        user_items.user_id,
        count(*) as distinct_items,
        count(distinct items.category) as distinct_categories
    from user_items
    left join items on user_items.item_id = items.item_id
    group by user_items.user_id
),

final as (
    select
        windows.user_id,
        {%- for days in windows %}
        windows.events_{{ days }}d,
        windows.active_days_{{ days }}d,
        windows.sessions_{{ days }}d,
        {%- endfor %}
        windows.events_previous_30d,
        windows.events,
        windows.sessions,
        windows.purchases,
        windows.purchase_days,
        windows.net_revenue,
        coalesce(breadth.distinct_items, 0) as distinct_items,
        coalesce(breadth.distinct_categories, 0) as distinct_categories,
        windows.tenure_days,
        windows.days_since_last_event,
        windows.days_since_last_purchase,
        case
            when windows.purchase_days >= 2 then
                cast(
                    windows.days_since_first_purchase
                    - windows.days_since_last_purchase as double
                ) / (windows.purchase_days - 1)
        end as mean_days_between_purchases,
        case
            when windows.events_30d + windows.events_previous_30d > 0 then
                cast(
                    windows.events_30d - windows.events_previous_30d as double
                ) / (windows.events_30d + windows.events_previous_30d)
        end as activity_trend,
        case
            when windows.add_to_carts > 0 then
                cast(windows.purchases as double) / windows.add_to_carts
        end as cart_to_purchase_rate,
        windows.first_event_at,
        windows.last_event_at
    from windows
    left join breadth on windows.user_id = breadth.user_id
)

select * from final
