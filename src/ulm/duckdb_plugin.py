"""dbt-duckdb plugin (see profiles.yml): SQL functions the models rely on.

`getenv(name)` returns an environment variable when a query runs, as in the
DuckDB command-line client; the Python client that dbt uses lacks it. Models
read secrets through it (ULM_PSEUDONYMIZATION_KEY), so a secret never
appears in the SQL that dbt compiles, logs or writes under target/.
"""

from __future__ import annotations

import logging
import os

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

log = logging.getLogger(__name__)


def environment_variable(name: str | None) -> str | None:
    if name is None:
        return None
    return os.environ.get(name)


def register_getenv(connection: duckdb.DuckDBPyConnection) -> None:
    """Add getenv(varchar) -> varchar, unless this DuckDB build has one."""
    (existing,) = connection.execute(
        "select count(*) from duckdb_functions() where function_name = 'getenv'"
    ).fetchall()[0]
    if existing:
        return
    connection.create_function(
        "getenv",
        environment_variable,
        ["VARCHAR"],
        "VARCHAR",
        null_handling="special",
    )
    log.debug("registered getenv() on the connection")


class Plugin(BasePlugin):
    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        register_getenv(conn)
