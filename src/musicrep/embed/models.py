"""What an :class:`~musicrep.embed.Embedder` runs: embedding models and :func:`resolve_model`.

An :class:`EmbeddingModel` maps ``(batch, window_samples)`` to ``(batch, embed_dim)``; the
encoders of the zoo, exported and pretrained models (:class:`EncoderEmbedding`, optionally one
of their layers), the MFCC baseline (:class:`MfccEmbedding`) and hand-crafted features
(:class:`FeatureEmbedding`) are wrapped as one. See :mod:`musicrep.embed` for the framing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from musicrep.errors import ConfigError

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
            # the exact faster inference graph (musicrep.models.inference), sharing the
            # encoder's parameters; not registered, so state_dict and layer names are the
            # encoder's. Layer hooks need the original modules: only without ``layer``.
            from musicrep.models.inference import optimize_for_inference

            object.__setattr__(self, "_inference", optimize_for_inference(self.encoder))
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
            run = self.__dict__.get("_inference", self.encoder)
            return run(windows) if not self.encoder.training else self.encoder(windows)

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
