{#
    Column mapping from a raw file to the input contract.

    raw_column(source_relation, column, mapping_var, required) returns a SQL
    expression, cast to text, for one contract column:
    - the expression given for it in the mapping var, if any;
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
        cast({{ mapping[column] }} as varchar)
    {%- elif column in file_columns -%}
        cast({{ adapter.quote(column) }} as varchar)
    {%- elif required and execute -%}
        {{ exceptions.raise_compiler_error(
            "Input " ~ source_relation ~ " has no column '" ~ column
            ~ "', which is required. Columns found: "
            ~ (file_columns | join(', ')) ~ ". Rename it in the file or map it "
            ~ "with var " ~ mapping_var ~ ", for example --vars '{"
            ~ mapping_var ~ ": {" ~ column ~ ": <your column or SQL expression>}}'."
        ) }}
    {%- else -%}
        cast(null as varchar)
    {%- endif -%}
{% endmacro %}
