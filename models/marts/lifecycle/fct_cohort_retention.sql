{#
    Retention of each acquisition cohort (users acquired in the same calendar
    month) by months since acquisition.
      retention_rate           share of the cohort active in exactly that month
      rolling_retention_rate   share active in that month or any later month
    Revenue is net of refunds and counts every user of the cohort.
#}

with

lifecycle as (
    select * from {{ ref('fct_user_lifecycle') }}
),

flagged as (
    select
        *,
        max(case when is_active then 1 else 0 end) over (
            partition by user_id
            order by month_start
            rows between current row and unbounded following
        ) = 1 as is_active_now_or_later
    from lifecycle
),

cohort_sizes as (
    select
        acquisition_month,
        count(*) as cohort_users
    from lifecycle
    where months_since_acquisition = 0
    group by acquisition_month
),

cells as (
    select
        acquisition_month,
        months_since_acquisition,
        min(month_start) as month_start,
        count(*) filter (where is_active) as active_users,
        count(*) filter (where is_active_now_or_later)
            as active_now_or_later_users,
        sum(net_revenue) as net_revenue
    from flagged
    group by acquisition_month, months_since_acquisition
),

final as (
    select
        cells.acquisition_month,
        cells.months_since_acquisition,
        cohort_sizes.cohort_users,
        cells.active_users,
        cells.active_now_or_later_users,
        cast(cells.active_users as double) / cohort_sizes.cohort_users
            as retention_rate,
        cast(cells.active_now_or_later_users as double)
        / cohort_sizes.cohort_users as rolling_retention_rate,
        cells.net_revenue,
        cells.net_revenue / cohort_sizes.cohort_users as net_revenue_per_user,
        sum(cells.net_revenue) over (
            partition by cells.acquisition_month
            order by cells.months_since_acquisition
            rows between unbounded preceding and current row
        ) / cohort_sizes.cohort_users as cumulative_net_revenue_per_user,
        cells.month_start
    from cells
    inner join cohort_sizes
        on cells.acquisition_month = cohort_sizes.acquisition_month
)

select * from final
