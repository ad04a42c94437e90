{#
    One row per user per calendar month, from the acquisition month to the
    month of as_of_date. Each month is judged at its reference date: the
    month's last day, or as_of_date for the current month.

    monthly_state (as product-analytics tools define it):
      new           the acquisition month
      returning     active this month and the month before
      resurrecting  active this month, not the month before, not new
      dormant       not active this month, active the month before
      lapsed        not active this month nor the month before

    stage (first rule that matches, at the reference date):
      churned    no activity for var churn_horizon_days or more
      at_risk    no activity for var at_risk_days or more
      loyal      key actions in var loyal_min_purchase_months months or more
      retained   key actions in 2 or more distinct months
      activated  at least one key action
      acquired   otherwise
#}

with

acquired as (
    select * from {{ ref('int_users_acquired') }}
),

daily as (
    select * from {{ ref('int_user_daily_activity') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

monthly_activity as (
    select
        user_id,
        {{ dbt.date_trunc('month', 'activity_date') }} as month_start,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        cast(sum(key_actions) as {{ dbt.type_bigint() }}) as key_actions,
        sum(revenue) - sum(refunded_revenue) as net_revenue,
        max(activity_date) as last_active_date
    from daily
    group by 1, 2
),

month_bounds as (
    select
        min(
            cast({{ dbt.date_trunc('month', 'acquired.acquired_at') }} as date)
        ) as first_month,
        cast(
            {{ dbt.date_trunc('month', 'as_of.as_of_date') }} as date
        ) as last_month
    from acquired
    cross join as_of
    group by 2
),

months as (
    select
        cast(
            {{ month_series('first_month', 'last_month') }} as date
        ) as month_start
    from month_bounds
),

spine as (
    select
        acquired.user_id,
        months.month_start,
        cast(
            {{ dbt.date_trunc('month', 'acquired.acquired_at') }} as date
        ) as acquisition_month
    from acquired
    inner join months
        on
            months.month_start
            >= cast(
                {{ dbt.date_trunc('month', 'acquired.acquired_at') }} as date
            )
),

joined as (
    select
        spine.user_id,
        spine.acquisition_month,
        spine.month_start,
        coalesce(monthly_activity.events, 0) as events,
        coalesce(monthly_activity.key_actions, 0) as key_actions,
        coalesce(monthly_activity.net_revenue, 0) as net_revenue,
        monthly_activity.last_active_date,
        least(
            cast({{ dbt.last_day('spine.month_start', 'month') }} as date),
            as_of.as_of_date
        ) as reference_date
    from spine
    cross join as_of
    left join monthly_activity
        on
            spine.user_id = monthly_activity.user_id
            and spine.month_start = cast(monthly_activity.month_start as date)
),

running as (
    select
        *,
        events > 0 as is_active,
        coalesce(lag(events > 0) over (
            partition by user_id order by month_start
        ), false) as was_active_last_month,
        max(last_active_date) over (
            partition by user_id
            order by month_start
            rows between unbounded preceding and current row
        ) as last_active_to_date,
        cast(sum(case when key_actions > 0 then 1 else 0 end) over (
            partition by user_id
            order by month_start
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as key_action_months_to_date,
        {{ dbt.datediff('acquisition_month', 'month_start', 'month') }}
            as months_since_acquisition
    from joined
),

final as (
    select
        user_id,
        case
            when months_since_acquisition = 0 then 'new'
            when is_active and was_active_last_month then 'returning'
            when is_active then 'resurrecting'
            when was_active_last_month then 'dormant'
            else 'lapsed'
        end as monthly_state,
        case
            when {{ dbt.datediff('last_active_to_date', 'reference_date',
                'day') }} >= {{ var('churn_horizon_days', 30) }}
                then 'churned'
            when {{ dbt.datediff('last_active_to_date', 'reference_date',
                'day') }} >= {{ var('at_risk_days', 14) }}
                then 'at_risk'
            when
                key_action_months_to_date
                >= {{ var('loyal_min_purchase_months', 3) }}
                then 'loyal'
            when key_action_months_to_date >= 2 then 'retained'
            when key_action_months_to_date >= 1 then 'activated'
            else 'acquired'
        end as stage,
        months_since_acquisition,
        events,
        key_actions,
        key_action_months_to_date,
        net_revenue,
        {{ dbt.datediff('last_active_to_date', 'reference_date', 'day') }}
            as days_since_last_active,
        is_active,
        was_active_last_month,
        acquisition_month,
        month_start,
        reference_date
    from running
)

select * from final
