{#
    The clean event log: one row per accepted event, with its session and
    signed money. net_revenue is revenue for a purchase, minus revenue for
    a refund and zero otherwise, so sums of it are net of refunds.
#}

with

events as (
    select * from {{ ref('int_events_sessionized') }}
),

final as (
    select
        event_id,
        user_id,
        session_id,
        item_id,
        event_type,
        source_file,
        quantity,
        coalesce(revenue, 0) as revenue,
        case
            when event_type = 'purchase' then coalesce(revenue, 0)
            when event_type = 'refund' then -coalesce(revenue, 0)
            else 0
        end as net_revenue,
        event_type in {{ sql_string_list(var('activation_event_types')) }}
            as is_key_action,
        cast(event_at as date) as event_date,
        event_at
    from events
)

select * from final
