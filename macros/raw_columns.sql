{#
    Column mapping from a raw file to the input contract.

    raw_column(source_relation, column, mapping_var, required) returns a SQL
    expression, cast to text, for one contract column:
    - the expression given for it in the mapping var, if any (a bare
      column name that the file lacks stops the build, naming the var,
      the column and the columns found);
    - else the file's column of the same name, if the file has one;
    - else null, for an optional column;
    - else the build stops with a message naming the file, the missing
      column, the columns found and the var to set.
#}
{% macro raw_file_columns(source_relation) %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set probe = run_query('select * from ' ~ source_relation ~ ' limit 0') -%}
    {{ return(probe.column_names | map('lower') | list) }}
{% endmacro %}

{% macro raw_column(source_relation, column, mapping_var, required, file_columns) %}
    {%- set mapping = var(mapping_var, {}) or {} -%}
    {%- if column in mapping and mapping[column] is not none -%}
        {%- set named = modules.re.fullmatch(
            '\s*"?([A-Za-z_][A-Za-z0-9_ ]*)"?\s*', mapping[column] | string
        ) -%}
        {%- if execute and named is not none
            and named.group(1) | lower not in file_columns
            and named.group(1) | lower not in (
                'null', 'true', 'false', 'current_date', 'current_timestamp'
            ) -%}
            {%- set path_var = mapping_var | replace('_columns', '_path') -%}
            {%- set input_name = mapping_var | replace('raw_', '')
                | replace('_columns', '') -%}
            {%- set found = file_columns
                | reject('in', ['filename', 'file_row_number']) | list -%}
            {{ exceptions.raise_compiler_error(
                "var " ~ mapping_var ~ " maps " ~ column ~ " to the column '"
                ~ named.group(1) ~ "', but the " ~ input_name ~ " input '"
                ~ var(path_var) ~ "' (var " ~ path_var ~ ") has no such "
                ~ "column. Columns found: " ~ (found | join(', '))
                ~ ". Map " ~ column ~ " to one of them or to a SQL expression "
                ~ "over them."
            ) }}
        {%- endif -%}
        cast({{ mapping[column] }} as varchar)
    {%- elif column in file_columns -%}
        cast({{ adapter.quote(column) }} as varchar)
    {%- elif required and execute -%}
        {%- set path_var = mapping_var | replace('_columns', '_path') -%}
        {%- set input_name = mapping_var | replace('raw_', '')
            | replace('_columns', '') -%}
        {%- set found = file_columns | reject('in', ['filename', 'file_row_number'])
            | list -%}
        {{ exceptions.raise_compiler_error(
            "The " ~ input_name ~ " input '" ~ var(path_var) ~ "' (var "
            ~ path_var ~ ") has no column '" ~ column ~ "', which is "
            ~ "required. Columns found: " ~ (found | join(', ')) ~ ". Rename "
            ~ "the column in the file, or map it with var " ~ mapping_var
            ~ ", for example --vars '{" ~ mapping_var ~ ": {" ~ column
            ~ ": <your column or SQL expression>}}'."
        ) }}
    {%- else -%}
        cast(null as varchar)
    {%- endif -%}
{% endmacro %}

{#
    Columns that hold values beyond the header: a CSV row with more fields
    than the header has names gets columns the reader names column<N>. A
    value with an unquoted delimiter does this (a decimal comma, 12,5, in a
    comma-separated file), and every later field of that row is shifted, so
    such rows are quarantined instead of read. Columns named column<N>
    before the first named column (an unnamed index column, as pandas
    writes) are not extra, nor is a column named in the mapping var.
#}
{% macro raw_extra_columns(file_columns, mapping_var) %}
    {%- set mapping_text = (var(mapping_var, {}) or {}).values()
        | map('string') | join(' ') | lower -%}
    {%- set state = namespace(after_named=false, extra=[]) -%}
    {%- for column in file_columns
        if column not in ('filename', 'file_row_number') -%}
        {%- if not modules.re.fullmatch('column[0-9]+', column) -%}
            {%- set state.after_named = true -%}
        {%- elif state.after_named and not modules.re.search(
            '\\b' ~ column ~ '\\b', mapping_text) -%}
            {%- set state.extra = state.extra + [column] -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(state.extra) }}
{% endmacro %}

{# The values of the extra columns of a row joined by commas, null when the
   row has none (SQL text). #}
{% macro raw_extra_fields(extra_columns) -%}
    {%- if extra_columns -%}
        nullif(concat_ws(',',
        {%- for column in extra_columns %}
        cast({{ adapter.quote(column) }} as varchar)
        {{- ',' if not loop.last }}
        {%- endfor -%}
        ), '')
    {%- else -%}
        cast(null as varchar)
    {%- endif -%}
{%- endmacro %}
