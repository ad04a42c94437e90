{#
    The quarantine: every raw row that stg_raw__events_validated did not
    accept, with its reason and its raw text as the file holds it. The
    validated model keeps typed values only, so the raw text is read here
    from the files, for the rejected rows alone.

    Incremental: a run reads the rows rejected since the last run, new files
    and stored rows a later duplicate displaced alike (a rejected row is
    never accepted again), and takes their raw text from their files, which
    the validated model has checked are still in raw_events_path.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'raw_row_number'],
    on_schema_change='fail',
) }}

with

rejected_rows as (
    select
        validated.source_file,
        validated.raw_row_number,
        validated.reject_reason
    from {{ ref('stg_raw__events_validated') }} as validated
    where validated.reject_reason is not null
    {%- if is_incremental() %}
    except
    select
        stored.source_file,
        stored.raw_row_number,
        stored.reject_reason
    from {{ this }} as stored
    {%- endif %}
),

raw_rows as (
    select * from {{ ref('stg_raw__events_mapped') }}
),

final as (
    select
        rejected_rows.raw_row_number,
        rejected_rows.source_file,
        rejected_rows.reject_reason,
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
    inner join raw_rows
        on
            rejected_rows.source_file = raw_rows.source_file
            and rejected_rows.raw_row_number = raw_rows.raw_row_number
)

select * from final
