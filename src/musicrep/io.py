"""Exported models: a folder with ``config.json`` and ``model.safetensors``, nothing pickled.

Layout of an exported model folder::

    config.json          {"format": "musicrep.model", "format_version": 1,
                          "model": {...},           # create_model(**model) rebuilds the network
                          "task": "multilabel" | "singlelabel",
                          "vocab": [...],           # output order of the logits
                          "sample_rate": 16000, "input_samples": 59049,
                          "musicrep_version": "...", "source": {...}}
    model.safetensors    the network's tensors (safetensors format)

:func:`load` reads JSON and safetensors only, so loading a model from an untrusted source cannot
run code. :func:`export_run` makes such a folder from a training run (its ``best.ckpt``, read with
``torch.load(weights_only=True)``); :func:`save_model` from any zoo model in memory.

Examples
--------
>>> import musicrep
>>> model, meta = musicrep.load("models/hcnn-corpus")            # doctest: +SKIP
>>> probs = predict_file(model, meta, "song.wav")                 # doctest: +SKIP
>>> sorted(zip(probs, meta["vocab"]), reverse=True)[:3]           # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicrep.errors import ConfigError

#: Value of ``config.json["format"]`` in exported model folders.
FORMAT = "musicrep.model"
#: Version of the folder layout; :func:`load` refuses newer versions.
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

_REQUIRED = ("model", "task", "vocab", "sample_rate", "input_samples")


def save_model(
    model: nn.Module,
    out_dir: str | os.PathLike,
    *,
    vocab: list[str],
    task: str,
    source: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` as an exported model folder.

    Parameters
    ----------
    model : nn.Module
        A zoo model (``model.config`` rebuilds it with ``create_model(**config)``), with
        ``sample_rate`` and ``input_samples`` (on itself or its ``encoder``).
    out_dir : path
        Folder to write (created if needed; ``config.json`` and ``model.safetensors`` in it are
        replaced atomically, weights first, so a folder with a ``config.json`` is complete).
    vocab : list of str
        Output labels in logit order.
    task : {"multilabel", "singlelabel"}
    source : dict, optional
        Provenance recorded under ``"source"`` (run folder, checkpoint, epoch...).

    Returns
    -------
    Path
        ``out_dir``.
    """
    from safetensors.torch import save_model as st_save_model

    from musicrep import __version__
    from musicrep.utils import atomic_path, write_json_atomic

    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "name" not in config:
        raise ConfigError(
            f"{type(model).__name__} has no zoo config; only musicrep.models models can be exported"
        )
    if task not in ("multilabel", "singlelabel"):
        raise ConfigError(f"unknown task {task!r}; valid tasks: multilabel, singlelabel")
    num_outputs = getattr(model, "num_outputs", None)
    if num_outputs is not None and num_outputs != len(vocab):
        raise ConfigError(f"the model has {num_outputs} outputs but the vocabulary {len(vocab)}")
    enc = getattr(model, "encoder", model)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": config,
        "task": task,
        "vocab": [str(v) for v in vocab],
        "sample_rate": int(enc.sample_rate),
        "input_samples": int(enc.input_samples),
        "musicrep_version": __version__,
        "source": source or {},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS_NAME) as tmp:
        st_save_model(model, str(tmp), metadata={"format": "pt"})
    write_json_atomic(out / CONFIG_NAME, meta)
    return out


def export_run(
    run_dir: str | os.PathLike, out_dir: str | os.PathLike, checkpoint: str = "best"
) -> Path:
    """Export a training run's checkpoint as a model folder.

    Parameters
    ----------
    run_dir : path
        A folder written by ``musicrep train`` (or a ``.ckpt`` file of one).
    out_dir : path
        Destination folder.
    checkpoint : {"best", "last"}
        Which checkpoint of the run. ``"best"`` falls back to ``last.ckpt`` (with a warning) when
        the run never validated (e.g. stopped by ``max_steps`` before its first validation).
    """
    from musicrep.train import load_checkpoint_model

    run = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint must be 'best' or 'last'; got {checkpoint!r}")
    target = run
    if run.is_dir():
        target = run / "checkpoints" / f"{checkpoint}.ckpt"
        last = run / "checkpoints" / "last.ckpt"
        if checkpoint == "best" and not target.is_file() and last.is_file():
            warnings.warn(
                f"{target} does not exist (no validation ran): exporting {last}", stacklevel=2
            )
            target = last
        if not target.is_file():
            raise ConfigError(
                f"{target} does not exist",
                "is this a run folder written by 'musicrep train'? (it has checkpoints/)",
            )
    model, meta = load_checkpoint_model(target)
    source = {
        "run": str(run.resolve()),
        "checkpoint": meta["checkpoint"],
        "epoch": meta["epoch"],
    }
    return save_model(model, out_dir, vocab=meta["vocab"], task=meta["task"], source=source)


def read_config(path: str | os.PathLike) -> dict:
    """The checked ``config.json`` of an exported model folder."""
    folder = _folder(path)
    cfg_path = folder / CONFIG_NAME
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{cfg_path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"{cfg_path} is not a musicrep model config (format != {FORMAT!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ConfigError(
            f"{cfg_path} has format version {meta['format_version']}; this musicrep reads "
            f"up to {FORMAT_VERSION}",
            "upgrade musicrep",
        )
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise ConfigError(f"{cfg_path} lacks {', '.join(missing)}")
    return meta


def _folder(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_file() and p.name in (CONFIG_NAME, WEIGHTS_NAME):
        p = p.parent
    if not p.exists():
        raise ConfigError(f"model folder {p} does not exist")
    if not (p / CONFIG_NAME).is_file() or not (p / WEIGHTS_NAME).is_file():
        hint = "export a model with 'musicrep export RUN_DIR OUT_DIR'"
        if (p / "checkpoints").is_dir():
            hint = f"this is a training run; export it first: musicrep export {p} OUT_DIR"
        raise ConfigError(f"{p} is not an exported model ({CONFIG_NAME} + {WEIGHTS_NAME})", hint)
    return p


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Load an exported model folder (JSON + safetensors; nothing is unpickled).

    Parameters
    ----------
    path : path
        The folder (or its ``config.json`` / ``model.safetensors``).
    device : str or torch.device
        Where to put the model.

    Returns
    -------
    model : nn.Module
        The rebuilt network in eval mode; ``model(wave (batch, input_samples))`` gives logits
        ``(batch, len(vocab))``.
    meta : dict
        The folder's ``config.json``: ``vocab``, ``task``, ``sample_rate``, ``input_samples``,
        ``model`` (config), ``source``...
    """
    from safetensors.torch import load_model as st_load_model

    from musicrep.models import create_model

    folder = _folder(path)
    meta = read_config(folder)
    model = create_model(**meta["model"])
    missing, unexpected = st_load_model(
        model, str(folder / WEIGHTS_NAME), strict=False, device=str(torch.device(device))
    )
    if missing or unexpected:
        raise ConfigError(
            f"{folder / WEIGHTS_NAME} does not match the model in {CONFIG_NAME}: "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    model.to(device).eval()
    return model, meta


@torch.no_grad()
def predict_file(
    model: nn.Module,
    meta: dict,
    path: str | os.PathLike,
    *,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Label probabilities of a whole audio file.

    The file is decoded at the model's rate and covered by ``ceil(samples / input_samples)``
    chunks of the model's input length, equally spaced from its start to its end (so they
    overlap slightly instead of zero-padding the last one; a file shorter than one chunk is
    zero-padded). Chunk probabilities (sigmoid for multi-label, softmax for single-label) are
    averaged.

    Returns
    -------
    np.ndarray, shape (len(vocab),)
        Probabilities in vocabulary order.

    Raises
    ------
    AudioError
        The file cannot be decoded.
    """
    from musicrep import audio
    from musicrep.evaluate_tracks import activation_for

    n_in = int(meta["input_samples"])
    wave, _ = audio.load(path, sr=int(meta["sample_rate"]))
    n = max(1, math.ceil(len(wave) / n_in))
    chunks = audio.equally_spaced_chunks(wave, n_in, n, endpoint=True)
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else "cpu"
    act = activation_for(meta["task"])
    was_training = model.training
    model.eval()
    try:
        total = None
        for i in range(0, n, batch_size):
            x = torch.from_numpy(np.ascontiguousarray(chunks[i : i + batch_size])).to(device)
            p = act(model(x).float()).sum(dim=0)
            total = p if total is None else total + p
    finally:
        model.train(was_training)
    return (total / n).cpu().numpy()


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "export_run",
    "load",
    "predict_file",
    "read_config",
    "save_model",
]
