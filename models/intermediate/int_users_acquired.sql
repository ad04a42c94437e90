{#
    One row per user with accepted events: when the user was acquired
    (first event or sign-up, whichever is earlier; a sign-up after as_of_date
    is ignored) and activated (first key action, var activation_event_types).
#}

with

daily as (
    select * from {{ ref('int_user_daily_activity') }}
),

users_file as (
    select * from {{ ref('stg_raw__users') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

firsts as (
    select
        user_id,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        min(first_event_at) filter (where key_actions > 0) as first_key_day_at,
        min(activity_date) filter (where key_actions > 0) as activated_date
    from daily
    group by user_id
),

final as (
    select
        firsts.user_id,
        users_file.country,
        users_file.acquisition_channel,
        users_file.signed_up_at,
        firsts.first_event_at,
        firsts.last_event_at,
        case
            when
                users_file.signed_up_at < firsts.first_event_at
                and users_file.signed_up_at < as_of.as_of_end_at
                then users_file.signed_up_at
            else firsts.first_event_at
        end as acquired_at,
        firsts.activated_date
    from firsts
    cross join as_of
    left join users_file on firsts.user_id = users_file.user_id
)

select * from final
