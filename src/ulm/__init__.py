"""ulm: the Python side of the user lifecycle dbt project."""

__version__ = "0.1.0"
