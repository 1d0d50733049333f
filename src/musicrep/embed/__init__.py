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


Modules
-------
:mod:`~musicrep.embed.models` (embedding models, :func:`resolve_model`),
:mod:`~musicrep.embed.pipeline` (framing, decoding into windows, packing batches),
:mod:`~musicrep.embed.embedder` (:class:`Embedder`), :mod:`~musicrep.embed.plan` (inputs,
output names, shards), :mod:`~musicrep.embed.local` and :mod:`~musicrep.embed.ray_engine`
(the engines), :mod:`~musicrep.embed.output` (resume, writing, combining, the report).
"""

from musicrep.embed.embedder import MAX_BATCH_SECONDS, PRECISIONS, Embedder
from musicrep.embed.models import (
    _CONTAINERS,
    MFCC_WINDOW_SECONDS,
    ClipAccumulator,
    EmbeddingModel,
    EncoderEmbedding,
    FeatureEmbedding,
    MfccEmbedding,
    _called_modules,
    _pool,
    layer_names,
    resolve_model,
)
from musicrep.embed.output import ENGINES, MIN_SECONDS, EmbedReport, _summary, input_warnings
from musicrep.embed.pipeline import (
    PACK_BYTES,
    _Framer,
    _Loaded,
    _Packer,
    default_workers,
    frame_starts,
)
from musicrep.embed.plan import AUDIO_EXTENSIONS

__all__ = [
    "AUDIO_EXTENSIONS",
    "ENGINES",
    "MAX_BATCH_SECONDS",
    "MFCC_WINDOW_SECONDS",
    "MIN_SECONDS",
    "PACK_BYTES",
    "PRECISIONS",
    "ClipAccumulator",
    "EmbedReport",
    "Embedder",
    "EmbeddingModel",
    "EncoderEmbedding",
    "FeatureEmbedding",
    "MfccEmbedding",
    "default_workers",
    "frame_starts",
    "input_warnings",
    "layer_names",
    "resolve_model",
]

# used by musicrep.analysis.layers, the CLI and the tests
_PRIVATE = (_CONTAINERS, _Framer, _Loaded, _Packer, _called_modules, _pool, _summary)
