"""Decoders behind one interface (:class:`~reconstruct.decoders.base.Decoder`) with a registry (issue 27).

Adding a decoder is one module (a `Decoder` subclass) plus one registration (a line in
:mod:`reconstruct.decoders.registry`, or `register(MyDecoder())` from anywhere); the stages, `--decoder`,
the config's checks and `--decoder auto` (which iterates the registry) then take it."""
