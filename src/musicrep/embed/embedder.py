"""The :class:`Embedder`: one model, any length of audio, arrays or files (see
:mod:`musicrep.embed` for the framing, timestamps and scene embeddings)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musicrep.embed.models import EncoderEmbedding, resolve_model
from musicrep.embed.output import MIN_SECONDS, EmbedReport, run_job
from musicrep.embed.pipeline import (
    PACK_BYTES,
    _hop_samples,
    _Lane,
    cpu_sub_batch,
    default_workers,
)
from musicrep.errors import ConfigError

#: Most audio (seconds) in one forward batch; bounds peak memory for long-window models.
MAX_BATCH_SECONDS = 120.0

#: Choices of ``Embedder(precision=...)`` / ``--precision``.
PRECISIONS = ("fp32", "bf16")


class Embedder:
    """Scene and timestamp embeddings of any length of audio with one model.

    Parameters
    ----------
    model : str, Path or nn.Module
        See :func:`resolve_model` (exported folder, run folder, zoo name, ``"mfcc"``, module).
    device : str or torch.device
    batch_size : int
        Windows gathered per step (packed across files), capped on the CPU so that one batch
        holds at most ``MAX_BATCH_SECONDS`` (120 s) of audio. On a GPU that is the forward
        batch (large batches, 256, keep it busy). On the CPU the model runs on sub-batches of
        :attr:`forward_batch` windows, the most whose largest layer output fits in 32 MiB
        (:func:`~musicrep.embed.pipeline.cpu_sub_batch`, measured once with one window):
        larger tensors are fresh memory from the kernel on every call, which made musicnn
        ~2.7x slower per window at batch 16 than at batch 1 (see the benchmarks).
    layer : str, optional
        Sub-module whose mean-pooled output is the embedding (see :func:`layer_names`).
    seed : int
        Seed of untrained zoo encoders.
    block_seconds : float
        Length of the blocks long files are read in (memory ~ block + one window).
    workers : int, optional
        Threads that decode, resample and cut files into windows for :meth:`files` while the
        model runs (default :func:`default_workers`: one per core beyond the first, at most
        8; 0 on a single core). Windows of many files are packed into full batches. ``0``: the
        sequential path
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
        #: windows per forward pass: ``batch_size`` on a GPU, fewer on the CPU (cpu_sub_batch)
        self.forward_batch = self.batch_size
        if self.device.type == "cpu":  # activations in host memory: bound them
            self.batch_size = max(1, min(self.batch_size, int(MAX_BATCH_SECONDS // window_seconds)))
            self.forward_batch = cpu_sub_batch(emb, emb.window_samples, self.batch_size)
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
        """``(n, window_samples)`` -> ``(n, embed_dim)`` float32, :attr:`forward_batch`
        windows per forward pass."""
        x = torch.from_numpy(windows)
        if self.device.type == "cuda":
            # page-locked copy, then an asynchronous host-to-device transfer
            x = x.pin_memory().to(self.device, non_blocking=True)
        else:
            x = x.to(self.device)
        step = self.forward_batch
        outs = [self._forward(x[a : a + step]) for a in range(0, len(x), step)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _forward(self, x: torch.Tensor) -> np.ndarray:
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
            or a Ray cluster (:mod:`musicrep.embed.ray_engine`: Ray Data CPU tasks decode, an actor
            pool runs the model). Outputs, resume, failures and writing are the same.
        address : str, optional
            Ray cluster address for ``engine="ray"`` (``"auto"``, ``"ray://host:10001"``);
            None starts a local Ray instance (or joins ``RAY_ADDRESS``).

        Returns
        -------
        EmbedReport

        Notes
        -----
        The output format, resume and writing: :mod:`musicrep.embed.output`. A missing input
        is a ConfigError before any work; unreadable inputs (and broken symbolic links in
        folders) are recorded in ``report.failed`` and the rest go on; files shorter than
        ``min_seconds`` or digitally silent are embedded and listed in ``report.warnings``.
        """
        return run_job(
            self,
            inputs,
            out_dir,
            hop=hop,
            recursive=recursive,
            overwrite=overwrite,
            combine=combine,
            progress=progress,
            shard=shard,
            engine=engine,
            address=address,
        )
