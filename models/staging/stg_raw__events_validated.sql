{#
    Every raw event row, parsed and judged exactly once. A row that breaks a
    rule carries the first rule it breaks as reject_reason (the catalogue is
    the seed reject_reasons). stg_raw__events and stg_raw__events_rejected
    split this model on reject_reason, so accepted + rejected = raw holds by
    construction. The table keeps typed values only: writing ten columns of
    raw text for every row cost more than judging them, and the quarantine
    reads the raw text back for its rows alone.

    Duplicates are decided among otherwise valid rows, on parsed values and
    without regard to load order: of exact copies (every parsed value
    equal, so "2024-03-10T12:00:00Z" and "2024-03-10 12:00:00+00:00" are one
    time) the first by file name, then row, is kept; of rows sharing an
    event_id the earliest event_at wins, ties broken by user_id,
    event_type, item_id, quantity, revenue and session_id in that order,
    then by file name and row. Exact copies share their event_id (it is the
    given id or derived from the row's content), so only rows whose event_id
    occurs more than once are ranked. The raw file is read three times,
    each time in one pass: once for the hashes of the event ids alone, to
    find those that repeat (grouping 64-bit hashes is far cheaper than
    grouping the ids; two ids sharing a hash only bring a few more rows to
    the ranking, which decides on the ids themselves); once for the rows
    carrying them, judged and ranked (a handful);
    and once to judge every row (macro judged_raw_events) and attach the
    ranking's verdict. Holding all judged rows to rank them would take
    memory in proportion to the file.

    Incremental: a run reads only files it has not seen (by file name), and
    re-ranks them together with the stored rows that share an event_id with
    them (those stored rows are written again with their new verdict), so a
    duplicate across batches is caught and the result equals a full refresh
    on all files. A file is read once: a file changed in place, or a new
    row in the seed event_types, needs --full-refresh, and a run stops when
    a loaded file has changed size (rows appended to it would be left out;
    macro check_stored_file_sizes). A run whose
    raw_events_path no longer matches a file already stored stops and says
    so (macro check_stored_files), and so does a run whose vars would judge
    rows differently than the stored rows were judged (macro
    check_judging_settings).
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_file', 'raw_row_number'],
    on_schema_change='fail',
    post_hook="{{ judging_settings_comment(this) }}",
) }}

{%- do check_stored_files(this, 'raw_events_path') if is_incremental() -%}
{%- do check_judging_settings(this) if is_incremental() -%}
{%- set typed_columns = [
    'source_file',
    'raw_row_number',
    'event_id',
    'user_id',
    'session_id',
    'item_id',
    'event_type',
    'invalid_reason',
    'quantity',
    'revenue',
    'event_at',
] -%}

with

event_types as (
    select * from {{ ref('event_types') }}
),

new_rows as (
    select * from {{ ref('stg_raw__events_mapped') }}
    {%- if is_incremental() %}
    where
        source_file not in (
            select stored.source_file from {{ this }} as stored
        )
    {%- endif %}
),

judged as (
    {{ judged_raw_events('new_rows', 'event_types') }}
),

event_ids as (
    select
        hash({{ raw_event_id_or_derived() }}) as event_id_hash,
        1 as is_new
    from {{ ref('stg_raw__events_mapped') }}
    {%- if is_incremental() %}
    where
        source_file not in (
            select stored.source_file from {{ this }} as stored
        )
    union all
    select
        hash(stored.event_id) as event_id_hash,
        0 as is_new
    from {{ this }} as stored
    {%- endif %}
),

repeated_event_id_hashes as (
    select event_id_hash
    from event_ids
    group by event_id_hash
    having count(*) > 1 and max(is_new) = 1
),

contested_new_rows as (
    select * exclude (candidate_event_id)
    from (
        select
            *,
            {{ raw_event_id_or_derived() }} as candidate_event_id
        from {{ ref('stg_raw__events_mapped') }}
        {%- if is_incremental() %}
        where
            source_file not in (
                select stored.source_file from {{ this }} as stored
            )
        {%- endif %}
    ) as candidates
    where
        hash(candidate_event_id) in (
            select repeated_event_id_hashes.event_id_hash
            from repeated_event_id_hashes
        )
),

contested as (
    select
        {{ typed_columns | join(',\n        ') }},
        false as is_stored
    from ({{ judged_raw_events('contested_new_rows', 'event_types') }})
    {%- if is_incremental() %}
    union all
    select
        {{ typed_columns | join(',\n        ') }},
        true as is_stored
    from {{ this }}
    where
        hash(event_id) in (
            select repeated_event_id_hashes.event_id_hash
            from repeated_event_id_hashes
        )
    {%- endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by
                invalid_reason is null,
                event_id,
                user_id,
                session_id,
                item_id,
                event_type,
                quantity,
                revenue,
                event_at
            order by source_file, raw_row_number
        ) as copy_number,
        row_number() over (
            partition by invalid_reason is null, event_id
            order by
                event_at,
                user_id,
                event_type,
                item_id,
                quantity,
                revenue,
                session_id,
                source_file,
                raw_row_number
        ) as event_id_copy
    from contested
),

verdicts as (
    select
        * exclude (copy_number, event_id_copy),
        case
            when copy_number > 1 then 'exact_duplicate'
            when event_id_copy > 1 then 'duplicate_event_id'
        end as duplicate_reason
    from ranked
),

final as (
    select
        {%- for column in typed_columns %}
        judged.{{ column }},
        {%- endfor %}
        coalesce(
            judged.invalid_reason, verdicts.duplicate_reason
        ) as reject_reason
    from judged
    left join verdicts
        on
            judged.source_file = verdicts.source_file
            and judged.raw_row_number = verdicts.raw_row_number
            and not verdicts.is_stored
    {%- if is_incremental() %}
    union all
    select
        {{ typed_columns | join(',\n        ') }},
        coalesce(invalid_reason, duplicate_reason) as reject_reason
    from verdicts
    where is_stored
    {%- endif %}
)

select * from final
