"""``Encoder`` (front-end + back-end) and ``TaggingModel`` (encoder + head).

The encoder is what every objective trains and what users extract embeddings from; heads live
outside it, so the same encoder serves supervised tagging, contrastive learning or probing.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from musicrep.backends import BACKENDS, Backend, create_backend
from musicrep.errors import ConfigError
from musicrep.frontends import Frontend, create_frontend


class Encoder(nn.Module):
    """A front-end followed by a back-end: ``(batch, samples) -> (batch, embed_dim)``.

    Parameters
    ----------
    frontend : Frontend
    backend : Backend
        Built for ``frontend.output_shape(input_samples)``.
    input_samples : int
        Native chunk length in samples (the length the back-end was built for).
    config : dict, optional
        JSON-serialisable; :func:`rebuild_encoder` rebuilds the identical architecture from it
        (set by :func:`~musicrep.models.create_encoder` and :func:`build_encoder` when the
        parts are given by name; None for encoders assembled from built modules, which can
        then not be exported).

    Attributes
    ----------
    sample_rate : int
        Input sample rate in Hz (the front-end's).
    input_samples : int
    embed_dim : int
        Size of :meth:`embed` vectors.
    sequence_dim : int or None
        Size of :meth:`forward_sequence` steps (None: no sequence output).
    sequence_hop : float or None
        Input samples per :meth:`forward_sequence` step.
    config : dict or None
    """

    #: What :func:`musicrep.io.save_model` writes for it: an embedding model (no head, no labels).
    export_kind = "encoder"

    def __init__(
        self,
        frontend: Frontend,
        backend: Backend,
        input_samples: int,
        config: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.frontend = frontend
        self.backend = backend
        self.sample_rate = int(frontend.sample_rate)
        self.input_samples = int(input_samples)
        self.embed_dim = int(backend.embed_dim)
        self.sequence_dim = backend.sequence_dim
        self.config = config

    @property
    def input_seconds(self) -> float:
        return self.input_samples / self.sample_rate

    @property
    def supports_sequence(self) -> bool:
        return self.backend.supports_sequence

    @property
    def supports_attention(self) -> bool:
        """Whether ``forward(wave, return_attention=True)`` is available."""
        return "return_attention" in inspect.signature(self.backend.forward).parameters

    def forward(
        self, wave: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """``(batch, samples)`` -> ``(batch, embed_dim)``.

        With ``return_attention=True`` (attention back-ends only) also returns the per-layer
        attention maps ``(batch, heads, steps, steps)``.
        """
        features = self.frontend(wave)
        if return_attention:
            if not self.supports_attention:
                raise ConfigError(
                    f"back-end {self.backend.name!r} has no attention maps",
                    "use the 'attention' model or back-end",
                )
            return self.backend(features, return_attention=True)
        return self.backend(features)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, embed_dim)`` (same as ``forward``)."""
        return self.forward(wave)

    def forward_sequence(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, steps, sequence_dim)``; ConfigError if unsupported."""
        return self.backend.forward_sequence(self.frontend(wave))

    def sequence_length(self, num_samples: int) -> int:
        """Number of :meth:`forward_sequence` steps for ``num_samples`` input samples."""
        return self.backend.sequence_length(self.frontend.output_shape(int(num_samples))[-1])

    @property
    def sequence_hop(self) -> float | None:
        """Input samples per :meth:`forward_sequence` step (None without a sequence output).

        Measured from :meth:`sequence_length` (the spacing of the input lengths at which one
        more step appears): 160 for ``pase_plus`` (10 ms at 16 kHz), the mel hop times the
        back-end's time pooling for the spectrogram models. Targets of
        frame-level objectives are aligned with ``sequence_hop`` (and the back-end's own frame
        centres where it documents them, e.g. ``PASEBackend.frame_center``).
        """
        if not self.supports_sequence:
            return None
        if getattr(self, "_sequence_hop", None) is None:
            self._sequence_hop = self._measure_hop()
        return self._sequence_hop

    def _measure_hop(self) -> float | None:
        """Samples per step: the spacing of the input lengths at which ``sequence_length``
        steps up (found by bisection), averaged over 16 steps."""
        length = self.sequence_length

        def first_reaching(target: int, lo: int) -> int | None:
            hi = lo
            while length(hi) < target:
                if hi > 1 << 40:
                    return None
                lo, hi = hi, 2 * hi
            while lo < hi:
                mid = (lo + hi) // 2
                if length(mid) >= target:
                    hi = mid
                else:
                    lo = mid + 1
            return lo

        base = length(self.input_samples)
        a = first_reaching(base + 1, self.input_samples)
        b = None if a is None else first_reaching(base + 17, a)
        return None if b is None else (b - a) / 16

    @property
    def sequence_rate(self) -> float | None:
        """:meth:`forward_sequence` steps per second (None without a sequence output)."""
        hop = self.sequence_hop
        return None if hop is None else self.sample_rate / hop


def _accepts(factory: Any, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _check_options(backend: str, kwargs: dict[str, Any]) -> None:
    """Unknown back-end options raise ConfigError listing the valid ones."""
    params = inspect.signature(BACKENDS.get(backend)).parameters
    valid = [p for p in params if p not in ("self", "in_shape")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for back-end {backend!r}; "
            f"valid: {', '.join(valid)}"
        )


def build_encoder(
    frontend: str | Frontend,
    backend: str,
    input_samples: int,
    frontend_kwargs: dict[str, Any] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
) -> Encoder:
    """Compose any front-end with any back-end that fits its output.

    Parameters
    ----------
    frontend : str or Frontend
        Registry name (built with ``frontend_kwargs``) or a built front-end.
    backend : str
        Back-end registry name, built for ``frontend.output_shape(input_samples)``.
    input_samples : int
        Native chunk length in samples.

    Raises
    ------
    ConfigError
        Unknown names or options, or a front-end whose output the back-end cannot take (the
        message names both and the shape).

    Examples
    --------
    >>> enc = build_encoder("harmonic", "shortchunk_resnet", 80000)
    >>> enc.embed_dim
    512
    """
    if isinstance(frontend, str):
        fe_name = frontend
        fe = create_frontend(frontend, **(frontend_kwargs or {}))
    else:
        fe_name, fe = type(frontend).__name__, frontend
    if input_samples is None or int(input_samples) < 1:
        raise ConfigError(
            f"input_samples must be a positive number of samples; got {input_samples}"
        )
    shape = tuple(fe.output_shape(int(input_samples)))
    _check_options(backend, backend_kwargs or {})
    try:
        be = create_backend(backend, in_shape=shape, **(backend_kwargs or {}))
    except ConfigError as exc:
        raise ConfigError(
            f"front-end {fe_name!r} ({fe.kind!r}, output {shape} for {int(input_samples)} "
            f"samples) cannot feed back-end {backend!r}: {exc.message}",
            exc.hint,
        ) from None
    config = None
    if isinstance(frontend, str):
        config = _json_config(
            {
                "frontend": fe_name,
                "backend": backend,
                "input_samples": int(input_samples),
                "frontend_kwargs": dict(frontend_kwargs or {}),
                "backend_kwargs": dict(backend_kwargs or {}),
            }
        )
    return Encoder(fe, be, int(input_samples), config)


def _json_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as plain JSON types (ConfigError naming the problem if it is not)."""
    import json

    try:
        return json.loads(json.dumps(config))
    except TypeError as exc:
        raise ConfigError(f"model options must be JSON-serialisable: {exc}") from None


def rebuild_encoder(config: dict[str, Any]) -> Encoder:
    """The encoder described by an :attr:`Encoder.config` (untrained weights).

    A config with a ``name`` is a zoo encoder (:func:`~musicrep.models.create_encoder`), one
    without is a front-end/back-end pair (:func:`build_encoder`).
    """
    config = dict(config)
    if config.get("kind") == "musicnn_tf":  # a pretrained musicnn/VGG tagger's encoder
        from musicrep.models.musicnn_tf import MusicnnTFEncoder

        config.pop("kind")
        return MusicnnTFEncoder(**config)
    if "name" in config:
        from musicrep.models.factory import create_encoder

        return create_encoder(**config)
    try:
        return build_encoder(**config)
    except TypeError as exc:
        raise ConfigError(f"not an encoder config: {exc}") from None


class TaggingModel(nn.Module):
    """An encoder with a classifier head, returning logits (no sigmoid inside).

    Parameters
    ----------
    encoder : Encoder
    head : nn.Module
        ``(batch, embed_dim) -> (batch, num_outputs)``.
    config : dict
        JSON-serialisable; ``create_model(**config)`` rebuilds the identical architecture.

    Attributes
    ----------
    num_outputs : int
    """

    #: What :func:`musicrep.io.save_model` writes for it: a model with labels (``vocab``, ``task``).
    export_kind = "tagging"

    def __init__(self, encoder: Encoder, head: nn.Module, num_outputs: int, config: dict):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.num_outputs = int(num_outputs)
        self.config = config

    @property
    def sample_rate(self) -> int:
        return self.encoder.sample_rate

    @property
    def input_samples(self) -> int:
        return self.encoder.input_samples

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> logits ``(batch, num_outputs)``."""
        return self.head(self.encoder(wave))

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, embed_dim)``."""
        return self.encoder(wave)


__all__ = ["Encoder", "TaggingModel", "build_encoder", "rebuild_encoder"]
