"""``train()``: a recipe -> a run folder with checkpoints, logs and test results.

:func:`train` goes through small steps: open the run folder (:class:`RunFolder`: new, resumed,
restarted or overwritten), read the manifest and decide the task and vocabulary
(:func:`load_data`), build the encoder and the objective (:func:`build_parts`), the datasets of
the objective's views (:func:`build_datamodule`), prepare the objective, write the run's files,
build the Lightning Trainer (:func:`build_trainer`), fit, and run the objective's final
evaluation (:func:`finish`). The run folder::

    RUN/config.yaml         resolved recipe (re-runnable: musicrep train --recipe RUN/config.yaml)
    RUN/config.json         the same + vocabulary, task, seed, package versions, command line
    RUN/vocab.json          label vocabulary (target order; empty for label-free objectives)
    RUN/skipped.txt         manifest rows left out (path, split, line, reason)
    RUN/tag_vocabulary.json with data.tags: the processed tag vocabulary and its counts
    RUN/checkpoints/        best.ckpt (best monitored metric) and last.ckpt (for --resume),
                            written atomically
    RUN/logs/metrics.csv    training curves, one file for the whole run (resumes append);
                            RUN/logs/tensorboard/
    RUN/results.json        the objective's final evaluation of best.ckpt (e.g. track-level
                            test metrics of a tagging model); absent when it has none
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from musicrep.errors import ConfigError
from musicrep.objectives import Objective, build_objective, objective_attribute
from musicrep.training.callbacks import (
    AtomicCheckpointIO,
    EpochSummary,
    PreciseBatchNorm,
    RandomState,
    RunCSVLogger,
)
from musicrep.training.checkpoints import (
    LAYOUT,
    open_checkpoint,
)
from musicrep.training.config import (
    DataConfig,
    EvaluationConfig,
    TrainingConfig,
    resolve_config,
)
from musicrep.training.data import DataEpoch, EvalData, ViewDataModule, ViewDataset
from musicrep.training.folder import (
    RUN_DIR_ENV,
    RunFolder,
    _default_run_dir,
    _is_rank_zero,
    _skipped_lines,
    _write_skipped,
    show_progress,
)
from musicrep.training.module import MusicrepModule
from musicrep.training.task import RunData, decide_task, load_data

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    run_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    results: dict | None = None
    skipped: list[str] = field(default_factory=list)
    rank_zero: bool = True


# --------------------------------------------------------------------------- model parts


def _split_model_section(section: dict[str, Any], objective: dict) -> tuple[dict, dict]:
    """``(encoder options, objective's model options)`` of a ``model:`` section."""
    from musicrep.models.factory import ENCODER_KEYS

    options = tuple(objective_attribute(objective, "model_options", ()) or ())
    section = {k: v for k, v in section.items() if k != "init"}  # build_parts loads it
    enc = {k: v for k, v in section.items() if k in ENCODER_KEYS}
    rest = {k: v for k, v in section.items() if k not in ENCODER_KEYS and k != "num_outputs"}
    unknown = sorted(k for k in rest if k not in options)
    if unknown:
        valid = [*ENCODER_KEYS, "num_outputs", *options]
        raise ConfigError(
            f"unknown model option(s) {', '.join(unknown)} for objective {objective['name']!r}",
            f"valid: {', '.join(valid)}",
        )
    return enc, rest


def build_parts(
    cfg: dict,
    task: str | None,
    vocab: Sequence[str] | None,
    encoder: nn.Module | None = None,
    encoder_config: dict | None = None,
) -> tuple[nn.Module | None, Objective]:
    """The encoder and the objective of a resolved recipe.

    Parameters
    ----------
    cfg : dict
        A resolved recipe (:func:`~musicrep.training.config.resolve_config`).
    task, vocab
        From :func:`load_data`.
    encoder : nn.Module, optional
        Train this encoder instead of building the recipe's (it needs ``sample_rate``,
        ``input_samples`` and ``embed_dim``; with a ``config`` it can be exported).
    encoder_config : dict, optional
        Rebuild the encoder from this config (:func:`musicrep.models.rebuild_encoder`;
        checkpoints store it) instead of the recipe's model section.
    """
    from musicrep.models import create_encoder, rebuild_encoder

    section = dict(cfg.get("model") or {})
    init = section.pop("init", None)
    objective_spec = cfg["objective"]
    extra: dict[str, Any] = {}
    if init and encoder is None and not encoder_config:
        # fine-tuning: start from a trained model's encoder (pretrained name, exported folder
        # or run folder; musicrep.io.load_model), the objective adds a new head
        from musicrep.io import load_model

        model, _, _ = load_model(init, untrained_ok=False)
        encoder = getattr(model, "encoder", model).train()
        section = {k: v for k, v in section.items() if k != "name"}
    if section:
        enc_options, extra = _split_model_section(section, objective_spec)
        if encoder is None:
            encoder = (
                rebuild_encoder(encoder_config) if encoder_config else create_encoder(**enc_options)
            )
    elif encoder is None and encoder_config:
        encoder = rebuild_encoder(encoder_config)
    model_config = None
    if encoder is not None:
        model_config = {**(getattr(encoder, "config", None) or {}), **extra}
    objective = build_objective(
        objective_spec, encoder=encoder, task=task, vocab=vocab, model_config=model_config
    )
    return encoder, objective


def data_shape(encoder: nn.Module | None, objective: Objective) -> tuple[int, int, int]:
    """``(sample_rate, input_samples, example_samples)`` of the training data."""
    owner = encoder if encoder is not None else objective
    if encoder is None and objective.provides_data:
        example = objective.example_samples(None)
        return int(getattr(objective, "sample_rate", 0) or 0), 0, int(example or 0)
    try:
        sample_rate = int(owner.sample_rate)
        input_samples = int(getattr(owner, "input_samples", 0) or 0)
    except AttributeError:
        raise ConfigError(
            f"{type(owner).__name__} has no sample_rate/input_samples",
            "an objective without an encoder must define sample_rate and example_samples()",
        ) from None
    example = objective.example_samples(encoder)
    samples = int(example) if example else input_samples
    if samples <= 0:
        raise ConfigError(f"objective {type(objective).__name__} gives no example length")
    return sample_rate, input_samples or samples, samples


# --------------------------------------------------------------------------- data loaders


def _default_workers() -> int:
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def build_datamodule(
    cfg: dict, run: RunData, encoder: nn.Module | None, objective: Objective, folder: RunFolder
) -> ViewDataModule:
    """Datasets of the objective's training and validation views over the manifest."""
    data = DataConfig(**cfg["data"])
    tcfg = TrainingConfig(**cfg["training"])
    ecfg = EvaluationConfig(**cfg["evaluation"])
    workers = data.num_workers if data.num_workers is not None else _default_workers()
    if objective.provides_data:
        sets = {}
        for split in (data.train_split, data.valid_split):
            sets[split] = objective.make_dataset(split, tcfg.seed)
            if sets[split] is None or len(sets[split]) == 0:
                raise ConfigError(
                    f"objective {cfg['objective']['name']!r} made no data for split {split!r}"
                )
        return ViewDataModule(
            sets[data.train_split],
            sets[data.valid_split],
            tcfg.batch_size,
            workers,
            pin_memory=torch.cuda.is_available(),
            seed=tcfg.seed,
        )
    sample_rate, _, samples = data_shape(encoder, objective)
    failure_log = folder.skipped if folder.rank_zero else None
    common = {
        "vocab": run.vocab,
        "sample_rate": sample_rate,
        "samples": samples,
        "task": run.task,
        "seed": tcfg.seed,
        "chunks": data.valid_chunks,
        "endpoint": ecfg.endpoint,
        "failure_log": failure_log,
    }
    train_set = ViewDataset(run.manifest, data.train_split, objective.training_views(), **common)
    valid_set = ViewDataset(run.manifest, data.valid_split, objective.validation_views(), **common)
    for split, ds in ((data.train_split, train_set), (data.valid_split, valid_set)):
        if len(ds) == 0:
            raise ConfigError(
                f"{run.manifest_path}: no usable rows in split {split!r} "
                f"({len(ds.skipped)} skipped)",
                "check the split column (train/valid/test) and skipped files above",
            )
    return ViewDataModule(
        train_set,
        valid_set,
        tcfg.batch_size,
        workers,
        pin_memory=torch.cuda.is_available(),
        seed=tcfg.seed,
    )


def _device(tcfg: TrainingConfig) -> torch.device | None:
    use_cuda = torch.cuda.is_available() and tcfg.accelerator in ("auto", "gpu", "cuda")
    return torch.device("cuda") if use_cuda else None


def prepare_objective(
    encoder: nn.Module | None, objective: Objective, dm: ViewDataModule, tcfg: TrainingConfig
) -> None:
    """Call the objective's ``prepare`` with the training batches (when it defines one)."""
    if type(objective).prepare is Objective.prepare:
        return
    loader = DataLoader(
        dm.train_set, batch_size=tcfg.batch_size, shuffle=False, num_workers=dm.num_workers
    )
    objective.prepare(encoder, loader, _device(tcfg))


# --------------------------------------------------------------------------- files and trainer


def _count(module: nn.Module | None) -> str:
    n = sum(p.numel() for p in module.parameters()) if module is not None else 0
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def describe(cfg: dict, run: RunData, encoder, objective, dm: ViewDataModule) -> str:
    """What is about to be trained, in three lines."""
    tcfg = TrainingConfig(**cfg["training"])
    name = (cfg.get("model") or {}).get("name")
    task = run.task or "none"
    labels = f", {len(run.vocab)} labels" if run.task else ""
    steps = max(1, len(dm.train_set) // tcfg.batch_size)
    views = ", ".join(v.name for v in objective.training_views())
    encoder_part = f"{name} encoder {_count(encoder)} parameters + " if name else ""
    return (
        f"task: {task} ({run.reason}){labels}\n"
        f"model: {encoder_part}objective {cfg['objective']['name']!r} {_count(objective)}; "
        f"views: {views}\n"
        f"data: {len(dm.train_set)} training clips, {len(dm.valid_set)} validation clips; "
        f"batch {tcfg.batch_size}, {steps} steps per epoch, up to {tcfg.max_epochs} epochs"
    )


def write_run_files(
    folder: RunFolder, cfg: dict, run: RunData, hparams: dict, command, resumed: bool
) -> None:
    """config.json, config.yaml, vocab.json, skipped.txt, tag_vocabulary.json."""
    from musicrep.utils import environment_info, write_json_atomic, write_text_atomic

    if run.tag_vocab is not None:
        run.tag_vocab.save(folder.path / "tag_vocabulary.json")
    saved = {
        **{k: hparams[k] for k in ("config", "task", "vocab")},
        "seed": cfg["training"]["seed"],
        **{k: hparams[k] for k in ("model_config", "encoder_config")},
        **{k: hparams[k] for k in ("sample_rate", "input_samples")},
        "environment": environment_info(),
        "command": shlex.join(command) if command else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "resumed": bool(resumed),
    }
    config_json = folder.path / "config.json"
    if resumed and config_json.is_file():
        previous = json.loads(config_json.read_text(encoding="utf-8"))
        saved["created"] = previous.get("created", saved["created"])
        saved["resumed_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_json_atomic(config_json, saved)
    write_text_atomic(folder.path / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    write_json_atomic(folder.path / "vocab.json", list(run.vocab))


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning without its start-up chatter (device lines, tips, the model summary) and
    without two warnings that say nothing about the run: torch's ``LeafSpec`` deprecation
    (raised inside Lightning) and the non-empty checkpoint folder of a resumed run. Other
    warnings and errors are shown as usual."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated"
        )
        warnings.filterwarnings(
            "ignore", message=r"Checkpoint directory .* exists and is not empty"
        )
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def build_trainer(
    cfg: dict,
    folder: RunFolder,
    objective: Objective,
    dm: ViewDataModule,
    resume_epoch: int | None,
    extra_callbacks: Sequence[Callback] = (),
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning Trainer of a run and its best-checkpoint callback."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from musicrep.training.schedules import SCHEDULES

    tcfg = TrainingConfig(**cfg["training"])
    monitor, mode = objective.monitor
    best = ModelCheckpoint(
        dirpath=folder.checkpoints,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # A second checkpoint callback writes last.ckpt after every epoch: Lightning's save_last
    # only refreshes it in epochs where the monitored value improved.
    last = ModelCheckpoint(
        dirpath=folder.checkpoints,
        filename="last",
        monitor=None,
        save_top_k=1,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    # user callbacks first: at each hook they run before the schedule (checkpointing is last)
    callbacks: list[Callback] = [*extra_callbacks, best, last, RandomState(), DataEpoch()]
    callbacks += objective.callbacks()
    if tcfg.precise_bn_batches > 0:
        callbacks.append(PreciseBatchNorm(tcfg.precise_bn_batches))
    if tcfg.early_stopping_patience > 0:
        # strict=False: a run stopped by max_steps before its first validation has no
        # monitored value yet, which must not crash it
        callbacks.append(
            EarlyStopping(
                monitor=monitor, mode=mode, patience=tcfg.early_stopping_patience, strict=False
            )
        )
    callbacks += SCHEDULES.create(tcfg.schedule).callbacks(tcfg, best)
    if show_progress():
        from lightning.pytorch.callbacks import TQDMProgressBar

        callbacks.append(TQDMProgressBar())
    else:
        callbacks.append(EpochSummary(monitor, mode, best))
    loggers = [
        RunCSVLogger(folder.path / "logs", keep_epochs_up_to=resume_epoch),
        TensorBoardLogger(folder.path, name="logs", version="tensorboard", default_hp_metric=False),
    ]
    steps = max(1, len(dm.train_set) // tcfg.batch_size)
    if isinstance(tcfg.limit_train_batches, int):
        steps = max(1, min(steps, tcfg.limit_train_batches))
    kwargs: dict[str, Any] = {
        "default_root_dir": folder.path,
        "max_epochs": tcfg.max_epochs,
        "max_steps": tcfg.max_steps,
        "accelerator": tcfg.accelerator,
        "devices": tcfg.devices,
        "strategy": tcfg.strategy,
        "precision": tcfg.precision,
        "callbacks": callbacks,
        "logger": loggers,
        "log_every_n_steps": max(1, min(tcfg.log_every_n_steps, steps)),
        "num_sanity_val_steps": tcfg.num_sanity_val_steps,
        "enable_progress_bar": show_progress(),
        "enable_model_summary": False,
        "gradient_clip_val": tcfg.gradient_clip_val,
        "plugins": [AtomicCheckpointIO()],
    }
    if tcfg.limit_train_batches is not None:
        kwargs["limit_train_batches"] = tcfg.limit_train_batches
    if tcfg.limit_val_batches is not None:
        kwargs["limit_val_batches"] = tcfg.limit_val_batches
    return L.Trainer(**kwargs), best


# --------------------------------------------------------------------------- the end of a run


def _print_results(results: dict) -> None:
    from musicrep.evaluate_tracks import format_results

    if "n_tracks" in results:
        print(format_results(results))
        return
    metrics = results.get("metrics", results)
    print("final evaluation:")
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            print(f"  {key:<20}  {value:.4f}")


def finish(
    trainer: L.Trainer,
    module: MusicrepModule,
    best: ModelCheckpoint,
    cfg: dict,
    run: RunData,
    folder: RunFolder,
    dm: ViewDataModule,
) -> TrainResult:
    """Load the best checkpoint, run the objective's final evaluation, write results.json."""
    from musicrep.utils import write_json_atomic

    best_path = Path(best.best_model_path) if best.best_model_path else None
    result = TrainResult(
        run_dir=folder.path,
        best_checkpoint=best_path if best_path and best_path.is_file() else None,
        last_checkpoint=folder.last if folder.last.is_file() else None,
        rank_zero=trainer.is_global_zero,
    )
    if not trainer.is_global_zero:
        return result
    ecfg = EvaluationConfig(**cfg["evaluation"])
    if ecfg.enabled:
        if result.best_checkpoint is not None:
            _, state = open_checkpoint(result.best_checkpoint)
            module.load_state_dict(state["state_dict"])
        data = EvalData(
            manifest=run.manifest,
            split=ecfg.split,
            sample_rate=getattr(dm.train_set, "sample_rate", 0),
            chunks=ecfg.chunks,
            endpoint=ecfg.endpoint,
            device=trainer.strategy.root_device,
            batch_size=ecfg.batch_size,
            num_workers=dm.num_workers,
            show_progress=show_progress(),
            failure_log=folder.skipped,
        )
        module.to(data.device)
        results = module.objective.evaluate(module.encoder, data)
        if results is not None:
            results["checkpoint"] = str(result.best_checkpoint) if result.best_checkpoint else None
            if best.best_model_score is not None:
                key = "best_val_loss" if best.monitor == "val/loss" else f"best_{best.monitor}"
                results[key.replace("/", "_")] = float(best.best_model_score)
            results["epochs_trained"] = int(trainer.current_epoch)
            results["skipped_file"] = str(folder.skipped)
            write_json_atomic(folder.path / "results.json", results)
            result.results = results
            _print_results(results)
    _write_skipped(folder.skipped, [])
    result.skipped = _skipped_lines(folder.skipped)
    return result


# --------------------------------------------------------------------------- train()


def _hparams(cfg: dict, run: RunData, encoder, objective: Objective) -> dict[str, Any]:
    sample_rate, input_samples, _ = data_shape(encoder, objective)
    encoder_config = getattr(encoder, "config", None) if encoder is not None else None
    model_config = None
    if cfg.get("model"):
        model_config = {
            **(encoder_config or {}),
            **_split_model_section(cfg["model"], cfg["objective"])[1],
        }
    return {
        "layout": LAYOUT,
        "config": cfg,
        "vocab": list(run.vocab),
        "task": run.task,
        "encoder_config": encoder_config,
        "model_config": model_config,
        "sample_rate": sample_rate,
        "input_samples": input_samples,
    }


def train(
    config: dict,
    *,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    encoder: nn.Module | None = None,
    command: Sequence[str] | None = None,
    extra_callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train as a recipe says, then run the objective's final evaluation.

    Parameters
    ----------
    config : dict
        A recipe (sections ``model``, ``data``, ``training``, ``evaluation``, ``objective``);
        defaults are filled in by :func:`~musicrep.training.config.resolve_config`.
        ``data.manifest`` is required.
    out : path, optional
        Run folder (default ``runs/<model>-<YYYYmmdd-HHMMSS>``). A folder holding a run with
        checkpoints is refused unless ``resume`` or ``overwrite``; a run that stopped before its
        first checkpoint is started again.
    resume : bool
        Continue the run in ``out`` from ``checkpoints/last.ckpt`` (epochs, optimizer,
        schedule, early stopping, best checkpoint, random state, data order: the epochs that
        follow are those of an uninterrupted run). Falls back to ``best.ckpt`` when
        ``last.ckpt`` cannot be read; a run without a checkpoint starts from the beginning.
    overwrite : bool
        Remove the run's files in ``out`` and start again.
    encoder : nn.Module, optional
        Train this encoder instead of the recipe's ``model`` (see :func:`build_parts`).
    command : sequence of str, optional
        The command line, recorded in ``config.json``.
    extra_callbacks : sequence of Callback
        Added to the Trainer's callbacks, before musicrep's own (so at each hook they run
        before the schedule's; Lightning runs checkpointing last).

    Returns
    -------
    TrainResult
    """
    cfg = resolve_config(config)
    tcfg = TrainingConfig(**cfg["training"])
    folder = RunFolder(out if out is not None else _default_run_dir(cfg), _is_rank_zero())
    folder.lock()
    try:
        return _train(cfg, tcfg, folder, resume, overwrite, encoder, command, extra_callbacks)
    finally:
        folder.unlock()


def _train(cfg, tcfg, folder, resume, overwrite, encoder, command, extra_callbacks) -> TrainResult:
    ckpt_path = folder.start(resume, overwrite)
    resume_epoch = None
    if ckpt_path is not None:
        resume_epoch = int(open_checkpoint(ckpt_path)[1].get("epoch", 0))
    run = load_data(cfg, folder, resumed=ckpt_path is not None)
    L.seed_everything(tcfg.seed, workers=True, verbose=False)
    encoder, objective = build_parts(cfg, run.task, run.vocab, encoder)
    if folder.rank_zero:
        folder.path.mkdir(parents=True, exist_ok=True)
        os.environ[RUN_DIR_ENV] = str(folder.path)
    dm = build_datamodule(cfg, run, encoder, objective, folder)
    if ckpt_path is None:
        prepare_objective(encoder, objective, dm, tcfg)
    hparams = _hparams(cfg, run, encoder, objective)
    if folder.rank_zero:
        print(describe(cfg, run, encoder, objective, dm), flush=True)
        skipped = [*getattr(dm.train_set, "skipped", []), *getattr(dm.valid_set, "skipped", [])]
        _write_skipped(folder.skipped, run.untagged + skipped)
        write_run_files(folder, cfg, run, hparams, command, ckpt_path is not None)
    module = MusicrepModule(encoder, objective, tcfg, hparams)
    with quiet_lightning():
        trainer, best = build_trainer(cfg, folder, objective, dm, resume_epoch, extra_callbacks)
        trainer.fit(
            module,
            datamodule=dm,
            ckpt_path=str(ckpt_path) if ckpt_path is not None else None,
            weights_only=True if ckpt_path is not None else None,
        )
    return finish(trainer, module, best, cfg, run, folder, dm)


__all__ = [
    "RUN_DIR_ENV",
    "RunData",
    "RunFolder",
    "TrainResult",
    "build_datamodule",
    "build_parts",
    "build_trainer",
    "decide_task",
    "load_data",
    "train",
]
