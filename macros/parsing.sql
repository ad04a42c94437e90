{#
    Parsers for raw text values. Each returns null when the text cannot be
    read, so staging can quarantine the row with a reason instead of failing.
#}

{# Timestamp text -> UTC timestamp without time zone.
   Accepts ISO-8601 with 'T' or a space, optional fraction, an offset (Z,
   +hh:mm, +hhmm), a zone name suffix such as ' UTC', and epoch seconds (10
   digits) or milliseconds (13 digits). Text without an offset after its
   time of day (a date alone included) is read in var raw_timezone. #}
{% macro parse_timestamp_utc(text) %}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'ulm')(text)) }}
{% endmacro %}

{% macro duckdb__parse_timestamp_utc(text) -%}
    case
        when regexp_full_match(trim({{ text }}), '[0-9]{9,10}')
            then make_timestamp(cast(trim({{ text }}) as bigint) * 1000000)
        when regexp_full_match(trim({{ text }}), '[0-9]{12,13}')
            then make_timestamp(cast(trim({{ text }}) as bigint) * 1000)
        when regexp_matches(
            trim({{ text }}),
            '[0-9]:[0-9]{2}(:[0-9]{2})?([.][0-9]+)? ?'
            || '([+-][0-9]{2}(:?[0-9]{2})?|Z|[A-Za-z_]+(/[A-Za-z_]+)*)$'
        )
            then timezone('UTC', try_cast(trim({{ text }}) as timestamptz))
        else timezone(
            'UTC',
            timezone(
                '{{ var("raw_timezone", "UTC") }}',
                try_cast(trim({{ text }}) as timestamp)
            )
        )
    end
{%- endmacro %}

{# Money text -> decimal. A decimal comma ("12,50") is read as a point when
   the text has no point; thousands separators are not guessed. #}
{% macro parse_decimal(text) %}
    {{ return(adapter.dispatch('parse_decimal', 'ulm')(text)) }}
{% endmacro %}

{% macro duckdb__parse_decimal(text) -%}
    try_cast(
        case
            when regexp_full_match(trim({{ text }}), '[+-]?[0-9]*,[0-9]+')
                then replace(trim({{ text }}), ',', '.')
            else trim({{ text }})
        end as decimal(18, 4)
    )
{%- endmacro %}

{# Quantity text -> integer; "2.0" reads as 2, "2.5" as null. #}
{% macro parse_integer(text) %}
    {{ return(adapter.dispatch('parse_integer', 'ulm')(text)) }}
{% endmacro %}

{% macro duckdb__parse_integer(text) -%}
    case
        when try_cast(trim({{ text }}) as double)
            = floor(try_cast(trim({{ text }}) as double))
            then try_cast(try_cast(trim({{ text }}) as double) as bigint)
    end
{%- endmacro %}

{# True when an id text means "no value". #}
{% macro is_blank_id(text) -%}
    coalesce(
        lower(trim({{ text }})) in ('', 'null', 'none', 'nan', 'n/a', 'na'),
        true
    )
{%- endmacro %}
