"""The registry of decoders: names → Decoder. The paper CNN first (the reference), then the others."""

from __future__ import annotations

from reconstruct.decoders.base import Decoder
from reconstruct.decoders.cnn import PaperCNN
from reconstruct.decoders.contrastive import Contrastive
from reconstruct.decoders.ridge import Ridge
from reconstruct.decoders.segment import TRF, Temporal
from reconstruct.errors import ParameterError

_REGISTRY: dict[str, Decoder] = {}


def register(decoder: Decoder) -> Decoder:
    """Make a decoder available to every stage, `--decoder NAME` and `--decoder auto`'s choice."""
    if not decoder.name or decoder.name == "auto":
        raise ParameterError(f"a decoder needs a name other than 'auto' (got {decoder.name!r})")
    _REGISTRY[decoder.name] = decoder
    return decoder


def unregister(name: str) -> None:
    """Remove a decoder (tests that register a toy one)."""
    _REGISTRY.pop(name, None)


def decoder_names() -> tuple[str, ...]:
    """Every registered decoder, in registration order."""
    return tuple(_REGISTRY)


def get_decoder(name: str) -> Decoder:
    """The decoder registered under `name`; one line naming the others if there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(f"decoder={name!r} must be one of {list(_REGISTRY) + ['auto']}") from None


for _builtin in (PaperCNN(), Ridge(), TRF(), Temporal(), Contrastive()):  # one registration per decoder
    register(_builtin)
