"""Running a benchmark: prepare the tasks, embed once per model (cached), probe every cell."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicrep.benchmark.models import ModelSpec, check_unique, parse_models
from musicrep.benchmark.scores import METRIC_LABELS, cell_score, fmt_score
from musicrep.benchmark.tasks import TaskSpec, load_task, parse_tasks, prepare_corpus, task_manifest
from musicrep.errors import ConfigError, MusicrepError

__all__ = ["BenchmarkResult", "run_benchmark"]

Log = Callable[[str], None]


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` did.

    Attributes
    ----------
    document : dict
        The content of ``results.json``.
    paths : dict of str to Path
        ``"md"``, ``"html"``, ``"json"`` and one PNG per task (key: the task name).
    ok : bool
        False if a model, a file, an evaluation or the correlation analysis failed.
    """

    document: dict[str, Any]
    paths: dict[str, Path]
    ok: bool


def error_text(exc: BaseException) -> str:
    """One line: the message (and hint) of a musicrep error, else ``Type: message``."""
    text = str(exc) if isinstance(exc, MusicrepError) else f"{type(exc).__name__}: {exc}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _failed(entry: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    entry.update(status="failed", error=error_text(exc))
    if not isinstance(exc, MusicrepError):
        entry["traceback"] = traceback.format_exc(limit=8)
    return entry


def _embed_model(
    model: ModelSpec,
    files: list[Path],
    cache: Any,
    *,
    seed: int,
    batch_size: int,
    device: str,
    progress: bool,
    log: Log,
    nan_policy: str = "raise",
) -> dict[str, Any]:
    """Embed ``files`` with ``model`` into the cache (or reuse it); a JSON-ready entry."""
    from musicrep.embed import Embedder

    entry: dict[str, Any] = {"label": model.label, "spec": model.spec, "status": "ok"}
    key = cache.key(model.spec, files, seed=seed, device=device, nan_policy=nan_policy)
    entry.update(cache_key=key, embeddings=str(cache.root / f"{key}.npz"))
    hit = cache.lookup(key)
    if hit is not None:
        entry.update({k: v for k, v in hit.meta.items() if k not in ("label", "spec")})
        entry["cached"] = True
        log(f"{model.label}: reusing cached embeddings {hit.npz}")
        return entry
    t0 = time.perf_counter()
    try:
        embedder = Embedder(
            model.spec, batch_size=batch_size, seed=seed, device=device, nan_policy=nan_policy
        )
    except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the others
        log(f"{model.label}: cannot load {model.spec}: {_failed(entry, exc)['error']}")
        return entry
    load = {"load_seconds": time.perf_counter() - t0}
    log(f"{model.label}: embedding {len(files)} file(s) with {embedder!r}")
    try:
        made = cache.fill(key, embedder, files, progress=progress, meta=load)
    except Exception as exc:  # noqa: BLE001
        log(f"{model.label}: embedding failed: {_failed(entry, exc)['error']}")
        return entry
    entry.update(made.meta, cached=False)
    entry["failed_files"] = [{"path": p, "reason": r} for p, r in made.failed]
    if made.failed:
        entry["status"] = "partial" if made.meta.get("embedded") else "failed"
        first = f"{made.failed[0][0]}: {made.failed[0][1]}"
        entry["error"] = (
            f"{len(made.failed)} of {len(files)} file(s) could not be embedded, e.g. {first}"
        )
        from musicrep.embeddings.cache import nan_hint

        hint = nan_hint(made.failed)
        if hint:
            entry["error"] += f" ({hint})"
        log(f"{model.label}: {entry['error']}")
    return entry


def _as_specs(items, cls, parse):
    """Strings parsed with ``parse``; ``cls`` instances kept; order kept."""
    if isinstance(items, str):
        return parse(items)
    out = []
    for item in items:
        out += [item] if isinstance(item, cls) else parse(item)
    if not out:
        parse([])  # raises the "nothing given" error
    return out


def _check_settings(protocol: str, repeats: int, reference: str | None) -> None:
    from musicrep.benchmark.reproductions import REPRODUCTIONS
    from musicrep.probes import PROTOCOLS

    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}", f"use one of {', '.join(PROTOCOLS)}")
    if int(repeats) != repeats or repeats < 1:
        raise ConfigError(f"repeats must be a positive integer; got {repeats!r}")
    if reference is not None and reference not in REPRODUCTIONS:
        raise ConfigError(
            f"unknown reference {reference!r}", f"use one of {', '.join(REPRODUCTIONS.names())}"
        )


def _load_tasks(
    task_specs: list[TaskSpec],
    corpus_dir: Path,
    out_dir: Path,
    clips: int | None,
    seconds: float | None,
    progress: bool,
    log: Log,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any], list[Path]]:
    """Corpus build info, task entries, their manifests/trials and the union of their files."""
    corpus_info = None
    if any(t.corpus_file for t in task_specs):
        corpus_info = prepare_corpus(corpus_dir, clips, seconds, progress, log)
    entries, loaded, files = [], {}, []
    for t in task_specs:
        entry, loaded[t.name], task_files = load_task(t, task_manifest(t, corpus_dir, out_dir, log))
        entries.append(entry)
        files += task_files
    return corpus_info, entries, loaded, list(dict.fromkeys(files))


def _evaluate_cell(
    X_source: tuple, task: Any, label: str, name: str, settings: Mapping[str, Any], log: Log
) -> dict[str, Any]:
    from musicrep.evaluate import evaluate

    t0 = time.perf_counter()
    options: dict[str, Any] = {"grid": settings["grid"]} if settings["protocol"] == "hear" else {}
    try:
        r = evaluate(
            X_source,
            task,
            protocol=settings["protocol"],
            repeats=settings["repeats"],
            seed=settings["seed"],
            progress=settings["progress"],
            **options,
        )
    except Exception as exc:  # noqa: BLE001 - a failed cell must not stop the rest
        cell = _failed({}, exc)
        log(f"{label} on {name}: evaluation failed: {cell['error']}")
    else:
        cell = {"status": "ok", "result": r.to_dict()}
        s = cell_score(r.metrics[r.primary], r.primary)
        log(f"{label} on {name}: {METRIC_LABELS[r.primary]} {fmt_score(s)}")
    cell["seconds"] = time.perf_counter() - t0
    return cell


def _evaluate_all(
    task_entries, model_entries, loaded, settings: Mapping[str, Any], log: Log
) -> dict[str, dict[str, Any]]:
    """Every (task, model) cell; a model whose embeddings are unusable fails all its cells."""
    from musicrep import embeddings
    from musicrep.utils import progress as progress_bar

    results: dict[str, dict[str, Any]] = {t["name"]: {} for t in task_entries}
    usable = [e for e in model_entries if e["status"] != "failed"]
    bar = progress_bar(
        total=len(task_entries) * len(usable),
        desc="evaluate",
        unit="cell",
        disable=None if settings["progress"] else True,
    )
    with bar:
        for entry in model_entries:
            e = None
            if entry["status"] != "failed":
                try:
                    e = embeddings.load(entry["embeddings"])
                except MusicrepError as exc:
                    entry.update(status="failed", error=error_text(exc))
                    log(f"{entry['label']}: unusable embeddings: {entry['error']}")
                    bar.update(len(task_entries))
            for t in task_entries:
                if e is None:
                    results[t["name"]][entry["label"]] = {
                        "status": "failed",
                        "error": f"model failed: {entry.get('error')}",
                    }
                    continue
                results[t["name"]][entry["label"]] = _evaluate_cell(
                    (e.paths, e.X), loaded[t["name"]], entry["label"], t["name"], settings, log
                )
                bar.update(1)
    return results


def _cca_summary(rep: Any, out_dir: Path) -> dict[str, Any]:
    def table(key: str) -> dict[str, Any]:
        return {
            label: {d: {g: v.get(key) for g, v in groups.items()} for d, groups in descs.items()}
            for label, descs in rep.results.items()
        }

    return {
        "status": "ok" if not rep.failures else "partial",
        "n_clips": rep.n_clips,
        "method": rep.document["settings"]["method"],
        "method_description": rep.document["settings"]["method_description"],
        "results": table("similarity"),
        "baselines": table("baseline_mean"),
        "failures": rep.failures,
        "files": {k: str(Path(v).relative_to(out_dir)) for k, v in rep.paths.items()},
    }


def _run_cca(task_entries, model_entries, out_dir: Path, cca: Mapping[str, Any], log: Log):
    """The correlation analysis of every embedded model on one task (its ``split``)."""
    from musicrep.analysis.cca_report import EmbeddingSource, run_cca_report

    task = next((t for t in task_entries if t["name"] == cca["task"]), task_entries[0])
    doc: dict[str, Any] = {
        "task": task["name"],
        "manifest": task["manifest"],
        "split": cca["split"],
    }
    sources = [
        EmbeddingSource(e["label"], "file", e["embeddings"])
        for e in model_entries
        if e["status"] != "failed"
    ]
    if task["type"] == "verification":
        doc.update(status="failed", error="the correlation analysis needs a manifest, not trials")
        return doc
    if not sources:
        doc.update(status="failed", error="no model produced embeddings")
        return doc
    log(f"correlation analysis on {task['name']} ({cca['split'] or 'all'} split)")
    try:
        rep = run_cca_report(
            task["manifest"],
            embeddings=sources,
            out=out_dir / "cca",
            split=cca["split"],
            max_clips=cca["clips"],
            method=cca["method"],
            seed=cca["seed"],
            batch_size=cca["batch_size"],
            device=cca["device"],
            show_progress=cca["progress"],
            log=log,
        )
    except Exception as exc:  # noqa: BLE001
        doc.update(status="failed", error=error_text(exc))
        log(f"correlation analysis failed: {doc['error']}")
        return doc
    doc.update(_cca_summary(rep, out_dir))
    return doc


def _failures(document: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for e in document["models"]:
        if e["status"] != "ok":
            out.append({"what": f"model {e['label']} ({e['spec']})", "error": e.get("error", "")})
    failed_models = {e["label"] for e in document["models"] if e["status"] == "failed"}
    for task, cells in document["results"].items():
        for label, cell in cells.items():
            if cell["status"] != "ok" and label not in failed_models:
                out.append({"what": f"{label} on {task}", "error": cell.get("error", "")})
    c = document.get("cca")
    if c and c.get("status") != "ok":
        err = c.get("error") or f"{len(c.get('failures', []))} clip(s) could not be analysed"
        out.append({"what": "correlation analysis", "error": err})
    if document.get("corpus") and document["corpus"].get("failures"):
        n = len(document["corpus"]["failures"])
        out.append({"what": "corpus build", "error": f"{n} clip(s) could not be rendered"})
    return out


def run_benchmark(
    tasks: str | Sequence[str | TaskSpec],
    models: str | Sequence[str | ModelSpec],
    out: str | os.PathLike,
    *,
    protocol: str = "coala",
    repeats: int = 10,
    seed: int = 0,
    corpus_dir: str | os.PathLike = "data/corpus",
    clips: int | None = None,
    seconds: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    reference: str | None = None,
    cca: bool = False,
    cca_task: str | None = None,
    cca_clips: int = 300,
    cca_method: str = "svcca",
    cca_split: str | None = "test",
    batch_size: int = 16,
    device: str = "cpu",
    nan_policy: str = "raise",
    grid: str = "default",
    title: str | None = None,
    command: str | None = None,
    progress: bool = True,
    log: Log | None = None,
) -> BenchmarkResult:
    """Embed, evaluate and report (see :mod:`musicrep.benchmark`).

    Parameters
    ----------
    tasks : str or sequence
        Task names (:func:`~musicrep.benchmark.tasks.parse_tasks`) or :class:`TaskSpec`.
    models : str or sequence
        Model specs (:func:`~musicrep.benchmark.models.parse_models`) or :class:`ModelSpec`.
    out : path
        Report folder (created; its files are replaced one by one, atomically).
    protocol : {"coala", "hear"}
        Probe (:data:`musicrep.probes.PROBES`).
    repeats, seed : int
        Probe trainings per partition and the first seed (also the seed of untrained zoo
        encoders and of the correlation analysis).
    corpus_dir : path
        Where the corpus tasks' dataset is (reused if present) or is built.
    clips, seconds : optional
        Size of a new corpus build (default 400 x 6 s); with an existing build, they must match
        it (ConfigError otherwise: rebuilding in place would delete its clips).
    cache_dir : path, optional
        Embedding cache (:class:`musicrep.embeddings.EmbeddingCache`; default:
        ``.musicrep-cache`` beside ``out``, as ``musicrep evaluate``).
    reference : str, optional
        A paper reproduction (:data:`~musicrep.benchmark.reproductions.REPRODUCTIONS`:
        ``"coala"``): its tables beside ours and its claims checked.
    cca : bool
        Run :func:`musicrep.analysis.cca_report.run_cca_report` on the test split of
        ``cca_task`` (default: the first task) with every embedded model, into ``out/cca``.
        The embeddings come from the cache; the descriptors are computed from the audio.
    cca_clips, cca_method, cca_split
        Its ``max_clips``, ``method`` and ``split`` (``None``: every row of the manifest).
    batch_size, device, nan_policy
        Embedder settings (``nan_policy``: ``"raise"`` or ``"zero"``, see
        :func:`musicrep.audio.load`).
    grid : str
        hear grid preset (``protocol="hear"`` only).
    title, command : str, optional
        Report title; the command line that ran this (recorded in the report).
    progress : bool
        Progress bars on stderr.
    log : callable, optional
        Receives status lines (default: stderr).

    Returns
    -------
    BenchmarkResult
    """
    from musicrep.embeddings import EmbeddingCache
    from musicrep.utils import environment_info

    t_start = time.perf_counter()
    log = log or (lambda msg: print(f"musicrep: {msg}", file=sys.stderr))
    _check_settings(protocol, repeats, reference)
    task_specs = _as_specs(tasks, TaskSpec, parse_tasks)
    model_specs = _as_specs(models, ModelSpec, parse_models)
    check_unique([t.name for t in task_specs], "tasks", "name them: --tasks NAME=path.csv")
    check_unique([m.label for m in model_specs], "models", "name them: --models LABEL=SPEC")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} exists and is not a folder")
    cache = EmbeddingCache(
        cache_dir if cache_dir is not None else out_dir.parent / ".musicrep-cache"
    )
    if cca and cca_task is not None and cca_task not in [t.name for t in task_specs]:
        raise ConfigError(
            f"--cca-task {cca_task!r} is not one of the tasks",
            f"tasks: {', '.join(t.name for t in task_specs)}",
        )
    cdir = Path(corpus_dir)
    corpus_info, task_entries, loaded, union = _load_tasks(
        task_specs, cdir, out_dir, clips, seconds, progress, log
    )
    log(
        f"{len(task_entries)} task(s), {len(union)} distinct audio file(s), "
        f"{len(model_specs)} model(s)"
    )
    embed = {"seed": seed, "batch_size": batch_size, "device": device, "progress": progress}
    embed["nan_policy"] = nan_policy
    model_entries = [_embed_model(ms, union, cache, log=log, **embed) for ms in model_specs]
    probe = {"protocol": protocol, "repeats": repeats, "seed": seed, "grid": grid}
    results = _evaluate_all(
        task_entries, model_entries, loaded, {**probe, "progress": progress}, log
    )
    cca_doc = None
    if cca:
        cca_settings = {"task": cca_task, "clips": cca_clips, "method": cca_method}
        cca_settings.update(split=cca_split, **embed)
        cca_doc = _run_cca(task_entries, model_entries, out_dir, cca_settings, log)
    settings = {
        "protocol": protocol,
        "repeats": repeats,
        "seed": seed,
        "grid": grid if protocol == "hear" else None,
        "batch_size": batch_size,
        "device": device,
        "cache_dir": str(cache.root),
        "corpus_dir": str(cdir) if corpus_info else None,
        "reference": reference,
        "cca": cca,
        "cca_clips": cca_clips if cca else None,
        "cca_method": cca_method if cca else None,
        "cca_split": cca_split if cca else None,
    }
    document: dict[str, Any] = {
        "format": "musicrep.benchmark",
        "format_version": 1,
        "title": title or f"musicrep benchmark: {', '.join(t['name'] for t in task_entries)}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": command,
        "cwd": os.getcwd(),
        "out": str(out_dir),
        "settings": settings,
        "environment": environment_info(),
        "corpus": corpus_info,
        "tasks": task_entries,
        "models": model_entries,
        "results": results,
        "cca": cca_doc,
    }
    return _finish(document, out_dir, reference, t_start, log)


def _finish(document: dict[str, Any], out_dir: Path, reference, t_start: float, log: Log):
    """Add the environment, the reproduction, the failures; render; the result."""
    from musicrep.benchmark.report import render_report
    from musicrep.benchmark.reproductions import REPRODUCTIONS

    if reference is not None:
        document["reference"] = REPRODUCTIONS.create(reference).reference(document)
    document["failures"] = _failures(document)
    document["wall_seconds"] = time.perf_counter() - t_start
    paths = render_report(document, out_dir)
    log(
        f"report: {paths['md']} ({paths['html'].name}, results.json, "
        f"{len(document['tasks'])} chart(s)) in {document['wall_seconds']:.1f} s"
    )
    return BenchmarkResult(document, paths, ok=not document["failures"])
