"""Hand any registered decoder its training data and read back its 1-s predictions, per-second and segment
decoders alike: the one path the train and predict stages, the held-out presentation and the scale sweep share.

Inputs are the pipeline's per-second arrays (recording-major, `used_s` rows per recording). A per-second
decoder reads the rows of its examples; a segment decoder (``per_second`` False: trf, temporal) reads them cut
back into contiguous segments (:func:`reconstruct.chunk_decoders.read_segments`), so it needs raw EEG windows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reconstruct.decoders.base import Decoder, TrainingData
from reconstruct.errors import ParameterError

if TYPE_CHECKING:
    from reconstruct.distributed import World


def check_input(decoder: Decoder, input_kind: str) -> None:
    """Refuse, in one line, an input kind the decoder cannot read (a segment decoder needs raw EEG)."""
    needs = decoder.input_kind if (decoder.input_required or not decoder.per_second) else None
    if needs is not None and input_kind != needs:
        raise ParameterError(f"the {decoder.name} decoder reads EEG time series (input {needs!r}); "
                             f"this input is {input_kind!r}")


def training_data(decoder: Decoder, config: Any, inputs: np.ndarray, train: np.ndarray, val: np.ndarray, *,
                  targets_of: Callable[[np.ndarray], np.ndarray], participants: list[str], used_s: int,
                  model_dir: Path, progress: bool = True, world: World | None = None) -> TrainingData:
    """What `decoder.fit` reads: the rows (per-second) or segments (segment decoders) of the training and
    validation examples `train`, `val` (sorted flat indices into `inputs`), never any other example."""
    data = TrainingData(config=config, model_dir=model_dir, n_train=len(train), n_val=len(val), progress=progress,
                        world=world)
    if decoder.per_second:
        data.x_train, data.x_val = np.asarray(inputs[train]), np.asarray(inputs[val])
        data.y_train, data.y_val = targets_of(train), targets_of(val)
    else:  # segments: the trf cross-validates within the training ones
        from reconstruct.chunk_decoders import read_segments
        data.train = read_segments(inputs, train, participants, targets_of, used_s=used_s)
        data.val = read_segments(inputs, val, participants, targets_of, used_s=used_s)
    return data


def predict_seconds(decoder: Decoder, model: Any, inputs: np.ndarray, indices: np.ndarray, *,
                    participants: list[str], used_s: int) -> np.ndarray:
    """The decoder's 1-s predictions [shape=(n, frames, bins)] of flat example `indices` (sorted), in their order;
    a segment decoder predicts each contiguous run of them within a chunk from that run's EEG only."""
    if decoder.per_second:
        return decoder.predict(model, np.asarray(inputs[indices]))
    from reconstruct.chunk_decoders import read_segments, seconds_from_segments
    data = read_segments(inputs, indices, participants, used_s=used_s)
    return seconds_from_segments(decoder.predict(model, data), data)
