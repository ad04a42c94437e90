"""The allocator settings the Python models run under (ulm.memory)."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest

from ulm import memory


def test_a_wrapped_function_returns_its_value_and_raises_its_errors() -> None:
    @memory.returned
    def double(value: int) -> int:
        return 2 * value

    @memory.returned
    def fail() -> None:
        raise ValueError("no rows")

    assert double(21) == 42
    assert double.__name__ == "double"
    with pytest.raises(ValueError, match="no rows"):
        fail()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_arrow_allocates_through_the_system_allocator_once_configured() -> None:
    previous = pa.default_memory_pool()
    try:
        memory.configure()
        memory.configure()
        assert pa.default_memory_pool().backend_name == "system"
        table = pa.table({"user_id": ["u1", "u2"] * 1000})
        assert table.num_rows == 2000
        memory.release()
    finally:
        pa.set_memory_pool(previous)
