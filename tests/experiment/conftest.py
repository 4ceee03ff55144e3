"""Fixtures for the experiment tests: a synthetic manifest, a built study, an app and a participant helper."""

from __future__ import annotations

import pytest


@pytest.fixture
def postgresql_url(postgres_url: str) -> str:
    """Alias: tests/conftest.py's `database_url` asks for `postgresql_url`, the fixture is `postgres_url`."""
    return postgres_url
