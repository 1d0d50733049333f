"""Embeddings of any length of audio, from any encoder, written to disk in bulk.

An :class:`Embedder` runs an embedding model over a recording in windows of the model's native
input length and returns one embedding per window (timestamp embeddings) or one per clip
(scene embedding).

    >>> from musicrep.embed import Embedder
    >>> emb = Embedder("models/hcnn-corpus")                   # doctest: +SKIP
    >>> frames, times = emb.file("concert.flac")  # (T, D) float32, (T,) s  # doctest: +SKIP
    >>> clip = emb.scene(wave, sr)                # (D,)                   # doctest: +SKIP
    >>> report = emb.files(["data/audio"], "emb/", recursive=True,        # doctest: +SKIP
    ...                    combine="emb/all.npz")

Models (:func:`resolve_model`)
------------------------------
* an exported model folder (``musicrep export``; ``config.json`` + ``model.safetensors``) or a
  training run folder: its trained encoder;
* a zoo name (``musicrep models``): the encoder of ``create_model(name)`` *untrained*, its
  weights drawn with ``seed``: the random-network baseline;
* ``"mfcc"``: the MFCC statistics baseline (:class:`MfccEmbedding`);
* ``"feature:NAME"`` (``"scattering"`` = ``"feature:scattering"``): a hand-crafted feature of
  :mod:`musicrep.features` pooled per window into its frame mean and std
  (:class:`FeatureEmbedding`);
* an ``nn.Module``: an :class:`EmbeddingModel`, a zoo ``TaggingModel`` (its encoder is used) or
  any module with ``sample_rate``, ``input_samples`` and ``embed_dim`` mapping
  ``(batch, input_samples)`` to ``(batch, embed_dim)``.

Framing
-------
Audio is decoded as mono and resampled to the model's rate (soxr, as :mod:`musicrep.audio`).
Window ``k`` covers samples ``[s_k, s_k + W)`` with ``W`` the model's input length and
``s_k = floor(k * hop * sr + 0.5)``: the hop is kept as a float and every start is rounded on
its own, so windows never drift, whatever the rate. The hop defaults to ``W`` (non-overlapping
windows). Windows are added until one reaches the end of the audio; the samples of the last
window past the end are zeros, and a recording shorter than one window gives one zero-padded
window.

Timestamps are in seconds, at the centre of the audio each window holds:
``(s_k + min(W, n - s_k) / 2) / sr``. For full windows that is the window centre, so
timestamps step by exactly the hop (up to one sample of rounding); for the zero-padded last
window, and for the single window of a short recording, it is the centre of the real audio in
it (so every timestamp lies inside the recording; a 1 s clip gets 0.5 s).

The scene (clip-level) embedding is the mean of the non-overlapping window embeddings,
including the zero-padded last one, except for models that define their own clip statistics:
for ``"mfcc"`` it is :func:`musicrep.features.mfcc_stats` of the whole recording.

Layers
------
``layer="backend.blocks.3"`` takes the output of that sub-module of the encoder instead of the
final embedding (a forward hook; the rest of the network is not run). Tensors are mean-pooled
over every axis except batch and channels: channels are axis 1 for convolutional outputs
(``(batch, channels, freq, time)`` or ``(batch, channels, time)``) and the last axis for
sequence modules (``nn.Linear``, ``nn.LayerNorm``, recurrent and attention layers, or a
container whose last parametrised layer is one of these). :func:`layer_names` lists the names.

Long files
----------
:meth:`Embedder.file` streams the file with :func:`musicrep.audio.blocks` and keeps only the
samples that windows still need, so memory does not grow with the file's length (see
``benchmarks/README.md``, "Embedding").
"""

from __future__ import annotations

import math
import os
import sys
import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from musicrep.errors import AudioError, ConfigError, MusicrepError

__all__ = [
    "AUDIO_EXTENSIONS",
    "EmbedReport",
    "Embedder",
    "EmbeddingModel",
    "EncoderEmbedding",
    "FeatureEmbedding",
    "MfccEmbedding",
    "frame_starts",
    "layer_names",
    "resolve_model",
]

#: File extensions collected from folders given to :meth:`Embedder.files` (case-insensitive).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

#: Window length (seconds) of the MFCC baseline's timestamp embeddings.
MFCC_WINDOW_SECONDS = 1.0


# ============================================================================ embedding models


class ClipAccumulator(Protocol):
    """Clip-level statistics fed block by block (see :class:`MfccEmbedding`)."""

    def update(self, block: np.ndarray) -> None: ...

    def result(self) -> np.ndarray: ...


class EmbeddingModel(nn.Module):
    """What an :class:`Embedder` runs: ``(batch, window_samples)`` -> ``(batch, embed_dim)``.

    Attributes
    ----------
    name : str
        Identifies the model (and layer) in output files; outputs made by another model are not
        reused when a run resumes.
    sample_rate : int
        Input rate in Hz.
    window_samples : int
        Native input length in samples (one window).
    embed_dim : int
        Embedding size.
    """

    name: str
    sample_rate: int
    window_samples: int
    embed_dim: int

    def clip_accumulator(self) -> ClipAccumulator | None:
        """Clip statistics replacing the mean of window embeddings; None (the default): mean."""
        return None


_CHANNELS_LAST = (nn.Linear, nn.LayerNorm, nn.RNNBase, nn.MultiheadAttention, nn.Embedding)
_CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)
# identities at inference: choosing one is choosing its input, so they are not offered
_PASS_THROUGH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Identity)


class _StopForward(Exception):
    """Raised by a layer hook once the wanted output is captured (skips the rest)."""


def _channels_last(module: nn.Module) -> bool:
    if isinstance(module, _CHANNELS_LAST):
        return True
    leaves = [
        m for m in module.modules() if not list(m.children()) and any(True for _ in m.parameters())
    ]
    return bool(leaves) and isinstance(leaves[-1], _CHANNELS_LAST)


def _pool(output: object, module: nn.Module) -> torch.Tensor:
    """A hooked module's output -> ``(batch, channels)`` (mean over the other axes)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ConfigError(f"layer output is a {type(output).__name__}, not a tensor")
    x = output
    if isinstance(module, nn.RNNBase) and not module.batch_first and x.dim() == 3:
        x = x.transpose(0, 1)
    if x.dim() == 1:
        return x[:, None]
    if x.dim() == 2:
        return x
    if _channels_last(module):
        return x.mean(dim=tuple(range(1, x.dim() - 1)))
    return x.mean(dim=tuple(range(2, x.dim())))


def _called_modules(encoder: nn.Module, window_samples: int) -> dict[str, tuple[int, ...]]:
    """Names of the sub-modules a forward pass calls, with their pooled output shapes."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, mod in encoder.named_modules():
        if not name or isinstance(mod, _CONTAINERS + _PASS_THROUGH):
            continue

        def hook(m, _inp, out, name=name):
            try:
                shapes.setdefault(name, tuple(_pool(out, m).shape[1:]))
            except ConfigError:
                pass

        handles.append(mod.register_forward_hook(hook))
    device = next((p.device for p in encoder.parameters()), torch.device("cpu"))
    try:
        with torch.inference_mode():
            encoder(torch.zeros(1, window_samples, device=device))
    finally:
        for h in handles:
            h.remove()
    order = [name for name, _ in encoder.named_modules()]
    return {name: shapes[name] for name in order if name in shapes}


def layer_names(model: str | Path | nn.Module, *, seed: int = 0) -> list[str]:
    """Names accepted as ``layer`` for ``model`` (sub-modules run by a forward pass, in order).

    Examples
    --------
    >>> layer_names("samplecnn")[:4]
    ['frontend', 'backend', 'backend.blocks', 'backend.blocks.0']
    """
    emb = resolve_model(model, seed=seed)
    if not isinstance(emb, EncoderEmbedding):
        raise ConfigError(f"model {emb.name!r} has no layers to choose from")
    return list(_called_modules(emb.encoder, emb.window_samples))


class EncoderEmbedding(EmbeddingModel):
    """An encoder (``(batch, samples) -> (batch, D)``) as an :class:`EmbeddingModel`.

    Parameters
    ----------
    encoder : nn.Module
        With ``sample_rate``, ``input_samples`` and ``embed_dim`` (a musicrep ``Encoder``).
    name : str
        Model identity written into output files.
    layer : str, optional
        Dotted name of a sub-module whose mean-pooled output is the embedding (see the module
        docstring); ConfigError listing the valid names if unknown.
    """

    def __init__(self, encoder: nn.Module, name: str, layer: str | None = None):
        super().__init__()
        for attr in ("sample_rate", "input_samples", "embed_dim"):
            if not hasattr(encoder, attr):
                raise ConfigError(
                    f"{type(encoder).__name__} has no {attr!r}",
                    "an encoder needs sample_rate, input_samples and embed_dim attributes",
                )
        self.encoder = encoder.eval()
        self.sample_rate = int(encoder.sample_rate)
        self.window_samples = int(encoder.input_samples)
        self.layer = layer
        self.name = name if layer is None else f"{name}#layer={layer}"
        self._captured: torch.Tensor | None = None
        if layer is None:
            self.embed_dim = int(encoder.embed_dim)
            return
        modules = dict(encoder.named_modules())
        called = _called_modules(encoder, self.window_samples)
        if layer not in called:
            if layer not in modules:
                why = "is not a sub-module of"
            elif isinstance(modules[layer], _PASS_THROUGH):
                why = "is a dropout/identity layer (its output is its input) of"
            else:
                why = "is never called by"
            raise ConfigError(
                f"layer {layer!r} {why} {name}",
                "valid layers (output size after pooling): "
                + ", ".join(f"{n} ({s[0]})" for n, s in called.items()),
            )
        self.embed_dim = int(called[layer][0])

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``(batch, window_samples)`` -> ``(batch, embed_dim)``."""
        if self.layer is None:
            return self.encoder(windows)

        def capture(m, _inp, out):
            self._captured = _pool(out, m)
            raise _StopForward

        # the hook lives only during this call, so the user's module is left as it was
        handle = self.encoder.get_submodule(self.layer).register_forward_hook(capture)
        self._captured = None
        try:
            self.encoder(windows)
        except _StopForward:
            pass
        finally:
            handle.remove()
        out, self._captured = self._captured, None
        if out is None:  # pragma: no cover - checked at construction
            raise ConfigError(f"layer {self.layer!r} produced no output")
        return out


class MfccEmbedding(EmbeddingModel):
    """The MFCC statistics baseline (:func:`musicrep.features.mfcc_stats`) as a model.

    Each window's embedding is ``mfcc_stats`` of that window (computed with librosa on the CPU,
    whatever the device). The clip-level embedding is ``mfcc_stats`` of the whole recording
    (streamed with :class:`musicrep.features.MfccStatsStream` for files), not a mean of window
    statistics: a mean of per-window standard deviations is not the clip's deviation.

    Parameters
    ----------
    sample_rate : int
        Analysis rate in Hz (22050: librosa's default; COALA's script used 22000).
    window_seconds : float
        Window of the timestamp embeddings (1 s, as OpenL3's frames; ~43 MFCC frames).
    spread : {"std", "var"}
        Spread statistic (see :mod:`musicrep.features`).
    """

    def __init__(
        self,
        sample_rate: int = 22050,
        window_seconds: float = MFCC_WINDOW_SECONDS,
        spread: str = "std",
    ):
        from musicrep.features import MFCC_BASELINE, _check

        super().__init__()
        _check(sample_rate, MFCC_BASELINE["n_mfcc"], MFCC_BASELINE["delta_width"], spread)
        if not window_seconds > 0:
            raise ConfigError(f"window_seconds must be > 0; got {window_seconds!r}")
        self.sample_rate = int(sample_rate)
        self.window_samples = max(1, int(round(window_seconds * sample_rate)))
        self.embed_dim = 6 * int(MFCC_BASELINE["n_mfcc"])
        self.spread = spread
        options = []
        if self.sample_rate != 22050:
            options.append(f"sr={self.sample_rate}")
        if spread != "std":
            options.append(f"spread={spread}")
        if window_seconds != MFCC_WINDOW_SECONDS:
            options.append(f"window={window_seconds:g}s")
        self.name = "mfcc" + (f"({','.join(options)})" if options else "")

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``(batch, window_samples)`` -> ``(batch, 120)``."""
        from musicrep.features import mfcc_stats

        x = windows.detach().to("cpu", torch.float32).numpy()
        stats = mfcc_stats(x, self.sample_rate, spread=self.spread)
        return torch.from_numpy(stats).to(windows.device)

    def clip_accumulator(self) -> ClipAccumulator:
        from musicrep.features import MfccStatsStream

        return MfccStatsStream(self.sample_rate, spread=self.spread)


class FeatureEmbedding(EmbeddingModel):
    """A hand-crafted feature of :mod:`musicrep.features` pooled per window, as a model.

    ``feature:NAME`` (e.g. ``feature:scattering``, ``feature:chroma``; ``scattering`` alone is
    short for ``feature:scattering``) computes the registered frame-level feature over each
    window and pools it over frames into ``[mean, std]`` (``embed_dim = 2 * dims``). The clip
    embedding is the mean of the window embeddings. Frame-level features themselves are what
    :func:`musicrep.features.create_feature` returns.

    Parameters
    ----------
    feature : str
        Registry name (``musicrep.features.list_features()``).
    window_seconds : float
        Window of the timestamp embeddings (1 s).
    **options
        Options of the feature extractor (``J``, ``Q`` for scattering, ...).
    """

    def __init__(self, feature: str, window_seconds: float = MFCC_WINDOW_SECONDS, **options):
        from musicrep.features import create_feature

        super().__init__()
        if not window_seconds > 0:
            raise ConfigError(f"window_seconds must be > 0; got {window_seconds!r}")
        self.extractor = create_feature(feature, **options)
        self.sample_rate = int(self.extractor.sample_rate)
        self.window_samples = max(1, int(round(window_seconds * self.sample_rate)))
        self.embed_dim = 2 * int(self.extractor.dims)
        opts = [f"{k}={v}" for k, v in sorted(options.items())]
        if window_seconds != MFCC_WINDOW_SECONDS:
            opts.append(f"window={window_seconds:g}s")
        self.name = f"feature:{feature}" + (f"({','.join(opts)})" if opts else "")

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``(batch, window_samples)`` -> ``(batch, 2 * dims)``: frame mean and std."""
        frames = self.extractor(windows)
        return torch.cat([frames.mean(-1), frames.std(-1, unbiased=False)], dim=1)


def _untrained(name: str, seed: int, input_samples: int | None) -> nn.Module:
    from musicrep.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(name, input_samples=input_samples)
    return model.encoder


def _with_input_samples(model: nn.Module, input_samples: int | None, where: str) -> nn.Module:
    """Rebuild a model for another input length, keeping its weights."""
    config = getattr(model, "config", None)
    if input_samples is None or input_samples == getattr(model, "encoder", model).input_samples:
        return model
    from musicrep.models import Encoder, create_model, rebuild_encoder, rebuild_model

    n = int(input_samples)
    if isinstance(model, Encoder):  # an encoder-only export (self-supervised)
        new = rebuild_encoder({**config, "input_samples": n})
    elif getattr(model, "export_kind", None) == "musicnn_tf":  # a pretrained musicnn/VGG
        from musicrep.models.musicnn_tf import MusicnnTF

        new = MusicnnTF(**{**config, "input_samples": n})  # ConfigError for VGG
    elif "encoder" in config:  # a tagging model on a non-zoo encoder (e.g. fine-tuned musicnn)
        new = rebuild_model({**config, "encoder": {**config["encoder"], "input_samples": n}})
    else:
        new = create_model(**{**config, "input_samples": n})
    try:
        new.load_state_dict(model.state_dict())
    except RuntimeError as exc:
        raise ConfigError(
            f"{where} cannot take {input_samples}-sample windows (its weights depend on the "
            f"input length): {str(exc).splitlines()[0]}",
            "use the model's native window",
        ) from None
    return new


def resolve_model(
    spec: str | Path | nn.Module,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    input_samples: int | None = None,
) -> EmbeddingModel:
    """Turn a model description into an :class:`EmbeddingModel` (eval mode, on ``device``).

    Parameters
    ----------
    spec : str, Path or nn.Module
        Anything :func:`musicrep.io.load_model` takes (pretrained name such as
        ``musicnn-mtt``, exported model folder, training run folder, ``untrained:NAME`` for a
        zoo encoder with random weights initialised with ``seed``; a bare zoo name also means
        random weights, with a warning); ``"mfcc"``; or a module (see the module docstring).
    seed : int
        Seed of the untrained zoo encoders (same seed, same weights).
    device : str or torch.device
    input_samples : int, optional
        Window length in samples instead of the model's native one (zoo models rebuilt for it;
        for ``"mfcc"`` the window). Trained weights are kept; ConfigError if they do not fit.

    Raises
    ------
    ConfigError
        Unknown name (valid names listed), a folder that is not a model, a module that is not
        an encoder.
    """
    if isinstance(spec, EmbeddingModel):
        return spec.to(device).eval()
    if isinstance(spec, nn.Module):
        enc = getattr(spec, "encoder", spec)
        if input_samples is not None and input_samples != getattr(enc, "input_samples", None):
            if not isinstance(getattr(spec, "config", None), dict):
                raise ConfigError(
                    f"cannot change the window of a {type(spec).__name__} module",
                    "build the module for that input length, or pass a zoo model",
                )
            enc = _with_input_samples(spec, input_samples, type(spec).__name__).encoder
        return EncoderEmbedding(enc, f"module:{type(enc).__name__}").to(device).eval()
    if not isinstance(spec, (str, os.PathLike)):
        raise ConfigError(f"model must be a name, a folder or an nn.Module; got {spec!r}")
    text = str(spec)
    if text.lower() == "mfcc":
        window = MFCC_WINDOW_SECONDS if input_samples is None else input_samples / 22050
        return MfccEmbedding(window_seconds=window).to(device).eval()
    if text.lower() == "scattering" or text.lower().startswith("feature:"):
        from musicrep.features import DEFAULT_SAMPLE_RATE

        feature = text.split(":", 1)[1] if ":" in text else "scattering"
        rate = DEFAULT_SAMPLE_RATE
        window = MFCC_WINDOW_SECONDS if input_samples is None else input_samples / rate
        return FeatureEmbedding(feature, window_seconds=window).to(device).eval()
    from musicrep.io import load_model

    model, meta, where = load_model(text, seed=seed, input_samples=input_samples)
    if meta["kind"] != "untrained":
        model = _with_input_samples(model, input_samples, where)
    encoder = getattr(model, "encoder", model)  # a tagging model's, or an exported encoder
    return EncoderEmbedding(encoder, where).to(device).eval()


# ============================================================================ framing


def _start(k: int, hop: float) -> int:
    return int(math.floor(k * hop + 0.5))


def _hop_samples(hop: float | None, window: int, sr: int) -> float:
    if hop is None:
        return float(window)
    ok = isinstance(hop, (int, float, np.integer, np.floating)) and math.isfinite(hop)
    if not ok or hop <= 0:
        raise ConfigError(f"hop must be a positive number of seconds; got {hop!r}")
    samples = float(hop) * sr
    if samples < 1:
        raise ConfigError(
            f"hop {hop:g} s is shorter than one sample at {sr} Hz",
            f"use a hop of at least {1 / sr:.2e} s",
        )
    return samples


def frame_starts(n: int, window: int, hop: float) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and valid lengths for ``n`` samples (the framing :class:`Embedder` uses).

    Parameters
    ----------
    n : int
        Number of samples (>= 1).
    window : int
        Window length in samples.
    hop : float
        Hop in samples (may be fractional; each start is rounded on its own).

    Returns
    -------
    starts : np.ndarray, int64
        ``(T,)`` first sample of each window: ``floor(k * hop + 0.5)``.
    valid : np.ndarray, int64
        ``(T,)`` samples of real audio in each window (``window`` except at the end).
    """
    starts = [0]
    while starts[-1] + window < n:
        s = _start(len(starts), hop)
        if s >= n:
            break
        starts.append(s)
    s = np.asarray(starts, dtype=np.int64)
    return s, np.minimum(window, n - s)


class _Framer:
    """Cuts consecutive blocks into the windows of :func:`frame_starts`, keeping only the
    samples that the next windows still need."""

    def __init__(self, window: int, hop: float):
        self.window = window
        self.hop = hop
        self.buf = np.zeros(0, dtype=np.float32)
        self.buf_start = 0  # absolute index of buf[0]
        self.total = 0
        self.k = 0

    def push(self, block: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """Yield ``(window, start, valid)`` for every window that fits in what has arrived."""
        self.buf = np.concatenate([self.buf, np.asarray(block, dtype=np.float32)])
        self.total += len(block)
        end = self.buf_start + len(self.buf)
        while True:
            s = _start(self.k, self.hop)
            if s + self.window > end:
                break
            a = s - self.buf_start
            yield self.buf[a : a + self.window], s, self.window
            self.k += 1
        drop = min(_start(self.k, self.hop) - self.buf_start, len(self.buf))
        self.buf = self.buf[drop:]
        self.buf_start += drop

    def finish(self) -> Iterator[tuple[np.ndarray, int, int]]:
        """Yield the zero-padded windows that reach the end of the audio."""
        n = self.total
        while True:
            k = self.k
            s = _start(k, self.hop)
            if k > 0 and (_start(k - 1, self.hop) + self.window >= n or s >= n):
                return
            a = s - self.buf_start
            seg = self.buf[a : a + (n - s)]
            window = np.zeros(self.window, dtype=np.float32)
            window[: len(seg)] = seg
            yield window, s, n - s
            self.k += 1


# ============================================================================ the embedder


@dataclass
class EmbedReport:
    """What :meth:`Embedder.files` did.

    Attributes
    ----------
    written : list of Path
        Output files written by this run.
    skipped : list of Path
        Outputs that already existed and were kept (``overwrite=False``).
    failed : list of (Path, str)
        Inputs that could not be embedded, with the reason.
    warnings : list of (Path, str)
        Inputs embedded with a caveat (too short, digitally silent), one entry per condition,
        and a ``combine`` file left unwritten because nothing was embedded.
    combined_path : Path or None
        The ``combine`` file, if one was written.
    outputs : list of (Path, Path)
        ``(input, output)`` of every input that has an output now (written or skipped), in
        input order.
    audio_seconds : float
        Seconds of audio embedded by this run.
    elapsed : float
        Wall-clock seconds.
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[tuple[Path, str]] = field(default_factory=list)
    combined_path: Path | None = None
    outputs: list[tuple[Path, Path]] = field(default_factory=list)
    audio_seconds: float = 0.0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no input failed."""
        return not self.failed


class _Lane:
    """Windows of one hop through the model, batch by batch (part of an Embedder pass)."""

    def __init__(self, embedder: Embedder, hop: float):
        self.embedder = embedder
        self.framer = _Framer(embedder.window_samples, hop)
        self.batch = np.empty((embedder.batch_size, embedder.window_samples), dtype=np.float32)
        self.fill = 0
        self.outs: list[np.ndarray] = []
        self.starts: list[int] = []
        self.valid: list[int] = []

    def _add(self, windows: Iterator[tuple[np.ndarray, int, int]]) -> None:
        for win, s, v in windows:
            self.batch[self.fill] = win
            self.fill += 1
            self.starts.append(s)
            self.valid.append(v)
            if self.fill == len(self.batch):
                self._flush()

    def _flush(self) -> None:
        if self.fill:
            self.outs.append(self.embedder._run_windows(self.batch[: self.fill]))
            self.fill = 0

    def push(self, block: np.ndarray) -> None:
        self._add(self.framer.push(block))

    def finish(self) -> None:
        self._add(self.framer.finish())
        self._flush()

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(embeddings (T, D) float32, centre times (T,) float64 seconds)``."""
        emb = np.concatenate(self.outs).astype(np.float32, copy=False)
        centre = np.asarray(self.starts, np.float64) + np.asarray(self.valid, np.float64) / 2
        return emb, centre / float(self.embedder.sample_rate)


#: Most audio (seconds) in one forward batch; bounds peak memory for long-window models.
MAX_BATCH_SECONDS = 120.0

#: Files shorter than this (seconds) get a warning: their embedding is mostly zero padding.
MIN_SECONDS = 0.25

#: Choices of ``Embedder.files(engine=...)`` / ``--engine``.
ENGINES = ("local", "ray")

#: Choices of ``Embedder(precision=...)`` / ``--precision``.
PRECISIONS = ("fp32", "bf16")

#: A file whose windows take more than this many bytes is streamed instead of packed.
PACK_BYTES = 64 * 2**20


def default_workers() -> int:
    """Decoding threads by default: one per core beyond the first (the model's), at most 8;
    0 (the sequential path) on machines with 2 cores or fewer.

    Chosen by measurement (``benchmarks/README.md``, "Embedding pipeline"): on a 2-core CPU a
    decoding thread competes with the model's two threads, and musicnn ran at 0.81x the
    reference extractor's rate with one worker against 1.08x sequentially (42 vs 105 files/s
    for 1 s files, where the CPU also ran batches of 16 slower per window than batches of 1).
    """
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(8, cores - 1)


def input_warnings(seconds: float, peak: float, min_seconds: float = MIN_SECONDS) -> list[str]:
    """Why a file's embedding (or prediction) may mean little: too short, or digital silence.

    Used by ``embed`` and ``predict``; one entry per condition, empty when the input is fine.
    """
    out = []
    if seconds < min_seconds:
        out.append(
            f"only {seconds:.3g} s of audio (< {min_seconds:g} s): the result is mostly "
            "zero padding"
        )
    if peak == 0.0:
        out.append("digitally silent (every sample is 0): the result says nothing about music")
    return out


def _windows(x: np.ndarray, window: int, hop: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All windows of ``x`` at once (the framing of :class:`_Framer`): windows, starts, valid."""
    starts, valid = frame_starts(len(x), window, hop)
    out = np.zeros((len(starts), window), dtype=np.float32)
    for k, (a, v) in enumerate(zip(starts, valid)):
        out[k, :v] = x[a : a + v]
    return out, starts, valid


@dataclass
class _Loaded:
    """One file decoded whole by a worker: its windows per lane, ready to be packed."""

    lanes: list[np.ndarray]  # [timestamp windows] or [timestamp windows, scene windows]
    starts: np.ndarray
    valid: np.ndarray
    clip: np.ndarray | None  # the model's own clip statistics, if it has them
    n: int
    peak: float
    outs: list[list[np.ndarray]] = field(default_factory=list)
    pending: int = 0  # windows still without an output


class _Packer:
    """Packs the windows of many files into full batches and splits the outputs back."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.batch = np.empty((embedder.batch_size, embedder.window_samples), dtype=np.float32)
        self.queue: deque[list] = deque()  # [loaded, lane, windows, next row]
        self.files: deque[tuple[object, _Loaded]] = deque()

    def add(self, key: object, item: _Loaded) -> None:
        item.outs = [[] for _ in item.lanes]
        item.pending = sum(len(w) for w in item.lanes)
        self.files.append((key, item))
        for lane, w in enumerate(item.lanes):
            self.queue.append([item, lane, w, 0])
        while sum(len(q[2]) - q[3] for q in self.queue) >= len(self.batch):
            self._run()

    def _run(self) -> None:
        fill, parts = 0, []
        while self.queue and fill < len(self.batch):
            seg = self.queue[0]
            item, lane, w, row = seg
            take = min(len(w) - row, len(self.batch) - fill)
            self.batch[fill : fill + take] = w[row : row + take]
            parts.append((item, lane, fill, take))
            fill += take
            seg[3] += take
            if seg[3] == len(w):
                self.queue.popleft()
        if not fill:
            return
        with torch.inference_mode():
            out = self.embedder._run_windows(self.batch[:fill])
        for item, lane, a, take in parts:
            item.outs[lane].append(out[a : a + take])
            item.pending -= take

    def done(self) -> Iterator[tuple[object, _Loaded]]:
        """Files (in the order added) whose every window has its output."""
        while self.files and self.files[0][1].pending == 0:
            yield self.files.popleft()

    def drain(self) -> Iterator[tuple[object, _Loaded]]:
        while self.queue:
            self._run()
        yield from self.done()


class Embedder:
    """Scene and timestamp embeddings of any length of audio with one model.

    Parameters
    ----------
    model : str, Path or nn.Module
        See :func:`resolve_model` (exported folder, run folder, zoo name, ``"mfcc"``, module).
    device : str or torch.device
    batch_size : int
        Windows per forward pass, capped so that one batch holds at most ``MAX_BATCH_SECONDS``
        (120 s) of audio: peak memory is dominated by the model's activations for one batch
        (16 x 29 s with ``fcn`` peaked at 2.0 GB; the cap gives 4 x 29 s, under 1 GB for a
        one-hour file; see the benchmarks). The cap applies on the CPU only: on a GPU the
        activations live in GPU memory and large batches (256) keep it busy.
    layer : str, optional
        Sub-module whose mean-pooled output is the embedding (see :func:`layer_names`).
    seed : int
        Seed of untrained zoo encoders.
    block_seconds : float
        Length of the blocks long files are read in (memory ~ block + one window).
    workers : int, optional
        Threads that decode, resample and cut files into windows for :meth:`files` while the
        model runs (default :func:`default_workers`: one per core beyond the first, at most
        8; 0 on machines with 2 cores or fewer, where measurement favoured it). Windows of many files are packed into full batches. ``0``: the sequential path
        (one file at a time, in the calling thread). Outputs are the same either way.
    precision : {"fp32", "bf16"}
        ``"bf16"`` runs the model under ``torch.autocast`` in bfloat16 (meant for GPUs; the
        outputs are stored as float32 either way).
    min_seconds : float
        Files shorter than this get a warning in the report (:data:`MIN_SECONDS`).

    Attributes
    ----------
    name : str
        Model identity (written into output files).
    sample_rate : int
        Rate the model runs at; input audio is resampled to it.
    embed_dim : int
    window_samples : int
        The model's native window; ``window_seconds`` the same in seconds.
    model : EmbeddingModel
    """

    def __init__(
        self,
        model: str | Path | nn.Module,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        layer: str | None = None,
        seed: int = 0,
        block_seconds: float = 30.0,
        workers: int | None = None,
        precision: str = "fp32",
        min_seconds: float | None = None,
        nan_policy: str = "raise",
    ):
        from musicrep.audio import _check_nan_policy

        _check_nan_policy(nan_policy)
        #: What to do with NaN/Inf samples in a file: "raise" (the file fails) or "zero".
        self.nan_policy = nan_policy
        if int(batch_size) != batch_size or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer; got {batch_size!r}")
        if not block_seconds > 0:
            raise ConfigError(f"block_seconds must be > 0; got {block_seconds!r}")
        if workers is None:
            workers = default_workers()
        if int(workers) != workers or workers < 0:
            raise ConfigError(f"workers must be a whole number >= 0; got {workers!r}")
        if precision not in PRECISIONS:
            raise ConfigError(
                f"unknown precision {precision!r}", f"choose one of {', '.join(PRECISIONS)}"
            )
        self.workers = int(workers)
        self.precision = precision
        # how to build this embedder again elsewhere (the Ray engine's actors and tasks)
        self._spec = {
            "model": model,
            "batch_size": int(batch_size),
            "layer": layer,
            "seed": seed,
            "block_seconds": float(block_seconds),
            "precision": precision,
        }
        self.min_seconds = MIN_SECONDS if min_seconds is None else float(min_seconds)
        #: most bytes of windows one file may hold in memory to be packed with others; longer
        #: files are streamed block by block (the long-file path)
        self.pack_bytes = PACK_BYTES
        self.device = torch.device(device)
        emb = resolve_model(model, seed=seed, device=self.device)
        if layer is not None:
            if not isinstance(emb, EncoderEmbedding):
                raise ConfigError(f"--layer needs a neural encoder; {emb.name!r} has no layers")
            base = emb.name.split("#layer=")[0]
            emb = EncoderEmbedding(emb.encoder, base, layer=layer).to(self.device).eval()
        self.model = emb
        window_seconds = emb.window_samples / emb.sample_rate
        self.batch_size = int(batch_size)
        if self.device.type == "cpu":  # activations in host memory: bound them
            self.batch_size = max(1, min(self.batch_size, int(MAX_BATCH_SECONDS // window_seconds)))
        self.block_seconds = float(block_seconds)
        self.name: str = emb.name
        self.sample_rate: int = int(emb.sample_rate)
        self.embed_dim: int = int(emb.embed_dim)
        self.window_samples: int = int(emb.window_samples)

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    def __repr__(self) -> str:
        return (
            f"Embedder({self.name!r}, sample_rate={self.sample_rate}, "
            f"window={self.window_seconds:g} s, embed_dim={self.embed_dim})"
        )

    # ----------------------------------------------------------------------- core
    def _run_windows(self, windows: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(windows)
        if self.device.type == "cuda":
            # page-locked copy, then an asynchronous host-to-device transfer
            x = x.pin_memory().to(self.device, non_blocking=True)
        else:
            x = x.to(self.device)
        if self.precision == "bf16":
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                out = self.model(x)
        else:
            out = self.model(x)
        if out.dim() != 2 or out.shape[1] != self.embed_dim:
            raise ConfigError(
                f"model {self.name!r} returned shape {tuple(out.shape)} for "
                f"{tuple(x.shape)}; expected (batch, {self.embed_dim})"
            )
        return out.detach().float().cpu().numpy()

    def _embed_stream(
        self, blocks: Iterable[np.ndarray], hop: float | None, *, frames: bool, scene: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int, float]:
        """Embed consecutive blocks in one pass.

        Returns ``(embeddings (T, D), times (T,), scene (D,) or None, samples, peak |x|)``; ``frames``
        and ``scene`` say what is wanted. The scene always comes from non-overlapping windows
        (or the model's clip statistics): with a ``hop``, a second lane of windows runs.
        """
        hop_s = _hop_samples(hop, self.window_samples, self.sample_rate)
        acc = self.model.clip_accumulator() if scene else None
        ts_lane = _Lane(self, hop_s) if frames else None
        if scene and acc is None and (ts_lane is None or hop is not None):
            scene_lane = _Lane(self, float(self.window_samples))
        else:
            scene_lane = ts_lane if scene and acc is None else None
        lanes = [lane for lane in {id(x): x for x in (ts_lane, scene_lane) if x}.values()]
        n = 0
        peak = 0.0
        with torch.inference_mode():
            for block in blocks:
                if not len(block):
                    continue
                n += len(block)
                peak = max(peak, float(np.abs(block).max()))
                if acc is not None:
                    acc.update(block)
                for lane in lanes:
                    lane.push(block)
            if n == 0:
                raise ConfigError("cannot embed an empty signal (0 samples)")
            for lane in lanes:
                lane.finish()
        emb = times = None
        if ts_lane is not None:
            emb, times = ts_lane.result()
        clip = None
        if acc is not None:
            clip = np.asarray(acc.result(), dtype=np.float32)
        elif scene_lane is not None:
            clip = scene_lane.result()[0].mean(axis=0)
        return emb, times, clip, n, peak

    def _prepare(self, audio: np.ndarray, sr: int) -> np.ndarray:
        import soxr

        from musicrep.audio import RESAMPLE_QUALITY

        x = np.asarray(audio, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=0)
        if x.ndim != 1:
            raise ConfigError(
                f"audio must be (samples,) or (channels, samples); got shape {x.shape}"
            )
        if x.size == 0:
            raise ConfigError("cannot embed an empty signal (0 samples)")
        if not np.isfinite(x).all():
            raise ConfigError("audio contains NaN or Inf samples")
        if int(sr) != sr or sr <= 0:
            raise ConfigError(f"sample rate must be a positive whole number of Hz; got {sr!r}")
        if int(sr) != self.sample_rate:
            x = soxr.resample(x, int(sr), self.sample_rate, quality=RESAMPLE_QUALITY)
        return np.ascontiguousarray(x, dtype=np.float32)

    # ----------------------------------------------------------------------- arrays
    def _split(self, x: np.ndarray) -> Iterator[np.ndarray]:
        """``x`` as views of ``block_seconds`` (the same path as files, no large copies)."""
        step = max(1, int(round(max(self.block_seconds, self.window_seconds) * self.sample_rate)))
        return (x[a : a + step] for a in range(0, len(x), step))

    def timestamps(
        self, audio: np.ndarray, sr: int, hop: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One embedding per window.

        Parameters
        ----------
        audio : np.ndarray
            ``(samples,)`` or ``(channels, samples)`` (mixed down by the mean).
        sr : int
            Rate of ``audio`` in Hz; resampled to :attr:`sample_rate` if different.
        hop : float, optional
            Hop between windows in seconds (default: one window, no overlap).

        Returns
        -------
        embeddings : np.ndarray, float32
            ``(T, embed_dim)``.
        timestamps : np.ndarray, float64
            ``(T,)`` seconds: the centre of the audio each window holds (module docstring).
        """
        x = self._prepare(audio, sr)
        emb, times, _, _, _ = self._embed_stream(self._split(x), hop, frames=True, scene=False)
        return emb, times

    def scene(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """One ``(embed_dim,)`` float32 embedding for the whole clip.

        The mean of the non-overlapping window embeddings (for ``"mfcc"``: the MFCC statistics
        of the whole clip). ``audio`` and ``sr`` as in :meth:`timestamps`.
        """
        x = self._prepare(audio, sr)
        _, _, clip, _, _ = self._embed_stream(self._split(x), None, frames=False, scene=True)
        return clip

    # ----------------------------------------------------------------------- files
    def _blocks(self, path: str | os.PathLike) -> Iterator[np.ndarray]:
        from musicrep.audio import blocks

        seconds = max(self.block_seconds, self.window_seconds)
        return blocks(
            path, sr=self.sample_rate, block_seconds=seconds, mono=True, nan_policy=self.nan_policy
        )

    def file(
        self, path: str | os.PathLike, hop: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Timestamp embeddings of an audio file, read in blocks (bounded memory).

        Returns ``(embeddings (T, D) float32, timestamps (T,) float64 seconds)``, as
        :meth:`timestamps` of the decoded file. Raises AudioError for unreadable files.
        """
        emb, times, _, _, _ = self._embed_stream(self._blocks(path), hop, frames=True, scene=False)
        return emb, times

    def file_embedding(
        self, path: str | os.PathLike, hop: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Timestamp and scene embeddings of a file in one pass.

        Returns
        -------
        embeddings : (T, D) float32
        timestamps : (T,) float64 seconds
        scene : (D,) float32
            As :meth:`scene` of the decoded file, whatever the ``hop`` (with a hop, the
            non-overlapping windows of the scene run in the same pass).
        duration : float
            Seconds of audio (at the model's rate).
        """
        emb, times, clip, n, _ = self._embed_stream(
            self._blocks(path), hop, frames=True, scene=True
        )
        return emb, times, clip, n / self.sample_rate

    def files(
        self,
        inputs: str | os.PathLike | Sequence[str | os.PathLike],
        out_dir: str | os.PathLike,
        *,
        hop: float | None = None,
        recursive: bool = False,
        overwrite: bool = False,
        combine: str | os.PathLike | None = None,
        progress: bool = True,
        shard: str | tuple[int, int] | None = None,
        engine: str = "local",
        address: str | None = None,
    ) -> EmbedReport:
        """Embed many files: one ``.npz`` each in ``out_dir``, optionally one combined file.

        Parameters
        ----------
        inputs : path or list of paths
            Audio files (any extension libsndfile reads) and folders (files with an extension
            in :data:`AUDIO_EXTENSIONS`; sub-folders too with ``recursive``).
        out_dir : path
            Output folder. A file ``song.wav`` becomes ``song.npz``; files found in a folder
            keep their path relative to it (``dir/a/b.wav`` -> ``out_dir/a/b.npz``). Inputs that
            would share an output name keep their extension (``b.wav.npz``, ``b.flac.npz``);
            if that still collides (same name in two folders), the CRC-32 of the absolute
            input path is appended (``b-1a2b3c4d.npz``).
        hop : float, optional
            Hop in seconds of the timestamp embeddings (default: one window).
        recursive : bool
            Descend into sub-folders of folder inputs.
        overwrite : bool
            Recompute outputs that exist; by default they are kept (so a stopped run resumes).
        combine : path, optional
            Also write one ``.npz`` with ``paths (N,)`` (absolute input paths) and
            ``embeddings (N, D)`` (scene embeddings), from every input with an output
            (including kept ones), in input order; plus ``model``.
        progress : bool
            Show a progress bar (files, audio seconds per second) on stderr.
        shard : "i/N" or (i, N), optional
            Embed only shard ``i`` of ``N`` (0-based): every N-th input starting at the i-th,
            after output names are planned from all inputs, so N jobs (a SLURM array) write
            the same files as one job. ``combine`` then holds this shard's files.
        engine : {"local", "ray"}
            Where the files are decoded and embedded: this process and its worker threads,
            or a Ray cluster (:mod:`musicrep.embed_ray`: Ray Data CPU tasks decode, an actor
            pool runs the model). Outputs, resume, failures and writing are the same.
        address : str, optional
            Ray cluster address for ``engine="ray"`` (``"auto"``, ``"ray://host:10001"``);
            None starts a local Ray instance (or joins ``RAY_ADDRESS``).

        Returns
        -------
        EmbedReport

        Notes
        -----
        Each output holds ``embedding (T, D)`` float32, ``timestamps (T,)`` float64 seconds,
        ``scene (D,)`` float32, ``path`` (absolute input path), ``model`` (model identity) and
        ``duration`` (seconds), written with :func:`musicrep.embeddings.write_file_embeddings`.
        Every file is written atomically. A missing input is a ConfigError before any work.
        Unreadable inputs (and broken symbolic links in folders) are recorded in
        ``report.failed`` and the rest go on; files shorter than ``min_seconds`` or digitally
        silent are embedded and listed in ``report.warnings``. ``combine`` is never replaced by
        an empty file. A kept output made by another model counts as
        failed (its reason says so), since mixing models would corrupt ``combine``.
        """
        from musicrep.embeddings import write_combined, write_file_embeddings
        from musicrep.utils import progress as progress_bar

        start_time = time.perf_counter()
        out_root = Path(out_dir)
        if out_root.exists() and not out_root.is_dir():
            raise ConfigError(f"--out {out_root} exists and is not a folder")
        hop_s = _hop_samples(hop, self.window_samples, self.sample_rate)  # checked before work
        if engine not in ENGINES:
            raise ConfigError(f"unknown engine {engine!r}", f"choose one of {', '.join(ENGINES)}")
        if engine == "ray":
            from musicrep.embed_ray import _require_ray

            _require_ray()  # before any work
        shard_index, shard_count = _check_shard(shard)
        report = EmbedReport()
        jobs, missing, broken = _collect(inputs, recursive)
        if missing:
            raise ConfigError(
                "input(s) not found: " + ", ".join(str(p) for p, _ in missing),
                "check the paths (relative paths start at the current folder); nothing was "
                "embedded",
            )
        report.failed.extend(broken)
        if not jobs and not broken:
            raise ConfigError(
                "no audio files found in the inputs",
                f"folders are searched for {', '.join(AUDIO_EXTENSIONS)}"
                + ("" if recursive else "; add --recursive to search sub-folders"),
            )
        plan = _plan_outputs(jobs, out_root)  # names from the whole job, so shards agree
        if shard_count > 1:
            plan = plan[shard_index::shard_count]
        clips: dict[int, np.ndarray] = {}
        todo: list[tuple[int, Path, Path]] = []
        bar = progress_bar(
            total=len(plan), desc="embed", unit="file", disable=None if progress else True
        )

        def tick() -> None:
            bar.update(1)
            elapsed = time.perf_counter() - start_time
            bar.set_postfix_str(f"{report.audio_seconds / max(elapsed, 1e-9):.1f} audio s/s")

        try:
            for i, (src, dst) in enumerate(plan):
                if dst.exists() and not overwrite:
                    try:
                        clips[i] = self._existing_scene(dst)
                        report.skipped.append(dst)
                    except MusicrepError as exc:
                        report.failed.append((src, exc.message))
                    tick()
                else:
                    todo.append((i, src, dst))
            if engine == "ray":
                from musicrep.embed_ray import ray_compute

                outcomes = ray_compute(self, todo, hop, hop_s, address=address)
            else:
                outcomes = self._compute(todo, hop, hop_s)
            for (i, src, dst), outcome in outcomes:
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    emb, times, clip, n, peak = outcome
                    seconds = n / self.sample_rate
                    try:
                        write_file_embeddings(
                            dst, emb, times, clip, source=src, model=self.name, duration=seconds
                        )
                    except OSError as exc:
                        raise MusicrepError(f"could not write {dst}: {exc}") from None
                    report.written.append(dst)
                    report.audio_seconds += seconds
                    clips[i] = clip
                    for why in input_warnings(seconds, peak, self.min_seconds):
                        report.warnings.append((src, why))
                except MusicrepError as exc:
                    reason = exc.reason if isinstance(exc, AudioError) else exc.message
                    report.failed.append((src, reason))
                except OSError as exc:
                    report.failed.append((src, f"could not be read: {exc}"))
                tick()
        finally:
            bar.close()
        report.outputs = [(plan[i][0], plan[i][1]) for i in sorted(clips)]
        if combine is not None:
            target = Path(combine)
            if clips:
                write_combined(
                    target,
                    [plan[i][0] for i in sorted(clips)],
                    np.stack([clips[i] for i in sorted(clips)]).astype(np.float32),
                    model=self.name,
                )
                report.combined_path = target
            else:  # never replace a combine file with an empty one
                kept = " (the existing file is kept)" if target.exists() else ""
                report.warnings.append((target, f"not written: no input was embedded{kept}"))
        report.elapsed = time.perf_counter() - start_time
        return report

    def _compute(
        self, todo: list[tuple[int, Path, Path]], hop: float | None, hop_s: float
    ) -> Iterator[tuple[tuple[int, Path, Path], tuple | BaseException]]:
        """``(job, (emb, times, clip, samples, peak) or the error)`` for each job, in order.

        ``workers == 0``: each file streamed in this thread (the sequential path). Otherwise
        a thread pool decodes, resamples and windows files ahead while this thread runs the
        model on batches packed from many files; files too long to hold whole
        (:attr:`pack_bytes`) are streamed here with their blocks decoded one block ahead.
        """
        if self.workers == 0 or not todo:
            for job in todo:
                try:
                    yield (
                        job,
                        self._embed_stream(self._blocks(job[1]), hop, frames=True, scene=True),
                    )
                except (MusicrepError, OSError) as exc:
                    yield job, exc
            return
        from concurrent.futures import ThreadPoolExecutor

        scene_lane = hop is not None and self.model.clip_accumulator() is None
        depth = 2 * self.workers + 2  # files decoded ahead: bounds memory
        packer = _Packer(self)
        futures: deque = deque()
        jobs = iter(todo)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="musicrep-decode") as pool:

            def submit() -> None:
                while len(futures) < depth:
                    job = next(jobs, None)
                    if job is None:
                        return
                    futures.append((job, pool.submit(self._load, job[1], hop_s, scene_lane)))

            submit()
            try:
                while futures:
                    job, fut = futures.popleft()
                    submit()
                    try:
                        loaded = fut.result()
                    except (MusicrepError, OSError) as exc:
                        yield job, exc
                        continue
                    if loaded is None:  # too long to hold: stream it (after the packed ones)
                        for key, item in packer.drain():
                            yield key, self._finish(item, hop)
                        try:
                            blocks = _read_ahead(self._blocks(job[1]), pool)
                            yield job, self._embed_stream(blocks, hop, frames=True, scene=True)
                        except (MusicrepError, OSError) as exc:
                            yield job, exc
                        continue
                    packer.add(job, loaded)
                    for key, item in packer.done():
                        yield key, self._finish(item, hop)
                for key, item in packer.drain():
                    yield key, self._finish(item, hop)
            finally:
                for _, fut in futures:
                    fut.cancel()

    def _load(
        self, path: Path, hop_s: float, scene_lane: bool, limit: bool = True
    ) -> _Loaded | None:
        """Decode a whole file into its windows (in a worker); None if too long to hold
        (:attr:`pack_bytes`, unless ``limit`` is False)."""
        from musicrep import audio

        meta = audio.info(path)
        rate = self.sample_rate / meta.sample_rate
        expected = meta.frames * rate * self.window_samples / hop_s * (1 + scene_lane)
        if limit and expected * 4 > self.pack_bytes:
            return None
        acc = self.model.clip_accumulator()
        parts, peak = [], 0.0
        for block in self._blocks(path):
            if len(block):
                parts.append(block)
                peak = max(peak, float(np.abs(block).max()))
                if acc is not None:
                    acc.update(block)
        if not parts:
            raise ConfigError("cannot embed an empty signal (0 samples)")
        x = np.concatenate(parts)
        windows, starts, valid = _windows(x, self.window_samples, hop_s)
        lanes = [windows]
        if scene_lane:
            lanes.append(_windows(x, self.window_samples, float(self.window_samples))[0])
        clip = None if acc is None else np.asarray(acc.result(), dtype=np.float32)
        return _Loaded(lanes, starts, valid, clip, len(x), peak)

    def _finish(self, item: _Loaded, hop: float | None) -> tuple:
        """A packed file's outputs as :meth:`_embed_stream` returns them."""
        emb = np.concatenate(item.outs[0]).astype(np.float32, copy=False)
        centre = item.starts.astype(np.float64) + item.valid.astype(np.float64) / 2
        times = centre / float(self.sample_rate)
        if item.clip is not None:
            clip = item.clip
        elif len(item.outs) > 1:
            clip = np.concatenate(item.outs[1]).mean(axis=0)
        else:
            clip = emb.mean(axis=0)
        return emb, times, clip, item.n, item.peak

    def _existing_scene(self, dst: Path) -> np.ndarray:
        """The scene embedding of an output kept from an earlier run (checked)."""
        try:
            with np.load(dst, allow_pickle=False) as data:
                model = str(data["model"])
                clip = np.asarray(data["scene"] if "scene" in data else data["embedding"].mean(0))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"existing output {dst} is unreadable ({exc}); use --overwrite to recompute it"
            ) from None
        if model != self.name:
            raise ConfigError(
                f"existing output {dst} was made by model {model!r}, not {self.name!r}; "
                "use --overwrite to recompute it, or another --out folder"
            )
        return clip.astype(np.float32)


# ============================================================================ file helpers


def _check_shard(shard: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"i/N"`` or ``(i, N)`` -> ``(i, N)`` with ``0 <= i < N``; None -> ``(0, 1)``."""
    if shard is None:
        return 0, 1
    try:
        i, n = (int(v) for v in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError):
        raise ConfigError(
            f"shard must look like i/N (e.g. 0/4); got {shard!r}",
            "i is this job's index from 0, N the number of jobs",
        ) from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"shard {i}/{n}: need N >= 1 and 0 <= i < N")
    return i, n


def _read_ahead(blocks: Iterator[np.ndarray], pool) -> Iterator[np.ndarray]:
    """Decode the next block in ``pool`` while the caller works on the current one."""
    fut = pool.submit(next, blocks, None)
    while True:
        block = fut.result()
        if block is None:
            return
        fut = pool.submit(next, blocks, None)
        yield block


def _is_broken_link(p: Path) -> bool:
    """A symbolic link with an audio extension whose target is gone (listed as failed)."""
    return (
        p.is_symlink()
        and not p.exists()
        and p.suffix.lower() in AUDIO_EXTENSIONS
        and not p.name.startswith(".")
    )


def _is_audio(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")


def _collect(
    inputs: str | os.PathLike | Sequence[str | os.PathLike], recursive: bool
) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, str]], list[tuple[Path, str]]]:
    """``[(absolute file, folder it was found in or None)]``, missing inputs, and broken
    symbolic links found in folders (with their reasons)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    jobs: list[tuple[Path, Path | None]] = []
    missing: list[tuple[Path, str]] = []
    broken: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            root = p.resolve()
            found = sorted(root.rglob("*") if recursive else root.iterdir())
            for f in found:
                if _is_broken_link(f):
                    broken.append(
                        (f, f"broken symbolic link (its target {os.readlink(f)} does not exist)")
                    )
                elif _is_audio(f) and f not in seen:
                    seen.add(f)
                    jobs.append((f, root))
        elif p.exists():
            f = p.resolve()
            if f not in seen:
                seen.add(f)
                jobs.append((f, None))
        else:
            missing.append((p, "file not found"))
    return jobs, missing, broken


def _plan_outputs(jobs: list[tuple[Path, Path | None]], out_root: Path) -> list[tuple[Path, Path]]:
    """Output path of each input: mirrored sub-folders, ``<stem>.npz``; on a collision
    ``<name with extension>.npz``, then ``<stem>-<crc32 of the path>.npz``."""
    rels = [src.relative_to(root) if root is not None else Path(src.name) for src, root in jobs]
    names = [rel.with_suffix(".npz") for rel in rels]
    for fallback in ("extension", "hash"):
        counts: dict[Path, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        for i, name in enumerate(names):
            if counts[name] > 1:
                rel, src = rels[i], jobs[i][0]
                if fallback == "extension":
                    names[i] = rel.with_name(rel.name + ".npz")
                else:
                    names[i] = rel.with_name(f"{rel.stem}-{zlib.crc32(str(src).encode()):08x}.npz")
    return [(src, out_root / name) for (src, _), name in zip(jobs, names)]


def _summary(report: EmbedReport, stream=None) -> None:
    """Print a human summary of ``report`` (used by the CLI)."""
    stream = stream or sys.stdout
    rate = report.audio_seconds / report.elapsed if report.elapsed > 0 else 0.0
    print(
        f"written {len(report.written)}, skipped {len(report.skipped)} (existing; --overwrite "
        f"recomputes them), failed {len(report.failed)}; {report.audio_seconds:.1f} s of audio "
        f"in {report.elapsed:.1f} s ({rate:.1f} audio s/s)",
        file=stream,
    )
    if report.combined_path is not None:
        print(f"combined: {report.combined_path} ({len(report.outputs)} files)", file=stream)
    for path, reason in report.failed:
        print(f"  failed: {path}: {reason}", file=stream)
    if report.warnings:
        print(f"warnings {len(report.warnings)}:", file=stream)
    for path, reason in report.warnings:
        print(f"  warning: {path}: {reason}", file=stream)
