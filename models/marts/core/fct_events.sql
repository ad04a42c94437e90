{#
    The clean event log: one row per accepted event, with its session and
    signed money. net_revenue is revenue for a purchase, minus revenue for
    a refund and zero otherwise, so sums of it are net of refunds.

    Incremental by user: a run rebuilds every event of each user touched by
    a file not loaded before (or by a duplicate that file resolves), since a
    late event can merge or split that user's derived sessions. A touched
    user left with no accepted event loses their rows in a pre-hook, since
    delete+insert only replaces the users the new rows name. The result
    equals a full refresh.
#}

-- depends_on: {{ ref('stg_raw__events_validated') }}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='user_id',
    on_schema_change='fail',
    pre_hook="{{ delete_events_of_users_left_without_any(this) }}",
) }}

with

{%- if is_incremental() %}

touched_users as (
    {{ events_touched_users(this) }}
),
{%- endif %}

events as (
    select * from {{ ref('int_events_sessionized') }}
    {%- if is_incremental() %}
    where user_id in (select touched_users.user_id from touched_users)
    {%- endif %}
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
