"""The input pipeline: framing, decoding whole files into windows, and packing batches.

* :func:`frame_starts` / :class:`_Framer`: where windows start (the framing of
  :mod:`musicrep.embed`), for a whole signal or block by block;
* :class:`_Lane`: the windows of one hop, streamed through the model batch by batch (the
  sequential path and long files);
* :func:`load_windows`: a whole file decoded, resampled and cut into windows (what the local
  engine's worker threads and the Ray engine's CPU tasks run) as a :class:`_Loaded`;
* :class:`_Packer`: windows of many files packed into full batches, outputs split back per file;
  :func:`finish` turns a packed file's outputs into what :meth:`Embedder._embed_stream` returns.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from musicrep.errors import ConfigError

if TYPE_CHECKING:
    from musicrep.embed.embedder import Embedder

#: A file whose windows take more than this many bytes is streamed instead of packed.
PACK_BYTES = 64 * 2**20

#: On the CPU the model runs on sub-batches whose largest layer output stays under this many
#: bytes (:func:`cpu_sub_batch`): 32 MiB is glibc's largest ``mmap`` threshold, above which
#: every tensor is fresh memory from the kernel (page faults, zeroing) on every call.
CPU_TENSOR_BYTES = 32 * 2**20


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


# ============================================================================ batches


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


def largest_output_bytes(model: torch.nn.Module, window_samples: int) -> int:
    """Bytes of the largest leaf-module output for one window (one forward pass on the CPU)."""
    largest = 0

    def hook(_module, _inputs, out) -> None:
        nonlocal largest
        if isinstance(out, torch.Tensor):
            largest = max(largest, out.numel() * out.element_size())

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, window_samples))
    finally:
        for handle in handles:
            handle.remove()
    return largest


def cpu_sub_batch(model: torch.nn.Module, window_samples: int, batch_size: int) -> int:
    """Windows per forward pass on the CPU: the most (up to ``batch_size``) whose largest layer
    output fits in :data:`CPU_TENSOR_BYTES`.

    Measured (``benchmarks/README.md``, "Embedding pipeline"): musicnn's timbral convolutions
    output 8.6 MB per window; a batch of 16 windows ran ~2.7x slower per window than 16
    batches of one on the 2-core CPU (each 140 MB output freshly mapped and faulted in), and
    a batch of 4 (34 MB) was already slow.
    """
    largest = largest_output_bytes(model, window_samples)
    return max(1, min(batch_size, CPU_TENSOR_BYTES // max(largest, 1)))


def default_workers() -> int:
    """Decoding threads by default: one per core beyond the first (the model's), at most 8;
    0 (the sequential path) on a single core.

    On the 2-core CPU one decoding thread beside the model beat the sequential path side by side
    (musicnn-mtt, 20 x 10 s files: 1.31x vs 1.04x the reference extractor at 2 torch threads,
    1.50x vs 1.29x at 1; ``benchmarks/README.md``, "Embedding pipeline").
    """
    cores = os.cpu_count() or 1
    return 0 if cores <= 1 else min(8, cores - 1)


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


def load_windows(
    embedder: Embedder, path: Path, hop_s: float, scene_lane: bool, limit: bool = True
) -> _Loaded | None:
    """Decode a whole file into its windows (in a worker); None if too long to hold
    (``embedder.pack_bytes``, unless ``limit`` is False)."""
    from musicrep import audio

    meta = audio.info(path)
    rate = embedder.sample_rate / meta.sample_rate
    window = embedder.window_samples
    expected = meta.frames * rate * window / hop_s * (1 + scene_lane)
    if limit and expected * 4 > embedder.pack_bytes:
        return None
    acc = embedder.model.clip_accumulator()
    parts, peak = [], 0.0
    for block in embedder._blocks(path):
        if len(block):
            parts.append(block)
            peak = max(peak, float(np.abs(block).max()))
            if acc is not None:
                acc.update(block)
    if not parts:
        raise ConfigError("cannot embed an empty signal (0 samples)")
    x = np.concatenate(parts)
    windows, starts, valid = _windows(x, window, hop_s)
    lanes = [windows]
    if scene_lane:
        lanes.append(_windows(x, window, float(window))[0])
    clip = None if acc is None else np.asarray(acc.result(), dtype=np.float32)
    return _Loaded(lanes, starts, valid, clip, len(x), peak)


def finish(embedder: Embedder, item: _Loaded, hop: float | None) -> tuple:
    """A packed file's outputs as :meth:`Embedder._embed_stream` returns them."""
    emb = np.concatenate(item.outs[0]).astype(np.float32, copy=False)
    centre = item.starts.astype(np.float64) + item.valid.astype(np.float64) / 2
    times = centre / float(embedder.sample_rate)
    if item.clip is not None:
        clip = item.clip
    elif len(item.outs) > 1:
        clip = np.concatenate(item.outs[1]).mean(axis=0)
    else:
        clip = emb.mean(axis=0)
    return emb, times, clip, item.n, item.peak


def _read_ahead(blocks: Iterator[np.ndarray], pool) -> Iterator[np.ndarray]:
    """Decode the next block in ``pool`` while the caller works on the current one."""
    fut = pool.submit(next, blocks, None)
    while True:
        block = fut.result()
        if block is None:
            return
        fut = pool.submit(next, blocks, None)
        yield block
