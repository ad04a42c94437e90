{#
    Checks every business var before any model runs (on-run-start in
    dbt_project.yml), so a bad value stops the build at once with one
    message that names each var, its value and what it must be, instead of
    failing deep inside a model with a database or Python error.
#}

{% macro is_whole_number(value) -%}
    {%- if value is boolean or value is none -%}
        {{ return(false) }}
    {%- elif value is integer -%}
        {{ return(true) }}
    {%- elif value is string -%}
        {{ return(modules.re.fullmatch('\s*[+-]?[0-9]+\s*', value) is not none) }}
    {%- endif -%}
    {{ return(false) }}
{%- endmacro %}

{% macro is_real_number(value) -%}
    {%- if value is boolean or value is none -%}
        {{ return(false) }}
    {%- elif value is number -%}
        {{ return(true) }}
    {%- elif value is string -%}
        {{ return(modules.re.fullmatch(
            '\s*[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)\s*', value
        ) is not none) }}
    {%- endif -%}
    {{ return(false) }}
{%- endmacro %}

{% macro is_none_word(value) -%}
    {{ return(value is none or (value is string
        and value | trim | lower in ('', 'none', 'null'))) }}
{%- endmacro %}

{% macro is_calendar_date(text) -%}
    {%- set parts = modules.re.fullmatch(
        '([0-9]{4})-([0-9]{2})-([0-9]{2})', text | string | trim
    ) -%}
    {%- if parts is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set year = parts.group(1) | int -%}
    {%- set month = parts.group(2) | int -%}
    {%- set day = parts.group(3) | int -%}
    {%- if year < 1 or month < 1 or month > 12 or day < 1 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set first = modules.datetime.date(year, month, 1) -%}
    {%- if month == 12 -%}
        {%- set month_days = 31 -%}
    {%- else -%}
        {%- set month_days = (
            modules.datetime.date(year, month + 1, 1) - first
        ).days -%}
    {%- endif -%}
    {{ return(day <= month_days) }}
{%- endmacro %}

{% macro check_vars() -%}
    {%- set problems = [] -%}
    {%- set whole_minimums = {
        'churn_horizon_days': 1,
        'at_risk_days': 1,
        'activation_window_days': 1,
        'loyal_min_purchase_months': 1,
        'session_gap_minutes': 1,
        'similar_items_k': 1,
        'recommendations_n': 1,
        'cf_min_support': 1,
        'holdout_days': 1,
        'churn_lookback_days': 1,
        'churn_training_cutoffs': 1,
        'future_tolerance_hours': 0,
        'random_seed': 0,
    } -%}
    {%- for name, minimum in whole_minimums.items() -%}
        {%- set value = var(name, none) -%}
        {%- if value is not none -%}
            {%- if not is_whole_number(value) or (value | int) < minimum -%}
                {%- do problems.append(
                    'var ' ~ name ~ ' must be a whole number of at least '
                    ~ minimum ~ ', got ' ~ value | tojson
                ) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set k = var('segments_k', 'auto') -%}
    {%- if not (k is string and k | trim | lower == 'auto')
        and not (is_whole_number(k) and (k | int) >= 1) -%}
        {%- do problems.append(
            "var segments_k must be 'auto' or a whole number of segments of "
            ~ 'at least 1, got ' ~ k | tojson
        ) -%}
    {%- endif -%}

    {%- for name in ['cf_half_life_days', 'cf_recent_items_half_life'] -%}
        {%- set value = var(name, none) -%}
        {%- if not is_none_word(value)
            and not (is_real_number(value) and (value | float) > 0) -%}
            {%- do problems.append(
                'var ' ~ name ~ ' must be a positive number or none, got '
                ~ value | tojson
            ) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set scale = var('cf_count_scale', 'log') -%}
    {%- if scale | string | trim | lower not in ('log', 'linear', 'binary') -%}
        {%- do problems.append(
            'var cf_count_scale must be log, linear or binary, got '
            ~ scale | tojson
        ) -%}
    {%- endif -%}

    {%- set weights = var('interaction_weights', {}) -%}
    {%- if weights is not mapping -%}
        {%- do problems.append(
            'var interaction_weights must map event types to numbers, got '
            ~ weights | tojson
        ) -%}
    {%- else -%}
        {%- for event_type, weight in weights.items() -%}
            {%- if not is_real_number(weight) -%}
                {%- do problems.append(
                    'var interaction_weights.' ~ event_type
                    ~ ' must be a number, got ' ~ weight | tojson
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- set as_of = var('as_of_date', none) -%}
    {%- if not is_none_word(as_of) and not is_calendar_date(as_of) -%}
        {%- do problems.append(
            'var as_of_date must be a date written YYYY-MM-DD (such as '
            ~ '2024-06-30) or none, got ' ~ as_of | tojson
        ) -%}
    {%- endif -%}

    {%- set earliest = var('earliest_event_date', '1990-01-01') -%}
    {%- if not is_calendar_date(earliest) -%}
        {%- do problems.append(
            'var earliest_event_date must be a date written YYYY-MM-DD (such '
            ~ 'as 1990-01-01), got ' ~ earliest | tojson
        ) -%}
    {%- endif -%}

    {%- set zone = var('raw_timezone', 'UTC') | string | trim -%}
    {%- if zone not in modules.pytz.all_timezones_set -%}
        {%- do problems.append(
            'var raw_timezone must be an IANA time zone name such as UTC or '
            ~ 'Europe/London, got ' ~ zone | tojson
        ) -%}
    {%- endif -%}

    {%- if problems -%}
        {{ exceptions.raise_compiler_error(
            'Some vars have values ulm cannot use:\n  - '
            ~ problems | join('\n  - ')
            ~ '\nSet them in dbt_project.yml or pass --vars, then build again.'
        ) }}
    {%- endif -%}
{%- endmacro %}
