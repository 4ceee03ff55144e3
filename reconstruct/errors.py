"""Errors raised by the reconstruction pipeline; the CLI prints them as one line."""

from tuneback_core.errors import TunebackError


class ReconstructError(TunebackError):
    """Something in the reconstruction pipeline cannot proceed."""


class ParameterError(ReconstructError):
    """A parameter is out of range or malformed."""


class DataFormatError(ReconstructError):
    """An input file is missing, unreadable or not in the expected shape; the message names the file."""
