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

missing as (
    select
        expected.source_file,
        expected.raw_row_number,
        'rejected as ' || expected.reject_reason
        || ' but missing from the quarantine' as problem
    from expected
    left join held
        on
            expected.source_file = held.source_file
            and expected.raw_row_number = held.raw_row_number
            and expected.reject_reason = held.reject_reason
    where held.source_file is null
),

unexpected as (
    select
        held.source_file,
        held.raw_row_number,
        'quarantined as ' || held.reject_reason
        || ' but not rejected so' as problem
    from held
    left join expected
        on
            held.source_file = expected.source_file
            and held.raw_row_number = expected.raw_row_number
            and held.reject_reason = expected.reject_reason
    where expected.source_file is null
)

select * from missing
union all
select * from unexpected

{% endtest %}
