"""Training checkpoints: find them, read them safely, rebuild the model they hold.

A run folder keeps ``checkpoints/best.ckpt`` (the best value of the objective's monitored
metric) and ``checkpoints/last.ckpt`` (the end of the latest epoch, for ``--resume``). They
hold tensors and plain Python values only, so they load with ``torch.load(path,
weights_only=True)``; the model is rebuilt from the recipe stored in them
(:func:`load_checkpoint_model`). A checkpoint that cannot be read (truncated by a kill during a
write of an older version, a full disk, a copy cut short) raises :class:`CheckpointError`
naming the file; where the run has another readable checkpoint, the readers here fall back to
it with a warning.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError

#: Version of the checkpoint layout written by :func:`musicrep.training.train`
#: (``hyper_parameters["layout"]``); checkpoints without it hold a ``model.*`` TaggingModel.
LAYOUT = 2


class CheckpointError(ConfigError):
    """A checkpoint file that is missing, truncated or not a musicrep checkpoint."""


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with a clear error for unreadable files.

    Raises
    ------
    CheckpointError
        The file is missing, empty, truncated or corrupt.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty (0 bytes)")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        ValueError,
        OSError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"checkpoint {p} is truncated or corrupt ({type(exc).__name__}: {first[:200]})",
            "it cannot be used; the run's other checkpoint (best.ckpt / last.ckpt) may be intact",
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{p} is not a training checkpoint (no state_dict)")
    return ckpt


def run_checkpoints(run_dir: str | os.PathLike, prefer: str = "best") -> list[Path]:
    """The checkpoint files of a run folder, ``prefer`` first (``"best"`` or ``"last"``)."""
    names = ("best.ckpt", "last.ckpt") if prefer == "best" else ("last.ckpt", "best.ckpt")
    folder = Path(run_dir) / "checkpoints"
    return [folder / n for n in names if (folder / n).is_file()]


def open_checkpoint(
    path: str | os.PathLike, prefer: str = "best", map_location: Any = "cpu"
) -> tuple[Path, dict[str, Any]]:
    """The first readable checkpoint of ``path`` (a ``.ckpt`` file or a run folder).

    A run folder is searched ``prefer`` first; a file inside a run's ``checkpoints/`` that
    cannot be read falls back to the run's other checkpoint. Every fallback is a warning.

    Raises
    ------
    CheckpointError
        No checkpoint at all (the run stopped before its first epoch ended), or none readable.
    """
    p = Path(path)
    if p.is_file():
        candidates = [p]
        if p.parent.name == "checkpoints":
            candidates += [c for c in run_checkpoints(p.parent.parent, prefer) if c != p]
    elif p.is_dir():
        candidates = run_checkpoints(p, prefer)
        if not candidates:
            raise CheckpointError(
                f"no checkpoint in {p}: checkpoints/best.ckpt and last.ckpt are missing",
                "the run stopped before its first epoch ended (or this is not a run folder); "
                f"train it first: musicrep train --out {p} --resume",
            )
    else:
        raise CheckpointError(f"{p} does not exist")
    errors: list[CheckpointError] = []
    for candidate in candidates:
        try:
            ckpt = read_checkpoint(candidate, map_location)
        except CheckpointError as exc:
            errors.append(exc)
            continue
        if errors:
            warnings.warn(
                f"{errors[0].message}; using {candidate} instead", RuntimeWarning, stacklevel=2
            )
        return candidate, ckpt
    if len(errors) == 1:
        raise errors[0]
    raise CheckpointError(
        "no readable checkpoint: " + "; ".join(e.message for e in errors),
        "start the run again: musicrep train ... --overwrite",
    )


def find_checkpoint(path: str | os.PathLike) -> Path:
    """``path`` if it is a ``.ckpt`` file; for a run folder its ``best.ckpt`` (else ``last``)."""
    p = Path(path)
    if p.is_file():
        return p
    found = run_checkpoints(p, "best")
    if not found:
        raise CheckpointError(
            f"no checkpoint in {p}",
            "pass a run folder with checkpoints/best.ckpt, or a .ckpt file",
        )
    return found[0]


def _container(encoder: nn.Module | None, objective: nn.Module) -> nn.Module:
    module = nn.Module()
    module.encoder = encoder
    module.objective = objective
    return module


def load_checkpoint_model(
    path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    prefer: str = "best",
    weights: bool = True,
) -> tuple[nn.Module, dict]:
    """Rebuild the exported model of a training checkpoint (loaded with ``weights_only=True``).

    Parameters
    ----------
    path : path
        A run folder (``prefer`` first: ``checkpoints/best.ckpt``, else ``last.ckpt``) or a
        ``.ckpt`` file.
    map_location : str or torch.device
    prefer : {"best", "last"}
    weights : bool
        False builds the same architecture with fresh random weights (the global torch seed
        decides them): the "same network, untrained" baseline (``untrained:RUN``).

    Returns
    -------
    model : nn.Module
        What the objective exports (:meth:`~musicrep.objectives.Objective.export_model`): a
        :class:`~musicrep.models.TaggingModel` for supervised training, the
        :class:`~musicrep.models.Encoder` for self-supervised objectives...; eval mode, on
        ``map_location``.
    meta : dict
        ``model`` (the exported model's config), ``kind`` (its export kind), ``vocab`` and
        ``task`` (None without labels), ``sample_rate``, ``input_samples``, ``checkpoint``,
        ``epoch``.
    """
    ckpt_path, ckpt = open_checkpoint(path, prefer, map_location)
    hp = ckpt.get("hyper_parameters") or {}
    if int(hp.get("layout", 1)) >= LAYOUT:
        from musicrep.training.run import build_parts

        encoder, objective = build_parts(
            hp["config"], hp.get("task"), hp.get("vocab"), encoder_config=hp.get("encoder_config")
        )
        if weights:
            _container(encoder, objective).load_state_dict(ckpt["state_dict"])
        model = objective.export_model(encoder)
        info = objective.export_info()
    elif "model_config" in hp:  # checkpoints of musicrep <= 0.x: a TaggingModel under model.*
        from musicrep.models import create_model

        model = create_model(**hp["model_config"])
        prefix = "model."
        if weights:
            model.load_state_dict(
                {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
            )
        info = {"vocab": list(hp["vocab"]), "task": hp["task"]}
    else:
        raise CheckpointError(f"{ckpt_path} was not written by musicrep train (no model config)")
    model.to(map_location).eval()
    enc = getattr(model, "encoder", model)
    meta = {
        "model": getattr(model, "config", None),
        "kind": getattr(model, "export_kind", None),
        "vocab": info.get("vocab"),
        "task": info.get("task"),
        "sample_rate": int(getattr(enc, "sample_rate", hp.get("sample_rate", 0))),
        "input_samples": int(getattr(enc, "input_samples", hp.get("input_samples", 0))),
        "checkpoint": str(ckpt_path),
        "epoch": int(ckpt.get("epoch", -1)),
    }
    return model, meta


__all__ = [
    "LAYOUT",
    "CheckpointError",
    "find_checkpoint",
    "load_checkpoint_model",
    "open_checkpoint",
    "read_checkpoint",
    "run_checkpoints",
]
