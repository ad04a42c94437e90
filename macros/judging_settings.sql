{#
    Rows are judged once, when their file is first loaded, so the vars that
    decide a verdict must not change under an incremental build: the old
    rows would keep verdicts the new vars would not give them.

    judging_settings(): those vars, as JSON text.

    judging_settings_comment(relation): the statement that records them as
    the comment of the judged table (a post-hook of
    stg_raw__events_validated), with the size in bytes of every file the
    table holds rows of, under the key file_sizes.

    check_judging_settings(relation): on an incremental build, stops with a
    message naming every var that differs from what the stored rows were
    judged with, and says to run --full-refresh; first it stops when a
    loaded file has changed size (macro check_stored_file_sizes). A table
    without the record (built by an earlier version) is not checked.
#}
{% macro judging_settings() %}
    {%- set settings = {
        'raw_events_columns': var('raw_events_columns', {}) or {},
        'raw_timezone': var('raw_timezone', 'UTC') | string,
        'earliest_event_date': var('earliest_event_date', '1990-01-01') | string,
        'as_of_date': var('as_of_date', none) | string | lower,
        'future_tolerance_hours': var('future_tolerance_hours', 24) | string,
        'pseudonymize_user_ids': var('pseudonymize_user_ids', false)
            | string | lower,
    } -%}
    {{ return(tojson(settings, sort_keys=true)) }}
{% endmacro %}

{% macro judging_settings_comment(relation) %}
    {%- set record = fromjson(judging_settings()) -%}
    {%- do record.update({'file_sizes': stored_file_sizes(relation)}) -%}
    {{ return(
        "comment on table " ~ relation ~ " is "
        ~ sql_string(tojson(record, sort_keys=true))
    ) }}
{% endmacro %}

{% macro check_judging_settings(relation) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select comment from duckdb_tables() where database_name = '"
        ~ relation.database ~ "' and schema_name = '" ~ relation.schema
        ~ "' and table_name = '" ~ relation.identifier ~ "'"
    ).rows -%}
    {%- set stored_text = rows[0][0] if rows else none -%}
    {%- if not stored_text or not stored_text.startswith('{') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stored = fromjson(stored_text) -%}
    {%- do check_stored_file_sizes(
        relation, stored.get('file_sizes'), 'raw_events_path'
    ) -%}
    {%- set current = fromjson(judging_settings()) -%}
    {%- set changed = [] -%}
    {%- for name in current | sort -%}
        {%- if stored.get(name) != current[name] -%}
            {%- do changed.append(
                name ~ " was " ~ tojson(stored.get(name)) ~ ", now "
                ~ tojson(current[name])
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if changed -%}
        {{ exceptions.raise_compiler_error(
            "The stored events were judged with other vars than this build's: "
            ~ changed | join('; ') ~ ". An incremental build judges only new "
            ~ "files, so the stored rows would keep their old verdicts. Rebuild "
            ~ "with `dbt build --full-refresh`, or set the vars back."
        ) }}
    {%- endif -%}
{% endmacro %}
