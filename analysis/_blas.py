"""Run small-matrix numerics on one BLAS thread.

The mixed-model fit makes thousands of tiny matrix-vector products; a multi-threaded BLAS spends more
time waking threads than computing (measured: a 24 000 × 1 product 100× slower), which made the
1 000-listener fit take 35 s instead of 2.5 s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS to one thread inside the block; a no-op where threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
