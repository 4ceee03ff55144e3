"""Real EEG data sets, loaded into the one shape every later stage takes (:class:`~reconstruct.recording.Dataset`).

.. autosummary::
   load_nmedt
   load_nmedh
   load_folder

Shared helpers the loaders use (public so a new loader can reuse them; they live in
:mod:`reconstruct.datasets.common`, which the loaders import, so the package and its loaders form no circle):

.. autosummary::
   load_audio
   load_song_audio
   find_numbered_file
   format_key
   recordings_from_mat
   parse_axis_order
   song_number
   require_dir
"""

from __future__ import annotations

from reconstruct.datasets.common import (AUDIO_SUFFIXES, N_CHANNELS, find_numbered_file, format_key, load_audio,
                                         load_song_audio, parse_axis_order, recordings_from_mat, require_dir,
                                         song_number)
from reconstruct.datasets.folder import load_folder
from reconstruct.datasets.nmedh import load_nmedh
from reconstruct.datasets.nmedt import load_nmedt

__all__ = [
    "AUDIO_SUFFIXES", "N_CHANNELS", "find_numbered_file", "format_key", "load_audio", "load_folder", "load_nmedh",
    "load_nmedt", "load_song_audio", "parse_axis_order", "recordings_from_mat", "require_dir", "song_number",
]
