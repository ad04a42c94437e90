{#
    The raw events file in the input contract, every column as text: each
    contract column comes from var raw_events_columns, else from the file's
    column of the same name, else null when optional (macro raw_column). A
    required column that cannot be found stops the build with a message
    naming the file, the column and the var to set. raw_row_number counts
    rows within each file, from 1, in file order. raw_extra_fields holds
    the values of a CSV row beyond the header's names (macro
    raw_extra_columns), null for a well-formed row. With var
    pseudonymize_user_ids the user id is replaced here by its keyed hash
    (macro pseudonymized_user_id), so no later model sees a real one. A view:
    it only renames.
#}

{{ config(materialized='view') }}

{%- set source_relation = source('raw', 'events') -%}
{%- do check_raw_file('raw_events_path') -%}
{%- set file_columns = raw_file_columns(source_relation) -%}
{%- set extra_columns = raw_extra_columns(
    file_columns, 'raw_events_columns'
) -%}
{%- set contract = [
    ('event_id', false),
    ('user_id', true),
    ('event_at', true),
    ('event_type', true),
    ('item_id', false),
    ('quantity', false),
    ('revenue', false),
    ('session_id', false),
] -%}

with

scanned as (
    select
        row_number() over () as scan_row_number,
        filename as source_file,
        {{ raw_extra_fields(extra_columns) }} as raw_extra_fields,
    {%- for column, required in contract %}
        {{ pseudonymized_column(column, raw_column(
            source_relation, column, 'raw_events_columns', required,
            file_columns
        )) }} as raw_{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ source_relation }}
),

raw_rows as (
    select
        * exclude (scan_row_number),
        scan_row_number
        - min(scan_row_number) over (partition by source_file)
        + 1 as raw_row_number
    from scanned
)

select * from raw_rows
