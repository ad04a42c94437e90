{#
    check_raw_file(path_var): stop the build with a clear message when var
    path_var (a file or a glob) matches no file, or when one of its CSV
    files has a line the CSV reader cannot split into the header's columns.

    The reader fixes the number of columns from a sample of the first rows.
    A later line with more fields, typically a value with an unquoted
    delimiter such as the decimal comma of 12,5 in a comma-separated file,
    would otherwise fail deep inside the build with a reader error that
    suggests options no var can set. (Within the sample such a line gets
    extra columns instead, and staging quarantines it as extra_fields.)
    Each file is read once here, reader errors recorded rather than raised,
    and the first one becomes the message: the file, the line number, the
    line and what to do. Parquet files are only checked for existence; an
    optional input set to none is not checked. Returns the files found
    (none for an input set to none).
#}
{% macro check_raw_file(path_var) %}
    {{ return(adapter.dispatch('check_raw_file', 'ulm')(path_var)) }}
{% endmacro %}

{% macro default__check_raw_file(path_var) %}
{% endmacro %}

{% macro duckdb__check_raw_file(path_var) %}
    {%- set path = var(path_var) | string -%}
    {%- if not execute or path | lower in ('', 'none', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set files = run_query(
        "select file from glob(" ~ sql_string(path) ~ ") order by file"
    ).columns[0].values() -%}
    {%- if files | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ path_var ~ " is '" ~ path ~ "', which matches no file "
            ~ "(a relative path starts at the directory dbt runs in). Point "
            ~ "it at a CSV or Parquet file or a glob such as data/events/*.csv."
        ) }}
    {%- endif -%}
    {%- set parquet_files = [] -%}
    {%- for file in files -%}
        {%- set suffix = file | lower -%}
        {%- if suffix.endswith('.parquet') -%}
            {%- do parquet_files.append(file) -%}
        {%- endif -%}
        {%- if suffix.endswith(('.json', '.jsonl', '.ndjson', '.xlsx', '.xls',
            '.avro', '.orc', '.zip')) -%}
            {{ exceptions.raise_compiler_error(
                "The file '" ~ file ~ "' (var " ~ path_var ~ ") is not a "
                ~ "format ulm reads: write it as CSV (.csv or .csv.gz) or "
                ~ "Parquet (.parquet), or narrow the glob to those files."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if parquet_files and parquet_files | length < files | length -%}
        {%- set other = (files | reject('in', parquet_files) | list)[0] -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ path_var ~ " ('" ~ path ~ "') matches Parquet files such "
            ~ "as '" ~ parquet_files[0] ~ "' and other files such as '"
            ~ other ~ "'; one input is read as one format. Narrow the glob "
            ~ "to one of them, such as *.parquet or *.csv."
        ) }}
    {%- endif -%}
    {%- for file in files if file not in parquet_files -%}
        {#- Every line read whole as UTF-8 text. A line that is not UTF-8 is
            recorded, not raised (the reader's own error would name options
            no var can set), and stops the build naming it. Then a line with
            an odd number of double quotes opens a quoted value that runs
            onto the next line, which the parallel reader cannot split. -#}
        {%- set line_check = run_query(
            "select min(line_number) filter (where (length(line)"
            ~ " - length(replace(line, '\"', ''))) % 2 = 1), count(*)"
            ~ " from (select row_number() over () as"
            ~ " line_number, line from read_csv(" ~ sql_string(file)
            ~ ", columns = {'line': 'varchar'}, header = false,"
            ~ " delim = '\x1f', quote = '', escape = '', auto_detect = false,"
            ~ " strict_mode = false, encoding = 'utf-8', store_rejects = true,"
            ~ " rejects_table = 'ulm_line_errors',"
            ~ " rejects_scan = 'ulm_line_scans'))"
        ).rows[0] -%}
        {#- The reject tables keep the scans of earlier files, and a scan
            without rejects adds no row: match the scan by its file. -#}
        {%- set not_utf8 = run_query(
            "select min(errors.line) from ulm_line_errors as errors"
            ~ " inner join ulm_line_scans as scans"
            ~ " on errors.scan_id = scans.scan_id"
            ~ " and errors.file_id = scans.file_id"
            ~ " where scans.file_path = " ~ sql_string(file)
            ~ " and upper(errors.error_type) = 'INVALID ENCODING'"
        ).rows[0][0] -%}
        {%- if not_utf8 is not none -%}
            {{ exceptions.raise_compiler_error(
                "The file '" ~ file ~ "' (var " ~ path_var ~ ") is not UTF-8: "
                ~ "line " ~ not_utf8 ~ " holds bytes that are not UTF-8 text "
                ~ "(a file saved as Latin-1 or Windows-1252 is the usual "
                ~ "cause). Write the file as UTF-8, for example with "
                ~ "iconv -f latin1 -t utf-8, then build again."
            ) }}
        {%- endif -%}
        {%- set spanning = line_check[0] -%}
        {%- if line_check[1] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "The file '" ~ file ~ "' (var " ~ path_var ~ ") is empty: "
                ~ "not even a header line. Write a header line and the "
                ~ "rows, or point " ~ path_var ~ " at another file."
            ) }}
        {%- endif -%}
        {%- if spanning is not none -%}
            {{ exceptions.raise_compiler_error(
                "The file '" ~ file ~ "' (var " ~ path_var ~ ") cannot be "
                ~ "read: line " ~ spanning ~ " opens a quoted value that "
                ~ "runs onto the next line (a line break inside a value, or "
                ~ "a quote that is never closed). Remove line breaks from "
                ~ "values, close the quote, or convert the file to Parquet, "
                ~ "then build again."
            ) }}
        {%- endif -%}
        {%- set reader_errors = run_query(
            "select count(*) from read_csv(" ~ sql_string(file)
            ~ ", header = true, all_varchar = true, null_padding = true, "
            ~ "store_rejects = true, rejects_limit = 1, "
            ~ "rejects_table = 'ulm_csv_errors', "
            ~ "rejects_scan = 'ulm_csv_scans');"
            ~ " select errors.line, errors.error_type, errors.error_message,"
            ~ " array_to_string(regexp_extract_all(scans.columns,"
            ~ " '''([^'']*)'':', 1), ', ') as header,"
            ~ " left(errors.csv_line, 200) as csv_line"
            ~ " from ulm_csv_errors as errors"
            ~ " inner join ulm_csv_scans as scans"
            ~ " on errors.scan_id = scans.scan_id"
            ~ " and errors.file_id = scans.file_id"
            ~ " where errors.scan_id = (select max(last_scan.scan_id)"
            ~ " from ulm_csv_scans as last_scan)"
            ~ " order by errors.line limit 1"
        ) -%}
        {%- if reader_errors.rows | length > 0 -%}
            {%- set line, error_type, error_message, header, csv_line
                = reader_errors.rows[0] -%}
            {%- if error_type | upper == 'TOO MANY COLUMNS' -%}
                {%- set cause = "has more fields than the header has names ("
                    ~ error_message ~ "; the header: " ~ header ~ "). "
                    ~ "A value holds an unquoted delimiter, for example the "
                    ~ "decimal comma of 12,5 in a comma-separated file, so "
                    ~ "the row cannot be split into the right columns. Quote "
                    ~ "such values (\"12,5\") or write the file with another "
                    ~ "delimiter, such as a semicolon" -%}
            {%- else -%}
                {%- set cause = "cannot be read as CSV (" ~ error_type ~ ": "
                    ~ error_message ~ "). Make quotes pair up and write the "
                    ~ "file as UTF-8" -%}
            {%- endif -%}
            {{ exceptions.raise_compiler_error(
                "The file '" ~ file ~ "' (var " ~ path_var ~ ") cannot be "
                ~ "read: line " ~ line ~ " " ~ cause ~ ", then build again. "
                ~ "The line: " ~ csv_line
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(files) }}
{% endmacro %}

{#
    check_stored_files(relation, path_var): on an incremental run, stop when
    `relation` (a staging table with a source_file column) holds rows of a
    file that var `path_var` no longer matches. Incremental runs only add
    files they have not seen, so after the var moves to other files the old
    rows would silently stay beside the new ones.
#}
{% macro check_stored_files(relation, path_var) %}
    {%- set path = var(path_var) | string -%}
    {%- if not execute or path | lower in ('', 'none', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stale = run_query(
        "select count(distinct source_file), min(source_file) from "
        ~ relation ~ " where source_file not in (select file from glob("
        ~ sql_string(path) ~ "))"
    ).rows[0] -%}
    {%- if stale[0] > 0 -%}
        {{ exceptions.raise_compiler_error(
            "The warehouse holds events of " ~ stale[0] ~ " file(s) that var "
            ~ path_var ~ " ('" ~ path ~ "') no longer matches, such as '"
            ~ stale[1] ~ "'. An incremental build only adds files it has not "
            ~ "seen, so those events would stay beside the new ones. Rebuild "
            ~ "from the current files with `dbt build --full-refresh`, or "
            ~ "point ULM_DUCKDB_PATH at a new warehouse file."
        ) }}
    {%- endif -%}
{% endmacro %}

{#
    stored_file_sizes(relation): {file: size in bytes} for every file of
    var raw_events_path that `relation` holds rows of, as the files are now.
    read_blob gives sizes without reading the files.

    check_stored_file_sizes(relation, recorded, path_var): on an incremental
    run, stop when a file the table holds rows of has another size than
    `recorded` (the sizes stored when it was loaded). A run reads only files
    it has not seen, so rows appended to a loaded file, or a file rewritten,
    would be left out without a word.
#}
{% macro stored_file_sizes(relation) %}
    {%- set path = var('raw_events_path') | string -%}
    {%- if not execute or path | lower in ('', 'none', 'null') -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select blob.filename, blob.size from read_blob("
        ~ sql_string(path) ~ ") as blob where blob.filename in ("
        ~ "select distinct stored.source_file from " ~ relation
        ~ " as stored) order by blob.filename"
    ).rows -%}
    {%- set sizes = {} -%}
    {%- for row in rows -%}
        {%- do sizes.update({row[0]: row[1] | int}) -%}
    {%- endfor -%}
    {{ return(sizes) }}
{% endmacro %}

{% macro check_stored_file_sizes(relation, recorded, path_var) %}
    {%- if not execute or not recorded -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set current = stored_file_sizes(relation) -%}
    {%- for file in recorded | sort -%}
        {%- if file in current and current[file] != recorded[file] -%}
            {{ exceptions.raise_compiler_error(
                "The file '" ~ file ~ "' (var " ~ path_var ~ ") has changed "
                ~ "since it was loaded: it was " ~ recorded[file] ~ " bytes, "
                ~ "now " ~ current[file] ~ ". An incremental build reads only "
                ~ "files it has not seen, so rows added to or changed in a "
                ~ "loaded file would be left out. Put new events in a new "
                ~ "file, or rebuild from the files as they are with "
                ~ "`dbt build --full-refresh`."
            ) }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}
