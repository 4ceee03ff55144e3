"""tuneback: reconstruct music from EEG and test the reconstructions with listeners."""

from tuneback_core import __version__

__all__ = ["__version__"]
