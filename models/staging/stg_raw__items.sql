{#
    Optional item attributes, one row per item; on repeated ids the row
    with the most attributes filled wins.
#}

{%- set source_relation = source('raw', 'items') -%}
{%- do check_raw_file('raw_items_path') -%}
{%- set file_columns = raw_file_columns(source_relation) -%}

with

raw_rows as (
    select
        {{ raw_column(source_relation, 'item_id', 'raw_items_columns', true,
            file_columns) }} as raw_item_id,
        {{ raw_column(source_relation, 'category', 'raw_items_columns', false,
            file_columns) }} as raw_category,
        {{ raw_column(source_relation, 'brand', 'raw_items_columns', false,
            file_columns) }} as raw_brand,
        {{ raw_column(source_relation, 'price', 'raw_items_columns', false,
            file_columns) }} as raw_price
    from {{ source_relation }}
),

parsed as (
    select
        trim(raw_item_id) as item_id,
        nullif(trim(raw_category), '') as category,
        nullif(trim(raw_brand), '') as brand,
        {{ parse_decimal('raw_price') }} as price
    from raw_rows
    where not {{ is_blank_id('raw_item_id') }}
),

deduplicated as (
    select
        item_id,
        category,
        brand,
        price
    from parsed
    qualify row_number() over (
        partition by item_id
        order by
            case when category is null then 1 else 0 end
            + case when brand is null then 1 else 0 end
            + case when price is null then 1 else 0 end,
            category,
            brand,
            price
    ) = 1
)

select * from deduplicated
