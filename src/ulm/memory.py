"""Hand the memory a Python model freed back to the system.

dbt-duckdb runs every Python model inside the dbt process, on dbt's worker
threads. glibc's allocator keeps what a thread frees in that thread's arena
for later reuse, and after the first large blocks are freed it serves blocks
of up to 32 MiB from those arenas too, so a model that has finished still
holds most of its peak: measured on ml_churn_scores at 10M events, about
0.9 GiB of 1.3 GiB stayed resident until trimmed. Another model, on another
thread, cannot reuse it, and the build's peak becomes the sum of the models
instead of the largest of them.

``configure`` (once per process) keeps blocks of ``MMAP_THRESHOLD_BYTES`` and
more out of the arenas, so they go back to the system when freed, and makes
Arrow allocate through the same allocator; ``returned`` wraps a model
function so that, once its own frames are gone, the freed memory of every
arena is returned (glibc's ``malloc_trim``). On a system without glibc both
do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pyarrow as pa

log = logging.getLogger(__name__)

T = TypeVar("T")

MMAP_THRESHOLD_BYTES = 4 << 20
_M_MMAP_THRESHOLD = -3
_lock = threading.Lock()
_state: dict[str, Any] = {}


def _libc() -> Any:
    if "libc" not in _state:
        name = ctypes.util.find_library("c")
        libc = None
        if name:
            try:
                candidate = ctypes.CDLL(name)
                if hasattr(candidate, "malloc_trim") and hasattr(candidate, "mallopt"):
                    libc = candidate
            except OSError:
                libc = None
        _state["libc"] = libc
    return _state["libc"]


def configure() -> None:
    """Large blocks mapped directly, Arrow on the system allocator; once."""
    with _lock:
        if _state.get("configured"):
            return
        _state["configured"] = True
        libc = _libc()
        if libc is None:
            log.debug("no glibc allocator: memory settings left as they are")
            return
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        pa.set_memory_pool(pa.system_memory_pool())


def release() -> None:
    """Return the freed memory of every allocator arena to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def returned(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` that releases freed memory after it returns."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            release()

    return wrapper
