"""The trainer's own callbacks and plugins: exact resume, atomic checkpoints, one CSV log per run,
one line per epoch.

- :class:`RandomState` saves the global random generators (torch, CUDA, NumPy, Python) in every
  checkpoint (written at the end of an epoch, after its validation) and restores them when the
  resumed run starts its next epoch, so that (with the
  seeded crops and order of :mod:`musicrep.training.data`) a resumed run trains exactly as an
  uninterrupted one.
- :class:`AtomicCheckpointIO` writes checkpoints to a temporary file, syncs it and moves it into
  place: a kill during the write leaves the previous checkpoint intact.
- :class:`RunCSVLogger` keeps one ``metrics.csv`` per run: a resumed run appends to it (rows of
  epochs after the checkpoint it resumes from, left by the killed session, are dropped).
- :class:`EpochSummary` prints one line per epoch (losses, the monitored metric, the time) when
  no progress bar is shown (output not on a terminal).
- :class:`PreciseBatchNorm` recomputes the encoder's BatchNorm statistics on training batches
  before every validation (``training.precise_bn_batches``).
"""

from __future__ import annotations

import csv
import os
import random
import sys
import time
from typing import Any, TextIO

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from musicrep.utils import atomic_path

#: Seed (plus the epoch) of the view transforms applied to the batches of :class:`PreciseBatchNorm`.
PRECISE_BN_SEED = 4321


class RandomState(Callback):
    """Save the global random generators in checkpoints; restore them at the resumed epoch.

    The state is captured when a checkpoint is written (after an epoch's validation) and put
    back at the start of the next training epoch of the resumed run, i.e. at the same point of
    the sequence of random draws as in an uninterrupted run (validation draws nothing from the
    global generators).
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        np_state = np.random.get_state()  # noqa: NPY002 - the legacy global generator
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": [
                str(np_state[0]),
                torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
                int(np_state[2]),
                int(np_state[3]),
                float(np_state[4]),
            ],
            "python": _python_state(random.getstate()),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state, self._pending = self._pending, None
        if not state:
            return
        torch.set_rng_state(state["torch"])
        name, keys, pos, has_gauss, cached = state["numpy"]
        legacy = (name, keys.numpy().astype(np.uint32), pos, has_gauss, cached)
        np.random.set_state(legacy)  # noqa: NPY002 - the legacy global generator
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def _python_state(state: tuple) -> list:
    version, internal, gauss = state
    return [int(version), [int(v) for v in internal], gauss]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file beside the target, synced, then moved into place."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` is continued."""

    def __init__(self, log_dir: str, keep_epochs_up_to: int | None = None) -> None:
        self._keep = keep_epochs_up_to
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not os.path.isfile(self.metrics_file_path):
            return
        with open(self.metrics_file_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            keys = list(reader.fieldnames or [])
            rows = list(reader)
        self.metrics_keys = sorted(keys)
        if self._keep is None:
            return
        kept = [r for r in rows if not r.get("epoch") or float(r["epoch"]) <= self._keep]
        if len(kept) == len(rows):
            return
        with atomic_path(self.metrics_file_path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)


class RunCSVLogger(CSVLogger):
    """``RUN/logs/metrics.csv`` (+ ``hparams.yaml``), one file for the whole run.

    Parameters
    ----------
    save_dir : path
        The folder (``RUN/logs``).
    keep_epochs_up_to : int, optional
        When resuming from a checkpoint of this epoch: rows of later epochs are dropped.
    """

    def __init__(self, save_dir, keep_epochs_up_to: int | None = None):
        super().__init__(save_dir, name="", version="", flush_logs_every_n_steps=1)
        self._keep = keep_epochs_up_to

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(self.log_dir, self._keep)
        return self._experiment


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


class EpochSummary(Callback):
    """One line per epoch: ``epoch 3/20  train/loss 0.61  val/loss 0.60  val/roc_auc 0.81
    (best)  12.3 s``.

    Parameters
    ----------
    monitor : str
        The monitored metric (shown beside the losses).
    mode : {"min", "max"}
        Whether lower or higher values of ``monitor`` are better (marks ``(best)`` epochs).
    best : ModelCheckpoint, optional
        The best checkpoint, whose restored score a resumed run starts from.
    stream : file, optional
        Where to print (default ``sys.stdout``).
    """

    def __init__(
        self,
        monitor: str,
        mode: str = "min",
        best: ModelCheckpoint | None = None,
        stream: TextIO | None = None,
    ):
        self.monitor = monitor
        self.mode = mode
        self.best = best
        self.stream = stream
        self._start = time.perf_counter()
        self._best_value: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = self.best.best_model_score if self.best is not None else None
        self._best_value = float(score) if score is not None else None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def _improved(self, value: float) -> bool:
        best = self._best_value
        better = best is None or (value < best if self.mode == "min" else value > best)
        if better:
            self._best_value = value
        return better

    def line(self, trainer: L.Trainer) -> str:
        metrics = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        for name in dict.fromkeys(("train/loss", "val/loss", self.monitor)):
            value = metrics.get(name)
            if value is not None:
                parts.append(f"{name} {_fmt(float(value))}")
                if name == self.monitor and self._improved(float(value)):
                    parts[-1] += " (best)"
        parts.append(f"{time.perf_counter() - self._start:.1f} s")
        return "  ".join(parts)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            print(self.line(trainer), file=self.stream or sys.stdout, flush=True)


__all__ = [
    "AtomicCheckpointIO",
    "EpochSummary",
    "RandomState",
    "RunCSVLogger",
]


class PreciseBatchNorm(Callback):
    """Recompute the encoder's BatchNorm statistics before every validation ("PreciseBN").

    BatchNorm normalises with the statistics of the batch while training but with running
    averages (momentum 0.1, starting from mean 0 / variance 1) in eval mode, i.e. in
    validation, at export and in every embedding. After few steps the running averages are
    still dominated by their initial values: in a deep BatchNorm network (SampleCNN, 11 layers)
    every eval-mode layer then shrinks its input and the embeddings of all clips become the
    same vector (measured: cosine 0.999999 between clips after 9 CLMR steps, validation NT-Xent
    stuck at log(2N-1)). Like PreciseBN (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021)
    this callback resets the statistics and recomputes them, with the current weights, as the
    plain average over ``batches`` training batches (:func:`torch.optim.swa_utils.update_bn`),
    each encoder call of the objective (:meth:`~musicrep.objectives.Objective.encoder_inputs`,
    after the views' transforms) being one BatchNorm batch, as in training.

    It runs at the start of every validation but the sanity check, so the checkpoints written
    after it (and the exported encoder) carry the recomputed statistics; training itself is
    unchanged (training-mode BatchNorm uses batch statistics). The global random generators
    and the training loader's generator are left as they were (exact resume); the transforms
    draw from a fixed seed plus the epoch. Under DDP each process uses its own batches.

    Parameters
    ----------
    batches : int
        Training batches per recomputation (> 0).
    """

    def __init__(self, batches: int):
        if int(batches) <= 0:
            raise ValueError(f"PreciseBatchNorm needs batches > 0; got {batches}")
        self.batches = int(batches)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        encoder = getattr(pl_module, "encoder", None)
        if encoder is None or not any(
            isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in encoder.modules()
        ):
            return
        loader = trainer.train_dataloader
        if loader is None:
            return
        recompute_batchnorm(
            encoder,
            pl_module.objective,
            loader,
            self.batches,
            pl_module.device,
            seed=PRECISE_BN_SEED + trainer.current_epoch,
        )


def recompute_batchnorm(
    encoder: torch.nn.Module,
    objective: Any,
    loader: Any,
    batches: int,
    device: torch.device | str = "cpu",
    seed: int = PRECISE_BN_SEED,
) -> int:
    """Reset ``encoder``'s BatchNorm statistics and recompute them over the first ``batches``
    batches of ``loader`` (see :class:`PreciseBatchNorm`); returns the number of encoder calls.
    The random generators (global and the loader's) are restored afterwards."""
    from torch.optim.swa_utils import update_bn

    from musicrep.training.module import apply_views

    device = torch.device(device)
    generator = getattr(loader, "generator", None)
    loader_state = generator.get_state() if generator is not None else None
    calls = 0

    def inputs():
        nonlocal calls
        for i, batch in enumerate(loader):
            if i >= batches:
                break
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            batch = apply_views(batch, objective.training_views())
            for wave in objective.encoder_inputs(batch):
                calls += 1
                yield wave

    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            # inference_mode (validation) would make the recomputed buffers inference tensors
            with torch.inference_mode(False), torch.no_grad():
                update_bn(inputs(), encoder)
    finally:
        if loader_state is not None:
            generator.set_state(loader_state)
    return calls
