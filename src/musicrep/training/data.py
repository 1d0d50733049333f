"""Training data: datasets that produce the named views an objective declares, and their loaders.

An objective declares the views of its batches (:class:`musicrep.objectives.View`); a
:class:`ViewDataset` over one split of a manifest makes them, per clip:

=========  ==========================================================================
kind       what the view holds
=========  ==========================================================================
``crop``   a random crop (new every epoch; the first crop view of a batch is the crop of
           :class:`~musicrep.data.CropDataset`, further crop views are independent crops)
``same``   the waveform of another view (e.g. a distorted input of the clean target's crop)
``other``  a random crop of another clip of the split (negatives: LIM/GIM's "other track")
``track``  the whole track as equally spaced chunks ``(chunks, samples)`` (validation and
           test of tagging objectives); the item also carries ``"ok"``
``frames`` the face frames (manifest column ``video``: a video file, a folder of frame
           images or a ``.npy`` array, see :mod:`musicrep.video`) that show the audio of its
           ``source`` view: the same crop (or each chunk of a track view), sampled at a fixed
           rate, resized, ``(time, 3, H, W)`` in [0, 1]; the item also carries
           ``"<name>_mask"`` (False for frames past the end of the video)
=========  ==========================================================================

plus ``"target"`` when the objective needs labels and ``"index"``. Typical sets:
supervised ``wave`` (+ ``target``); contrastive ``view_a`` + ``view_b`` (two crops, each with
its own augmentation); denoising workers ``clean`` + ``noisy`` (``same`` of ``clean`` with a
distortion); LIM/GIM ``wave`` + ``context`` (a crop of the same track) + ``other`` (a crop of
another track). Transforms are applied by the trainer on the device, batched; the datasets
only decode. New kinds register a maker in :data:`VIEW_MAKERS`.

Randomness is a function of ``(seed, epoch, index, view)`` only (never of worker processes or
of the global generators), and :class:`EpochSampler` shuffles with a generator seeded by
``(seed, epoch)``, so an epoch's batches are the same whether the run was interrupted and
resumed or not. Validation sets draw their crops with epoch 0, always the same.

Manifests without labels work for objectives that need none (``task=None``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from musicrep import audio
from musicrep.data.dataset import CropDataset, TrackDataset, _load_region
from musicrep.errors import AudioError, ConfigError
from musicrep.objectives.base import View
from musicrep.registry import Registry

log = logging.getLogger(__name__)

#: ``kind -> maker(dataset, index, position, view, made) -> Tensor``: how a view is made.
#: ``made`` holds the views of the item made so far (in the declared order). A maker raises
#: :class:`~musicrep.errors.AudioError` when the item's audio cannot be decoded.
VIEW_MAKERS: Registry[Callable[..., torch.Tensor]] = Registry("view kind")


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@VIEW_MAKERS.register("crop")
def _crop_view(ds: ViewDataset, index: int, k: int, view: View, made: dict) -> torch.Tensor:
    key = () if k == ds.first_crop else (k,)
    return _tensor(ds._crop(index, key, ds.view_samples(view)))


@VIEW_MAKERS.register("same")
def _same_view(ds: ViewDataset, index: int, k: int, view: View, made: dict) -> torch.Tensor:
    return made[view.source].clone()


@VIEW_MAKERS.register("other")
def _other_view(ds: ViewDataset, index: int, k: int, view: View, made: dict) -> torch.Tensor:
    n = len(ds.items)
    rng = np.random.default_rng((ds.seed, ds.epoch, index, k, 1))
    order = rng.permutation(n)
    candidates = [int(j) for j in order if j != index and j not in ds._failed] or [index]
    for j in candidates:
        try:
            return _tensor(ds._crop(j, (k, index), ds.view_samples(view)))
        except AudioError as exc:
            if j == index:
                raise
            ds._report(j, exc)
    raise AudioError(f"split {ds.split!r}", "no other file of this split could be decoded")


@VIEW_MAKERS.register("track")
def _track_view(ds: ViewDataset, index: int, k: int, view: View, made: dict) -> torch.Tensor:
    wave = _load_region(ds.items[index], ds.sample_rate)
    chunks = audio.equally_spaced_chunks(
        wave, ds.view_samples(view), ds.view_chunks(view), endpoint=ds.endpoint
    )
    return _tensor(chunks)


#: Defaults of a ``frames`` view's options (see :class:`musicrep.objectives.View`).
FRAME_DEFAULTS = {
    "size": 48,
    "fps": 25.0,
    "num_frames": None,
    "column": "video",
    "source_fps": None,
}


def frame_options(view: View) -> dict[str, Any]:
    """A ``frames`` view's options with the defaults filled in (ConfigError on unknown keys)."""
    options = dict(view.options or {})
    unknown = sorted(set(options) - set(FRAME_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} of frames view {view.name!r}",
            f"valid: {', '.join(FRAME_DEFAULTS)}",
        )
    return {**FRAME_DEFAULTS, **options}


def _frame_windows(ds: ViewDataset, index: int, view: View) -> tuple[list[float], float, bool]:
    """``(starts, seconds, chunked)``: the audio windows (s from the file start) of the view
    ``view`` follows."""
    item = ds.items[index]
    k = next(i for i, v in enumerate(ds.views) if v.name == view.source)
    source = ds.views[k]
    samples = ds.view_samples(source)
    seconds = samples / ds.sample_rate
    base = item.start_frame / item.native_sr
    if source.kind == "crop":
        key = () if k == ds.first_crop else (k,)
        return [base + ds.crop_start(index, key, samples) / item.native_sr], seconds, False
    if source.kind == "track":
        total = int(round(item.region_frames * ds.sample_rate / item.native_sr))
        offsets = audio.chunk_offsets(total, samples, ds.view_chunks(source), endpoint=ds.endpoint)
        return [base + o / ds.sample_rate for o in offsets], seconds, True
    raise ConfigError(
        f"frames view {view.name!r} follows {source.name!r} of kind {source.kind!r}",
        "a frames view follows a crop or a track view",
    )


@VIEW_MAKERS.register("frames")
def _frames_view(ds: ViewDataset, index: int, k: int, view: View, made: dict) -> torch.Tensor:
    from musicrep import video

    opts = frame_options(view)
    path = ds.video_path(index, opts["column"])
    starts, seconds, chunked = _frame_windows(ds, index, view)
    frames, masks = [], []
    for start in starts:
        times = video.frame_times(start, seconds, opts["fps"], opts["num_frames"])
        x, mask = video.read_frames_at(path, times, fps=opts["source_fps"], size=opts["size"])
        frames.append(video.frames_to_tensor(x))
        masks.append(torch.from_numpy(mask))
    out, mask = torch.stack(frames), torch.stack(masks)
    if not chunked:
        out, mask = out[0], mask[0]
    made[f"{view.name}_mask"] = mask
    return out


class ViewDataset(CropDataset):
    """The named views of one split of a manifest (see the module docstring).

    Parameters
    ----------
    manifest : Manifest
    split : str or None
        The split served (None: every row).
    views : sequence of View
        What each item holds.
    vocab : sequence of str
        Label vocabulary (target order); ignored when ``task`` is None.
    sample_rate : int
        Rate in Hz the audio is decoded/resampled to.
    samples : int
        Default samples per crop (the objective's example length).
    task : {"multilabel", "singlelabel"} or None
        Target format; None: no targets (label-free objectives, unlabelled manifests).
    seed : int
        Seeds every crop (with the epoch, the item and the view).
    chunks : int
        Default chunks of ``track`` views.
    endpoint : bool
        Chunk placement of ``track`` views (:func:`musicrep.audio.equally_spaced_chunks`).
    failure_log : path, optional
        Where decode failures are appended (one line each, from any worker).

    Notes
    -----
    A clip that fails to decode never stops an epoch: without ``track`` views the next readable
    item is served instead (as :class:`~musicrep.data.CropDataset`); with them the item holds
    zeros and ``ok=False`` (as :class:`~musicrep.data.TrackDataset`). Items are dicts of
    float32 tensors (the views), ``"target"`` (with a task), ``"index"`` and, with ``track``
    views, ``"ok"``.
    """

    def __init__(
        self,
        manifest: Iterable,
        split: str | None,
        views: Sequence[View],
        vocab: Sequence[str],
        sample_rate: int,
        samples: int,
        task: str | None,
        seed: int = 0,
        *,
        chunks: int = 16,
        endpoint: bool = False,
        failure_log: str | os.PathLike | None = None,
    ):
        super().__init__(
            manifest,
            split,
            vocab if task is not None else [],
            sample_rate,
            samples,
            task,
            seed,
            failure_log=failure_log,
        )
        self.views = tuple(views)
        self.chunks = int(chunks)
        self.endpoint = bool(endpoint)
        _check_views(self.views)
        crops = [k for k, v in enumerate(self.views) if v.kind == "crop"]
        self.first_crop = crops[0] if crops else -1
        self.tracks = any(v.kind == "track" for v in self.views)
        self.root = Path(getattr(manifest, "root", None) or os.getcwd())

    def video_path(self, index: int, column: str = "video") -> Path:
        """The video/frames source of item ``index`` (its manifest ``column``, relative paths
        resolved against the manifest's folder)."""
        item = self.items[index]
        cell = (item.extra or {}).get(column, "")
        if not cell:
            raise AudioError(
                item.path,
                f"no {column!r} entry in the manifest for this clip",
                f"add a {column!r} column (video file, frames folder or .npy) to the manifest",
            )
        p = Path(cell)
        return p if p.is_absolute() else self.root / p

    def view_samples(self, view: View) -> int:
        """Samples of ``view``'s crops or chunks."""
        return int(view.samples or self.input_samples)

    def view_chunks(self, view: View) -> int:
        """Chunks per track of a ``track`` view."""
        return int(view.chunks or self.chunks)

    def _zeros(self, view: View) -> torch.Tensor:
        n = self.view_samples(view)
        shape = (self.view_chunks(view), n) if view.kind == "track" else (n,)
        return torch.zeros(shape, dtype=torch.float32)

    def _frame_zeros(self, view: View) -> tuple[torch.Tensor, torch.Tensor]:
        from musicrep import video

        opts = frame_options(view)
        source = next(v for v in self.views if v.name == view.source)
        seconds = self.view_samples(source) / self.sample_rate
        t = len(video.frame_times(0.0, seconds, opts["fps"], opts["num_frames"]))
        lead = (self.view_chunks(source),) if source.kind == "track" else ()
        size = int(opts["size"])
        return torch.zeros((*lead, t, 3, size, size)), torch.zeros((*lead, t), dtype=torch.bool)

    def _failed_item(self) -> dict[str, torch.Tensor]:
        made: dict[str, torch.Tensor] = {}
        for v in self.views:
            if v.kind == "frames":
                made[v.name], made[f"{v.name}_mask"] = self._frame_zeros(v)
            else:
                made[v.name] = self._zeros(v)
        return made

    def _make(self, index: int) -> dict[str, torch.Tensor]:
        made: dict[str, torch.Tensor] = {}
        for k, view in enumerate(self.views):
            made[view.name] = VIEW_MAKERS.get(view.kind)(self, index, k, view, made)
        return made

    def _item(self, index: int, made: dict[str, Any]) -> dict[str, Any]:
        if self.task is not None:
            made["target"] = self._target_tensor(self.items[index])
        made["index"] = index
        return made

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.tracks:
            try:
                made: dict[str, Any] = self._make(index)
                ok = True
            except AudioError as exc:
                self._report(index, exc)
                made, ok = self._failed_item(), False
            made["ok"] = ok
            return self._item(index, made)
        n = len(self.items)
        for attempt in range(n):
            i = (index + attempt) % n
            if i in self._failed:
                continue
            try:
                return self._item(i, self._make(i))
            except AudioError as exc:
                self._report(i, exc)
        raise AudioError(
            f"split {self.split!r}", "no file of this split could be decoded", "check the manifest"
        )


def _check_views(views: Sequence[View]) -> None:
    if not views:
        raise ConfigError("an objective must declare at least one view")
    names = [v.name for v in views]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"views {dup} are declared twice")
    seen: set[str] = set()
    for v in views:
        if v.kind not in VIEW_MAKERS:
            raise ConfigError(
                f"view {v.name!r} has unknown kind {v.kind!r}; valid: {', '.join(VIEW_MAKERS.names())}"
            )
        if v.kind in ("same", "frames") and v.source not in seen:
            raise ConfigError(
                f"view {v.name!r} follows {v.source!r}, which is not declared before it"
            )
        if v.kind == "frames":
            frame_options(v)
        seen.add(v.name)


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (numpy's SeedSequence)."""
    return int(
        np.random.SeedSequence([int(v) for v in values]).generate_state(1, np.uint64)[0] >> 1
    )


class EpochSampler(Sampler[int]):
    """A shuffle that depends on ``(seed, epoch)`` only (so resumed runs see the same order).

    Parameters
    ----------
    size : int
        Number of items.
    seed : int
    dataset : optional
        A dataset with ``set_epoch``, kept at the sampler's epoch (Lightning sets the epoch of
        samplers before each epoch).
    """

    def __init__(self, size: int, seed: int = 0, dataset: Any = None):
        self.size = int(size)
        self.seed = int(seed)
        self.epoch = 0
        self.dataset = dataset

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if self.dataset is not None and hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(_mix(self.seed, self.epoch, 17))
        return iter(torch.randperm(self.size, generator=g).tolist())

    def __len__(self) -> int:
        return self.size


def _next_epoch(trainer: L.Trainer | None) -> int:
    """The epoch a trainer trains next: its current epoch, except right after restoring a
    checkpoint written at the end of an epoch (Lightning makes the first loader of a resumed
    run before it moves to the next epoch)."""
    if trainer is None:
        return 0
    try:
        return int(trainer.fit_loop.epoch_progress.current.processed)
    except AttributeError:  # pragma: no cover - other Lightning versions
        return int(trainer.current_epoch)


class ViewDataModule(L.LightningDataModule):
    """Loaders over a training and a validation :class:`ViewDataset`.

    Training batches are shuffled by :class:`EpochSampler`; the last incomplete batch is dropped
    (when there is more than one batch). Validation batches hold ``batch_size`` examples, or
    ``batch_size // chunks`` whole tracks (at least one). Loader processes draw their seeds from
    a generator seeded by ``(seed, epoch)``, never from the global one.
    """

    def __init__(
        self,
        train_set: ViewDataset,
        valid_set: ViewDataset,
        batch_size: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.train_set = train_set
        self.valid_set = valid_set
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.seed = int(seed)
        self.sampler = EpochSampler(len(train_set), seed, train_set)
        self._generator = torch.Generator()

    def set_epoch(self, epoch: int) -> None:
        """Select the crops, the order and the loader seeds of ``epoch`` (called when the loader
        is made and at every epoch start, by :class:`DataEpoch`)."""
        self.sampler.set_epoch(epoch)
        self._generator.manual_seed(_mix(self.seed, epoch, 23))

    def train_dataloader(self) -> DataLoader:
        self.set_epoch(_next_epoch(self.trainer))
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=self.sampler,
            drop_last=len(self.train_set) > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            generator=self._generator,
        )

    def valid_batch_size(self) -> int:
        if not getattr(self.valid_set, "tracks", False):
            return self.batch_size
        chunks = max(self.valid_set.view_chunks(v) for v in self.valid_set.views)
        return max(1, self.batch_size // chunks)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.valid_set,
            batch_size=self.valid_batch_size(),
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(_mix(self.seed, 29)),
        )


class DataEpoch(L.Callback):
    """Tells the :class:`ViewDataModule` which epoch's crops, order and seeds to use (at every
    epoch start, before the epoch's loader iterator is made)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dm = trainer.datamodule
        if isinstance(dm, ViewDataModule):
            dm.set_epoch(trainer.current_epoch)


@dataclass
class EvalData:
    """What an objective's final evaluation needs (:meth:`Objective.evaluate`).

    Attributes
    ----------
    manifest : Manifest
    split : str
        The test split.
    sample_rate : int
    chunks : int
        Chunks per track (``evaluation.chunks``).
    endpoint : bool
    device : torch.device
    batch_size : int
    num_workers : int
    show_progress : bool
    failure_log : path, optional
    """

    manifest: Any
    split: str
    sample_rate: int
    chunks: int
    endpoint: bool
    device: torch.device
    batch_size: int
    num_workers: int
    show_progress: bool
    failure_log: str | os.PathLike | None = None

    def track_dataset(
        self, vocab: Sequence[str], task: str, input_samples: int
    ) -> TrackDataset | None:
        """Whole tracks of the test split, or None (a message printed) when it has no rows."""
        test_set = TrackDataset(
            self.manifest,
            self.split,
            vocab,
            self.sample_rate,
            input_samples,
            task,
            n_chunks=self.chunks,
            endpoint=self.endpoint,
            failure_log=self.failure_log,
        )
        if len(test_set) == 0 and not test_set.skipped:
            print(f"no rows in split {self.split!r}: test evaluation skipped")
            return None
        return test_set


__all__ = [
    "VIEW_MAKERS",
    "DataEpoch",
    "EpochSampler",
    "EvalData",
    "ViewDataModule",
    "ViewDataset",
]
