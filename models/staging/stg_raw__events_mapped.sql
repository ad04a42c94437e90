{#
    The raw events file in the input contract, every column as text: each
    contract column comes from var raw_events_columns, else from the file's
    column of the same name, else null when optional (macro raw_column). A
    required column that cannot be found stops the build with a message
    naming the file, the column and the var to set. raw_row_number counts
    rows within each file, from 1, in file order: Parquet gives each row's
    position in its file, one CSV file its scan order, and several CSV
    files their scan order less the first scan row of each file (a window
    over all rows, the only costly step here). raw_extra_fields holds
    the values of a CSV row beyond the header's names (macro
    raw_extra_columns), null for a well-formed row. With var
    pseudonymize_user_ids the user id is replaced here by its keyed hash
    (macro pseudonymized_user_id), so no later model sees a real one. A view:
    it only renames.
#}

{{ config(materialized='view') }}

{%- set source_relation = source('raw', 'events') -%}
{%- set files = check_raw_file('raw_events_path') or [] -%}
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

{%- set single_file = files is not string and files | length == 1 -%}
{%- set numbered_per_file = 'file_row_number' in file_columns or single_file -%}

with

scanned as (
    select
        {%- if 'file_row_number' in file_columns %}
        file_row_number + 1 as scan_row_number,
        {%- else %}
        row_number() over () as scan_row_number,
        {%- endif %}
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
        {%- if numbered_per_file %}
        scan_row_number as raw_row_number
        {%- else %}
        scan_row_number
        - min(scan_row_number) over (partition by source_file)
        + 1 as raw_row_number
        {%- endif %}
    from scanned
)

select * from raw_rows
