{#
    Every raw event row, parsed and judged exactly once. A row that breaks a
    rule carries the first rule it breaks as reject_reason (the catalogue is
    the seed reject_reasons). stg_raw__events and stg_raw__events_rejected
    split this model on reject_reason, so accepted + rejected = raw holds by
    construction.

    Duplicates are decided among otherwise valid rows and without regard to
    load order: of exact copies the first (by file name, then row) is kept;
    of rows sharing an event_id the earliest event_at wins, ties broken by
    the row's content fingerprint.

    Incremental: a run reads only files it has not seen (by file name), and
    re-ranks them together with the stored rows that share an event_id or a
    fingerprint with them, so a duplicate across batches is caught and the
    result equals a full refresh on all files. A file is read once: a file
    changed in place needs --full-refresh.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'raw_row_number'],
    on_schema_change='fail',
) }}

{%- set as_of_literal = as_of_date_literal() -%}

with

mapped as (
    select * from {{ ref('stg_raw__events_mapped') }}
),

event_types as (
    select * from {{ ref('event_types') }}
),

new_rows as (
    select * from mapped
    {%- if is_incremental() %}
    where
        source_file not in (
            select stored.source_file from {{ this }} as stored
        )
    {%- endif %}
),

parsed as (
    select
        new_rows.*,
        event_types.event_type,
        event_types.is_item_event,
        trim(new_rows.raw_user_id) as user_id,
        trim(new_rows.raw_item_id) as item_id,
        {{ nullif_blank('new_rows.raw_session_id') }} as session_id,
        {{ parse_timestamp_utc('new_rows.raw_event_at') }} as event_at,
        {{ parse_integer('new_rows.raw_quantity') }} as parsed_quantity,
        {{ parse_decimal('new_rows.raw_revenue') }} as parsed_revenue,
        md5(concat_ws(
            '|',
            coalesce(new_rows.raw_event_id, '<null>'),
            coalesce(new_rows.raw_user_id, '<null>'),
            coalesce(new_rows.raw_event_at, '<null>'),
            coalesce(new_rows.raw_event_type, '<null>'),
            coalesce(new_rows.raw_item_id, '<null>'),
            coalesce(new_rows.raw_quantity, '<null>'),
            coalesce(new_rows.raw_revenue, '<null>'),
            coalesce(new_rows.raw_session_id, '<null>'),
            new_rows.raw_extra_fields
        )) as row_fingerprint
    from new_rows
    left join event_types
        on lower(trim(new_rows.raw_event_type)) = event_types.raw_event_type
),

judged as (
    select
        source_file,
        raw_row_number,
        raw_event_id,
        raw_user_id,
        raw_event_at,
        raw_event_type,
        raw_item_id,
        raw_quantity,
        raw_revenue,
        raw_session_id,
        raw_extra_fields,
        coalesce(
            {{ nullif_blank('raw_event_id') }},
            'derived-' || substr(row_fingerprint, 1, 24)
        ) as event_id,
        user_id,
        session_id,
        case when is_item_event then item_id end as item_id,
        event_type,
        row_fingerprint,
        case
            when raw_extra_fields is not null
                then 'extra_fields'
            when {{ is_blank_id('raw_user_id') }}
                then 'missing_user_id'
            when {{ is_blank_id('raw_event_at') }}
                then 'missing_event_at'
            when event_at is null
                then 'unparseable_event_at'
            {%- if as_of_literal is not none %}
            when event_at >= {{ as_of_literal }} + interval 1 day
                then 'after_as_of_date'
            {%- else %}
            when
                event_at > {{ utc_now() }}
                + interval {{ var('future_tolerance_hours', 24) }} hour
                then 'event_at_in_future'
            {%- endif %}
            when event_type is null
                then 'unknown_event_type'
            when is_item_event and {{ is_blank_id('raw_item_id') }}
                then 'missing_item_id'
            when
                not {{ is_blank_id('raw_quantity') }}
                and parsed_quantity is null
                then 'invalid_quantity'
            when
                not {{ is_blank_id('raw_revenue') }}
                and parsed_revenue is null
                then 'invalid_revenue'
            when
                event_type in ('purchase', 'refund')
                and (parsed_quantity < 0 or parsed_revenue < 0)
                then 'negative_amount'
        end as invalid_reason,
        coalesce(parsed_quantity, 1) as quantity,
        parsed_revenue as revenue,
        event_at
    from parsed
),

candidates as (
    select * from judged
    {%- if is_incremental() %}
    union all
    select * exclude (reject_reason)
    from {{ this }}
    where
        event_id in (select judged.event_id from judged)
        or row_fingerprint in (select judged.row_fingerprint from judged)
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by row_fingerprint
            order by source_file, raw_row_number
        ) as fingerprint_copy,
        row_number() over (
            partition by invalid_reason is null, event_id
            order by event_at, row_fingerprint, source_file, raw_row_number
        ) as event_id_copy
    from candidates
),

final as (
    select
        * exclude (fingerprint_copy, event_id_copy),
        case
            when invalid_reason is not null then invalid_reason
            when fingerprint_copy > 1 then 'exact_duplicate'
            when event_id_copy > 1 then 'duplicate_event_id'
        end as reject_reason
    from ranked
)

select * from final
