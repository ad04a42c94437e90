{#
    Users moving between stages from one month to the next, for flow
    (Sankey) charts. A user's first month comes from the stage 'none'.
#}

with

lifecycle as (
    select * from {{ ref('fct_user_lifecycle') }}
),

moves as (
    select
        month_start,
        coalesce(lag(stage) over (
            partition by user_id order by month_start
        ), 'none') as from_stage,
        stage as to_stage
    from lifecycle
),

final as (
    select
        month_start,
        from_stage,
        to_stage,
        count(*) as users
    from moves
    group by month_start, from_stage, to_stage
)

select * from final
