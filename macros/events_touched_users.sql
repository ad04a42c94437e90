{#
    events_touched_users(stored): SQL of the users an incremental build of
    fct_events rebuilds. stored is fct_events as it stands. A user is touched
    when a file the table has not loaded holds a row of theirs, or when one of
    their rows shares its event_id with such a row: a duplicate the new file
    resolves, which can take the event away from them.
#}
{% macro events_touched_users(stored) -%}
    with

    validated as (
        select * from {{ ref('stg_raw__events_validated') }}
    ),

    new_file_rows as (
        select
            validated.user_id,
            validated.event_id
        from validated
        where validated.source_file not in (
            select loaded.source_file from {{ stored }} as loaded
        )
    )

    select new_file_rows.user_id from new_file_rows

    union

    select validated.user_id
    from validated
    inner join new_file_rows on validated.event_id = new_file_rows.event_id
{%- endmacro %}


{#
    delete_events_of_users_left_without_any(stored): pre-hook of fct_events.
    delete+insert by user replaces the rows of each user the new rows name,
    so a touched user whose every event was taken away (a later file brought
    the same event_id, earlier, for another user) would keep stale rows. On
    an incremental build this deletes those users' rows first; a full refresh
    needs nothing.
#}
{% macro delete_events_of_users_left_without_any(stored) -%}
    {%- if is_incremental() %}
        delete from {{ stored }}
        where
            user_id in ({{ events_touched_users(stored) }})
            and user_id not in (
                select accepted.user_id
                from {{ ref('stg_raw__events_validated') }} as accepted
                where accepted.reject_reason is null
            )
    {%- endif %}
{%- endmacro %}
