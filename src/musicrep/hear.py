"""The HEAR 2021 API (``load_model``, ``get_timestamp_embeddings``, ``get_scene_embeddings``).

Any musicrep model can be evaluated with the HEAR benchmark tools (``hear-eval-kit``) through
this module, whose three functions follow the common API of the HEAR 2021 challenge
(https://hearbenchmark.com/hear-api.html):

    >>> import torch
    >>> from musicrep import hear
    >>> model = hear.load_model("models/hcnn-corpus")                # doctest: +SKIP
    >>> model = hear.load_model("", model="samplecnn", hop_ms=250)   # untrained, seeded
    >>> audio = torch.zeros(2, 16000)                   # (n_sounds, n_samples) at sample_rate
    >>> emb, ts = hear.get_timestamp_embeddings(audio, model)
    >>> emb.shape, ts.shape                             # (n_sounds, n_timestamps, D), ms
    (torch.Size([2, 5, 512]), torch.Size([2, 5]))
    >>> hear.get_scene_embeddings(audio, model).shape
    torch.Size([2, 512])

With hear-eval-kit: ``python -m heareval.embeddings.runner musicrep.hear --model
models/hcnn-corpus`` (options with ``--model-options '{"hop_ms": 25}'``).

Models
------
``load_model(model_file_path)`` takes what :func:`musicrep.embed.resolve_model` takes: an
exported model folder, a training run folder, a zoo name (untrained encoder, seeded) or
``"mfcc"``. An empty path uses ``options["model"]`` (default :data:`DEFAULT_MODEL`, the MFCC
baseline: the HEAR validator and quick checks run in seconds). Options (all optional):

* ``model``: used when ``model_file_path`` is empty;
* ``hop_ms``: hop of the timestamp embeddings in milliseconds (:data:`DEFAULT_HOP_MS` = 50, the
  largest hop HEAR recommends: music transcription is scored with a 50 ms onset tolerance);
* ``window_seconds``: window length (default: the model's native input; zoo models are rebuilt
  for another length, keeping trained weights when they do not depend on it);
* ``batch_size`` (windows per forward pass, 32; on the CPU fewer when the model's layer outputs
  are large, as :class:`~musicrep.embed.Embedder`'s ``forward_batch``), ``layer`` (see :mod:`musicrep.embed`),
  ``seed`` (untrained zoo encoders, 0).

Framing (timestamp embeddings)
------------------------------
HEAR wants embeddings centred on their timestamps. Each sound is padded with ``W // 2`` zeros
before and ``W - W // 2`` after (``W`` the window in samples); window ``k`` starts at padded
sample ``floor(k * hop + 0.5)`` with the hop in samples kept as a float, so it is centred on
sample ``k * hop`` of the sound (within one sample) and never drifts, at any rate. Timestamps
are ``k * hop_ms`` exactly (float32 milliseconds), for ``k = 0 .. floor(duration / hop)``: the
first is 0, the last lies within one hop of the end and never past it, and every sound of a
batch gets the same timestamps.

The cost of HEAR's 50 ms hop: every window of ``W`` seconds is recomputed every 50 ms, so a
second of audio costs ``W / 0.05`` seconds of network input: 74 windows-worth for a 3.69 s
model, where :class:`musicrep.embed.Embedder`'s default non-overlapping windows cost one
(``benchmarks/README.md``, "Embedding", has measured rates). Raise ``hop_ms`` or shorten
``window_seconds`` when that matters more than HEAR's recommendation.

Scene embeddings
----------------
The same as :meth:`musicrep.embed.Embedder.scene`: the mean of non-overlapping window
embeddings (the last window zero-padded), or for ``"mfcc"`` the MFCC statistics of the whole
sound; they do not depend on ``hop_ms``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor, nn

from musicrep.embed import EmbeddingModel, EncoderEmbedding, frame_starts, resolve_model
from musicrep.errors import ConfigError

__all__ = [
    "DEFAULT_HOP_MS",
    "DEFAULT_MODEL",
    "HEAR_SAMPLE_RATES",
    "HearModel",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "load_model",
]

#: Model used by ``load_model("")`` when no ``model`` option is given.
DEFAULT_MODEL = "mfcc"
#: Hop of the timestamp embeddings in ms (HEAR suggests <= 50 ms).
DEFAULT_HOP_MS = 50.0
#: Sample rates HEAR tasks are distributed at (Hz).
HEAR_SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)

_OPTIONS = ("model", "hop_ms", "window_seconds", "batch_size", "layer", "seed")


class HearModel(nn.Module):
    """An :class:`~musicrep.embed.EmbeddingModel` with the attributes HEAR requires.

    Attributes
    ----------
    sample_rate : int
        Rate the input audio must have (HEAR never resamples for the model).
    scene_embedding_size, timestamp_embedding_size : int
        Embedding sizes (equal).
    hop_ms : float
        Hop of the timestamp embeddings in milliseconds.
    batch_size : int
        Windows per forward pass.
    embedding : EmbeddingModel
        The wrapped model (``model.to(device)`` moves it).
    """

    def __init__(self, embedding: EmbeddingModel, hop_ms: float = DEFAULT_HOP_MS, batch_size=32):
        super().__init__()
        ok = isinstance(hop_ms, (int, float)) and math.isfinite(hop_ms) and hop_ms > 0
        if not ok:
            raise ConfigError(f"hop_ms must be a positive number of milliseconds; got {hop_ms!r}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer; got {batch_size!r}")
        self.embedding = embedding.eval()
        self.sample_rate = int(embedding.sample_rate)
        self.scene_embedding_size = int(embedding.embed_dim)
        self.timestamp_embedding_size = int(embedding.embed_dim)
        self.window_samples = int(embedding.window_samples)
        self.hop_ms = float(hop_ms)
        self.batch_size = int(batch_size)
        self._cpu_batch: int | None = None  # cpu_sub_batch, measured on first use
        if self.sample_rate not in HEAR_SAMPLE_RATES:
            warnings.warn(
                f"{embedding.name} runs at {self.sample_rate} Hz; HEAR tasks come at "
                f"{', '.join(map(str, HEAR_SAMPLE_RATES))} Hz only",
                stacklevel=2,
            )
        if self.hop_ms * self.sample_rate / 1000 < 1:
            raise ConfigError(
                f"hop_ms {hop_ms:g} is shorter than one sample at {self.sample_rate} Hz"
            )

    @property
    def device(self) -> torch.device:
        p = next(self.embedding.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def extra_repr(self) -> str:
        return (
            f"name={self.embedding.name!r}, sample_rate={self.sample_rate}, "
            f"window_samples={self.window_samples}, hop_ms={self.hop_ms:g}, "
            f"embedding_size={self.timestamp_embedding_size}"
        )

    def _forward_batch(self, device: torch.device) -> int:
        """``batch_size`` on a GPU; on the CPU at most what keeps the largest layer output
        under 32 MiB (:func:`musicrep.embed.pipeline.cpu_sub_batch`)."""
        if device.type != "cpu":
            return self.batch_size
        if self._cpu_batch is None:
            from musicrep.embed.pipeline import cpu_sub_batch

            self._cpu_batch = cpu_sub_batch(self.embedding, self.window_samples, self.batch_size)
        return self._cpu_batch

    def _embed_windows(self, padded: Tensor, starts: np.ndarray, out: Tensor) -> None:
        """Fill ``out (n_sounds, T, D)`` with the embeddings of windows ``padded[i, s:s+W]``."""
        n_sounds = padded.shape[0]
        n_frames = len(starts)
        offsets = torch.arange(self.window_samples, device=padded.device)
        starts_t = torch.as_tensor(starts, device=padded.device)
        total = n_sounds * n_frames
        device = self.device
        step = self._forward_batch(device)
        for a in range(0, total, step):
            flat = torch.arange(a, min(a + step, total), device=padded.device)
            sound, frame = flat // n_frames, flat % n_frames
            index = starts_t[frame][:, None] + offsets[None, :]
            windows = padded[sound[:, None], index].to(device)
            emb = self.embedding(windows).float()
            out[sound.to(out.device), frame.to(out.device)] = emb.to(out.device)


def _check_audio(audio: Tensor, model: HearModel) -> Tensor:
    if not isinstance(model, HearModel):
        raise ConfigError(
            f"model must come from musicrep.hear.load_model; got {type(model).__name__}"
        )
    if not isinstance(audio, Tensor):
        audio = torch.as_tensor(np.asarray(audio))
    if audio.dim() != 2:
        raise ConfigError(
            f"audio must be (n_sounds, n_samples); got shape {tuple(audio.shape)}",
            "stack the sounds of a batch, padded or trimmed to one length",
        )
    if audio.shape[1] == 0:
        raise ConfigError("audio has 0 samples")
    return audio.float()


def load_model(model_file_path: str | nn.Module = "", **options) -> HearModel:
    """Load a model for the HEAR API.

    Parameters
    ----------
    model_file_path : str or nn.Module
        Exported model folder, training run folder, zoo name or ``"mfcc"``; ``""`` uses
        ``options["model"]`` (default :data:`DEFAULT_MODEL`). An encoder module (see
        :func:`musicrep.embed.resolve_model`) is accepted too.
    **options
        ``model``, ``hop_ms``, ``window_seconds``, ``batch_size``, ``layer``, ``seed`` (see the
        module docstring).

    Returns
    -------
    HearModel
        A ``torch.nn.Module`` with ``sample_rate``, ``scene_embedding_size`` and
        ``timestamp_embedding_size``, on the CPU in eval mode.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for musicrep.hear.load_model",
            f"valid options: {', '.join(_OPTIONS)}",
        )
    given = isinstance(model_file_path, nn.Module) or bool(model_file_path)
    if isinstance(model_file_path, nn.Module):
        spec = model_file_path
    else:
        spec = str(model_file_path) if given else options.get("model", DEFAULT_MODEL)
    if given and options.get("model") is not None and options["model"] is not spec:
        raise ConfigError(
            f"both model_file_path {model_file_path!r} and option model={options['model']!r}",
            "give one of them",
        )
    window = options.get("window_seconds")
    input_samples = None
    if window is not None:
        if not (isinstance(window, (int, float)) and window > 0):
            raise ConfigError(f"window_seconds must be > 0; got {window!r}")
        probe = resolve_model(spec, seed=int(options.get("seed", 0)))
        input_samples = max(1, int(round(window * probe.sample_rate)))
    embedding = resolve_model(spec, seed=int(options.get("seed", 0)), input_samples=input_samples)
    layer = options.get("layer")
    if layer is not None:
        if not isinstance(embedding, EncoderEmbedding):
            raise ConfigError(f"option layer needs a neural encoder; {embedding.name!r} has none")
        embedding = EncoderEmbedding(embedding.encoder, embedding.name, layer=layer)
    return HearModel(
        embedding,
        hop_ms=options.get("hop_ms", DEFAULT_HOP_MS),
        batch_size=options.get("batch_size", 32),
    )


def get_timestamp_embeddings(audio: Tensor, model: HearModel) -> tuple[Tensor, Tensor]:
    """Embeddings centred every ``model.hop_ms`` milliseconds.

    Parameters
    ----------
    audio : Tensor
        ``(n_sounds, n_samples)`` mono audio in [-1, 1] at ``model.sample_rate``.
    model : HearModel
        From :func:`load_model`.

    Returns
    -------
    embeddings : Tensor, float32
        ``(n_sounds, n_timestamps, timestamp_embedding_size)``, on ``audio``'s device.
    timestamps : Tensor, float32
        ``(n_sounds, n_timestamps)`` frame centres in milliseconds: ``k * hop_ms``.
    """
    audio = _check_audio(audio, model)
    n_sounds, n = audio.shape
    hop = model.hop_ms * model.sample_rate / 1000.0
    n_frames = int(math.floor(n / hop + 1e-9)) + 1
    k = np.arange(n_frames)
    starts = np.floor(k * hop + 0.5).astype(np.int64)
    w = model.window_samples
    padded = torch.nn.functional.pad(audio, (w // 2, w - w // 2))
    out = torch.empty(n_sounds, n_frames, model.timestamp_embedding_size, device=audio.device)
    with torch.no_grad():
        model._embed_windows(padded, starts, out)
    times = torch.as_tensor(k * model.hop_ms, dtype=torch.float32, device=audio.device)
    return out, times.expand(n_sounds, n_frames).clone()


def get_scene_embeddings(audio: Tensor, model: HearModel) -> Tensor:
    """One embedding per sound.

    Parameters
    ----------
    audio : Tensor
        ``(n_sounds, n_samples)`` at ``model.sample_rate``.
    model : HearModel

    Returns
    -------
    Tensor, float32
        ``(n_sounds, scene_embedding_size)`` on ``audio``'s device: the mean of the
        non-overlapping window embeddings, or the model's clip statistics (``"mfcc"``).
    """
    audio = _check_audio(audio, model)
    n_sounds, n = audio.shape
    if model.embedding.clip_accumulator() is not None:
        rows = []
        for sound in audio.detach().cpu().numpy():
            acc = model.embedding.clip_accumulator()
            acc.update(sound)
            rows.append(acc.result())
        return torch.as_tensor(np.stack(rows), dtype=torch.float32, device=audio.device)
    w = model.window_samples
    starts, _ = frame_starts(n, w, float(w))
    padded = torch.nn.functional.pad(audio, (0, int(starts[-1]) + w - n))
    out = torch.empty(n_sounds, len(starts), model.scene_embedding_size, device=audio.device)
    with torch.no_grad():
        model._embed_windows(padded, starts, out)
    return out.mean(dim=1)
