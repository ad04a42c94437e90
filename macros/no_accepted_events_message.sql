{#
    no_accepted_events_message(raw_rows, top_reject_reason, top_rejected_rows):
    SQL text expression of the message a build stops with when no event was
    accepted. The arguments are SQL expressions: the raw rows read, the most
    frequent reject_reason and how many rows it has. With no raw row the
    input is empty; otherwise every row was rejected, and the message names
    the main reason and where to look.
#}
{% macro no_accepted_events_message(
    raw_rows, top_reject_reason, top_rejected_rows
) -%}
    {%- set path = var('raw_events_path') | string | replace("'", "''") -%}
    case
        when {{ raw_rows }} = 0
            then
                'No events to build from: the events input '
                || '''{{ path }}'' (var raw_events_path) has no data '
                || 'rows. Point var raw_events_path at a file or glob '
                || 'with events and build again.'
        else
            'No accepted events to build from: all '
            || {{ raw_rows }}
            || ' rows of the events input ''{{ path }}'' (var '
            || 'raw_events_path) were rejected, most often as '
            || {{ top_reject_reason }} || ' ('
            || {{ top_rejected_rows }} || ' rows). See '
            || 'staging.stg_raw__events_rejected and the seed '
            || 'reject_reasons for what to do, then build again.'
    end
{%- endmacro %}
