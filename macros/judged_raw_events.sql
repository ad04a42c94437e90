{#
    The rules that judge one raw event row on its own, shared by
    stg_raw__events_validated for every new row and for the few rows it
    ranks as possible duplicates.

    raw_event_id_or_derived(trimmed_event_id): the event_id of a raw row:
    its event_id trimmed, or when that is blank `derived-` and the first 24
    hex digits of the md5 of the row's values as parsed (user_id, event_at
    in UTC, the event type trimmed and lower-cased, item_id, quantity,
    revenue, session_id), so rows that read the same get the same id however
    their text is written, and exact copies among them are found.
    trimmed_event_id names a column that already holds trim(raw_event_id);
    without it the raw column is trimmed here.

    judged_raw_events(rows, event_types): every row of `rows` (columns of
    stg_raw__events_mapped), typed through the seed `event_types`, with its
    event_id and invalid_reason: the first of rules 1-10 of the seed
    reject_reasons the row breaks, null when it breaks none. Duplicates
    (rules 11 and 12) need the other rows and are decided by the model.
    Each raw text is trimmed once and every rule reads the trimmed text.
#}
{% macro raw_event_id_or_derived(trimmed_event_id=none) -%}
{%- set trimmed = trimmed_event_id or 'trim(raw_event_id)' -%}
case
    when {{ is_blank_id(trimmed, trimmed=true) }}
        then 'derived-' || substr(md5(concat_ws(
            '|',
            coalesce({{ nullif_blank('raw_user_id') }}, '<null>'),
            coalesce(
                cast({{ parse_timestamp_utc('raw_event_at') }} as varchar),
                '<null>'
            ),
            coalesce(lower(trim(raw_event_type)), '<null>'),
            coalesce({{ nullif_blank('raw_item_id') }}, '<null>'),
            coalesce(
                cast({{ parse_integer('raw_quantity') }} as varchar), '1'
            ),
            coalesce(
                cast({{ parse_decimal('raw_revenue') }} as varchar), '<null>'
            ),
            coalesce({{ nullif_blank('raw_session_id') }}, '<null>'),
            coalesce(raw_extra_fields, '<null>')
        )), 1, 24)
    else {{ trimmed }}
end
{%- endmacro %}

{% macro judged_raw_events(rows, event_types) -%}
    {%- set as_of_literal = as_of_date_literal() -%}
    select
        parsed.source_file,
        parsed.raw_row_number,
        parsed.raw_event_id,
        parsed.raw_user_id,
        parsed.raw_event_at,
        parsed.raw_event_type,
        parsed.raw_item_id,
        parsed.raw_quantity,
        parsed.raw_revenue,
        parsed.raw_session_id,
        parsed.raw_extra_fields,
        parsed.event_id,
        parsed.user_id,
        parsed.session_id,
        case
            when event_types.is_item_event then parsed.trimmed_item_id
        end as item_id,
        event_types.event_type,
        case
            when parsed.raw_extra_fields is not null
                then 'extra_fields'
            when {{ is_blank_id('parsed.user_id', trimmed=true) }}
                then 'missing_user_id'
            when {{ is_blank_id('parsed.trimmed_event_at', trimmed=true) }}
                then 'missing_event_at'
            when parsed.event_at is null
                then 'unparseable_event_at'
            when
                parsed.event_at
                < cast('{{ var("earliest_event_date", "1990-01-01") }}' as date)
                then 'before_earliest_event_date'
            {%- if as_of_literal is not none %}
            when parsed.event_at >= {{ as_of_literal }} + interval 1 day
                then 'after_as_of_date'
            {%- else %}
            when
                parsed.event_at > {{ utc_now() }}
                + interval {{ var('future_tolerance_hours', 24) }} hour
                then 'event_at_in_future'
            {%- endif %}
            when event_types.event_type is null
                then 'unknown_event_type'
            when
                event_types.is_item_event
                and {{ is_blank_id('parsed.trimmed_item_id', trimmed=true) }}
                then 'missing_item_id'
            when
                not {{ is_blank_id('parsed.trimmed_quantity', trimmed=true) }}
                and parsed.parsed_quantity is null
                then 'invalid_quantity'
            when
                not {{ is_blank_id('parsed.trimmed_revenue', trimmed=true) }}
                and parsed.parsed_revenue is null
                then 'invalid_revenue'
            when
                event_types.event_type in ('purchase', 'refund')
                and (
                    parsed.parsed_quantity < 0 or parsed.parsed_revenue < 0
                )
                then 'negative_amount'
        end as invalid_reason,
        coalesce(parsed.parsed_quantity, 1) as quantity,
        parsed.parsed_revenue as revenue,
        parsed.event_at
    from (
        select
            *,
            {{ raw_event_id_or_derived('trimmed_event_id') }} as event_id,
            lower(trimmed_event_type) as event_type_key,
            trimmed_user_id as user_id,
            {{ nullif_blank('trimmed_session_id', trimmed=true) }}
                as session_id,
            {{ parse_timestamp_utc('raw_event_at') }} as event_at,
            {{ parse_integer('trimmed_quantity') }} as parsed_quantity,
            {{ parse_decimal('trimmed_revenue') }} as parsed_revenue
        from (
            select
                *,
                trim(raw_event_id) as trimmed_event_id,
                trim(raw_user_id) as trimmed_user_id,
                trim(raw_event_at) as trimmed_event_at,
                trim(raw_event_type) as trimmed_event_type,
                trim(raw_item_id) as trimmed_item_id,
                trim(raw_quantity) as trimmed_quantity,
                trim(raw_revenue) as trimmed_revenue,
                trim(raw_session_id) as trimmed_session_id
            from {{ rows }}
        ) as trimmed
    ) as parsed
    left join {{ event_types }} as event_types
        on parsed.event_type_key = event_types.raw_event_type
{%- endmacro %}
