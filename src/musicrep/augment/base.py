"""Seeded, batched audio transforms: parameters, the ``Transform`` contract, composition.

A transform is an ``nn.Module`` mapping waveforms ``(batch, samples)`` to waveforms on the same
device. Each example of a batch gets its own random parameters, drawn from a
``torch.Generator``, so a run is reproducible from its seed and a batch is processed in one
vectorised pass where the maths allows.

Parameters
----------
Every random quantity is a *parameter spec*, read by :func:`as_param`:

* a number: that value, always (``AddNoise(snr_db=10)`` adds noise at exactly 10 dB SNR --
  what the robustness sweeps use);
* a pair ``(low, high)``: uniform in the range (:class:`Uniform`; ``Uniform(..., log=True)``
  is uniform in log);
* :class:`Choice`: one of a list of values (or of other specs) per example;
* :class:`Normal`: Gaussian, optionally clipped to a range.

From YAML recipes the same specs are written ``10``, ``[-20, -1]``, ``{choice: [0, 5, 10]}``,
``{uniform: [100, 7000], log: true}`` and ``{normal: [0.05, 0.025], low: 0}``.

Randomness
----------
``transform(wave)`` draws from the transform's own generator on ``wave``'s device, seeded with
``seed`` (or, when ``seed`` is None, from torch's global generator at first use, so
``torch.manual_seed`` makes it reproducible). ``transform(wave, generator=g)`` uses ``g``
instead; :class:`Compose` passes its generator to everything inside it. The same seed gives the
same outputs for the same inputs on the same device (CPU and CUDA generators differ).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.features.base import check_wave

# ------------------------------------------------------------------------------ parameters


class Param:
    """A distribution of one scalar per example."""

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n,)`` float64 values on the generator's device."""
        raise NotImplementedError

    def bounds(self) -> tuple[float, float]:
        """Smallest and largest value that can be drawn."""
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(Param):
    """Always ``value``."""

    value: float

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.full((n,), float(self.value), dtype=torch.float64, device=generator.device)

    def bounds(self) -> tuple[float, float]:
        return float(self.value), float(self.value)


@dataclass(frozen=True)
class Uniform(Param):
    """Uniform in ``[low, high]`` (in log when ``log``, which needs ``low > 0``)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ConfigError(f"a range needs low <= high; got ({self.low}, {self.high})")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log-uniform range needs low > 0; got {self.low}")

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=generator, device=generator.device, dtype=torch.float64)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return torch.exp(lo + (hi - lo) * u)
        return self.low + (self.high - self.low) * u

    def bounds(self) -> tuple[float, float]:
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class Normal(Param):
    """Gaussian ``mean + std * N(0, 1)`` clipped to ``[low, high]``."""

    mean: float
    std: float
    low: float = -math.inf
    high: float = math.inf

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, generator=generator, device=generator.device, dtype=torch.float64)
        return (self.mean + self.std * z).clamp(self.low, self.high)

    def bounds(self) -> tuple[float, float]:
        return float(self.low), float(self.high)


class Choice(Param):
    """One of ``values`` per example (numbers or other specs), with optional ``weights``."""

    def __init__(self, values: Sequence[Any], weights: Sequence[float] | None = None):
        if not values:
            raise ConfigError("Choice needs at least one value")
        self.values = [as_param(v) for v in values]
        if weights is not None and (len(weights) != len(values) or min(weights) < 0):
            raise ConfigError(f"Choice weights must be {len(values)} non-negative numbers")
        self.weights = None if weights is None else [float(w) for w in weights]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        w = torch.tensor(self.weights or [1.0] * len(self.values), dtype=torch.float64)
        idx = torch.multinomial(w.to(generator.device), n, replacement=True, generator=generator)
        drawn = torch.stack([v.sample(n, generator) for v in self.values])  # (k, n)
        return drawn.gather(0, idx[None])[0]

    def bounds(self) -> tuple[float, float]:
        b = [v.bounds() for v in self.values]
        return min(lo for lo, _ in b), max(hi for _, hi in b)

    def __repr__(self) -> str:
        return f"Choice({self.values})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and (self.values, self.weights) == (
            other.values,
            other.weights,
        )

    __hash__ = None  # type: ignore[assignment]


def as_param(spec: Any, name: str = "parameter") -> Param:
    """Read a parameter spec (see the module docstring) into a :class:`Param`."""
    if isinstance(spec, Param):
        return spec
    if isinstance(spec, bool):
        raise ConfigError(f"{name}: expected a number, a (low, high) range or a spec; got {spec}")
    if isinstance(spec, (int, float)):
        return Fixed(float(spec))
    if isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2:
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            return Uniform(float(spec[0]), float(spec[1]))
    if isinstance(spec, Mapping):
        kind = {"choice", "uniform", "normal"} & set(spec)
        if len(kind) == 1:
            key = kind.pop()
            rest = {k: v for k, v in spec.items() if k != key}
            try:
                if key == "choice":
                    return Choice(spec[key], **rest)
                if key == "uniform":
                    return Uniform(*map(float, spec[key]), **rest)
                return Normal(*map(float, spec[key]), **rest)
            except TypeError as exc:
                raise ConfigError(f"{name}: bad {key} spec {dict(spec)}: {exc}") from None
    raise ConfigError(
        f"{name}: cannot read {spec!r} as a parameter",
        "use a number, [low, high], {choice: [...]}, {uniform: [low, high], log: true} or "
        "{normal: [mean, std]}",
    )


# ------------------------------------------------------------------------------- transforms


class Transform(nn.Module):
    """Base class: ``forward(wave, generator=None)``, ``(batch, samples) -> (batch, samples')``.

    Subclasses implement ``apply(wave, generator)`` on a 2-D floating-point batch and draw
    every random number from ``generator`` (see :meth:`sample`).

    Parameters
    ----------
    seed : int, optional
        Seed of the transform's own generator (one per device).

    Attributes
    ----------
    preserves_length : bool
        Whether the output has as many samples as the input (all but cropping).
    """

    preserves_length: bool = True

    def __init__(self, seed: int | None = None):
        super().__init__()
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

    def generator(self, device: torch.device | str) -> torch.Generator:
        """This transform's generator on ``device`` (created and seeded on first use)."""
        key = str(torch.device(device))
        if key not in self._generators:
            seed = self.seed
            if seed is None:
                seed = int(torch.randint(0, 2**62, (1,)).item())
            self._generators[key] = torch.Generator(device=key).manual_seed(int(seed))
        return self._generators[key]

    def __getstate__(self) -> dict:
        # generators are recreated from the seed (e.g. in a DataLoader worker process)
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state["_generators"] = {}
        return state

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream (of every device) from ``seed``."""
        self.seed = seed
        self._generators.clear()

    @staticmethod
    def sample(param: Param, n: int, generator: torch.Generator, like: torch.Tensor):
        """``(n,)`` draws of ``param`` as ``like``'s dtype on ``like``'s device."""
        return param.sample(n, generator).to(like.device, like.dtype)

    @staticmethod
    def rand(shape: Sequence[int], generator: torch.Generator, like: torch.Tensor):
        """Uniform [0, 1) numbers of ``shape`` on ``like``'s device and dtype."""
        u = torch.rand(*shape, generator=generator, device=generator.device, dtype=like.dtype)
        return u.to(like.device)

    @staticmethod
    def randn(shape: Sequence[int], generator: torch.Generator, like: torch.Tensor):
        """Standard normal numbers of ``shape`` on ``like``'s device and dtype."""
        z = torch.randn(*shape, generator=generator, device=generator.device, dtype=like.dtype)
        return z.to(like.device)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, wave: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch, samples)`` (or ``(samples,)``) -> transformed ``(batch, samples')``."""
        wave = check_wave(wave)
        return self.apply(wave, generator if generator is not None else self.generator(wave.device))


def _check_transforms(transforms: Sequence[nn.Module], what: str) -> list[nn.Module]:
    transforms = list(transforms)
    for t in transforms:
        if not isinstance(t, Transform):
            raise ConfigError(f"{what} takes musicrep.augment transforms; got {type(t).__name__}")
    return transforms


class Compose(Transform):
    """Apply ``transforms`` in order, passing one generator through all of them.

    Parameters
    ----------
    transforms : sequence of Transform
    seed : int, optional
        Seed of the chain (the transforms' own seeds are not used inside a chain).
    """

    def __init__(self, transforms: Sequence[Transform], seed: int | None = None):
        super().__init__(seed)
        self.transforms = nn.ModuleList(_check_transforms(transforms, "Compose"))
        self.preserves_length = all(t.preserves_length for t in self.transforms)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for t in self.transforms:
            wave = t.apply(wave, generator)
        return wave


def _require_same_length(t: Transform, where: str) -> None:
    if not t.preserves_length:
        raise ConfigError(
            f"{type(t).__name__} changes the number of samples and cannot be used in {where}",
            "put length-changing transforms (RandomCrop) first in a Compose",
        )


class RandomApply(Transform):
    """Apply ``transform`` to each example with probability ``p`` (the rest pass unchanged).

    Only the selected examples are processed (one batched call on the subset).

    Parameters
    ----------
    transform : Transform or sequence of Transform
        A sequence is composed.
    p : float
        Probability per example.
    seed : int, optional
    """

    def __init__(self, transform: Transform | Sequence[Transform], p: float, seed=None):
        super().__init__(seed)
        if not isinstance(transform, Transform):
            transform = Compose(transform)
        _require_same_length(transform, "RandomApply")
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"RandomApply probability must be in [0, 1]; got {p}")
        self.transform, self.p = transform, float(p)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        chosen = self.rand((wave.shape[0],), generator, wave) < self.p
        idx = chosen.nonzero()[:, 0]
        if idx.numel() == 0:
            return wave
        out = wave.clone()
        out[idx] = self.transform.apply(wave[idx], generator).to(wave.dtype)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


class OneOf(Transform):
    """Apply one of ``transforms`` to each example, chosen with ``weights`` (default equal).

    Parameters
    ----------
    transforms : sequence of Transform
    weights : sequence of float, optional
    seed : int, optional
    """

    def __init__(
        self,
        transforms: Sequence[Transform],
        weights: Sequence[float] | None = None,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.transforms = nn.ModuleList(_check_transforms(transforms, "OneOf"))
        if not self.transforms:
            raise ConfigError("OneOf needs at least one transform")
        for t in self.transforms:
            _require_same_length(t, "OneOf")
        self.choice = Choice(list(range(len(self.transforms))), weights)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        which = self.choice.sample(wave.shape[0], generator).to(wave.device).long()
        out = wave.clone()
        for k, t in enumerate(self.transforms):
            idx = (which == k).nonzero()[:, 0]
            if idx.numel():
                out[idx] = t.apply(wave[idx], generator).to(wave.dtype)
        return out


__all__ = [
    "Choice",
    "Compose",
    "Fixed",
    "Normal",
    "OneOf",
    "Param",
    "RandomApply",
    "Transform",
    "Uniform",
    "as_param",
]
