"""The one base error every package's errors derive from, so the CLI can print them as one line."""


class TunebackError(Exception):
    """A user-facing error: bad input, a missing file, an impossible request."""
