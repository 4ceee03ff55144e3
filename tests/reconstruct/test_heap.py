"""Keeping large blocks in the heap is accepted by glibc and harmless to repeat."""

import sys

import pytest

from reconstruct.heap import keep_large_blocks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_glibc_accepts_the_thresholds():
    assert keep_large_blocks() is True
    assert keep_large_blocks() is True

