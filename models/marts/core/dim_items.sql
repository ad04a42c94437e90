{#
    Every item seen in accepted events or in the items file, with its
    attributes and how users engaged with it.
#}

with

events as (
    select * from {{ ref('fct_events') }}
    where item_id is not null
),

items_file as (
    select * from {{ ref('stg_raw__items') }}
),

engagement as (
    select
        item_id,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        count(distinct user_id) as users,
        count(distinct user_id) filter (
            where event_type = 'purchase'
        ) as buyers,
        cast(
            sum(quantity) filter (where event_type = 'purchase')
            as {{ dbt.type_bigint() }}
        ) as units_sold,
        sum(net_revenue) as net_revenue,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at
    from events
    group by item_id
),

all_items as (
    select item_id from engagement
    union
    select item_id from items_file
),

final as (
    select
        all_items.item_id,
        items_file.category,
        items_file.brand,
        items_file.price,
        coalesce(engagement.views, 0) as views,
        coalesce(engagement.add_to_carts, 0) as add_to_carts,
        coalesce(engagement.purchases, 0) as purchases,
        coalesce(engagement.users, 0) as users,
        coalesce(engagement.buyers, 0) as buyers,
        coalesce(engagement.units_sold, 0) as units_sold,
        coalesce(engagement.net_revenue, 0) as net_revenue,
        engagement.first_seen_at,
        engagement.last_seen_at
    from all_items
    left join items_file on all_items.item_id = items_file.item_id
    left join engagement on all_items.item_id = engagement.item_id
)

select * from final
