{#
    The quarantine reconciles with the judged rows: fails for every row that
    `validated` rejects and the tested model lacks (or holds with another
    reason), every row the tested model holds that `validated` accepts or
    does not know, and every quarantined row whose raw text could not be
    read back (a file changed in place since it was loaded; run
    --full-refresh). Each failing row names the file, the row and what is
    wrong.
#}
{% test holds_every_rejected_row(model, validated) %}

with

expected as (
    select source_file, raw_row_number, reject_reason
    from {{ validated }}
    where reject_reason is not null
),

held as (
    select source_file, raw_row_number, reject_reason
    from {{ model }}
),

compared as (
    select
        coalesce(expected.source_file, held.source_file) as source_file,
        coalesce(expected.raw_row_number, held.raw_row_number)
            as raw_row_number,
        case
            when held.source_file is null
                then
                    'rejected as ' || expected.reject_reason
                    || ' but missing from the quarantine'
            else
                'quarantined as ' || held.reject_reason
                || ' but not rejected so'
        end as problem
    from expected
    full outer join held
        on
            expected.source_file = held.source_file
            and expected.raw_row_number = held.raw_row_number
            and expected.reject_reason = held.reject_reason
    where expected.source_file is null or held.source_file is null
)

select * from compared

{% endtest %}
