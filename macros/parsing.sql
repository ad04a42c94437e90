{#
    Parsers for raw text values. Each returns null when the text cannot be
    read, so staging can quarantine the row with a reason instead of failing.
#}

{# Timestamp text -> UTC timestamp without time zone.
   Accepts ISO-8601 with 'T' (or 't') or a space, optional fraction, an
   offset (Z, +hh:mm, +hhmm, +hh, also after a space; hours up to 14 and
   minutes up to 59, as clocks use), a zone name suffix
   such as ' UTC' or ' America/New_York', and epoch numbers: 9-10 digits
   are seconds (a fraction allowed), 12-13 milliseconds, 15-16
   microseconds. Text without an offset after its time of day (a date alone
   included) is read in var raw_timezone; a local time that a daylight
   saving change makes ambiguous or skips is read with the offset in force
   after the change when the clock falls back (01:30 on a fall-back night
   is the second 01:30) and before it when the clock springs forward.
   Any other sign after the time of day (+25:00, +05:75, +05:30:00, +5:30,
   UTC+05:30) makes the text unreadable: DuckDB would read some of them,
   and its cast to a local time drops whatever offset it does not know. #}
{% macro parse_timestamp_utc(text) %}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'ulm')(text)) }}
{% endmacro %}

{#- The common ISO-8601 forms (date, 'T' or a space, time, optional
    fraction, then Z or a numeric offset, or nothing) are read by one
    cast after one pattern test: the general rules below give the same
    instant for them, after three rewrites and up to seven pattern tests.
    A sign after the time of day that is not a real offset is refused
    before any cast: both casts below would read or drop it. -#}
{% macro duckdb__parse_timestamp_utc(text) -%}
    {%- set iso_prefix = '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]'
        ~ '[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?' -%}
    {%- set time_then = ':[0-9]{2}([.][0-9]+)?' -%}
    {%- set real_offset = '[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?' -%}
    {%- set value -%}
        regexp_replace(
            regexp_replace(
                regexp_replace(
                    trim({{ text }}),
                    '^([0-9]{4}-[0-9]{2}-[0-9]{2})t', '\1T'
                ),
                '([0-9]) *[zZ]$', '\1Z'
            ),
            '([0-9]) +([+-][0-9]{2}(:?[0-9]{2})?)$', '\1\2'
        )
    {%- endset -%}
    case
        when regexp_full_match(
            {{ text }}, '{{ iso_prefix }}(Z|{{ real_offset }})'
        )
            then timezone('UTC', try_cast({{ text }} as timestamptz))
        when regexp_full_match({{ text }}, '{{ iso_prefix }}')
            then timezone(
                'UTC',
                timezone(
                    '{{ var("raw_timezone", "UTC") }}',
                    try_cast({{ text }} as timestamp)
                )
            )
        when regexp_matches({{ value }}, '[0-9]{{ time_then }}[^+-]*[+-]')
            and not regexp_matches(
                {{ value }}, '{{ time_then }}{{ real_offset }}$'
            )
            then null
        when regexp_full_match({{ value }}, '[0-9]{9,10}')
            then make_timestamp(cast({{ value }} as bigint) * 1000000)
        when regexp_full_match({{ value }}, '[0-9]{9,10}[.][0-9]{1,9}')
            then make_timestamp(
                cast(cast({{ value }} as decimal(19, 9)) * 1000000 as bigint)
            )
        when regexp_full_match({{ value }}, '[0-9]{12,13}')
            then make_timestamp(cast({{ value }} as bigint) * 1000)
        when regexp_full_match({{ value }}, '[0-9]{15,16}')
            then make_timestamp(cast({{ value }} as bigint))
        when regexp_matches(
            {{ value }},
            '[0-9]:[0-9]{2}(:[0-9]{2})?([.][0-9]+)? ?'
            || '([+-][0-9]{2}(:?[0-9]{2})?|Z|[A-Za-z_]+(/[A-Za-z_]+)*)$'
        )
            then timezone('UTC', try_cast({{ value }} as timestamptz))
        else timezone(
            'UTC',
            timezone(
                '{{ var("raw_timezone", "UTC") }}',
                try_cast({{ value }} as timestamp)
            )
        )
    end
{%- endmacro %}

{# Money text -> decimal. The last separator followed by digits is the
   decimal mark when both a comma and a point appear ("1,234.50" and
   "1.234,50" are 1234.5); a lone comma is a decimal comma ("12,50"), except
   before exactly three digits after a non-zero lead ("1,234"), which could
   be a thousands separator and is not read. Repeated groups of three after
   one separator ("1,234,567", "1.234.567") are thousands. A lone point is
   a decimal point. #}
{% macro parse_decimal(text) %}
    {{ return(adapter.dispatch('parse_decimal', 'ulm')(text)) }}
{% endmacro %}

{% macro duckdb__parse_decimal(text) -%}
    {%- set value = 'trim(' ~ text ~ ')' -%}
    try_cast(
        case
            when regexp_full_match({{ value }}, '[+-]?[1-9][0-9]{0,2},[0-9]{3}')
                then null
            when regexp_full_match(
                {{ value }}, '[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+([.][0-9]+)?'
            )
                then replace({{ value }}, ',', '')
            when regexp_full_match(
                {{ value }}, '[+-]?[1-9][0-9]{0,2}([.][0-9]{3})+(,[0-9]+)?'
            )
                and not regexp_full_match({{ value }}, '[+-]?[0-9]+[.][0-9]+')
                then replace(replace({{ value }}, '.', ''), ',', '.')
            when regexp_full_match({{ value }}, '[+-]?[0-9]*,[0-9]+')
                then replace({{ value }}, ',', '.')
            else {{ value }}
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

{# True when an id or value text means "no value": null, empty, blank or
   a null marker (NULL, None, NaN, N/A, NA in any case). With trimmed=true
   the text is already trimmed and is not trimmed again. Text longer than
   any marker is decided by its length alone, which spares most rows the
   lower-casing and the list lookup. #}
{% macro is_blank_id(text, trimmed=false) -%}
    {%- set value = text if trimmed else 'trim(' ~ text ~ ')' -%}
    case
        when length({{ value }}) > 4 then false
        else coalesce(
            lower({{ value }}) in ('', 'null', 'none', 'nan', 'n/a', 'na'),
            true
        )
    end
{%- endmacro %}

{# The text trimmed, or null when it means "no value" (macro is_blank_id). #}
{% macro nullif_blank(text, trimmed=false) -%}
    {%- set value = text if trimmed else 'trim(' ~ text ~ ')' -%}
    case when not {{ is_blank_id(value, trimmed=true) }} then {{ value }} end
{%- endmacro %}
