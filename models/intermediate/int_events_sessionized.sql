{#
    Accepted events with a session. A session id from the input is kept;
    where it is missing, a new session starts at a user's first event and
    after every gap longer than var session_gap_minutes. A derived session id
    is the user id plus the session's start time, so it does not depend on
    file order.
#}

{{ config(materialized='view') }}

with

events as (
    select * from {{ ref('stg_raw__events') }}
),

gaps as (
    select
        *,
        lag(event_at) over (
            partition by user_id
            order by event_at, event_id
        ) as previous_event_at
    from events
),

starts as (
    select
        *,
        case
            when previous_event_at is null then true
            when
                {{ dbt.datediff('previous_event_at', 'event_at', 'second') }}
                > {{ var('session_gap_minutes', 30) }} * 60
                then true
            else false
        end as is_session_start
    from gaps
),

numbered as (
    select
        *,
        max(case when is_session_start then event_at end) over (
            partition by user_id
            order by event_at, event_id
            rows between unbounded preceding and current row
        ) as derived_session_started_at
    from starts
),

final as (
    select
        event_id,
        user_id,
        coalesce(
            session_id,
            user_id || '@' || strftime(
                derived_session_started_at, '%Y%m%dT%H%M%S'
            )
        ) as session_id,
        item_id,
        event_type,
        source_file,
        quantity,
        revenue,
        event_at
    from numbered
)

select * from final
