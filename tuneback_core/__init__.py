"""The few things every tuneback package shares: the base error and the version. Depends on nothing of ours.

reconstruct/, experiment/, analysis/ and loadbot/ import from here; the `tuneback` CLI package depends on
this module, never the reverse (issue 27)."""

__version__ = "0.1.0"
