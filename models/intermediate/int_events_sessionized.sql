{#
    Accepted events with a session. A session id from the input is kept;
    among a user's events without one, a new session starts at the first
    and after every gap longer than var session_gap_minutes (macros
    previous_sessionless_event_at and starts_derived_session). A derived
    session id is the user id plus the session's start time, so it does not
    depend on file order.
#}

{{ config(materialized='view') }}

with

events as (
    select * from {{ ref('stg_raw__events') }}
),

gaps as (
    select
        *,
        {{ previous_sessionless_event_at() }} as previous_event_at
    from events
),

starts as (
    select
        *,
        {{ starts_derived_session('previous_event_at') }} as is_session_start
    from gaps
),

numbered as (
    select
        *,
        max(case when is_session_start then event_at end) over (
            partition by user_id, session_id is null
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
