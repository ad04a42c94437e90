{{ config(materialized='view') }}

with

validated as (
    select * from {{ ref('stg_raw__events_validated') }}
),

rejected as (
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
    from validated
    where reject_reason is not null
)

select * from rejected
