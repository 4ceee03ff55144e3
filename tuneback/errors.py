"""The base error, kept importable under its old name; it lives in :mod:`tuneback_core.errors`."""

from tuneback_core.errors import TunebackError

__all__ = ["TunebackError"]
