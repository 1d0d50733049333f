"""One LightningModule for every objective.

:class:`MusicrepModule` holds the encoder being trained and the objective (which owns every
other module) and does only what is common to all objectives: apply the views' transforms on
the device, call the objective, log every scalar it returns (``train/<name>``,
``val/<name>``), forward the epoch hooks, and build the optimizer from the objective's parameter
groups and the recipe's schedule (:mod:`musicrep.training.schedules`). Its state dict is
``encoder.*`` + ``objective.*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from musicrep.errors import MusicrepError
from musicrep.objectives.base import Objective, View
from musicrep.training.config import TrainingConfig

#: Seed of the transforms applied to validation batches (so the validation loss of augmented
#: views is the same every epoch, and validation never draws from the global generator).
VALID_TRANSFORM_SEED = 1234


def _batch_size(batch: dict[str, Any]) -> int:
    for value in batch.values():
        if torch.is_tensor(value) and value.dim() > 0:
            return int(value.shape[0])
    return 1


def apply_views(batch: dict[str, Any], views: Sequence[View]) -> dict[str, Any]:
    """``batch`` with each view's transform applied to it (no gradient)."""
    todo = [v for v in views if v.transform is not None and v.name in batch]
    if not todo:
        return batch
    batch = dict(batch)
    with torch.no_grad():
        for view in todo:
            batch[view.name] = view.transform(batch[view.name])
    return batch


class MusicrepModule(L.LightningModule):
    """Drives any :class:`~musicrep.objectives.Objective` on its encoder.

    Parameters
    ----------
    encoder : nn.Module or None
        The encoder being trained (None when the objective owns its whole network).
    objective : Objective
        What is optimised; owns its heads, decoders, views and hooks.
    training : TrainingConfig, optional
        Optimizer and schedule settings.
    hparams : dict, optional
        Plain-Python values saved in checkpoints (the resolved recipe, vocabulary, task,
        encoder config); keep to str/int/float/bool/None/lists/dicts so checkpoints load with
        ``weights_only=True``.
    """

    def __init__(
        self,
        encoder: nn.Module | None,
        objective: Objective,
        training: TrainingConfig | None = None,
        hparams: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.objective = objective
        self.training_config = training or TrainingConfig()
        if hparams:
            self.save_hyperparameters(hparams)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            raise MusicrepError("this module has no encoder")
        return self.encoder(wave)

    def param_groups(self) -> list[dict[str, Any]]:
        """The objective's parameter groups (trainable parameters only, empty groups dropped)."""
        groups = []
        for group in self.objective.param_groups(self.encoder):
            params = [p for p in group["params"] if p.requires_grad]
            if params:
                groups.append({**group, "params": params})
        if not groups:
            raise MusicrepError(f"objective {type(self.objective).__name__} has no parameters")
        return groups

    # -- logging
    def _log_outputs(self, stage: str, out: dict[str, Any], batch_size: int) -> None:
        """Log the scalars of an objective's output (epoch means synchronised across devices;
        during training also the per-step values of this device as ``train/<name>_step``)."""
        for name, value in out.items():
            if not torch.is_tensor(value) or value.numel() != 1:
                continue
            value = value.detach().float()
            if stage == "train":
                self.log(
                    f"train/{name}_step",
                    value,
                    on_step=True,
                    on_epoch=False,
                    prog_bar=name == "loss",
                    batch_size=batch_size,
                )
            self.log(
                f"{stage}/{name}",
                value,
                on_step=False,
                on_epoch=True,
                batch_size=batch_size,
                sync_dist=True,
            )

    # -- steps
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        batch = apply_views(batch, self.objective.training_views())
        out = self.objective(self.encoder, batch)
        if "loss" not in out:
            raise MusicrepError(f"objective {type(self.objective).__name__} returned no 'loss'")
        n = int(out.pop("batch_size", 0) or _batch_size(batch))
        self._log_outputs("train", out, n)
        return out["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        views = self.objective.validation_views()
        if any(v.transform is not None for v in views):
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(VALID_TRANSFORM_SEED + batch_idx)
                batch = apply_views(batch, views)
        out = dict(self.objective.validation_step(self.encoder, batch))
        n = int(out.pop("batch_size", 0) or _batch_size(batch))
        if out:
            self._log_outputs("val", out, n)

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        if self.trainer.world_size > 1:
            return self.all_gather(x).flatten(0, 1)
        return x

    def on_validation_epoch_end(self) -> None:
        metrics = self.objective.validation_epoch_end(self._gather)
        if self.trainer.sanity_checking:
            return
        for name, value in metrics.items():
            # identical on every device (computed from the gathered predictions)
            self.log(f"val/{name}", float(value), sync_dist=True)

    def on_train_epoch_start(self) -> None:
        optimizers = self.trainer.optimizers
        if optimizers:
            lr = float(optimizers[0].param_groups[0]["lr"])
            self.log("lr", lr, on_step=False, on_epoch=True, sync_dist=True)
        self.objective.on_train_epoch_start(self)

    def on_train_epoch_end(self) -> None:
        self.objective.on_train_epoch_end(self)

    # -- optimisation
    def configure_optimizers(self):
        from musicrep.training.schedules import SCHEDULES

        callbacks = self.trainer.callbacks if self._trainer is not None else []
        schedule = SCHEDULES.create(self.training_config.schedule)
        return schedule.configure(
            self.param_groups(), self.training_config, self.objective.monitor, callbacks
        )


__all__ = ["MusicrepModule", "apply_views"]
