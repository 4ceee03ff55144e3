"""Fixtures shared by the analysis tests: a small simulated study."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.synthetic import synthetic_table


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    """16 simulated listeners at 85% with item variation, time-outs, one withdrawal, one failed check."""
    return synthetic_table(16, accuracy=0.85, sd_item=0.5, timeout_rate=0.02, seed=7, withdrawn=[3],
                           failed_headphone=[5])
