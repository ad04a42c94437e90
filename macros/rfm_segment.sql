{#
    Named RFM segment from 1-5 scores (5 best). The first rule that matches
    wins; every score combination lands in exactly one segment.

     1. Champions           r >= 4 and f >= 4 and m >= 4
     2. Can't Lose Them     r <= 2 and f >= 4 and m >= 4
     3. Loyal               r >= 3 and f >= 4
     4. At Risk             r <= 2 and f >= 3
     5. New                 r = 5 and f = 1
     6. Potential Loyalist  r >= 4 and f >= 2
     7. Promising           r = 4 and f = 1
     8. Need Attention      r = 3 and f >= 2
     9. About To Sleep      r = 3 and f = 1
    10. Hibernating         r = 2
    11. Lost                everything else (r = 1 and f <= 2)
#}
{% macro rfm_segment(r, f, m) -%}
    case
        when {{ r }} >= 4 and {{ f }} >= 4 and {{ m }} >= 4 then 'Champions'
        when {{ r }} <= 2 and {{ f }} >= 4 and {{ m }} >= 4
            then 'Can''t Lose Them'
        when {{ r }} >= 3 and {{ f }} >= 4 then 'Loyal'
        when {{ r }} <= 2 and {{ f }} >= 3 then 'At Risk'
        when {{ r }} = 5 and {{ f }} = 1 then 'New'
        when {{ r }} >= 4 and {{ f }} >= 2 then 'Potential Loyalist'
        when {{ r }} = 4 and {{ f }} = 1 then 'Promising'
        when {{ r }} = 3 and {{ f }} >= 2 then 'Need Attention'
        when {{ r }} = 3 and {{ f }} = 1 then 'About To Sleep'
        when {{ r }} = 2 then 'Hibernating'
        else 'Lost'
    end
{%- endmacro %}

{#
    1-5 score of a value among all rows, 5 best: rows are ranked into
    fifths, and tied values always share one score. Where a tie run lands
    on a boundary it takes the run's worst score (ties='worst') or its best
    (ties='best'):
    - frequency and monetary use 'worst': when most buyers bought once they
      all score 1 instead of being spread over several scores;
    - recency uses 'best': everyone who bought on the latest day is equally
      recent and scores 5, even when that is most buyers.
    No rule splits ties, so heavy ties never fail.
#}
{% macro rfm_score(column, better='higher', ties='worst') -%}
    {%- set worst_first = 'asc' if better == 'higher' else 'desc' -%}
    {%- set best_first = 'desc' if better == 'higher' else 'asc' -%}
    {%- if ties == 'worst' -%}
    cast(1 + floor(
        5.0 * (rank() over (order by {{ column }} {{ worst_first }}) - 1)
        / count(*) over ()
    ) as integer)
    {%- else -%}
    cast(5 - floor(
        5.0 * (rank() over (order by {{ column }} {{ best_first }}) - 1)
        / count(*) over ()
    ) as integer)
    {%- endif -%}
{%- endmacro %}
