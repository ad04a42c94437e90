{{ config(materialized='view') }}

with

validated as (
    select * from {{ ref('stg_raw__events_validated') }}
),

accepted as (
    select
        event_id,
        user_id,
        session_id,
        item_id,
        event_type,
        source_file,
        raw_row_number,
        quantity,
        revenue,
        event_at
    from validated
    where reject_reason is null
)

select * from accepted
