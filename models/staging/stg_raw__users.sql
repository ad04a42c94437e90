{#
    Optional user attributes, one row per user. When a user appears on
    several rows, the earliest sign-up wins. Rows without a usable user_id
    are dropped here: users are built from events, attributes only enrich.
    The user id is pseudonymized exactly as in stg_raw__events_mapped, so
    users still join to their events.
#}

{%- set source_relation = source('raw', 'users') -%}
{%- do check_raw_file('raw_users_path') -%}
{%- set file_columns = raw_file_columns(source_relation) -%}

with

raw_rows as (
    select
        {{ pseudonymized_user_id(raw_column(
            source_relation, 'user_id', 'raw_users_columns', true, file_columns
        )) }} as raw_user_id,
        {{ raw_column(source_relation, 'signed_up_at', 'raw_users_columns',
            false, file_columns) }} as raw_signed_up_at,
        {{ raw_column(source_relation, 'country', 'raw_users_columns', false,
            file_columns) }} as raw_country,
        {{ raw_column(source_relation, 'acquisition_channel',
            'raw_users_columns', false, file_columns) }}
            as raw_acquisition_channel
    from {{ source_relation }}
),

parsed as (
    select
        trim(raw_user_id) as user_id,
        nullif(trim(raw_country), '') as country,
        nullif(trim(raw_acquisition_channel), '') as acquisition_channel,
        {{ parse_timestamp_utc('raw_signed_up_at') }} as signed_up_at
    from raw_rows
    where not {{ is_blank_id('raw_user_id') }}
),

deduplicated as (
    select
        user_id,
        country,
        acquisition_channel,
        signed_up_at
    from parsed
    qualify row_number() over (
        partition by user_id
        order by signed_up_at nulls last, country, acquisition_channel
    ) = 1
)

select * from deduplicated
