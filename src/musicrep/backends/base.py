"""The back-end contract and the shape checks every back-end shares.

A back-end is an ``nn.Module`` built from the front-end's output shape ``in_shape`` (without
the batch dimension: ``(channels, freq, time)`` for time-frequency front-ends, ``(channels,
time)`` for waveform-like ones). It maps a batch of feature maps to

* ``forward(features) -> (batch, embed_dim)``: one embedding per input chunk;
* ``forward_sequence(features) -> (batch, steps, sequence_dim)`` (sequence back-ends): one
  embedding per time step, for timestamp embeddings.

Every back-end traces the shapes of its layers at build time; when a front-end's map does not
survive the strides and poolings (too few frequency bins, too short an input, the wrong number
of dimensions) it raises :class:`musicrep.ConfigError` naming the shape, the layer and the
smallest input that fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from musicrep.errors import ConfigError

Shape = tuple[int, ...]


class Backend(nn.Module):
    """Base class of all back-ends.

    Attributes
    ----------
    name : str
        Registry name (set by the registry decorator).
    input_kind : {"tf", "wave", "any"}
        What the back-end consumes: ``(C, F, T)`` maps, ``(C, T)`` sequences, or either.
    in_shape : tuple
        The front-end output shape it was built for (its native input).
    embed_dim : int
        Size of the ``forward`` embedding.
    sequence_dim : int or None
        Size of each ``forward_sequence`` step; None when the back-end has no sequence output.
    """

    name: str = "backend"
    input_kind: str = "tf"
    embed_dim: int
    sequence_dim: int | None = None

    def __init__(self, in_shape: Sequence[int]):
        super().__init__()
        self.in_shape: Shape = tuple(int(s) for s in in_shape)
        self._check_kind(self.in_shape)

    # ----------------------------------------------------------------------------- contract
    @property
    def supports_sequence(self) -> bool:
        """Whether :meth:`forward_sequence` is available."""
        return self.sequence_dim is not None

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(batch, *in_shape)`` -> ``(batch, steps, sequence_dim)``."""
        raise ConfigError(
            f"back-end {self.name!r} has no sequence output (forward_sequence)",
            "use forward() for one embedding per chunk, or a sequence back-end",
        )

    def sequence_length(self, time: int) -> int:
        """Number of ``forward_sequence`` steps for an input with ``time`` steps."""
        raise ConfigError(f"back-end {self.name!r} has no sequence output")

    # ------------------------------------------------------------------------------ checks
    def _check_kind(self, shape: Shape) -> None:
        if self.input_kind == "tf" and len(shape) != 3:
            raise ConfigError(
                f"back-end {self.name!r} needs a time-frequency map (channels, freq, time); "
                f"got a feature shape {shape}",
                "pair it with a spectral front-end (e.g. mel, harmonic, stft), "
                "or use a 1-D back-end (samplecnn, samplecnn_se) for waveform front-ends",
            )
        if self.input_kind in ("wave", "any") and len(shape) not in (2, 3):
            raise ConfigError(
                f"back-end {self.name!r} needs (channels, time) or (channels, freq, time) "
                f"features; got {shape}"
            )
        if any(s < 1 for s in shape):
            raise ConfigError(f"back-end {self.name!r}: empty feature shape {shape}")

    def check_features(self, features: torch.Tensor) -> None:
        """Raise ConfigError when a batch does not match the non-time dims of ``in_shape``."""
        got = tuple(features.shape[1:])
        if len(got) != len(self.in_shape) or got[:-1] != self.in_shape[:-1]:
            raise ConfigError(
                f"back-end {self.name!r} was built for features {self.in_shape} (time may "
                f"vary) but got {got}",
                "build the encoder for this front-end configuration",
            )


def trace_shapes(layers: Sequence[nn.Module], shape: Shape) -> list[tuple[str, Shape]]:
    """Shapes after each layer (each layer has ``out_shape``).

    Sizes may come out <= 0 (the map does not fit); once an axis is <= 0 it stays <= 0, and
    the axes are traced independently, so every axis can be checked on its own.
    """
    out = []
    for i, layer in enumerate(layers):
        shape = tuple(layer.out_shape(shape))  # type: ignore[operator]
        out.append((f"layer {i + 1} ({type(layer).__name__})", shape))
    return out


def _smallest_fitting(fits: Callable[[int], bool], start: int, limit: int = 1 << 24) -> int | None:
    """Smallest n > start with fits(n), for fits monotone in n; None if none below limit."""
    hi = max(1, start)
    while not fits(hi):
        hi *= 2
        if hi > limit:
            return None
    lo = max(1, start)
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def check_fits(
    backend_name: str,
    layers: Sequence[nn.Module],
    in_shape: Shape,
    axis_names: Sequence[str],
) -> Shape:
    """Trace ``in_shape`` through ``layers``; return the final shape or raise ConfigError.

    ``axis_names`` names the axes after the channel axis (e.g. ``("frequency", "time")``).
    The error names the first layer that shrinks the map to nothing and, per axis, the smallest
    size that fits.
    """
    trace = trace_shapes(layers, in_shape)
    if not trace:
        return in_shape
    bad = next(((name, s) for name, s in trace if min(s) < 1), None)
    if bad is None:
        return trace[-1][1]

    def axis_fits(axis: int, n: int) -> bool:
        shape = list(in_shape)
        shape[axis] = n
        return min(s[axis] for _, s in trace_shapes(layers, tuple(shape))) >= 1

    needs = []
    for axis in range(1, len(in_shape)):
        if min(s[axis] for _, s in trace) < 1:
            smallest = _smallest_fitting(lambda n, a=axis: axis_fits(a, n), in_shape[axis])
            if smallest is not None:
                needs.append(f"at least {smallest} {axis_names[axis - 1]} steps")
    hint = "it needs " + " and ".join(needs) if needs else None
    raise ConfigError(
        f"back-end {backend_name!r} cannot take features of shape {in_shape}: "
        f"after {bad[0]} the map would be {bad[1]}",
        hint,
    )


__all__ = ["Backend", "check_fits", "trace_shapes"]
