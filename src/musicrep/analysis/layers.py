"""Layer-wise activations of any encoder: every block in one forward pass.

:class:`LayerActivations` wraps an encoder as a :class:`musicrep.embed.EmbeddingModel` whose
embedding is the concatenation of the pooled outputs of several sub-modules (forward hooks; the
network runs once). Run through :class:`musicrep.embed.Embedder` it inherits the framing,
resampling and window averaging of every other model, so per-layer clip vectors (time-pooled,
the mean over windows) and per-window vectors (``Embedder.timestamps``, aligned with the same
windows of a hand-crafted feature) come out of the one embedding path; :meth:`split` cuts the
vector back into layers.

Pooling is :func:`musicrep.embed._pool`: the mean over every axis but batch and channels.

The default layers (:func:`block_layers`) are the *blocks* of the encoder: its ``frontend``
and the numbered children of its containers (``backend.blocks.3``, ``backend.mid.1``), the
outermost ones only, followed by the encoder's output (``output``). Any names listed by
:func:`musicrep.embed.layer_names` can be given instead.

Untrained copies: :func:`untrained_copy` rebuilds a zoo encoder from its config with seeded
random weights (the random-network baseline of a trained model, same architecture).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from musicrep.embed import (
    _CONTAINERS,
    EmbeddingModel,
    EncoderEmbedding,
    _called_modules,
    _pool,
    resolve_model,
)
from musicrep.errors import ConfigError

__all__ = ["OUTPUT", "LayerActivations", "block_layers", "layer_activations", "untrained_copy"]

#: Name of the encoder's own output among the layers.
OUTPUT = "output"
_INDEXED = re.compile(r"^(.*)\.(\d+)$")


def block_layers(encoder: nn.Module, window_samples: int) -> list[str]:
    """The encoder's blocks, in forward order: ``frontend`` and numbered container children.

    A name ``parent.N`` is a block when ``parent`` is a container (``nn.Sequential``,
    ``nn.ModuleList``) and no enclosing module is already a block. Layers whose pooled output
    has a single channel (a one-channel spectrogram front-end) are left out.
    """
    called = _called_modules(encoder, window_samples)
    modules = dict(encoder.named_modules())
    blocks: list[str] = []
    for name in called:
        if any(name.startswith(b + ".") for b in blocks):
            continue
        m = _INDEXED.match(name)
        parent = modules.get(m.group(1)) if m else None
        if called[name] == (1,):
            continue  # one channel (e.g. a 1-channel spectrogram): nothing to compare
        if name == "frontend" or (
            parent is not None and isinstance(parent, (nn.Sequential, *_CONTAINERS))
        ):
            blocks.append(name)
    return blocks


class LayerActivations(EmbeddingModel):
    """Pooled outputs of several layers of an encoder, concatenated.

    Parameters
    ----------
    encoder : nn.Module
        With ``sample_rate``, ``input_samples`` and ``embed_dim`` (a musicrep ``Encoder``).
    name : str
        Model identity.
    layers : sequence of str, optional
        Sub-module names (default :func:`block_layers`); ``"output"`` is the encoder output,
        always appended when not listed.

    Attributes
    ----------
    layers : list of str
    dims : list of int
        Channels of each layer (the slices of the embedding).
    """

    def __init__(self, encoder: nn.Module, name: str, layers: Sequence[str] | None = None):
        super().__init__()
        base = EncoderEmbedding(encoder, name)  # checks the encoder's attributes
        self.encoder = base.encoder
        self.sample_rate, self.window_samples = base.sample_rate, base.window_samples
        called = _called_modules(self.encoder, self.window_samples)
        layers = list(layers) if layers else block_layers(self.encoder, self.window_samples)
        unknown = [x for x in layers if x != OUTPUT and x not in called]
        if unknown:
            raise ConfigError(
                f"{name}: no layer(s) {', '.join(unknown)} run by the forward pass",
                "valid layers: " + ", ".join(called),
            )
        if OUTPUT not in layers:
            layers.append(OUTPUT)
        self.layers = layers
        self.dims = [int(base.embed_dim) if x == OUTPUT else int(called[x][0]) for x in self.layers]
        self.embed_dim = int(sum(self.dims))
        self.name = f"{name}#layers"

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``(batch, window_samples)`` -> ``(batch, sum(dims))``."""
        captured: dict[str, torch.Tensor] = {}
        handles = []
        for layer in self.layers:
            if layer == OUTPUT:
                continue

            def hook(m, _inp, out, layer=layer):
                captured.setdefault(layer, _pool(out, m))

            handles.append(self.encoder.get_submodule(layer).register_forward_hook(hook))
        try:
            captured[OUTPUT] = self.encoder(windows)
        finally:
            for h in handles:
                h.remove()
        return torch.cat([captured[x].reshape(len(windows), -1) for x in self.layers], dim=1)

    def split(self, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """``(..., embed_dim)`` -> ``{layer: (..., dims)}``."""
        edges = np.cumsum([0, *self.dims])
        return {x: vectors[..., a:b] for x, a, b in zip(self.layers, edges[:-1], edges[1:])}


def untrained_copy(encoder: nn.Module, seed: int = 0) -> nn.Module:
    """The same zoo architecture as ``encoder`` with seeded random weights.

    Needs the ``config`` a zoo encoder carries (``musicrep.models``); ConfigError otherwise.
    """
    config = getattr(encoder, "config", None)
    if not isinstance(config, dict):
        raise ConfigError(
            f"cannot rebuild an untrained copy of a {type(encoder).__name__}: it has no zoo config",
            "pass the zoo name as another --model for the untrained network",
        )
    from musicrep.models import rebuild_encoder

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        copy = rebuild_encoder(dict(config))
    return copy.eval()


def layer_activations(
    spec: str | nn.Module,
    layers: Sequence[str] | None = None,
    *,
    seed: int = 0,
    untrained: bool = False,
    device: str = "cpu",
) -> LayerActivations:
    """A :class:`LayerActivations` for a model spec (zoo name, run or export folder, module).

    ``untrained=True`` replaces the weights by seeded random ones (:func:`untrained_copy`).
    """
    emb = resolve_model(spec, seed=seed, device="cpu")
    if not isinstance(emb, EncoderEmbedding):
        raise ConfigError(f"{emb.name!r} has no layers: it is not a neural encoder")
    encoder, name = emb.encoder, emb.name
    if untrained:
        encoder, name = untrained_copy(encoder, seed), f"untrained-copy:{name}:seed={seed}"
    return LayerActivations(encoder, name, layers).to(device).eval()
