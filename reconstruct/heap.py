"""Keep freed tensor memory in the process heap during training (glibc only; elsewhere a no-op).

glibc serves every block over 32 MB straight from mmap and unmaps it on free. One batch of the Table-1
CNN has feature maps of 129 MB, so each training step page-faulted about a gigabyte of fresh zeroed
pages; on two cores that took a third of the step. Raising the mmap and trim thresholds lets the heap
reuse those blocks (measured in benchmarks/bench_training.py: 37 → 56+ examples/s)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def keep_large_blocks(mmap_threshold: int = 2**30, trim_threshold: int = 2**34) -> bool:
    """Ask glibc to serve blocks up to `mmap_threshold` bytes from the heap; True when it agreed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mmap_ok = bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold))
        return mmap_ok and bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
