"""Decoders from EEG features to spectrogram targets: the paper's CNN (and a CPU preset), and ridge."""
