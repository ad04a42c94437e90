"""Turn whatever a dbt adapter hands a Python model into Arrow or pandas.

dbt-duckdb gives a DuckDB relation; Spark gives a Spark DataFrame; Snowpark
gives its own DataFrame. The model functions of this package only see pandas
frames, so the engine that fed them does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

log = logging.getLogger(__name__)


def ordered(data: Any, keys: Sequence[str]) -> Any:
    """`data` sorted by `keys` in its own engine where it can sort, else as is.

    A DuckDB relation sorts in parallel inside the database, far faster than
    pandas sorts text; Spark and Snowpark frames sort with orderBy / sort.
    Callers still check the order (ulm.pipelines.in_key_order), so an input
    left unsorted here is sorted in pandas and the result is the same.
    """
    if not keys:
        return data
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "order") and hasattr(data, "arrow"):
        return data.order(", ".join(f'"{key}"' for key in keys))
    if hasattr(data, "orderBy"):
        return data.orderBy(*keys)
    if hasattr(data, "sort") and hasattr(data, "to_pandas"):
        return data.sort(*keys)
    return data


def selected(data: Any, columns: Sequence[str]) -> Any:
    """Only `columns` of `data`, chosen in its own engine; all when empty.

    Reading fewer columns out of the engine is where a Python model saves
    most memory: the engine sorts, and Arrow and pandas hold, only those.
    """
    if not columns:
        return data
    if isinstance(data, pd.DataFrame):
        return data[list(columns)]
    if isinstance(data, pa.Table):
        return data.select(list(columns))
    if hasattr(data, "project") and hasattr(data, "arrow"):
        return data.project(", ".join(f'"{column}"' for column in columns))
    if hasattr(data, "select"):
        return data.select(*columns)
    return data


def to_arrow(data: Any) -> pa.Table:
    """Arrow table from a DuckDB relation, an Arrow table or reader, or pandas."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    for method in ("to_arrow_table", "fetch_arrow_table", "toArrow"):
        if hasattr(data, method):
            return getattr(data, method)()
    if hasattr(data, "toPandas"):
        return pa.Table.from_pandas(data.toPandas(), preserve_index=False)
    if hasattr(data, "to_pandas"):
        return pa.Table.from_pandas(data.to_pandas(), preserve_index=False)
    raise TypeError(
        f"Cannot read a {type(data).__name__} as a table: expected a DuckDB "
        "relation, an Arrow table, a pandas DataFrame or a Spark/Snowpark "
        "DataFrame."
    )


def numeric_decimals_as_float(table: pa.Table) -> pa.Table:
    """Decimal columns (money, and DuckDB's 128-bit sums) as float64.

    pandas would turn them into Python objects, which numeric code rejects.
    """
    for index, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type):
            table = table.set_column(
                index, column.name, table.column(index).cast(pa.float64())
            )
    return table


def to_pandas(
    data: Any, order_by: Sequence[str] = (), columns: Sequence[str] = ()
) -> pd.DataFrame:
    """pandas DataFrame through Arrow, with decimals read as float64.

    With `columns`, only those are read; with `order_by`, the engine sorts the
    rows first (function ordered). A table read here is converted column by
    column and freed as it goes, so the Arrow and the pandas copy of a column
    are never both held for the whole table.
    """
    if isinstance(data, pd.DataFrame):
        return selected(data, columns)
    owned = not isinstance(data, pa.Table)
    table = numeric_decimals_as_float(
        to_arrow(ordered(selected(data, columns), order_by))
    )
    if owned:
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
    else:
        frame = table.to_pandas()
    log.debug("read %d rows x %d columns", len(frame), frame.shape[1])
    return frame
