{#
    The quarantine: every raw row that stg_raw__events_validated did not
    accept, with its reason and its raw text as the file holds it. The
    validated model keeps typed values only, so the raw text is read here
    from the files, for the rejected rows alone.

    Incremental: a run reads the rows rejected since the last run, new files
    and stored rows a later duplicate displaced alike (a rejected row is
    never accepted again), and takes their raw text from their files, which
    the validated model has checked are still in raw_events_path. Each row
    read back must give the event_id it was judged with; a file edited in
    place since it was loaded gives another one (or none), and the build
    stops naming the file and the row and saying to run --full-refresh.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'raw_row_number'],
    on_schema_change='fail',
) }}

with

judged_rejected as (
    select
        source_file,
        raw_row_number,
        reject_reason,
        event_id
    from {{ ref('stg_raw__events_validated') }}
    where reject_reason is not null
),

{%- if is_incremental() %}

stored as (
    select
        source_file,
        raw_row_number,
        reject_reason
    from {{ this }}
),
{%- endif %}

rejected_rows as (
    select
        judged_rejected.source_file,
        judged_rejected.raw_row_number,
        judged_rejected.reject_reason,
        judged_rejected.event_id
    from judged_rejected
    {%- if is_incremental() %}
    where
        not exists (
            select 1
            from stored
            where
                judged_rejected.source_file = stored.source_file
                and judged_rejected.raw_row_number = stored.raw_row_number
                and judged_rejected.reject_reason = stored.reject_reason
        )
    {%- endif %}
),

raw_rows as (
    select * from {{ ref('stg_raw__events_mapped') }}
),

read_back as (
    select
        rejected_rows.*,
        raw_rows.raw_event_id,
        raw_rows.raw_user_id,
        raw_rows.raw_event_at,
        raw_rows.raw_event_type,
        raw_rows.raw_item_id,
        raw_rows.raw_quantity,
        raw_rows.raw_revenue,
        raw_rows.raw_session_id,
        raw_rows.raw_extra_fields
    from rejected_rows
    left join raw_rows
        on
            rejected_rows.source_file = raw_rows.source_file
            and rejected_rows.raw_row_number = raw_rows.raw_row_number
),

identified as (
    select
        *,
        {{ raw_event_id_or_derived() }} as read_back_event_id
    from read_back
),

-- A row that reads back as another event means the file changed after it
-- was loaded: stop rather than quarantine the wrong text.
checked as (
    select *
    from identified
    where
        case
            when read_back_event_id is distinct from event_id
                then error(
                    'Row ' || raw_row_number || ' of ' || source_file
                    || ' was loaded as event ' || event_id
                    || ' but now reads as '
                    || coalesce(read_back_event_id, 'no row at all')
                    || ': the file changed after it was loaded. Rebuild'
                    || ' from the current files with dbt build --full-refresh.'
                )
            else true
        end
),

final as (
    select
        raw_row_number,
        source_file,
        reject_reason,
        raw_event_id,
        raw_user_id,
        raw_event_at,
        raw_event_type,
        raw_item_id,
        raw_quantity,
        raw_revenue,
        raw_session_id,
        raw_extra_fields
    from checked
)

select * from final
