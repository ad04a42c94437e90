{#
    The one rule of derived sessions, shared by int_events_sessionized
    (which names each session) and int_user_daily_activity (which counts
    them per day without naming them), so the two always agree.

    previous_sessionless_event_at(by_event_id): for an event without a
    session id, the time of the same user's previous event without one (null
    for the first), in the order event_at, then event_id. Events that carry
    a session id belong to that session and neither start nor split a
    derived one. Naming sessions needs the event_id tie-break, so that the
    window that finds starts and the one that carries them forward order
    events at the same instant alike. Counting them does not
    (by_event_id=false): events at the same instant fall on the same day,
    and whichever comes first, at most one of them starts a session, at
    that instant.

    starts_derived_session(previous_event_at): true when an event without a
    session id opens a derived session: it is the user's first such event or
    follows the previous one by more than var session_gap_minutes, measured
    to the microsecond (a count of whole-second boundaries would split
    10:00:00.9 -> 10:30:01.0 but not 10:00:00.0 -> 10:30:00.9).
#}
{% macro previous_sessionless_event_at(by_event_id=true) -%}
lag(event_at) over (
    partition by user_id, session_id is null
    order by event_at{{ ', event_id' if by_event_id }}
)
{%- endmacro %}

{% macro starts_derived_session(previous_event_at) -%}
(
    session_id is null
    and (
        {{ previous_event_at }} is null
        or epoch_us(event_at) - epoch_us({{ previous_event_at }})
        > cast({{ var('session_gap_minutes', 30) }} as bigint) * 60000000
    )
)
{%- endmacro %}
