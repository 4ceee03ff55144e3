"""Reconstruct music from EEG: load, featurise, split, train, predict, invert, select."""
