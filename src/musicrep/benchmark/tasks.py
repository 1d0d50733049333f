"""Benchmark tasks: the built-in corpus tasks, public datasets by adapter, any manifest.

``--tasks`` items (comma-separated or repeated):

``corpus-style``, ``corpus-instrument``, ``corpus-tags`` (:data:`TASKS`)
    The built-in corpus dataset's ``style.csv``, ``instrument.csv``, ``tags.csv``
    (:func:`musicrep.data.corpus.build_corpus`), built into ``corpus_dir`` unless a build is
    already there.
``ADAPTER:ROOT`` (``gtzan:data/gtzan``, ``us8k:data/UrbanSound8K``...)
    A public dataset in its official layout (:mod:`musicrep.data.adapters`): its
    ``ROOT/musicrep_<name>.csv`` (``musicrep data prepare``) if there is one, else a manifest
    prepared into the report folder (``OUT/manifests/<task>.csv``). Named after the adapter.
``path/to/manifest.csv`` (or a trials file)
    Any manifest; the task is named after the file stem.
``name=...``
    Any of the above, named.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicrep.benchmark.models import check_unique, split_label, split_list
from musicrep.benchmark.scores import TASK_METRICS
from musicrep.errors import ConfigError
from musicrep.registry import Registry

__all__ = [
    "CORPUS_TASKS",
    "TASKS",
    "TaskSpec",
    "load_task",
    "parse_tasks",
    "prepare_corpus",
    "task_manifest",
]

#: Built-in tasks: name -> manifest file of the corpus dataset.
CORPUS_TASKS: dict[str, str] = {
    "corpus-style": "style.csv",
    "corpus-instrument": "instrument.csv",
    "corpus-tags": "tags.csv",
}
#: Corpus build used when ``corpus_dir`` holds none and no size is given.
DEFAULT_CORPUS_CLIPS = 400
DEFAULT_CORPUS_SECONDS = 6.0


@dataclass(frozen=True)
class TaskSpec:
    """One downstream task: a name and where its manifest (or trials file) comes from.

    Exactly one source is set: ``manifest`` (a file), ``corpus_file`` (a built-in corpus task:
    ``corpus_dir / corpus_file``) or ``adapter`` + ``root`` (a public dataset).
    """

    name: str
    manifest: Path | None = None
    corpus_file: str | None = None
    adapter: str | None = None
    root: Path | None = None


#: Built-in tasks by name: ``TASKS.get("corpus-style")(task_name)`` -> TaskSpec.
TASKS: Registry[TaskSpec] = Registry("benchmark task")
for _task, _file in CORPUS_TASKS.items():
    TASKS.register(_task)(functools.partial(TaskSpec, corpus_file=_file))


def _adapter_task(label: str, spec: str) -> TaskSpec | None:
    """``ADAPTER:ROOT`` -> a dataset task, or None if ``spec`` is not one."""
    from musicrep.data.adapters import ALIASES, adapter_class, list_adapters

    name, sep, root = spec.partition(":")
    if not sep or not root or Path(spec).exists():
        return None
    if name.lower() not in {*list_adapters(), *ALIASES}:
        return None
    cls = adapter_class(name)
    return TaskSpec(label or cls.name, adapter=cls.name, root=Path(root))


def _parse_one(text: str) -> TaskSpec:
    label, spec = split_label(text)
    if spec in TASKS and not Path(spec).exists():
        return TASKS.get(spec)(label or spec)
    if spec.startswith("corpus-") and not Path(spec).exists():
        raise ConfigError(
            f"unknown built-in task {spec!r}",
            f"built-in tasks: {', '.join(CORPUS_TASKS)}; or give a manifest CSV path",
        )
    dataset = _adapter_task(label, spec)
    if dataset is not None:
        return dataset
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(
            f"task {text!r}: manifest {path} not found",
            f"give a manifest CSV (path,labels,split), a dataset as ADAPTER:ROOT (e.g. "
            f"gtzan:data/gtzan), or a built-in task: {', '.join(CORPUS_TASKS)}",
        )
    return TaskSpec(label or path.stem, path)


def parse_tasks(items: str | Sequence[str]) -> list[TaskSpec]:
    """Parse task names: ``corpus-style``..., ``gtzan:ROOT``, ``path.csv``, ``name=...``.

    Raises
    ------
    ConfigError
        Unknown ``corpus-*`` name, a manifest that does not exist, duplicate names.
    """
    tasks = [_parse_one(text) for text in split_list(items)]
    if not tasks:
        raise ConfigError("no tasks given", f"e.g. --tasks {','.join(CORPUS_TASKS)}")
    check_unique([t.name for t in tasks], "tasks", "name them: --tasks NAME=path.csv")
    return tasks


def _dataset_manifest(task: TaskSpec, out_dir: Path, log: Callable[[str], None]) -> Path:
    from musicrep.data.adapters import prepare

    assert task.adapter is not None and task.root is not None
    existing = task.root / f"musicrep_{task.adapter}.csv"
    if existing.is_file():
        log(f"{task.name}: using {existing} (delete it, or run `musicrep data prepare`, to redo)")
        return existing
    target = out_dir / "manifests" / f"{task.name}.csv"
    prepared = prepare(task.adapter, task.root, target)
    log(
        f"{task.name}: prepared {prepared.manifest_path} from {task.root} "
        f"({len(prepared.manifest)} rows, {len(prepared.skipped)} file(s) skipped)"
    )
    return prepared.manifest_path


def task_manifest(
    task: TaskSpec, corpus_dir: Path, out_dir: Path, log: Callable[[str], None]
) -> Path:
    """The manifest (or trials) file of a task, preparing a dataset's when needed."""
    if task.corpus_file is not None:
        return corpus_dir / task.corpus_file
    if task.adapter is not None:
        return _dataset_manifest(task, out_dir, log)
    assert task.manifest is not None
    return task.manifest


def load_task(task: TaskSpec, path: Path) -> tuple[dict[str, Any], Any, list[Path]]:
    """Read a task's manifest or trials file: its report entry, the object, its audio files."""
    from musicrep.data.manifest import Manifest
    from musicrep.probes import is_trials_file, read_trials

    if is_trials_file(path):
        m: Any = read_trials(path)
        files, ttype = m.files(), "verification"
    else:
        m = Manifest.read(path)
        if len(m) == 0:
            raise ConfigError(f"{path}: the manifest has no rows")
        files = list(dict.fromkeys(r.path for r in m))
        ttype = "multilabel" if m.is_multilabel else "singlelabel"
    entry = {
        "name": task.name,
        "manifest": str(path),
        "type": ttype,
        "rows": len(m),
        "files": len(files),
        "metrics": list(TASK_METRICS[ttype]),
        "builtin": task.corpus_file is not None,
    }
    if task.adapter is not None:
        entry["dataset"] = {"adapter": task.adapter, "root": str(task.root)}
    return entry, m, files


def _reuse_corpus(
    corpus_dir: Path, clips: int | None, seconds: float | None, log: Callable[[str], None]
) -> dict[str, Any]:
    meta_path = corpus_dir / "metadata.json"
    try:
        cfg = json.loads(meta_path.read_text(encoding="utf-8")).get("config", {})
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{meta_path} is unreadable ({exc})", "delete the folder") from None
    have = (cfg.get("clips"), cfg.get("seconds"))
    if None in have:
        raise ConfigError(
            f"{meta_path} does not say how the corpus was built (no config.clips/seconds)",
            "rebuild it: musicrep data corpus --out DIR, or pass another --corpus-dir",
        )
    want_clips = have[0] if clips is None else clips
    want_seconds = have[1] if seconds is None else seconds
    if have[0] != want_clips or not math.isclose(float(have[1]), float(want_seconds)):
        raise ConfigError(
            f"{corpus_dir} holds a corpus of {have[0]} clips x {have[1]} s, not "
            f"{want_clips} x {want_seconds} s",
            "pass another --corpus-dir for a new build (rebuilding in place would delete "
            "the clips other reports were made from), or drop --clips/--seconds to use it",
        )
    log(f"corpus: reusing {corpus_dir} ({have[0]} clips x {have[1]} s)")
    return {
        "dir": str(corpus_dir),
        "clips": have[0],
        "seconds": have[1],
        "built": False,
        "config": cfg,
    }


def prepare_corpus(
    corpus_dir: Path,
    clips: int | None,
    seconds: float | None,
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Reuse the corpus build in ``corpus_dir`` (its size must match), or build one."""
    manifests = [corpus_dir / f for f in CORPUS_TASKS.values()]
    if (corpus_dir / "metadata.json").is_file() and all(m.is_file() for m in manifests):
        return _reuse_corpus(corpus_dir, clips, seconds, log)
    from musicrep.data.corpus import build_corpus

    n = DEFAULT_CORPUS_CLIPS if clips is None else clips
    s = DEFAULT_CORPUS_SECONDS if seconds is None else seconds
    log(f"corpus: building {n} clips x {s:g} s in {corpus_dir}")
    summary = build_corpus(corpus_dir, clips=n, seconds=s, progress=progress, log=log)
    info = {
        "dir": str(corpus_dir),
        "clips": summary.clips,
        "seconds": summary.seconds,
        "built": True,
        "build_seconds": summary.elapsed,
    }
    if summary.failures:
        info["failures"] = [{"clip": i, "reason": r} for i, r in summary.failures]
    return info
