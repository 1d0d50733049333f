"""Recipes: the schema of a training recipe, its validation, overrides and defaults.

A recipe (YAML) has five sections and three documentation keys::

    description/reference/notes: ...                       # for people
    model:      {name: hcnn, ...overrides}                   # the encoder (+ head options)
    data:       {manifest: data/tags.csv, ...}               # DataConfig
    training:   {batch_size: 16, schedule: won2020, ...}     # TrainingConfig
    evaluation: {chunks: 16, ...}                            # EvaluationConfig
    objective:  {name: supervised, ...options}               # musicrep.objectives

``model`` names a zoo model (``musicrep list models``) with overrides of its encoder
(``frontend``, ``frontend_kwargs``, ``backend_kwargs``, ``input_samples``) and of the head the
objective adds (``dropout``, ``head_hidden``; COALA's ``variant``); it may be omitted (or
``none``) when the objective builds its own network. Every key of ``data``/``training``/
``evaluation``, its default and meaning is in the dataclasses below; unknown keys are an error
that lists the valid ones. :func:`resolve_config` fills in the defaults.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from musicrep.errors import ConfigError

#: Default learning rate of each optimizer when ``training.lr`` is not given.
DEFAULT_LR = types.MappingProxyType({"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2})

OPTIMIZERS = ("adam", "adamw", "sgd")
SECTIONS = ("model", "data", "training", "evaluation", "objective")
#: Top-level recipe keys that carry documentation only.
INFO_KEYS = ("description", "reference", "notes")
#: ``data.task`` values; ``"auto"`` infers the task from the manifest.
DATA_TASKS = ("auto", "multilabel", "singlelabel")


@dataclass
class DataConfig:
    """Keys of a recipe's ``data:`` section.

    Attributes
    ----------
    manifest : str, optional
        Manifest CSV (``--manifest`` on the command line overrides it).
    task : {"auto", "multilabel", "singlelabel"}
        Label format. ``"auto"`` (the default, and what the shipped recipes use) reads it from
        the manifest: single-label when every row has exactly one label, else multi-label. Set
        it only to force a format (e.g. ``--set data.task=multilabel`` to train one-hot classes
        with binary cross-entropy); the run prints which task it uses and why. Label-free
        objectives ignore labels.
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
    schedule : str
        Learning-rate schedule, a name of :data:`musicrep.training.schedules.SCHEDULES`:
        ``plateau``, ``cosine``, ``none``, ``polynomial``, ``won2020``.
    optimizer : {"adam", "adamw", "sgd"}
        Optimizer for every schedule but ``won2020`` (which fixes Adam then SGD). Objectives may
        give parameter groups their own learning rates.
    lr : float, optional
        Learning rate; default 1e-3 for Adam/AdamW, 1e-2 for SGD, and for ``won2020`` the Adam
        stage's 1e-4 (the SGD stages keep 1e-3/1e-4/1e-5).
    weight_decay : float, optional
        Default 0, and 1e-4 for ``won2020``.
    momentum : float
        SGD momentum (Nesterov) for ``optimizer: sgd``.
    plateau_factor, plateau_patience : float, int
        ``ReduceLROnPlateau`` factor and patience (epochs) of the ``plateau`` schedule.
    polynomial_power : float
        Exponent of the ``polynomial`` schedule's decay to 0 (1: linear).
    early_stopping_patience : int
        Stop after this many epochs without improvement of the objective's monitored metric
        (the validation loss by default); 0 disables.
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
    precise_bn_batches : int
        Before every validation, recompute the encoder's BatchNorm statistics over this many
        training batches (:class:`musicrep.training.callbacks.PreciseBatchNorm`); 0 keeps the
        running averages. Short runs need it: the running averages start at mean 0 / variance
        1 and after a few dozen steps can still collapse a deep BatchNorm encoder's eval-mode
        embeddings to one vector.
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
    polynomial_power: float = 1.0
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
    precise_bn_batches: int = 0


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
        from musicrep.training.schedules import SCHEDULES

        if cfg.schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown training.schedule {cfg.schedule!r}; valid: {', '.join(SCHEDULES.names())}"
            )
        if cfg.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown training.optimizer {cfg.optimizer!r}; valid: {', '.join(OPTIMIZERS)}"
            )
        if cfg.batch_size <= 0 or cfg.max_epochs <= 0:
            raise ConfigError("training.batch_size and training.max_epochs must be positive")
    if name == "data":
        if cfg.task not in DATA_TASKS:
            raise ConfigError(f"unknown data.task {cfg.task!r}; valid: {', '.join(DATA_TASKS)}")
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
    objective = recipe.get("objective") or {"name": "supervised"}
    if isinstance(objective, str):
        objective = {"name": objective}
    model = recipe.get("model")
    if isinstance(model, str):
        model = None if model.lower() in ("none", "null", "") else {"name": model}
    if model is None or model == {}:
        from musicrep.objectives import objective_attribute

        if objective_attribute(objective, "requires_encoder", True):
            raise ConfigError(
                "the recipe names no model", "add 'model: {name: ...}' or pass --model NAME"
            )
        model = None
    elif isinstance(model, dict) and model.get("init") and not model.get("name"):
        model = {**model, "name": str(model["init"])}  # fine-tuning a trained model (--init)
    elif not isinstance(model, dict) or not model.get("name"):
        raise ConfigError(
            "the recipe names no model", "add 'model: {name: ...}' or pass --model NAME"
        )
    out: dict[str, Any] = {k: recipe[k] for k in INFO_KEYS if k in recipe}
    out["model"] = dict(model) if model is not None else None
    for name in ("data", "training", "evaluation"):
        section = recipe.get(name) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"recipe section '{name}' must be a mapping; got {section!r}")
        out[name] = dataclasses.asdict(parse_section(name, section))
    out["objective"] = dict(objective)
    return out


def read_run_config(run_dir: str | os.PathLike) -> dict:
    """The resolved recipe saved in ``RUN/config.json`` (the ``config`` entry)."""
    import json

    p = Path(run_dir) / "config.json"
    if not p.is_file():
        raise ConfigError(
            f"{run_dir} is not a musicrep run folder (no config.json)",
            "pass the --out folder of an earlier 'musicrep train'",
        )
    try:
        return json.loads(p.read_text(encoding="utf-8"))["config"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ConfigError(f"{p} is not a musicrep run config: {exc}") from None


__all__ = [
    "DEFAULT_LR",
    "OPTIMIZERS",
    "SECTIONS",
    "DataConfig",
    "EvaluationConfig",
    "TrainingConfig",
    "apply_overrides",
    "load_recipe",
    "parse_override",
    "parse_section",
    "read_run_config",
    "resolve_config",
]
