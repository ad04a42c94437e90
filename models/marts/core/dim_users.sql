{#
    The user profile: one row per user with accepted events, joining
    acquisition and activation, the current lifecycle stage, RFM, activity,
    the behavior segment, churn risk and how many recommendations the user
    has. activation counts inside the window when the first key action falls
    within var activation_window_days days of acquisition.
#}

with

acquired as (
    select * from {{ ref('int_users_acquired') }}
),

lifecycle as (
    select * from {{ ref('fct_user_lifecycle') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

rfm as (
    select * from {{ ref('fct_user_rfm') }}
),

activity as (
    select * from {{ ref('fct_user_activity') }}
),

user_segments as (
    select * from {{ ref('ml_user_segments') }}
),

churn as (
    select * from {{ ref('ml_churn_scores') }}
),

recommendations as (
    select
        user_id,
        count(*) as recommendations
    from {{ ref('ml_user_recommendations') }}
    group by user_id
),

current_month as (
    select
        lifecycle.user_id,
        lifecycle.stage,
        lifecycle.monthly_state
    from lifecycle
    cross join as_of
    where
        lifecycle.month_start
        = cast({{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date)
),

final as (
    select
        acquired.user_id,
        acquired.country,
        acquired.acquisition_channel,
        current_month.stage as current_stage,
        current_month.monthly_state as current_monthly_state,
        rfm.rfm_segment,
        user_segments.segment_name,
        churn.risk_band as churn_risk_band,
        user_segments.segment_id,
        rfm.recency_score,
        rfm.frequency_score,
        rfm.monetary_score,
        activity.events,
        activity.sessions,
        activity.purchases,
        activity.net_revenue,
        activity.days_since_last_event,
        activity.days_since_last_purchase,
        churn.churn_probability,
        churn.predicted_revenue,
        coalesce(recommendations.recommendations, 0) as recommendations,
        {{ dbt.datediff(
            'cast(acquired.acquired_at as date)', 'acquired.activated_date', 'day'
        ) }} as days_to_activation,
        acquired.activated_date is not null as is_activated,
        coalesce(
            {{ dbt.datediff(
                'cast(acquired.acquired_at as date)',
                'acquired.activated_date',
                'day'
            ) }} <= {{ var('activation_window_days', 30) }},
            false
        ) as is_activated_in_window,
        cast(acquired.acquired_at as date) as acquired_date,
        acquired.activated_date,
        acquired.signed_up_at,
        acquired.acquired_at,
        acquired.first_event_at,
        acquired.last_event_at
    from acquired
    left join current_month on acquired.user_id = current_month.user_id
    left join rfm on acquired.user_id = rfm.user_id
    left join activity on acquired.user_id = activity.user_id
    left join user_segments on acquired.user_id = user_segments.user_id
    left join churn on acquired.user_id = churn.user_id
    left join recommendations on acquired.user_id = recommendations.user_id
)

select * from final
