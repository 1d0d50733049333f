"""torch Datasets over manifests: random crops for training, whole tracks for evaluation.

Both datasets read one split of a :class:`~musicrep.data.manifest.Manifest`, check every file's
header up front with :func:`musicrep.audio.info` and drop the files that cannot be used, each
reported once (file, manifest line, reason) as a warning and kept in ``dataset.skipped`` so that a
run can write them to ``skipped.txt``. A file that passes the header check but fails to decode
later (a corrupt frame, a file changed on disk) never stops an epoch: :class:`CropDataset` logs it
and serves the next readable item instead; :class:`TrackDataset` returns an item flagged
``ok=False`` that evaluation leaves out and reports.

Targets are multi-hot float vectors ``(classes,)`` for multi-label tasks and class indices
(``int64`` scalars) for single-label tasks, in the order of the vocabulary. Labels of a
multi-label row that are not in the vocabulary are ignored (so a top-50 vocabulary can be applied
to a manifest with more tags); a single-label row whose class is not in the vocabulary is dropped
and reported.

Regions: a row's ``start`` (seconds, default 0) and ``duration`` (seconds, default to the end of
the file) select the part of the file that the row stands for; crops and chunks are drawn from
that region only.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from musicrep import audio
from musicrep.errors import AudioError, ConfigError

log = logging.getLogger(__name__)

TASKS = ("multilabel", "singlelabel")


@dataclass(frozen=True)
class SkippedFile:
    """A manifest row left out of a dataset, and why."""

    path: str
    reason: str
    line: int | None = None
    split: str | None = None

    def format(self) -> str:
        """One tab-separated line: ``path<TAB>split<TAB>line<TAB>reason``."""
        return f"{self.path}\t{self.split or ''}\t{self.line or ''}\t{self.reason}"


@dataclass(frozen=True)
class _Item:
    path: Path
    start_frame: int  # region start, native frames
    region_frames: int  # region length, native frames
    native_sr: int
    target: Any
    line: int | None
    extra: dict[str, str] | None = None  # the manifest row's other columns (e.g. ``video``)


# --------------------------------------------------------------------------- manifest helpers


def split_rows(manifest: Iterable, split: str | None) -> list:
    """Rows of ``manifest`` whose ``split`` equals ``split`` (all rows when ``split`` is None)."""
    return [r for r in manifest if split is None or r.split == split]


def infer_task(manifest: Iterable) -> str:
    """``"multilabel"`` if some row has several labels (:attr:`Manifest.is_multilabel`), else
    single-label (a row with no label then stops single-label encoding, named)."""
    flag = getattr(manifest, "is_multilabel", None)
    if isinstance(flag, bool):
        return "multilabel" if flag else "singlelabel"
    return "multilabel" if any(len(r.labels) > 1 for r in manifest) else "singlelabel"


def vocabulary(manifest: Iterable) -> list[str]:
    """The sorted label vocabulary of the whole manifest (every split)."""
    vocab = getattr(manifest, "vocabulary", None)
    if callable(vocab):
        return list(vocab())
    return sorted({label for r in manifest for label in r.labels})


def check_task(task: str | None, allow_none: bool = False) -> str | None:
    if task is None and allow_none:
        return None
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def _target(labels: Sequence[str], index: dict[str, int], task: str | None) -> Any:
    if task is None:
        return None
    if task == "multilabel":
        hot = np.zeros(len(index), dtype=np.float32)
        for label in labels:
            j = index.get(label)
            if j is not None:
                hot[j] = 1.0
        return hot
    if len(labels) != 1:
        raise ValueError(f"{len(labels)} labels ({'; '.join(labels)}) in a single-label task")
    if labels[0] not in index:
        raise ValueError(f"class {labels[0]!r} is not in the vocabulary")
    return int(index[labels[0]])


def prepare_items(
    rows: Sequence,
    vocab: Sequence[str],
    task: str | None,
    *,
    split: str | None = None,
) -> tuple[list[_Item], list[SkippedFile]]:
    """Check each row's label and file header; return usable items and the skipped rows.

    Only headers are read (:func:`musicrep.audio.info`), no audio is decoded. Each skipped row is
    also logged as a warning. ``task=None`` ignores the labels (items carry no target).
    """
    check_task(task, allow_none=True)
    index = {label: j for j, label in enumerate(vocab)}
    items: list[_Item] = []
    skipped: list[SkippedFile] = []

    def skip(row, reason: str) -> None:
        entry = SkippedFile(str(row.path), reason, getattr(row, "line", None), split)
        skipped.append(entry)
        where = f"{entry.path}" + (f" (manifest line {entry.line})" if entry.line else "")
        log.warning("skipping %s: %s", where, reason)

    for row in rows:
        try:
            target = _target(tuple(row.labels), index, task)
        except ValueError as exc:
            skip(row, str(exc))
            continue
        try:
            head = audio.info(row.path)
        except AudioError as exc:
            skip(row, exc.reason)
            continue
        if head.frames <= 0:
            skip(row, "contains no audio samples")
            continue
        sr = head.sample_rate
        start = int(round(float(getattr(row, "start", None) or 0.0) * sr))
        if start >= head.frames:
            skip(row, f"start {row.start} s is beyond the end of the file ({head.duration:.3f} s)")
            continue
        duration = getattr(row, "duration", None)
        length = head.frames - start
        if duration is not None:
            length = min(length, max(1, int(round(float(duration) * sr))))
        extra = dict(getattr(row, "extra", None) or {})
        items.append(
            _Item(Path(row.path), start, length, sr, target, getattr(row, "line", None), extra)
        )
    return items, skipped


def _record_failure(failure_log: str | os.PathLike | None, entry: SkippedFile) -> None:
    """Append a decode failure to ``failure_log`` (one line; safe from several worker processes)."""
    if failure_log is None:
        return
    line = (entry.format().replace("\n", " ") + "\n").encode("utf-8")
    fd = os.open(os.fspath(failure_log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (at the end) ``wave`` to exactly ``length`` samples."""
    if len(wave) >= length:
        return wave[:length]
    return np.pad(wave, (0, length - len(wave)))


def _load_region(item: _Item, sample_rate: int, offset: int = 0, frames: int | None = None):
    """Decode ``frames`` native frames of ``item``'s region from ``offset`` (one decode)."""
    start = item.start_frame + offset
    n = item.region_frames - offset if frames is None else min(frames, item.region_frames - offset)
    wave, _ = audio.load(
        item.path, sr=sample_rate, offset=start / item.native_sr, duration=n / item.native_sr
    )
    return wave


# --------------------------------------------------------------------------- datasets


class _ManifestDataset(Dataset):
    def __init__(
        self,
        manifest: Iterable,
        split: str | None,
        vocab: Sequence[str],
        sample_rate: int,
        input_samples: int,
        task: str,
        *,
        failure_log: str | os.PathLike | None = None,
    ):
        if int(input_samples) <= 0 or int(sample_rate) <= 0:
            raise ConfigError(
                f"sample_rate and input_samples must be positive; got {sample_rate}, {input_samples}"
            )
        self.split = split
        self.vocab = list(vocab)
        self.sample_rate = int(sample_rate)
        self.input_samples = int(input_samples)
        self.task = check_task(task, allow_none=True)
        self.failure_log = failure_log
        rows = split_rows(manifest, split)
        self.items, self.skipped = prepare_items(rows, self.vocab, self.task, split=split)
        self._failed: set[int] = set()

    def __len__(self) -> int:
        return len(self.items)

    def _target_tensor(self, item: _Item) -> torch.Tensor:
        if self.task is None:
            raise ConfigError("this dataset has no labels (task=None)")
        if self.task == "multilabel":
            return torch.from_numpy(item.target)
        return torch.tensor(item.target, dtype=torch.long)

    def _report(self, index: int, exc: AudioError) -> None:
        item = self.items[index]
        entry = SkippedFile(str(item.path), exc.reason, item.line, self.split)
        self._failed.add(index)
        warnings.warn(f"skipping {item.path}: {exc.reason}", RuntimeWarning, stacklevel=3)
        _record_failure(self.failure_log, entry)

    def load_wave(self, index: int) -> np.ndarray:
        """The whole region of item ``index``, decoded at ``sample_rate`` (AudioError if not)."""
        return _load_region(self.items[index], self.sample_rate)

    def targets(self) -> np.ndarray:
        """All targets: ``(items, classes)`` multi-hot or ``(items,)`` class indices."""
        return np.stack([np.asarray(it.target) for it in self.items]) if self.items else np.zeros(0)


class CropDataset(_ManifestDataset):
    """One random crop of ``input_samples`` samples per item, new every epoch.

    Parameters
    ----------
    manifest : Manifest
        Rows with absolute ``path``, ``labels``, ``split`` and optional ``start``/``duration``.
    split : str or None
        Which split to serve (``None``: every row).
    vocab : sequence of str
        Label vocabulary; target order.
    sample_rate : int
        Rate in Hz the crops are decoded/resampled to (the model's rate).
    input_samples : int
        Crop length in samples at ``sample_rate`` (the model's native input length).
    task : {"multilabel", "singlelabel"}
        Target format.
    seed : int
        The crop of item ``i`` in epoch ``e`` is drawn from ``numpy.random.default_rng((seed,
        e, i))``: reproducible, independent of worker processes and shuffling order.
    failure_log : path, optional
        File to which late decode failures are appended (one line each, from any worker).

    Notes
    -----
    The crop offset is uniform over the region, in native frames; only the crop is decoded
    (``musicrep.audio.load`` with ``offset``/``duration``). A region shorter than the crop is
    decoded whole and zero-padded at the end. Items are dicts: ``"wave"`` ``(input_samples,)``
    float32, ``"target"`` and ``"index"``.
    """

    def __init__(
        self,
        manifest: Iterable,
        split: str | None,
        vocab: Sequence[str],
        sample_rate: int,
        input_samples: int,
        task: str,
        seed: int = 0,
        *,
        failure_log: str | os.PathLike | None = None,
    ):
        super().__init__(
            manifest,
            split,
            vocab,
            sample_rate,
            input_samples,
            task,
            failure_log=failure_log,
        )
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the crops of ``epoch`` (called by the trainer at every epoch start)."""
        self.epoch = int(epoch)

    def crop_start(self, index: int, key: Sequence[int] = (), samples: int | None = None) -> int:
        """Offset of item ``index``'s crop in this epoch, in native frames from its region start.

        ``key`` (extra integers) draws another crop of the same item and epoch, ``samples`` one
        of another length (default ``input_samples``).
        """
        item = self.items[index]
        n = self.input_samples if samples is None else int(samples)
        crop = int(np.ceil(n * item.native_sr / self.sample_rate))
        room = item.region_frames - crop
        if room <= 0:
            return 0
        rng = np.random.default_rng((self.seed, self.epoch, index, *key))
        return int(rng.integers(0, room + 1))

    def _crop(self, index: int, key: Sequence[int] = (), samples: int | None = None) -> np.ndarray:
        item = self.items[index]
        n = self.input_samples if samples is None else int(samples)
        crop = int(np.ceil(n * item.native_sr / self.sample_rate))
        wave = _load_region(item, self.sample_rate, self.crop_start(index, key, n), crop)
        return _fit_length(wave, n)

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self.items)
        for attempt in range(n):
            i = (index + attempt) % n
            if i in self._failed:
                continue
            try:
                wave = self._crop(i)
            except AudioError as exc:
                self._report(i, exc)
                continue
            return {
                "wave": torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
                "target": self._target_tensor(self.items[i]),
                "index": i,
            }
        raise AudioError(
            f"split {self.split!r}", "no file of this split could be decoded", "check the manifest"
        )


class TrackDataset(_ManifestDataset):
    """Whole tracks cut into ``n_chunks`` equally spaced chunks, for track-level evaluation.

    Parameters
    ----------
    manifest, split, vocab, sample_rate, input_samples, task
        As for :class:`CropDataset`.
    n_chunks : int
        Chunks per track (16 in Won et al. 2020).
    endpoint : bool
        Chunk placement, see :func:`musicrep.audio.equally_spaced_chunks`: ``False`` (default)
        uses Won et al.'s arithmetic ``k * ((len - input_samples) // n_chunks)``; ``True`` spreads
        the chunks so that the last one ends at the end of the track.

    Notes
    -----
    Items are dicts: ``"chunks"`` ``(n_chunks, input_samples)`` float32, ``"target"``,
    ``"index"`` and ``"ok"`` (bool). A track that fails to decode gives zeros with ``ok=False``
    (so batches still collate); it is reported as a warning and in ``failure_log``.
    """

    def __init__(
        self,
        manifest: Iterable,
        split: str | None,
        vocab: Sequence[str],
        sample_rate: int,
        input_samples: int,
        task: str,
        n_chunks: int = 16,
        *,
        endpoint: bool = False,
        failure_log: str | os.PathLike | None = None,
    ):
        super().__init__(
            manifest,
            split,
            vocab,
            sample_rate,
            input_samples,
            task,
            failure_log=failure_log,
        )
        if int(n_chunks) <= 0:
            raise ConfigError(f"n_chunks must be a positive integer; got {n_chunks!r}")
        self.n_chunks = int(n_chunks)
        self.endpoint = bool(endpoint)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        ok = True
        try:
            wave = _load_region(item, self.sample_rate)
            chunks = audio.equally_spaced_chunks(
                wave, self.input_samples, self.n_chunks, endpoint=self.endpoint
            )
        except AudioError as exc:
            self._report(index, exc)
            chunks = np.zeros((self.n_chunks, self.input_samples), dtype=np.float32)
            ok = False
        return {
            "chunks": torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32)),
            "target": self._target_tensor(item),
            "index": index,
            "ok": ok,
        }
