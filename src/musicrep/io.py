"""Exported models: a folder with ``config.json`` and ``model.safetensors``, nothing pickled.

Layout of an exported model folder::

    config.json          {"format": "musicrep.model", "format_version": 1 or 2,
                          "kind": "tagging" | "encoder" | ...,
                          "model": {...},           # the config that rebuilds the network
                          "task": "multilabel" | "singlelabel",   # kind "tagging"
                          "vocab": [...],           # output order of the logits ("tagging")
                          "sample_rate": 16000, "input_samples": 59049,
                          "embed_dim": 256,
                          "musicrep_version": "...", "source": {...}}
    model.safetensors    the network's tensors (safetensors format)

Kinds (:data:`MODEL_KINDS`, which rebuilds the network from ``model``):

- ``"tagging"`` (format version 1): a :class:`~musicrep.models.TaggingModel`, an encoder with
  its classifier head, ``create_model(**model)``; it predicts the ``vocab`` labels (``musicrep
  predict``) and embeds with its encoder. What supervised training and COALA export.
- ``"encoder"`` (format version 2): an :class:`~musicrep.models.Encoder` alone, an embedding
  model without labels, :func:`~musicrep.models.rebuild_encoder`; what self-supervised
  objectives export. ``musicrep embed/evaluate/benchmark/hear`` use both kinds alike.

Objectives that export another network register its kind here
(``@MODEL_KINDS.register("name")``, a function ``meta -> nn.Module``) and give the module
``export_kind = "name"`` and a ``config`` dict.

:func:`load` reads JSON and safetensors only, so loading a model from an untrusted source cannot
run code. :func:`export_run` makes such a folder from a training run (its ``best.ckpt``, read with
``torch.load(weights_only=True)``); :func:`save_model` from any model in memory.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicrep.errors import AudioError, ConfigError
from musicrep.registry import Registry

#: Value of ``config.json["format"]`` in exported model folders.
FORMAT = "musicrep.model"
#: Version of the folder layout; :func:`load` refuses newer versions. Version 1 folders are
#: tagging models (no ``kind``); version 2 added ``kind`` (and encoder-only models).
FORMAT_VERSION = 2
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

#: ``kind -> builder(meta) -> nn.Module``: how :func:`load` rebuilds each kind of model.
MODEL_KINDS: Registry[Callable[[dict], nn.Module]] = Registry("model kind")
#: Fields every config.json has, and those of each kind.
_REQUIRED = ("model", "sample_rate", "input_samples")
_REQUIRED_BY_KIND = {
    "tagging": ("task", "vocab"),
    "encoder": (),
    "musicnn_tf": ("task", "vocab"),
}


@MODEL_KINDS.register("tagging")
def _tagging_model(meta: dict) -> nn.Module:
    from musicrep.models import create_model

    return create_model(**meta["model"])


@MODEL_KINDS.register("encoder")
def _encoder_model(meta: dict) -> nn.Module:
    from musicrep.models import rebuild_encoder

    return rebuild_encoder(meta["model"])


@MODEL_KINDS.register("musicnn_tf")
def _musicnn_tf_model(meta: dict) -> nn.Module:
    from musicrep.models.musicnn_tf import MusicnnTF

    return MusicnnTF(**meta["model"])


@MODEL_KINDS.register("gen_lstm")
def _gen_lstm_model(meta: dict) -> nn.Module:
    from musicrep.generate.lstm import build_symbolic_model

    return build_symbolic_model(meta["model"])


@MODEL_KINDS.register("wavenet")
def _wavenet_model(meta: dict) -> nn.Module:
    from musicrep.generate.wavenet import build_wavenet

    return build_wavenet(meta["model"])


def model_kind(model: nn.Module) -> str:
    """The export kind of ``model`` (its ``export_kind``; ConfigError if it has none)."""
    kind = getattr(model, "export_kind", None)
    if not isinstance(kind, str):
        raise ConfigError(
            f"{type(model).__name__} cannot be exported (no export_kind)",
            "export musicrep models: a TaggingModel, an Encoder, or a module whose kind is "
            "registered in musicrep.io.MODEL_KINDS",
        )
    return kind


def save_model(
    model: nn.Module,
    out_dir: str | os.PathLike,
    *,
    vocab: list[str] | None = None,
    task: str | None = None,
    source: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` as an exported model folder.

    Parameters
    ----------
    model : nn.Module
        A :class:`~musicrep.models.TaggingModel` (``model.config`` rebuilds it with
        ``create_model(**config)``), an :class:`~musicrep.models.Encoder` with a ``config``, or
        a module of a registered kind (:data:`MODEL_KINDS`).
    out_dir : path
        Folder to write (created if needed; ``config.json`` and ``model.safetensors`` in it are
        replaced atomically, weights first, so a folder with a ``config.json`` is complete).
    vocab : list of str, optional
        Output labels in logit order (required for tagging models).
    task : {"multilabel", "singlelabel"}, optional
        Required for tagging models.
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

    kind = model_kind(model)
    MODEL_KINDS.get(kind)  # ConfigError listing the kinds if unknown
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or (kind == "tagging" and "name" not in config):
        raise ConfigError(
            f"{type(model).__name__} has no config that rebuilds it; only musicrep models "
            "built by name (create_model, create_encoder, build_encoder) can be exported"
        )
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": 1 if kind == "tagging" else FORMAT_VERSION,
        "kind": kind,
        "model": config,
    }
    if kind == "tagging" or vocab is not None or task is not None:
        if task not in ("multilabel", "singlelabel"):
            raise ConfigError(f"unknown task {task!r}; valid tasks: multilabel, singlelabel")
        if vocab is None:
            raise ConfigError("a model with labels needs its vocabulary (vocab=...)")
        num_outputs = getattr(model, "num_outputs", None)
        if num_outputs is not None and num_outputs != len(vocab):
            raise ConfigError(
                f"the model has {num_outputs} outputs but the vocabulary {len(vocab)}"
            )
        meta.update(task=task, vocab=[str(v) for v in vocab])
    enc = getattr(model, "encoder", model)
    for key in ("sample_rate", "input_samples", "embed_dim"):
        value = getattr(enc, key, None)
        if value is not None:
            meta[key] = int(value)
    meta.update(musicrep_version=__version__, source=source or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS_NAME) as tmp:
        st_save_model(model, str(tmp), metadata={"format": "pt"})
    write_json_atomic(out / CONFIG_NAME, meta)
    return out


def _is_run_folder(p: Path) -> bool:
    """A folder written by ``musicrep train`` (its config.json holds the run's recipe)."""
    if (p / "checkpoints").is_dir():
        return True
    try:
        meta = json.loads((p / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and "config" in meta and "format" not in meta


def _run_checkpoint(run: Path, checkpoint: str) -> Path:
    """The checkpoint file of a run folder to export (ConfigError saying what is missing)."""
    from musicrep.training.checkpoints import run_checkpoints

    target = run / "checkpoints" / f"{checkpoint}.ckpt"
    if not run_checkpoints(run):
        if _is_run_folder(run):
            raise ConfigError(
                f"{run} has no checkpoint: the run stopped before its first epoch ended "
                "(checkpoints/best.ckpt and last.ckpt are missing)",
                f"continue it first: musicrep train --out {run} --resume",
            )
        raise ConfigError(
            f"{run} is not a run folder written by 'musicrep train' (no checkpoints/)",
            "pass the --out folder of a training run",
        )
    last = run / "checkpoints" / "last.ckpt"
    if checkpoint == "best" and not target.is_file() and last.is_file():
        warnings.warn(
            f"{target} does not exist (no validation ran): exporting {last}", stacklevel=3
        )
        target = last
    return target


def export_run(
    run_dir: str | os.PathLike, out_dir: str | os.PathLike, checkpoint: str = "best"
) -> Path:
    """Export a training run's checkpoint as a model folder.

    What is exported is what the run's objective exports
    (:meth:`~musicrep.objectives.Objective.export_model`): a tagging model with its vocabulary
    for supervised training and COALA, the encoder alone for self-supervised objectives.

    Parameters
    ----------
    run_dir : path
        A folder written by ``musicrep train`` (or a ``.ckpt`` file of one).
    out_dir : path
        Destination folder.
    checkpoint : {"best", "last"}
        Which checkpoint of the run. ``"best"`` falls back to ``last.ckpt`` (with a warning) when
        the run never validated (e.g. stopped by ``max_steps`` before its first validation); a
        checkpoint that cannot be read (truncated, corrupt) falls back to the other one, with a
        warning, when it can be read.
    """
    from musicrep.training.checkpoints import load_checkpoint_model

    run = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint must be 'best' or 'last'; got {checkpoint!r}")
    target = _run_checkpoint(run, checkpoint) if run.is_dir() else run
    model, meta = load_checkpoint_model(target, prefer=checkpoint)
    source = {
        "run": str(run.resolve()),
        "checkpoint": meta["checkpoint"],
        "epoch": meta["epoch"],
    }
    return save_model(model, out_dir, vocab=meta["vocab"], task=meta["task"], source=source)


def read_config(path: str | os.PathLike) -> dict:
    """The checked ``config.json`` of an exported model folder (``kind`` filled in)."""
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
    meta.setdefault("kind", "tagging")
    required = _REQUIRED + _REQUIRED_BY_KIND.get(meta["kind"], ())
    missing = [k for k in required if k not in meta]
    if missing:
        raise ConfigError(f"{cfg_path} lacks {', '.join(missing)}")
    meta.setdefault("vocab", None)
    meta.setdefault("task", None)
    return meta


def _folder(path: str | os.PathLike) -> Path:
    from musicrep.pretrained import pretrained_folder

    shipped = pretrained_folder(str(path))
    if shipped is not None and not Path(path).exists():
        return shipped
    p = Path(path)
    if p.is_file() and p.name in (CONFIG_NAME, WEIGHTS_NAME):
        p = p.parent
    if not p.exists():
        raise ConfigError(f"model folder {p} does not exist")
    if not (p / CONFIG_NAME).is_file() or not (p / WEIGHTS_NAME).is_file():
        if _is_run_folder(p):
            from musicrep.training.checkpoints import run_checkpoints

            if not run_checkpoints(p):
                raise ConfigError(
                    f"{p} is a training run without a checkpoint: it stopped before its first "
                    "epoch ended, so there is no model to load",
                    f"continue it first: musicrep train --out {p} --resume",
                )
            raise ConfigError(
                f"{p} is a training run, not an exported model ({CONFIG_NAME} + {WEIGHTS_NAME})",
                f"export it first: musicrep export {p} OUT_DIR",
            )
        raise ConfigError(
            f"{p} is not an exported model ({CONFIG_NAME} + {WEIGHTS_NAME})",
            "export a model with 'musicrep export RUN_DIR OUT_DIR'",
        )
    return p


def load(
    path: str | os.PathLike, device: str | torch.device = "cpu", *, weights: bool = True
) -> tuple[nn.Module, dict]:
    """Load an exported model folder (JSON + safetensors; nothing is unpickled).

    Parameters
    ----------
    path : path
        The folder (or its ``config.json`` / ``model.safetensors``).
    device : str or torch.device
        Where to put the model.
    weights : bool
        False rebuilds the architecture with fresh random weights (the global torch seed decides
        them) and reads no ``model.safetensors``: the "same network, untrained" baseline.

    Returns
    -------
    model : nn.Module
        The rebuilt network in eval mode: for a tagging model a
        :class:`~musicrep.models.TaggingModel` (``model(wave (batch, input_samples))`` gives
        logits ``(batch, len(vocab))``), for an encoder-only model the
        :class:`~musicrep.models.Encoder` (``(batch, input_samples)`` -> ``(batch,
        embed_dim)``).
    meta : dict
        The folder's ``config.json``: ``kind``, ``vocab`` and ``task`` (None without labels),
        ``sample_rate``, ``input_samples``, ``model`` (config), ``source``...
    """
    from safetensors.torch import load_model as st_load_model

    folder = _folder(path)
    meta = read_config(folder)
    model = MODEL_KINDS.get(meta["kind"])(meta)
    if not weights:
        return model.to(device).eval(), meta
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


#: Prefix that asks for a zoo architecture with random weights (``untrained:musicnn``).
UNTRAINED_PREFIX = "untrained:"


def load_model(
    spec: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    input_samples: int | None = None,
    untrained_ok: bool = True,
) -> tuple[nn.Module, dict, str]:
    """The one loader behind every ``--model`` option: a name or folder -> a network.

    ``spec`` is, in this order:

    - a pretrained model shipped with musicrep (``musicnn-mtt``, ``musicnn-msd``, ``vgg-mtt``,
      ``vgg-msd``; :mod:`musicrep.pretrained`);
    - an exported model folder (``musicrep export``) or a training run folder (its best
      checkpoint);
    - ``untrained:NAME``: zoo architecture NAME with random weights (seeded by ``seed``),
      the random-network baseline;
    - ``untrained:FOLDER``: the architecture of an exported model or training run folder
      (front-end, input length, options exactly as trained) with fresh random weights (seeded
      by ``seed``): the "same network, untrained" baseline of a trained model;
    - a bare zoo name (``musicnn``): also random weights, but only where ``untrained_ok`` (it
      warns, so nobody mistakes it for a trained model); where labels are needed (``musicrep
      predict``) it is an error whose hint names the pretrained models and ``untrained:NAME``.

    Returns
    -------
    model : nn.Module
        In eval mode on ``device``: a tagging model (``.encoder`` embeds) or an encoder.
    meta : dict
        The model's ``config.json`` (``kind``, ``vocab``, ``task``, ``source``...); for an
        untrained network ``{"kind": "untrained", "model": {"name": NAME}, "vocab": None,
        "task": None}``.
    identity : str
        What the model is, for output files: the pretrained name, the folder's absolute path,
        or ``untrained:NAME:seed=S``.
    """
    from musicrep.models import list_models
    from musicrep.pretrained import PRETRAINED, pretrained_folder

    text = str(spec)
    path = Path(text)
    shipped = pretrained_folder(text)
    if shipped is not None and not path.exists():
        model, meta = load(shipped, device=device)
        return model, meta, text
    if path.is_dir() and ((path / CONFIG_NAME).is_file() or (path / "checkpoints").is_dir()):
        # a training run also has a config.json (the run's), but no model.safetensors
        if (path / WEIGHTS_NAME).is_file() or not (path / "checkpoints").is_dir():
            model, meta = load(path, device=device)
        else:
            from musicrep.training import load_checkpoint_model

            model, meta = load_checkpoint_model(path, map_location=device)
            model.to(device).eval()
        return model, meta, str(path.resolve())
    zoo = list_models()
    name = text[len(UNTRAINED_PREFIX) :] if text.startswith(UNTRAINED_PREFIX) else None
    if name is not None and name not in zoo and Path(name).is_dir():
        return _untrained_like(Path(name), device=device, seed=seed, untrained_ok=untrained_ok)
    pretrained = ", ".join(sorted(PRETRAINED))
    if name is None and text in zoo and not path.exists():
        hint = f"pretrained models: {pretrained}; for random weights say {UNTRAINED_PREFIX}{text}"
        if not untrained_ok:
            raise ConfigError(
                f"{text!r} is an architecture, not a trained model (it would have random "
                "weights and no labels)",
                f"use a pretrained model ({pretrained}), an exported model folder, or train "
                f"one: musicrep train --model {text} --init musicnn-mtt ...",
            )
        warnings.warn(
            f"--model {text} means an UNTRAINED {text} (random weights, seed {seed}); {hint}",
            UserWarning,
            stacklevel=2,
        )
        name = text
    if name is not None:
        if name not in zoo:
            raise ConfigError(
                f"unknown architecture {name!r} in {text!r}",
                f"valid: {', '.join(UNTRAINED_PREFIX + z for z in zoo)}",
            )
        if not untrained_ok:
            raise ConfigError(
                f"{text} has random weights and no labels to predict",
                f"pretrained models: {pretrained}",
            )
        from musicrep.models import create_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_model(name, input_samples=input_samples)
        meta = {"kind": "untrained", "model": {"name": name}, "vocab": None, "task": None}
        return model.to(device).eval(), meta, f"{UNTRAINED_PREFIX}{name}:seed={seed}"
    if path.exists():
        load(path)  # raises a ConfigError saying what the folder lacks
    raise ConfigError(
        f"unknown model {text!r}: not a pretrained name, a model folder or a zoo architecture",
        f"pretrained: {pretrained}; an exported model folder (musicrep export) or training "
        f"run folder; or {UNTRAINED_PREFIX}NAME for random weights, NAME one of "
        f"{', '.join(zoo)}",
    )


def _untrained_like(
    folder: Path, *, device: str | torch.device, seed: int, untrained_ok: bool
) -> tuple[nn.Module, dict, str]:
    """``untrained:FOLDER``: the folder's architecture with fresh weights seeded by ``seed``."""
    if not untrained_ok:
        raise ConfigError(
            f"{UNTRAINED_PREFIX}{folder} has random weights and no trained labels to predict",
            f"use the trained model itself: --model {folder}",
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if (folder / WEIGHTS_NAME).is_file() or not (folder / "checkpoints").is_dir():
            model, meta = load(folder, device=device, weights=False)
        else:
            from musicrep.training import load_checkpoint_model

            model, meta = load_checkpoint_model(folder, map_location=device, weights=False)
    meta = {**meta, "source": f"{UNTRAINED_PREFIX}{folder}", "untrained": True}
    return model.to(device).eval(), meta, f"{UNTRAINED_PREFIX}{folder.resolve()}:seed={seed}"


@torch.no_grad()
def predict_file(
    model: nn.Module,
    meta: dict,
    path: str | os.PathLike,
    *,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    stats: dict | None = None,
) -> np.ndarray:
    """Label probabilities of a whole audio file.

    The file is decoded at the model's rate and covered by ``ceil(samples / input_samples)``
    chunks of the model's input length, equally spaced from its start to its end (so they
    overlap slightly instead of zero-padding the last one; a file shorter than one chunk is
    zero-padded). Chunk probabilities (sigmoid for multi-label, softmax for single-label) are
    averaged.

    The file is streamed (:func:`musicrep.audio.blocks`): only the samples the next chunks
    need are kept, and chunks run through the model ``batch_size`` at a time, so memory does
    not grow with the file's length (as ``musicrep embed``). The chunk offsets need the
    resampled length, which is taken from the header; in the rare case the decoded length
    differs, the file is read a second time with the true length.

    Parameters
    ----------
    stats : dict, optional
        Filled with ``seconds`` (audio length) and ``peak`` (largest ``|sample|``), for the
        warnings of :func:`musicrep.embed.input_warnings`.

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

    if not meta.get("task"):
        raise ConfigError(
            "this model has no labels to predict (an embedding model, kind "
            f"{meta.get('kind', '?')!r})",
            "compute its embeddings with 'musicrep embed' instead",
        )
    n_in = int(meta["input_samples"])
    sr = int(meta["sample_rate"])
    header = audio.info(path)
    length = (
        header.frames
        if header.sample_rate == sr
        else int(round(header.frames * sr / header.sample_rate))
    )
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else "cpu"
    act = activation_for(meta["task"])
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            total, n, actual, peak = _predict_stream(
                model, act, path, sr, n_in, length, batch_size, device
            )
            if actual != length:  # header length was off: offsets from the true length
                total, n, actual, peak = _predict_stream(
                    model, act, path, sr, n_in, actual, batch_size, device
                )
    finally:
        model.train(was_training)
    if stats is not None:
        stats.update(seconds=actual / sr, peak=peak)
    return (total / n).cpu().numpy()


def _predict_stream(model, act, path, sr, n_in, length, batch_size, device):
    """One streamed pass: chunk offsets planned for ``length`` samples (see predict_file).

    Returns ``(sum of chunk probabilities, chunks, samples decoded, peak |x|)``.
    """
    from musicrep import audio

    n = max(1, math.ceil(length / n_in))
    if length <= n_in:
        offsets = np.zeros(n, dtype=np.int64)
    else:
        offsets = np.rint(np.linspace(0, length - n_in, n)).astype(np.int64)
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # absolute index of buf[0]
    k = 0  # next chunk
    batch: list[np.ndarray] = []
    total = None
    seen, peak = 0, 0.0

    def run(chunks):
        nonlocal total
        x = torch.from_numpy(np.stack(chunks)).to(device)
        p = act(model(x).float()).sum(dim=0)
        total = p if total is None else total + p

    for block in audio.blocks(path, sr=sr, block_seconds=max(30.0, 2 * n_in / sr)):
        if not len(block):
            continue
        seen += len(block)
        peak = max(peak, float(np.abs(block).max()))
        buf = np.concatenate([buf, block])
        while k < n and offsets[k] + n_in <= buf_start + len(buf):
            a = int(offsets[k]) - buf_start
            batch.append(buf[a : a + n_in].copy())
            k += 1
            if len(batch) == batch_size:
                run(batch)
                batch = []
        keep = int(offsets[k]) if k < n else buf_start + len(buf)
        drop = min(max(0, keep - buf_start), len(buf))
        buf, buf_start = buf[drop:], buf_start + drop
    if seen == 0:
        raise AudioError(Path(path), "the file holds no samples")
    while k < n:  # chunks reaching past the decoded end (a short file): zero-padded
        a = int(offsets[k]) - buf_start
        chunk = np.zeros(n_in, dtype=np.float32)
        seg = buf[max(0, a) : max(0, a) + n_in]
        chunk[: len(seg)] = seg
        batch.append(chunk)
        k += 1
    if batch:
        run(batch)
    return total, n, seen, peak


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_KINDS",
    "export_run",
    "load",
    "load_model",
    "model_kind",
    "predict_file",
    "read_config",
    "save_model",
]
