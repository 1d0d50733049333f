"""Training: one LightningModule for every objective, the Trainer around it, and the run folder.

A run is described by a recipe (YAML) with five sections::

    model:      {name: hcnn, ...overrides}        # musicrep.models.create_model(**model)
    data:       {manifest: data/tags.csv, ...}     # DataConfig
    training:   {batch_size: 16, schedule: won2020, ...}   # TrainingConfig
    evaluation: {chunks: 16, ...}                  # EvaluationConfig
    objective:  {name: supervised}                 # musicrep.objectives.build_objective

Every key of ``data``/``training``/``evaluation``, its default and meaning is in the dataclasses
below; unknown keys are an error that lists the valid ones. :func:`train` writes a run folder::

    RUN/config.yaml         resolved recipe (re-runnable: musicrep train --recipe RUN/config.yaml)
    RUN/config.json         the same + vocabulary, task, seed, package versions, command line
    RUN/vocab.json          label vocabulary (target order)
    RUN/skipped.txt         manifest rows left out (path, split, line, reason)
    RUN/tag_vocabulary.json with data.tags: the processed tag vocabulary and its counts
    RUN/checkpoints/        best.ckpt (lowest validation loss) and last.ckpt (for --resume)
    RUN/logs/csv/version_<n>/metrics.csv   training curves (one version per session: a resumed
                            run adds version_1, ...), and RUN/logs/tensorboard/
    RUN/results.json        track-level evaluation of best.ckpt on the test split

Optimisation (``training.schedule``):

- ``"plateau"`` (default): ``training.optimizer`` (Adam, lr 1e-3) with ``ReduceLROnPlateau`` on
  the validation loss (factor 0.2, patience 5 epochs) and early stopping (patience 20 epochs). A
  generic, robust default for new data; it is not from a specific paper.
- ``"cosine"``: the optimizer with cosine annealing to 0 over ``max_epochs``.
- ``"none"``: constant learning rate.
- ``"won2020"``: the schedule of Won et al., "Evaluation of CNN-based automatic music tagging
  models" (SMC 2020; ``minzwon/sota-music-tagging-models``, ``solver.py``): Adam (lr 1e-4, weight
  decay 1e-4); at epoch 80 reload the best checkpoint and switch to SGD (lr 1e-3, momentum 0.9,
  Nesterov, weight decay 1e-4); at epoch 100 reload the best and set lr 1e-4; at 120 reload the
  best and set lr 1e-5 (fixed epochs of a 200-epoch run). With ``max_epochs < 200`` the three
  epochs are scaled by ``max_epochs / 200`` (rounded half up, at least 1, strictly increasing),
  so a 20-epoch run switches at epochs 8, 10 and 12. Won et al. used no early stopping: set
  ``early_stopping_patience: 0`` in won2020 recipes (a positive value still applies).

Model selection is on the validation loss (as Won et al.): the loss of the objective averaged over
all validation chunks. With a tagging/classification objective the validation split is scored at
track level every epoch (``val/roc_auc``, ``val/pr_auc`` or ``val/accuracy``, ``val/macro_f1``).

Checkpoints hold tensors and plain Python values only, so they load with
``torch.load(path, weights_only=True)``; the model is rebuilt from the config stored in them
(:func:`load_checkpoint_model`).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import logging
import os
import shlex
import sys
import time
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from musicrep.errors import ConfigError, MusicrepError
from musicrep.objectives import Objective, build_objective

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- paper numbers

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

#: Default learning rate of each optimizer when ``training.lr`` is not given.
DEFAULT_LR = types.MappingProxyType({"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2})

SCHEDULES = ("plateau", "cosine", "none", "won2020")
OPTIMIZERS = ("adam", "adamw", "sgd")
SECTIONS = ("model", "data", "training", "evaluation", "objective")
#: Top-level recipe keys that carry documentation only.
INFO_KEYS = ("description", "reference", "notes")


# --------------------------------------------------------------------------- configuration


@dataclass
class DataConfig:
    """Keys of a recipe's ``data:`` section.

    Attributes
    ----------
    manifest : str, optional
        Manifest CSV (``--manifest`` on the command line overrides it).
    task : {"auto", "multilabel", "singlelabel"}
        Label format; ``"auto"`` reads it from the manifest (any row with != 1 label ->
        multi-label).
    vocab : list of str, optional
        Fixed label vocabulary (target order); default: every label of the manifest, sorted.
    train_split, valid_split : str
        Split names used for training and for validation/model selection.
    valid_chunks : int
        Equally spaced chunks per validation track (16, as Won et al.); the validation loss is
        averaged over all chunks and predictions are averaged per track.
    num_workers : int, optional
        DataLoader worker processes decoding audio; default ``min(8, CPUs - 1)``.
    tags : dict or bool, optional
        Treat the labels as free-form tags and process them as COALA does
        (:mod:`musicrep.data.tags`): ``true`` with the defaults, or options such as
        ``{max_tags: 1000, max_df: 0.7, min_count: 10}``. The vocabulary is built from the
        training split, every row's labels are replaced by its kept tags and rows left without
        a tag are skipped (listed in ``skipped.txt``); the vocabulary with its counts is written
        to ``RUN/tag_vocabulary.json``. Implies a multi-label task; not combined with ``vocab``.
    """

    manifest: str | None = None
    task: str = "auto"
    vocab: list[str] | None = None
    train_split: str = "train"
    valid_split: str = "valid"
    valid_chunks: int = 16
    num_workers: int | None = None
    tags: dict[str, Any] | bool | None = None


@dataclass
class TrainingConfig:
    """Keys of a recipe's ``training:`` section.

    Attributes
    ----------
    batch_size : int
        Crops per optimisation step (per device under DDP). 16 as Won et al.
    max_epochs : int
        Epochs to train (200 as Won et al.); ``max_steps`` (> 0) stops earlier.
    max_steps : int
        Stop after this many optimisation steps (-1: no limit).
    schedule : {"plateau", "cosine", "none", "won2020"}
        Learning-rate schedule; see the module docstring.
    optimizer : {"adam", "adamw", "sgd"}
        Optimizer for every schedule but ``won2020`` (which fixes Adam then SGD).
    lr : float, optional
        Learning rate; default 1e-3 for Adam/AdamW, 1e-2 for SGD, and for ``won2020`` the Adam
        stage's 1e-4 (the SGD stages keep 1e-3/1e-4/1e-5).
    weight_decay : float, optional
        Default 0, and 1e-4 for ``won2020``.
    momentum : float
        SGD momentum (Nesterov) for ``optimizer: sgd``.
    plateau_factor, plateau_patience : float, int
        ``ReduceLROnPlateau`` factor and patience (epochs) of the ``plateau`` schedule.
    early_stopping_patience : int
        Stop after this many epochs without a lower validation loss; 0 disables.
    seed : int
        Seeds Python, NumPy, torch and the crops (``--seed``).
    accelerator, devices, strategy, precision : str/int
        Passed to ``lightning.Trainer`` (e.g. ``devices: 2, strategy: ddp``; precision
        ``"32-true"``, ``"16-mixed"``, ``"bf16-mixed"``).
    gradient_clip_val : float, optional
        Clip the gradient norm to this value.
    limit_train_batches, limit_val_batches : int or float, optional
        Batches (int) or fraction (float) per epoch; for quick trials.
    log_every_n_steps : int
        Logging interval in steps.
    num_sanity_val_steps : int
        Validation batches run before training to catch errors early.
    """

    batch_size: int = 16
    max_epochs: int = 200
    max_steps: int = -1
    schedule: str = "plateau"
    optimizer: str = "adam"
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    plateau_factor: float = 0.2
    plateau_patience: int = 5
    early_stopping_patience: int = 20
    seed: int = 0
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    precision: str = "32-true"
    gradient_clip_val: float | None = None
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    log_every_n_steps: int = 20
    num_sanity_val_steps: int = 2


@dataclass
class EvaluationConfig:
    """Keys of a recipe's ``evaluation:`` section (the track-level test at the end of a run).

    Attributes
    ----------
    enabled : bool
        Evaluate ``best.ckpt`` on ``split`` after training and write ``results.json``.
    split : str
        Split to evaluate.
    chunks : int
        Equally spaced chunks per track whose outputs are averaged (16, as Won et al.).
    endpoint : bool
        Chunk placement (:func:`musicrep.audio.equally_spaced_chunks`): ``False`` uses Won et
        al.'s offsets ``k * ((len - input) // chunks)``; ``True`` also covers the track's end.
    batch_size : int
        Chunks per forward pass (rounded to whole tracks).
    """

    enabled: bool = True
    split: str = "test"
    chunks: int = 16
    endpoint: bool = False
    batch_size: int = 16


_SECTION_CLASSES = {"data": DataConfig, "training": TrainingConfig, "evaluation": EvaluationConfig}


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert YAML values to the annotated type (YAML 1.1 reads ``1e-3`` as a string)."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in [a for a in args if a is not type(None)]:
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list; got {value!r}")
        return [_coerce(v, args[0], where) for v in value] if args else list(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false; got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer; got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be an integer; got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number; got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number; got {value!r}")
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where} must be a string; got {value!r}")
    return value


def parse_section(name: str, values: dict | None):
    """Build the dataclass of section ``name`` from a recipe dict, checking keys and types."""
    cls = _SECTION_CLASSES[name]
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            close = difflib.get_close_matches(key, valid, n=1)
            raise ConfigError(
                f"unknown key {name}.{key}; valid keys of '{name}': {', '.join(valid)}",
                f"did you mean {name}.{close[0]}?" if close else None,
            )
        kwargs[key] = _coerce(value, hints[key], f"{name}.{key}")
    cfg = cls(**kwargs)
    _check_section(name, cfg)
    return cfg


def _check_section(name: str, cfg: Any) -> None:
    if name == "training":
        if cfg.schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown training.schedule {cfg.schedule!r}; valid: {', '.join(SCHEDULES)}"
            )
        if cfg.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown training.optimizer {cfg.optimizer!r}; valid: {', '.join(OPTIMIZERS)}"
            )
        if cfg.batch_size <= 0 or cfg.max_epochs <= 0:
            raise ConfigError("training.batch_size and training.max_epochs must be positive")
    if name == "data":
        if cfg.task not in ("auto", "multilabel", "singlelabel"):
            raise ConfigError(
                f"unknown data.task {cfg.task!r}; valid: auto, multilabel, singlelabel"
            )
        if cfg.valid_chunks <= 0:
            raise ConfigError("data.valid_chunks must be a positive integer")
        if cfg.tags is not None and not isinstance(cfg.tags, (bool, dict)):
            raise ConfigError(
                f"data.tags must be true/false or a mapping of tag options; got {cfg.tags!r}"
            )
    if name == "evaluation" and (cfg.chunks <= 0 or cfg.batch_size <= 0):
        raise ConfigError("evaluation.chunks and evaluation.batch_size must be positive")


def load_recipe(path: str | os.PathLike) -> dict:
    """Read a YAML recipe into a dict (sections checked by :func:`resolve_config`)."""
    p = Path(path)
    if not p.is_file():
        hint = None
        if not p.suffix:
            hint = f"recipes are YAML files, e.g. configs/{p.name}.yaml"
        raise ConfigError(f"recipe {p} not found", hint)
    try:
        recipe = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {p} is not valid YAML: {exc}") from None
    if not isinstance(recipe, dict):
        raise ConfigError(f"recipe {p} must be a mapping with sections {', '.join(SECTIONS)}")
    return recipe


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"training.lr=1e-3"`` -> ``(["training", "lr"], 0.001)``; values are read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not KEY=VALUE", "e.g. --set training.lr=1e-3")
    key, raw = text.split("=", 1)
    parts = [k for k in key.strip().split(".") if k]
    if not parts:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(config: dict, overrides: Sequence[str]) -> dict:
    """Return a copy of ``config`` with dotted ``KEY=VALUE`` overrides applied in order."""
    config = copy.deepcopy(config)
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] not in SECTIONS:
            raise ConfigError(
                f"override {text!r}: unknown section {parts[0]!r}; valid: {', '.join(SECTIONS)}"
            )
        node = config
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if isinstance(child, str) and part == "objective":  # objective: name shorthand
                child = node[part] = {"name": child}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return config


def resolve_config(recipe: dict) -> dict:
    """Check a recipe and fill in every default; returns a plain (JSON/YAML-safe) dict."""
    unknown = [k for k in recipe if k not in SECTIONS and k not in INFO_KEYS]
    if unknown:
        raise ConfigError(
            f"unknown recipe section(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(SECTIONS + INFO_KEYS)}"
        )
    model = recipe.get("model") or {}
    if isinstance(model, str):
        model = {"name": model}
    if not isinstance(model, dict) or not model.get("name"):
        raise ConfigError(
            "the recipe names no model", "add 'model: {name: ...}' or pass --model NAME"
        )
    objective = recipe.get("objective") or {"name": "supervised"}
    if isinstance(objective, str):
        objective = {"name": objective}
    out: dict[str, Any] = {k: recipe[k] for k in INFO_KEYS if k in recipe}
    out["model"] = dict(model)
    for name in ("data", "training", "evaluation"):
        section = recipe.get(name) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"recipe section '{name}' must be a mapping; got {section!r}")
        out[name] = dataclasses.asdict(parse_section(name, section))
    out["objective"] = dict(objective)
    return out


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


# --------------------------------------------------------------------------- optimisation


def make_optimizer(
    params, name: str, lr: float, weight_decay: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD (Nesterov momentum) over ``params``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay
        )
    raise ConfigError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")


def won2020_optimizer(params, stage: int, adam_lr: float | None = None) -> torch.optim.Optimizer:
    """The optimizer of stage ``stage`` (0: Adam, 1-3: SGD at 1e-3/1e-4/1e-5) of won2020."""
    if stage == 0:
        lr = WON2020["adam_lr"] if adam_lr is None else adam_lr
        return torch.optim.Adam(params, lr=lr, weight_decay=WON2020["adam_weight_decay"])
    return torch.optim.SGD(
        params,
        lr=WON2020["sgd_lrs"][stage - 1],
        momentum=WON2020["sgd_momentum"],
        nesterov=WON2020["sgd_nesterov"],
        weight_decay=WON2020["sgd_weight_decay"],
    )


def _model_state(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``model.*`` entries of a MusicrepModule state dict, without the prefix."""
    return {k[len("model.") :]: v for k, v in state_dict.items() if k.startswith("model.")}


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
                trainer.strategy.optimizers = [won2020_optimizer(pl_module.parameters(), 1)]
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


class _CropEpoch(Callback):
    """Tell the training dataset which epoch's crops to draw."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dm = trainer.datamodule
        if dm is not None and getattr(dm, "train_set", None) is not None:
            dm.train_set.set_epoch(trainer.current_epoch)


# --------------------------------------------------------------------------- the module


class MusicrepModule(L.LightningModule):
    """Drives any :class:`~musicrep.objectives.Objective` on any model.

    ``training_step`` and ``validation_step`` call ``objective(model, batch)`` and log every
    scalar it returns as ``train/<name>`` / ``val/<name>``; ``loss`` is optimised. Validation
    batches may hold whole tracks (``"chunks"`` ``(tracks, n, samples)``): they are flattened to
    chunks for the objective, and if it returns ``"logits"``, chunk probabilities are averaged per
    track and scored (``val/roc_auc``, ``val/pr_auc`` or ``val/accuracy``, ``val/macro_f1``).

    Parameters
    ----------
    model : nn.Module
        The model being trained.
    objective : Objective
        What is optimised (owns its heads, if any).
    training : TrainingConfig
        Optimizer and schedule settings.
    hparams : dict, optional
        Plain-Python values saved in checkpoints (the resolved recipe, vocabulary, model config);
        keep to str/int/float/bool/None/lists/dicts so checkpoints load with ``weights_only=True``.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        training: TrainingConfig | None = None,
        hparams: dict[str, Any] | None = None,
        vocab: Sequence[str] | None = None,
    ):
        super().__init__()
        self.model = model
        self.objective = objective
        self.training_config = training or TrainingConfig()
        self.vocab = list(vocab) if vocab is not None else None
        if hparams:
            self.save_hyperparameters(hparams)
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)

    # -- steps
    def _log_outputs(self, stage: str, out: dict[str, torch.Tensor], batch_size: int) -> None:
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

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.objective(self.model, batch)
        if "loss" not in out:
            raise MusicrepError(f"objective {type(self.objective).__name__} returned no 'loss'")
        self._log_outputs("train", out, int(batch["wave"].shape[0]))
        return out["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        if "chunks" not in batch:
            out = self.objective(self.model, batch)
            self._log_outputs("val", out, int(batch["wave"].shape[0]))
            return
        chunks = batch["chunks"]  # (tracks, n, samples)
        b, n, t = chunks.shape
        ok = batch.get("ok")
        ok = ok.bool() if ok is not None else chunks.new_ones(b, dtype=torch.bool)
        keep = ok.repeat_interleave(n)
        flat = {"wave": chunks.reshape(b * n, t)[keep]}
        if "target" in batch:
            flat["target"] = batch["target"].repeat_interleave(n, dim=0)[keep]
        out = self.objective(self.model, flat) if bool(keep.any()) else {}
        if out:
            self._log_outputs("val", out, int(keep.sum()))
        if "target" not in batch or (out and "logits" not in out):
            return
        # track-level predictions: mean chunk probability per track (zeros for failed tracks,
        # kept so that every device gathers the same number of rows)
        n_out = out["logits"].shape[-1] if out else len(self.vocab or ())
        if n_out == 0:
            return
        track = chunks.new_zeros((b, n_out), dtype=torch.float32)
        if out:
            probs = self.objective.activation(out["logits"].float())
            track[ok] = probs.reshape(-1, n, n_out).mean(dim=1)
        self._val_outputs.append((track, batch["target"].detach(), ok))

    def on_validation_epoch_start(self) -> None:
        self._val_outputs = []

    def on_validation_epoch_end(self) -> None:
        outputs, self._val_outputs = self._val_outputs, []
        if not outputs or self.trainer.sanity_checking:
            return
        scores = torch.cat([o[0] for o in outputs])
        targets = torch.cat([o[1] for o in outputs])
        ok = torch.cat([o[2] for o in outputs])
        if self.trainer.world_size > 1:
            scores = self.all_gather(scores).flatten(0, 1)
            targets = self.all_gather(targets).flatten(0, 1)
            ok = self.all_gather(ok).flatten(0, 1)
        scores, targets = scores[ok].cpu().numpy(), targets[ok].cpu().numpy()
        if len(scores) == 0:
            return
        from musicrep.metrics import classification_metrics, tagging_metrics

        if targets.ndim == 2:
            summary = tagging_metrics(targets, scores, self.vocab).summary()
        else:
            summary = classification_metrics(targets, scores, self.vocab).summary()
        for name, value in summary.items():
            if np.isfinite(value):
                # identical on every device (computed from the gathered predictions)
                self.log(f"val/{name}", float(value), sync_dist=True)

    def on_train_epoch_start(self) -> None:
        optimizers = self.trainer.optimizers
        if optimizers:
            lr = float(optimizers[0].param_groups[0]["lr"])
            self.log("lr", lr, on_step=False, on_epoch=True, sync_dist=True)

    # -- optimisation
    def configure_optimizers(self):
        t = self.training_config
        params = [p for p in self.parameters() if p.requires_grad]
        if t.schedule == "won2020":
            stage = 0
            for cb in self.trainer.callbacks if self._trainer is not None else []:
                if isinstance(cb, Won2020Schedule):
                    stage = cb.stage
            return won2020_optimizer(params, stage, adam_lr=t.lr)
        lr = t.lr if t.lr is not None else DEFAULT_LR[t.optimizer]
        wd = t.weight_decay if t.weight_decay is not None else 0.0
        opt = make_optimizer(params, t.optimizer, lr, wd, t.momentum)
        if t.schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=t.plateau_factor, patience=t.plateau_patience
            )
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "monitor": "val/loss", "interval": "epoch"},
            }
        if t.schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t.max_epochs)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return opt


# --------------------------------------------------------------------------- data


def _default_workers() -> int:
    return max(0, min(8, (os.cpu_count() or 1) - 1))


class ManifestDataModule(L.LightningDataModule):
    """Serves prebuilt datasets: random crops for training, whole tracks for validation."""

    def __init__(
        self,
        train_set,
        valid_set,
        batch_size: int,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        super().__init__()
        self.train_set = train_set
        self.valid_set = valid_set
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory

    def train_dataloader(self) -> DataLoader:
        if self.trainer is not None:
            self.train_set.set_epoch(self.trainer.current_epoch)
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=len(self.train_set) > self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )

    def val_dataloader(self) -> DataLoader:
        n = getattr(self.valid_set, "n_chunks", 1)
        return DataLoader(
            self.valid_set,
            batch_size=max(1, self.batch_size // n),
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )


# --------------------------------------------------------------------------- runs


def _is_rank_zero() -> bool:
    """Whether this process is the global rank 0 (before a Trainer exists; from the env)."""
    for key in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key]) == 0
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


#: Set by rank 0 before fitting so that DDP processes started by Lightning find the same run.
RUN_DIR_ENV = "MUSICREP_RUN_DIR"


def _show_progress() -> bool:
    return sys.stderr.isatty() or os.environ.get("MUSICREP_PROGRESS") == "1"


def _skipped_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and ln[0] != "#"]


def _write_skipped(path: Path, entries) -> None:
    from musicrep.utils import write_text_atomic

    lines = _skipped_lines(path)
    for e in entries:
        if e.format() not in lines:
            lines.append(e.format())
    header = "# path\tsplit\tmanifest line\treason\n"
    write_text_atomic(path, header + "".join(ln + "\n" for ln in lines))


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    run_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    results: dict | None = None
    skipped: list[str] = field(default_factory=list)
    rank_zero: bool = True


def _model_io(model: nn.Module) -> tuple[int, int]:
    enc = getattr(model, "encoder", model)
    try:
        return int(enc.sample_rate), int(enc.input_samples)
    except AttributeError:
        raise ConfigError(
            f"model {type(model).__name__} has no sample_rate/input_samples"
        ) from None


def _build_model(model_section: dict, num_outputs: int) -> nn.Module:
    from musicrep.models import create_model

    section = dict(model_section)
    name = section.pop("name")
    given = section.pop("num_outputs", None)
    if given is not None and int(given) != num_outputs:
        log.warning("model.num_outputs=%s replaced by the vocabulary size %d", given, num_outputs)
    return create_model(name, num_outputs=num_outputs, **section)


def _process_tags(manifest, data: DataConfig):
    """COALA's tag processing of a manifest's labels (``data.tags``): returns the processed
    manifest, the :class:`~musicrep.data.tags.TagVocabulary` (built from the training split)
    and the rows left without a tag (as skipped entries)."""
    from musicrep.data.dataset import SkippedFile
    from musicrep.data.tags import apply_vocabulary, check_options, vocabulary_from_manifest

    if data.vocab:
        raise ConfigError(
            "data.vocab and data.tags cannot be combined",
            "data.tags builds the vocabulary from the training split (set max_tags to limit it)",
        )
    if data.task == "singlelabel":
        raise ConfigError("data.tags gives multi-label targets; data.task is 'singlelabel'")
    options = check_options({} if data.tags is True else data.tags, "data.tags option(s)")
    vocab = vocabulary_from_manifest(manifest, data.train_split, **options)
    processed, dropped = apply_vocabulary(manifest, vocab)
    reason = "no tag left after tag processing (data.tags)"
    skipped = [SkippedFile(str(r.path), reason, r.line, r.split) for r in dropped]
    if dropped:
        log.warning("%d clip(s) left without a tag are skipped (see skipped.txt)", len(dropped))
    return processed, vocab, skipped


def _run_dir(config: dict, out: str | os.PathLike | None) -> Path:
    if out is not None:
        return Path(out).resolve()
    if os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs", f"{config['model']['name']}-{stamp}").resolve()


def read_run_config(run_dir: str | os.PathLike) -> dict:
    """The resolved recipe saved in ``RUN/config.json`` (the ``config`` entry)."""
    import json

    p = Path(run_dir) / "config.json"
    if not p.is_file():
        raise ConfigError(f"{run_dir} is not a musicrep run folder (no config.json)")
    return json.loads(p.read_text(encoding="utf-8"))["config"]


def train(
    config: dict,
    *,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    model: nn.Module | None = None,
    command: Sequence[str] | None = None,
    extra_callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train a model as a recipe says, then evaluate it track by track on the test split.

    Parameters
    ----------
    config : dict
        A recipe (sections ``model``, ``data``, ``training``, ``evaluation``, ``objective``);
        defaults are filled in by :func:`resolve_config`. ``data.manifest`` is required.
    out : path, optional
        Run folder (default ``runs/<model>-<YYYYmmdd-HHMMSS>``). Must not hold a run unless
        ``resume``.
    resume : bool
        Continue the run in ``out`` from ``checkpoints/last.ckpt`` (epochs, optimizer, schedule,
        early stopping and best checkpoint all continue).
    model : nn.Module, optional
        Use this model instead of ``musicrep.models.create_model(**config["model"])``; it must
        have ``sample_rate``/``input_samples`` (on itself or ``.encoder``) and return logits.
    command : sequence of str, optional
        The command line, recorded in ``config.json``.
    extra_callbacks : sequence of Callback
        Added to the Trainer's callbacks, before musicrep's own (so at each hook they run
        before the won2020 schedule; Lightning runs checkpointing last).

    Returns
    -------
    TrainResult
    """
    import json

    from musicrep.data.dataset import CropDataset, TrackDataset, infer_task, vocabulary
    from musicrep.data.manifest import Manifest
    from musicrep.evaluate_tracks import evaluate_tracks, format_results
    from musicrep.utils import environment_info, write_json_atomic, write_text_atomic

    cfg = resolve_config(config)
    data = DataConfig(**cfg["data"])
    tcfg = TrainingConfig(**cfg["training"])
    ecfg = EvaluationConfig(**cfg["evaluation"])
    rank_zero = _is_rank_zero()

    run_dir = _run_dir(cfg, out)
    ckpt_dir = run_dir / "checkpoints"
    last_ckpt = ckpt_dir / "last.ckpt"
    if resume:
        if not last_ckpt.is_file():
            raise ConfigError(
                f"cannot resume: {last_ckpt} does not exist",
                "the run stopped before its first epoch ended; start it again without --resume",
            )
    elif rank_zero and (ckpt_dir.exists() or (run_dir / "config.json").exists()):
        raise ConfigError(
            f"run folder {run_dir} already holds a run",
            "pass --resume to continue it, or choose another --out",
        )

    if not data.manifest:
        raise ConfigError("no manifest given", "pass --manifest CSV or set data.manifest")
    manifest_path = Path(data.manifest).resolve()
    cfg["data"]["manifest"] = str(manifest_path)
    manifest = Manifest.read(manifest_path)
    tag_vocab, untagged = None, []
    if data.tags:
        manifest, tag_vocab, untagged = _process_tags(manifest, data)
    task = data.task if data.task != "auto" else infer_task(manifest)
    if tag_vocab is not None:
        task = "multilabel"
    vocab = vocabulary(manifest) if tag_vocab is None else list(tag_vocab.tags)
    if data.vocab:
        unknown = [v for v in data.vocab if v not in set(vocab)]
        if unknown or len(set(data.vocab)) != len(data.vocab):
            close = difflib.get_close_matches(unknown[0], vocab, n=3) if unknown else []
            raise ConfigError(
                f"data.vocab: {', '.join(map(repr, unknown)) or 'duplicate labels'} "
                f"(not in {manifest_path}); valid labels: {', '.join(vocab)}",
                f"did you mean {', '.join(close)}?" if close else None,
            )
        vocab = list(data.vocab)
    if resume and (run_dir / "vocab.json").is_file():
        vocab = json.loads((run_dir / "vocab.json").read_text(encoding="utf-8"))
    if not vocab:
        raise ConfigError(f"{manifest_path}: no labels in the manifest")

    L.seed_everything(tcfg.seed, workers=True, verbose=False)
    if model is None:
        model = _build_model(cfg["model"], len(vocab))
    sample_rate, input_samples = _model_io(model)
    model_config = dict(getattr(model, "config", cfg["model"]))
    objective = build_objective(
        cfg["objective"],
        task=task,
        num_outputs=len(vocab),
        embed_dim=getattr(getattr(model, "encoder", model), "embed_dim", None),
        model_config=model_config,
    )
    # objectives that pick their input from longer clips (COALA) ask for that length; they
    # then see one clip per validation track (from its start) instead of native chunks
    example = objective.example_samples(model)
    data_samples = int(example) if example else input_samples
    valid_chunks = 1 if example else data.valid_chunks

    if rank_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        os.environ[RUN_DIR_ENV] = str(run_dir)
    skipped_path = run_dir / "skipped.txt"
    train_set = CropDataset(
        manifest,
        data.train_split,
        vocab,
        sample_rate,
        data_samples,
        task,
        seed=tcfg.seed,
        failure_log=skipped_path if rank_zero else None,
    )
    valid_set = TrackDataset(
        manifest,
        data.valid_split,
        vocab,
        sample_rate,
        data_samples,
        task,
        n_chunks=valid_chunks,
        endpoint=ecfg.endpoint,
        failure_log=skipped_path if rank_zero else None,
    )
    for split, ds in ((data.train_split, train_set), (data.valid_split, valid_set)):
        if len(ds) == 0:
            raise ConfigError(
                f"{manifest_path}: no usable rows in split {split!r} ({len(ds.skipped)} skipped)",
                "check the split column (train/valid/test) and skipped files above",
            )

    hparams = {
        "config": cfg,
        "vocab": list(vocab),
        "task": task,
        "model_config": model_config,
        "sample_rate": sample_rate,
        "input_samples": input_samples,
    }
    num_workers = data.num_workers if data.num_workers is not None else _default_workers()
    if not resume and type(objective).prepare is not Objective.prepare:
        # e.g. COALA fits the input scaler stored in the model on the training clips
        use_cuda = torch.cuda.is_available() and tcfg.accelerator in ("auto", "gpu", "cuda")
        loader = DataLoader(
            train_set, batch_size=tcfg.batch_size, shuffle=False, num_workers=num_workers
        )
        objective.prepare(model, loader, torch.device("cuda") if use_cuda else None)

    if rank_zero:
        _write_skipped(skipped_path, untagged + train_set.skipped + valid_set.skipped)
        if tag_vocab is not None:
            tag_vocab.save(run_dir / "tag_vocabulary.json")
        saved = {
            "config": cfg,
            "task": task,
            "vocab": list(vocab),
            "seed": tcfg.seed,
            "model_config": model_config,
            "sample_rate": sample_rate,
            "input_samples": input_samples,
            "environment": environment_info(),
            "command": shlex.join(command) if command else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "resumed": bool(resume),
        }
        if resume and (run_dir / "config.json").is_file():
            previous = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
            saved["created"] = previous.get("created", saved["created"])
            saved["resumed_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        write_json_atomic(run_dir / "config.json", saved)
        write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
        write_json_atomic(run_dir / "vocab.json", list(vocab))

    module = MusicrepModule(model, objective, tcfg, hparams, vocab)
    datamodule = ManifestDataModule(
        train_set, valid_set, tcfg.batch_size, num_workers, pin_memory=torch.cuda.is_available()
    )

    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best",
        monitor="val/loss",
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # A second checkpoint callback writes last.ckpt after every epoch: Lightning's save_last
    # only refreshes it in epochs where the monitored value improved.
    last_checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="last",
        monitor=None,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # user callbacks first: at each hook they run before the schedule (checkpointing is last)
    callbacks: list[Callback] = [*extra_callbacks, checkpoint, last_checkpoint, _CropEpoch()]
    if tcfg.early_stopping_patience > 0:
        callbacks.append(
            # strict=False: a run stopped by max_steps before its first validation has no
            # val/loss yet, which must not crash it
            EarlyStopping(
                monitor="val/loss",
                mode="min",
                patience=tcfg.early_stopping_patience,
                strict=False,
            )
        )
    if tcfg.schedule == "won2020":
        callbacks.append(Won2020Schedule(won2020_milestones(tcfg.max_epochs), checkpoint))
    if _show_progress():
        from lightning.pytorch.callbacks import TQDMProgressBar

        callbacks.append(TQDMProgressBar())
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    loggers = [  # CSV: one version_<n>/metrics.csv per session (a resumed run adds one)
        CSVLogger(run_dir / "logs", name="csv"),
        TensorBoardLogger(run_dir, name="logs", version="tensorboard", default_hp_metric=False),
    ]
    trainer_kwargs: dict[str, Any] = {
        "default_root_dir": run_dir,
        "max_epochs": tcfg.max_epochs,
        "max_steps": tcfg.max_steps,
        "accelerator": tcfg.accelerator,
        "devices": tcfg.devices,
        "strategy": tcfg.strategy,
        "precision": tcfg.precision,
        "callbacks": callbacks,
        "logger": loggers,
        "log_every_n_steps": tcfg.log_every_n_steps,
        "num_sanity_val_steps": tcfg.num_sanity_val_steps,
        "enable_progress_bar": _show_progress(),
        "gradient_clip_val": tcfg.gradient_clip_val,
    }
    if tcfg.limit_train_batches is not None:
        trainer_kwargs["limit_train_batches"] = tcfg.limit_train_batches
    if tcfg.limit_val_batches is not None:
        trainer_kwargs["limit_val_batches"] = tcfg.limit_val_batches
    trainer = L.Trainer(**trainer_kwargs)
    trainer.fit(
        module,
        datamodule=datamodule,
        ckpt_path=str(last_ckpt) if resume else None,
        weights_only=True if resume else None,
    )

    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    result = TrainResult(
        run_dir=run_dir,
        best_checkpoint=best if best and best.is_file() else None,
        last_checkpoint=last_ckpt if last_ckpt.is_file() else None,
        rank_zero=trainer.is_global_zero,
    )
    if not trainer.is_global_zero:
        return result
    result.skipped = _skipped_lines(skipped_path)

    if ecfg.enabled:
        test_set = TrackDataset(
            manifest,
            ecfg.split,
            vocab,
            sample_rate,
            input_samples,
            task,
            n_chunks=ecfg.chunks,
            endpoint=ecfg.endpoint,
            failure_log=skipped_path,
        )
        if len(test_set) == 0 and not test_set.skipped:
            print(f"no rows in split {ecfg.split!r}: test evaluation skipped", file=sys.stderr)
        else:
            if result.best_checkpoint is not None:
                state = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
                model.load_state_dict(_model_state(state["state_dict"]))
            device = trainer.strategy.root_device
            model.to(device)
            results = evaluate_tracks(
                model,
                test_set,
                device=device,
                batch_size=ecfg.batch_size,
                num_workers=num_workers,
                show_progress=_show_progress(),
            )
            results["checkpoint"] = str(result.best_checkpoint) if result.best_checkpoint else None
            if checkpoint.best_model_score is not None:
                results["best_val_loss"] = float(checkpoint.best_model_score)
            results["epochs_trained"] = int(trainer.current_epoch)
            results["skipped_file"] = str(skipped_path)
            write_json_atomic(run_dir / "results.json", results)
            result.results = results
            print(format_results(results))
    _write_skipped(skipped_path, [])
    result.skipped = _skipped_lines(skipped_path)
    return result


# --------------------------------------------------------------------------- checkpoints


def find_checkpoint(path: str | os.PathLike) -> Path:
    """``path`` if it is a ``.ckpt`` file; for a run folder its ``best.ckpt`` (else ``last``)."""
    p = Path(path)
    if p.is_file():
        return p
    for name in ("best.ckpt", "last.ckpt"):
        if (p / "checkpoints" / name).is_file():
            return p / "checkpoints" / name
    raise ConfigError(
        f"no checkpoint in {p}", "pass a run folder with checkpoints/best.ckpt, or a .ckpt file"
    )


def load_checkpoint_model(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Rebuild the model of a training checkpoint (loaded with ``weights_only=True``).

    Parameters
    ----------
    path : path
        A run folder (uses ``checkpoints/best.ckpt``, else ``last.ckpt``) or a ``.ckpt`` file.

    Returns
    -------
    model : nn.Module
        In eval mode, on ``map_location``.
    meta : dict
        ``model`` (config for ``create_model(**...)``), ``vocab``, ``task``, ``sample_rate``,
        ``input_samples``, ``checkpoint``, ``epoch``.
    """
    from musicrep.models import create_model

    ckpt_path = find_checkpoint(path)
    ckpt = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    hp = ckpt.get("hyper_parameters") or {}
    if "model_config" not in hp:
        raise ConfigError(f"{ckpt_path} was not written by musicrep train (no model config)")
    model = create_model(**hp["model_config"])
    model.load_state_dict(_model_state(ckpt["state_dict"]))
    model.to(map_location).eval()
    meta = {
        "model": hp["model_config"],
        "vocab": list(hp["vocab"]),
        "task": hp["task"],
        "sample_rate": int(hp["sample_rate"]),
        "input_samples": int(hp["input_samples"]),
        "checkpoint": str(ckpt_path),
        "epoch": int(ckpt.get("epoch", -1)),
    }
    return model, meta
