"""Learning-rate schedules: a registry of optimizer + scheduler set-ups and their callbacks.

``training.schedule`` names one entry of :data:`SCHEDULES`:

- ``"plateau"`` (default): ``training.optimizer`` (Adam, lr 1e-3) with ``ReduceLROnPlateau`` on
  the objective's monitored metric (the validation loss by default; factor 0.2, patience 5
  epochs), and early stopping (``training.early_stopping_patience``, 20 epochs). A generic,
  robust default for new data; it is not from a specific paper.
- ``"cosine"``: the optimizer with cosine annealing to 0 over ``max_epochs``.
- ``"none"``: constant learning rate.
- ``"polynomial"``: decay to 0 over ``max_epochs``, ``lr * (1 - epoch / max_epochs) **
  polynomial_power`` (power 1: linear), stepped every epoch; PASE+ (Ravanelli et al. 2020)
  trains with a polynomial decay to 0.
- ``"won2020"``: the schedule of Won et al., "Evaluation of CNN-based automatic music tagging
  models" (SMC 2020; ``minzwon/sota-music-tagging-models``, ``solver.py``): Adam (lr 1e-4,
  weight decay 1e-4); at epoch 80 reload the best checkpoint and switch to SGD (lr 1e-3,
  momentum 0.9, Nesterov, weight decay 1e-4); at epoch 100 reload the best and set lr 1e-4; at
  120 reload the best and set lr 1e-5 (fixed epochs of a 200-epoch run). With ``max_epochs <
  200`` the three epochs are scaled by ``max_epochs / 200`` (rounded half up, at least 1,
  strictly increasing), so a 20-epoch run switches at epochs 8, 10 and 12. Won et al. used no
  early stopping: set ``early_stopping_patience: 0`` in won2020 recipes (a positive value still
  applies). The switches are done by the :class:`Won2020Schedule` callback.

Objectives may split their parameters into groups with their own learning rates
(:meth:`musicrep.objectives.Objective.param_groups`); every schedule scales each group's rate
(won2020 sets every group to its stage's rate). A new schedule is a :class:`Schedule` subclass
registered with ``@SCHEDULES.register("name")``.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from musicrep.errors import ConfigError
from musicrep.registry import Registry
from musicrep.training.config import DEFAULT_LR, OPTIMIZERS, TrainingConfig

log = logging.getLogger(__name__)

#: Won et al. (SMC 2020) optimisation schedule, from ``solver.py`` of
#: ``minzwon/sota-music-tagging-models`` (see the module docstring). The one place these live.
WON2020 = types.MappingProxyType(
    {
        "reference_epochs": 200,
        "adam_lr": 1e-4,
        "adam_weight_decay": 1e-4,
        "milestones": (80, 100, 120),
        "sgd_lrs": (1e-3, 1e-4, 1e-5),
        "sgd_momentum": 0.9,
        "sgd_nesterov": True,
        "sgd_weight_decay": 1e-4,
    }
)


def make_optimizer(
    params, name: str, lr: float, weight_decay: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (Nesterov momentum) over ``params`` (tensors or parameter groups)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay
        )
    raise ConfigError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")


def won2020_milestones(max_epochs: int) -> list[int]:
    """Epochs (0-based, at their start) where the won2020 schedule switches, scaled to the run.

    ``max_epochs >= 200`` keeps Won et al.'s 80/100/120; shorter runs scale them by
    ``max_epochs / 200`` (rounded half up, >= 1, strictly increasing).
    """
    ref = WON2020["reference_epochs"]
    scale = min(1.0, max_epochs / ref)
    out: list[int] = []
    for m in WON2020["milestones"]:
        e = max(1, int(np.floor(m * scale + 0.5)))
        if out and e <= out[-1]:
            e = out[-1] + 1
        out.append(e)
    return out


def _won2020_groups(params) -> list[dict[str, Any]]:
    """Parameter groups without their own lr/weight decay (won2020 fixes both per stage)."""
    params = list(params)
    if params and isinstance(params[0], dict):
        return [
            {k: v for k, v in g.items() if k not in ("lr", "weight_decay", "momentum")}
            for g in params
        ]
    return [{"params": params}]


def won2020_optimizer(params, stage: int, adam_lr: float | None = None) -> torch.optim.Optimizer:
    """The optimizer of stage ``stage`` (0: Adam, 1-3: SGD at 1e-3/1e-4/1e-5) of won2020."""
    groups = _won2020_groups(params)
    if stage == 0:
        lr = WON2020["adam_lr"] if adam_lr is None else adam_lr
        return torch.optim.Adam(groups, lr=lr, weight_decay=WON2020["adam_weight_decay"])
    return torch.optim.SGD(
        groups,
        lr=WON2020["sgd_lrs"][stage - 1],
        momentum=WON2020["sgd_momentum"],
        nesterov=WON2020["sgd_nesterov"],
        weight_decay=WON2020["sgd_weight_decay"],
    )


class Won2020Schedule(Callback):
    """Adam -> SGD with reloads of the best checkpoint (Won et al., SMC 2020).

    At the start of epoch ``milestones[0]`` the weights of the best checkpoint (lowest
    validation loss) are reloaded and the optimizer is replaced by SGD (lr 1e-3, momentum 0.9,
    Nesterov, weight decay 1e-4); at ``milestones[1]`` and ``milestones[2]`` the best weights are
    reloaded again and the SGD learning rate set to 1e-4 and 1e-5 (momentum buffers kept, as in
    the original code). The stage is saved in checkpoints, so a resumed run continues with the
    right optimizer.

    Parameters
    ----------
    milestones : sequence of int
        Epochs (0-based) at whose start the stages begin; see :func:`won2020_milestones`.
    checkpoint : ModelCheckpoint, optional
        Where the best checkpoint is found (``best_model_path``).
    """

    def __init__(self, milestones: Sequence[int], checkpoint: ModelCheckpoint | None = None):
        self.milestones = [int(m) for m in milestones]
        self.checkpoint = checkpoint
        self.stage = 0
        #: ``(epoch, stage, reloaded checkpoint or None)`` of every switch in this process.
        self.history: list[tuple[int, int, str | None]] = []

    def state_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "milestones": list(self.milestones)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.stage = int(state_dict.get("stage", 0))

    def _reload_best(self, trainer: L.Trainer, pl_module: L.LightningModule) -> str | None:
        path = self.checkpoint.best_model_path if self.checkpoint is not None else ""
        if not path or not Path(path).is_file():
            log.warning("won2020: no best checkpoint yet; continuing with the current weights")
            return None
        ckpt = torch.load(path, map_location=pl_module.device, weights_only=True)
        pl_module.load_state_dict(ckpt["state_dict"])
        return path

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch
        while self.stage < len(self.milestones) and epoch >= self.milestones[self.stage]:
            self.stage += 1
            path = self._reload_best(trainer, pl_module)
            if self.stage == 1:
                trainer.strategy.optimizers = [won2020_optimizer(pl_module.param_groups(), 1)]
                trainer.strategy.lr_scheduler_configs = []
            else:
                for group in trainer.optimizers[0].param_groups:
                    group["lr"] = WON2020["sgd_lrs"][self.stage - 1]
            self.history.append((epoch, self.stage, path))
            log.info(
                "won2020: epoch %d -> stage %d (SGD lr %g), reloaded %s",
                epoch,
                self.stage,
                WON2020["sgd_lrs"][self.stage - 1],
                path,
            )


# --------------------------------------------------------------------------- the registry


class Schedule:
    """A schedule: the optimizer and learning-rate scheduler of a run, and its callbacks.

    :meth:`configure` returns what ``LightningModule.configure_optimizers`` returns; the base
    class builds ``training.optimizer`` (Adam, AdamW or SGD) at ``training.lr`` (default per
    optimizer: :data:`~musicrep.training.config.DEFAULT_LR`) with no scheduler.
    """

    #: Whether the schedule follows the monitored metric (needs a validation every epoch).
    monitors: bool = False

    def optimizer(self, groups: list[dict[str, Any]], t: TrainingConfig) -> torch.optim.Optimizer:
        lr = t.lr if t.lr is not None else DEFAULT_LR[t.optimizer]
        wd = t.weight_decay if t.weight_decay is not None else 0.0
        return make_optimizer(groups, t.optimizer, lr, wd, t.momentum)

    def configure(
        self,
        groups: list[dict[str, Any]],
        t: TrainingConfig,
        monitor: tuple[str, str],
        callbacks: Sequence[Callback] = (),
    ) -> Any:
        """The optimizer (and scheduler) over ``groups`` for the recipe's ``training`` section.

        Parameters
        ----------
        groups : list of dict
            Parameter groups (:meth:`~musicrep.objectives.Objective.param_groups`).
        t : TrainingConfig
        monitor : (str, str)
            The objective's monitored metric and mode.
        callbacks : sequence of Callback
            The trainer's callbacks (a schedule finds its own there, e.g. its stage).
        """
        return self.optimizer(groups, t)

    def callbacks(self, t: TrainingConfig, best: ModelCheckpoint) -> list[Callback]:
        """Callbacks the schedule needs (``best`` keeps the best checkpoint)."""
        return []


SCHEDULES: Registry[Schedule] = Registry("schedule")


@SCHEDULES.register("none")
class ConstantSchedule(Schedule):
    """Constant learning rate."""


class PlateauStep(Callback):
    """Steps a ``ReduceLROnPlateau`` on the monitored metric at the end of every epoch.

    Done here rather than by Lightning's scheduler loop so that the step of an epoch happens
    before that epoch's checkpoints are written: Lightning steps plateau schedulers after them,
    and a run resumed from such a checkpoint misses that step. The scheduler's state travels in
    the checkpoints (this callback's state).
    """

    def __init__(self, monitor: str, mode: str, factor: float, patience: int):
        self.monitor, self.mode = monitor, mode
        self.factor, self.patience = float(factor), int(patience)
        self.scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        self._pending: dict[str, Any] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            trainer.optimizers[0], mode=self.mode, factor=self.factor, patience=self.patience
        )
        if self._pending:
            self.scheduler.load_state_dict(self._pending)
        self._pending = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if self.scheduler is not None and value is not None and not trainer.sanity_checking:
            self.scheduler.step(float(value))

    def state_dict(self) -> dict[str, Any]:
        if self.scheduler is not None:
            return self.scheduler.state_dict()
        return dict(self._pending or {})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)


@SCHEDULES.register("plateau")
class PlateauSchedule(Schedule):
    """``ReduceLROnPlateau`` on the monitored metric (factor and patience from the recipe),
    stepped by :class:`PlateauStep`."""

    monitors = True

    def callbacks(self, t, best):
        monitor, mode = best.monitor or "val/loss", best.mode
        return [PlateauStep(monitor, mode, t.plateau_factor, t.plateau_patience)]


@SCHEDULES.register("cosine")
class CosineSchedule(Schedule):
    """Cosine annealing to 0 over ``max_epochs``."""

    def configure(self, groups, t, monitor, callbacks=()):
        opt = self.optimizer(groups, t)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t.max_epochs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


@SCHEDULES.register("polynomial")
class PolynomialSchedule(Schedule):
    """Polynomial decay to 0 over ``max_epochs`` (``training.polynomial_power``)."""

    def configure(self, groups, t, monitor, callbacks=()):
        opt = self.optimizer(groups, t)
        sched = torch.optim.lr_scheduler.PolynomialLR(
            opt, total_iters=t.max_epochs, power=t.polynomial_power
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


@SCHEDULES.register("won2020")
class Won2020(Schedule):
    """Won et al. (SMC 2020): Adam, then SGD stages with best-checkpoint reloads."""

    def configure(self, groups, t, monitor, callbacks=()):
        stage = next((cb.stage for cb in callbacks if isinstance(cb, Won2020Schedule)), 0)
        return won2020_optimizer(groups, stage, adam_lr=t.lr)

    def callbacks(self, t, best):
        return [Won2020Schedule(won2020_milestones(t.max_epochs), best)]


__all__ = [
    "SCHEDULES",
    "WON2020",
    "PlateauStep",
    "Schedule",
    "Won2020Schedule",
    "make_optimizer",
    "won2020_milestones",
    "won2020_optimizer",
]
