"""tuneback: reconstruct music from EEG and test the reconstructions with listeners."""

__version__ = "0.1.0"
