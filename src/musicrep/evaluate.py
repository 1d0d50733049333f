"""Downstream evaluation of an embeddings file against a manifest or a trials file.

:func:`evaluate` reads the embeddings (:func:`musicrep.embeddings.load`), joins them to the
manifest rows by path (:func:`musicrep.embeddings.join`: rows without an embedding are reported
and left out), picks the task and runs a probe (:mod:`musicrep.probes`: ``coala`` or ``hear``;
``verification`` for a trials file). Everything else lives in those two packages.

Examples
--------
>>> result = evaluate("emb/mfcc.npz", "data/corpus/style.csv", protocol="coala")  # doctest: +SKIP
>>> print(format_table(result))                                                  # doctest: +SKIP
>>> result.metrics["accuracy"]["mean"]                                           # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicrep import embeddings as emb
from musicrep.data.manifest import Manifest
from musicrep.errors import ConfigError
from musicrep.probes import (
    DEFAULT_REPEATS,
    PROBES,
    EvalResult,
    Trials,
    evaluate_embeddings,
    format_table,
    is_trials_file,
    read_trials,
)

__all__ = ["EvalResult", "evaluate", "evaluate_embeddings", "format_table", "manifest_files"]


def read_task_file(path: str | os.PathLike) -> Manifest | Trials:
    """A manifest CSV, or a trials file (CSV ``enroll,test,label`` or VoxCeleb ``.txt``)."""
    return read_trials(path) if is_trials_file(path) else Manifest.read(path)


def manifest_files(manifest: str | Path | Manifest | Trials) -> list[Path]:
    """The distinct audio files a manifest or trials file refers to."""
    if isinstance(manifest, (str, Path)):
        manifest = read_task_file(manifest)
    if isinstance(manifest, Trials):
        return manifest.files()
    return list(dict.fromkeys(r.path for r in manifest))


def _evaluate_trials(
    e: emb.Embeddings, trials: Trials, task: str, options: dict[str, Any]
) -> EvalResult:
    if task not in ("auto", "verification"):
        raise ConfigError(f"a trials file is a verification task, not {task!r}")
    a, b, labels, dropped = emb.join_trials(trials, e.paths, e.X, base_dirs=e.base_dirs())
    cost = {k: options[k] for k in ("p_target", "c_miss", "c_fa") if k in options}
    result = PROBES.create("verification", **cost).score_trials(a, b, labels)  # type: ignore[attr-defined]
    result.config.update({"embeddings": e.source, "trials": trials.source})
    result.config["task_reason"] = "a trials file (enroll, test, label) was given"
    result.config["join"] = {"trials": len(trials), "dropped": len(dropped)}
    if dropped:
        first = [f"{trials.enroll[t]} / {trials.test[t]}" for t in dropped[:3]]
        result.notes.append(
            f"{len(dropped)} of {len(trials)} trial(s) left out: a file has no embedding "
            f"(e.g. {'; '.join(first)})"
        )
    return result


def evaluate(
    embeddings: str | Path | tuple[Sequence[str], np.ndarray] | emb.Embeddings,
    manifest: str | Path | Manifest | Trials,
    *,
    task: str = "auto",
    protocol: str = "coala",
    repeats: int = DEFAULT_REPEATS,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> EvalResult:
    """Evaluate an embeddings file against a manifest (or a trials file).

    Parameters
    ----------
    embeddings : path, (paths, X) or Embeddings
        Anything :func:`musicrep.embeddings.load` reads (a combined ``.npz``, a per-file
        output, an ``--out`` folder), or the two arrays.
    manifest : path, Manifest or Trials
        A manifest CSV, or a trials file (CSV with ``enroll,test,label`` or VoxCeleb ``.txt``),
        which makes the task ``verification``.
    task, protocol, repeats, seed, progress
        As in :func:`musicrep.probes.evaluate_embeddings`.
    **options
        Other keyword arguments of :func:`~musicrep.probes.evaluate_embeddings`
        (``standardize``, ``folds``, ``grid``, ``grid_points``, ``mlp_params``, ``p_target``...).

    Returns
    -------
    EvalResult
        ``config["join"]`` says how many rows matched and which were missing;
        ``config["task_reason"]`` why the task was chosen.
    """
    if isinstance(embeddings, emb.Embeddings):
        e = embeddings
    elif isinstance(embeddings, (str, os.PathLike)):
        e = emb.load(embeddings)
    else:
        e = emb.Embeddings(np.asarray(embeddings[0]).astype(str), np.asarray(embeddings[1]))
    if isinstance(manifest, (str, os.PathLike)):
        manifest = read_task_file(manifest)
    if isinstance(manifest, Trials):
        return _evaluate_trials(e, manifest, task, options)
    joined = e.join(manifest)
    result = evaluate_embeddings(
        joined.X,
        joined.manifest,
        task=task,
        protocol=protocol,
        repeats=repeats,
        seed=seed,
        progress=progress,
        **options,
    )
    result.config.update({"embeddings": e.source, "manifest": manifest.source})
    result.config["join"] = joined.report()
    note = joined.note()
    if note:
        result.notes.insert(0, note)
    return result
