{#
    Recency, frequency and monetary value per user, scored 1-5 and named.

    - recency_days: days from the last purchase to as_of_date.
    - frequency: distinct days with a purchase (an order proxy that needs no
      order id).
    - monetary: purchase revenue minus refunds (net).
    Scores split buyers into fifths by rank (macro rfm_score): equal values
    always get equal scores, heavy ties never fail, and 5 is best (most
    recent, most frequent, most valuable). Segments follow the ordered rules in the
    macro rfm_segment. Users who never bought get no scores and the
    segment 'Non-buyer'.
#}

with

daily as (
    select * from {{ ref('int_user_daily_activity') }}
),

as_of as (
    select * from {{ ref('int_as_of_date') }}
),

users as (
    select
        user_id,
        max(activity_date) filter (where purchases > 0) as last_purchase_date,
        count(*) filter (where purchases > 0) as frequency,
        sum(revenue) - sum(refunded_revenue) as monetary
    from daily
    group by user_id
),

buyers as (
    select
        users.user_id,
        {{ dbt.datediff(
            'users.last_purchase_date', 'as_of.as_of_date', 'day'
        ) }} as recency_days,
        users.frequency,
        users.monetary
    from users
    cross join as_of
    where users.frequency > 0
),

scored as (
    select
        *,
        {{ rfm_score('recency_days', better='lower', ties='best') }}
            as recency_score,
        {{ rfm_score('frequency', better='higher', ties='worst') }}
            as frequency_score,
        {{ rfm_score('monetary', better='higher', ties='worst') }}
            as monetary_score
    from buyers
),

final as (
    select
        users.user_id,
        case
            when scored.user_id is null then 'Non-buyer'
            else {{ rfm_segment(
                'scored.recency_score',
                'scored.frequency_score',
                'scored.monetary_score'
            ) }}
        end as rfm_segment,
        case
            when scored.user_id is not null then
                cast(scored.recency_score as varchar)
                || cast(scored.frequency_score as varchar)
                || cast(scored.monetary_score as varchar)
        end as rfm_code,
        scored.recency_days,
        users.frequency,
        users.monetary,
        scored.recency_score,
        scored.frequency_score,
        scored.monetary_score,
        scored.user_id is not null as is_buyer,
        users.last_purchase_date
    from users
    left join scored on users.user_id = scored.user_id
)

select * from final
