{#
    pseudonymized_user_id(text): the raw user id, or, when var
    pseudonymize_user_ids is true, a keyed hash of it, so no model after the
    raw mapping sees a real user id. Blank ids pass through unchanged and are
    rejected as before. The same key gives the same pseudonym in every build
    and in every input file, so events still join to users.

    The key comes from environment variable ULM_PSEUDONYMIZATION_KEY, read
    with getenv() when the query runs: it never appears in compiled SQL, in
    dbt's logs or under target/. A build with the var on and no key stops
    with a message naming the variable.
#}
{% macro pseudonymized_user_id(text) -%}
    {%- if var('pseudonymize_user_ids', false) | string | lower == 'true' -%}
        {{ adapter.dispatch('pseudonymized_user_id', 'ulm')(text) }}
    {%- else -%}
        {{ text }}
    {%- endif -%}
{%- endmacro %}

{# The contract column's expression, pseudonymized when it is user_id. #}
{% macro pseudonymized_column(column, text) -%}
    {%- if column == 'user_id' -%}
        {{ pseudonymized_user_id(text) }}
    {%- else -%}
        {{ text }}
    {%- endif -%}
{%- endmacro %}

{% macro default__pseudonymized_user_id(text) -%}
    {{ exceptions.raise_compiler_error(
        "var pseudonymize_user_ids is not implemented for adapter "
        ~ adapter.type() ~ ": add a " ~ adapter.type()
        ~ "__pseudonymized_user_id macro that hashes the user id with a key "
        ~ "read at query time, or set pseudonymize_user_ids to false."
    ) }}
{%- endmacro %}

{#
    DuckDB: 32 hex digits of sha256 over the key, the trimmed id and the key
    again. getenv() comes from the project's dbt-duckdb plugin
    (ulm.duckdb_plugin, listed in profiles.yml).
#}
{% macro duckdb__pseudonymized_user_id(text) -%}
    case
        when {{ is_blank_id(text) }} then {{ text }}
        when coalesce(getenv('ULM_PSEUDONYMIZATION_KEY'), '') = ''
            then error(
                'var pseudonymize_user_ids is true but environment variable '
                || 'ULM_PSEUDONYMIZATION_KEY is not set. Export it with a '
                || 'long random secret, the same for every build (a new key '
                || 'gives every user a new pseudonym), or set '
                || 'pseudonymize_user_ids to false.'
            )
        else left(sha256(concat(
            getenv('ULM_PSEUDONYMIZATION_KEY'),
            '|',
            trim({{ text }}),
            '|',
            getenv('ULM_PSEUDONYMIZATION_KEY')
        )), 32)
    end
{%- endmacro %}
