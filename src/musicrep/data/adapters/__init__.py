"""Public-dataset adapters: a local copy in its official layout -> a musicrep manifest.

Each adapter reads the files a user already has (nothing is downloaded) and writes one manifest
(see :mod:`musicrep.data.manifest`): ``path`` relative to the manifest's folder, ``labels``,
``split`` and, where the dataset defines them, ``fold`` and extra columns. The manifest goes to
``<root>/musicrep_<name>.csv`` unless ``out`` says otherwise.

========================== ============================== ============================================
name (aliases)             labels                         splits
========================== ============================== ============================================
``gtzan``                  genre (10)                     stratified 80/10/10 by seed, or the
                                                          fault-filtered lists (``split_lists``)
``urbansound8k`` (us8k)    class (10)                     official folds 1..10 (leave-one-fold-out)
``nsynth``                 instrument family (10, or 11)  official train/valid/test; COALA's
                                                          2,000-per-family subset (``balanced``)
``magnatagatune`` (mtat)   top-50 tags (multi-label)      split lists, or directories 0-b/c/d-f
``speechcommands`` (gsc)   word (35), or 12 classes       ``validation_list.txt``/``testing_list.txt``
``esc50``                  category (50, or ESC-10)       official folds 1..5 (leave-one-fold-out)
``voxceleb`` (vox)         speaker id (+ ``video``)       trial-list speakers -> test (Vox1-O)
========================== ============================== ============================================

Every adapter documents its expected layout in its module docstring and in
``musicrep data prepare NAME --help``. Well-kept loader libraries cover some of these datasets
(mirdata: ``gtzan_genre``; soundata: ``urbansound8k``, ``esc50``) and can be used to download and
validate a copy; musicrep does not depend on them.

Examples
--------
>>> from musicrep.data.adapters import prepare
>>> result = prepare("esc50", "data/ESC-50-master")                   # doctest: +SKIP
>>> print(result.table())                                             # doctest: +SKIP
>>> result = prepare("gtzan", "data/gtzan", split_lists=["splits/gtzan"],
...                  check_audio=True)                                 # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from musicrep.data.adapters.base import (
    Collected,
    DatasetAdapter,
    FileIndex,
    PreparedDataset,
    SkippedFile,
)
from musicrep.data.adapters.esc50 import ESC50
from musicrep.data.adapters.gtzan import GTZAN
from musicrep.data.adapters.magnatagatune import MagnaTagATune
from musicrep.data.adapters.nsynth import NSynth
from musicrep.data.adapters.speechcommands import SpeechCommands
from musicrep.data.adapters.urbansound8k import UrbanSound8K
from musicrep.data.adapters.voxceleb import VoxCeleb
from musicrep.data.manifest import Manifest
from musicrep.errors import AudioError, ConfigError
from musicrep.registry import Registry
from musicrep.utils import progress, write_text_atomic

__all__ = [
    "ADAPTERS",
    "DatasetAdapter",
    "PreparedDataset",
    "SkippedFile",
    "adapter_class",
    "list_adapters",
    "prepare",
    "prepare_with",
]

#: Canonical name -> adapter class.
ADAPTERS: Registry[DatasetAdapter] = Registry("dataset adapter")
for _cls in (GTZAN, UrbanSound8K, NSynth, MagnaTagATune, SpeechCommands, ESC50, VoxCeleb):
    ADAPTERS.register(_cls.name)(_cls)

#: Alias -> canonical name.
ALIASES: dict[str, str] = {
    alias: name for name in ADAPTERS.names() for alias in ADAPTERS.get(name).aliases
}


def list_adapters() -> list[str]:
    """The canonical adapter names, sorted."""
    return ADAPTERS.names()


def adapter_class(name: str) -> type[DatasetAdapter]:
    """The adapter class for ``name`` or one of its aliases (case-insensitive).

    Raises
    ------
    ConfigError
        Unknown name; the message lists the valid ones.
    """
    key = str(name).lower()
    return ADAPTERS.get(ALIASES.get(key, key))  # type: ignore[return-value]


def prepare(
    name: str,
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    check_audio: bool = False,
    show_progress: bool = False,
    **options: Any,
) -> PreparedDataset:
    """Write the manifest of a public dataset from a local copy in its official layout.

    Parameters
    ----------
    name : str
        Adapter name or alias (see :func:`list_adapters`).
    root : path-like
        Folder holding the dataset (or its parent: each adapter also looks one level down for
        the folder its official archive unpacks to).
    out : path-like, optional
        Manifest CSV to write; default ``<root>/musicrep_<name>.csv``. Audio paths inside the
        manifest's folder are written relative to it, others absolute.
    check_audio : bool
        Open every audio file's header (:func:`musicrep.audio.info`); files that fail, or hold
        no samples, are skipped and listed, and the rest goes on.
    show_progress : bool
        Progress bar on stderr while checking audio.
    **options
        The adapter's options (its ``__init__`` keywords, e.g. ``split_lists``, ``balanced``,
        ``test_fold``).

    Returns
    -------
    PreparedDataset
        Manifest path, the manifest, ``{split: {label: count}}``, skipped files and notes.
        When files were skipped, their list is also written to ``<manifest>.skipped.txt``.

    Raises
    ------
    ConfigError
        Unknown adapter or option, ``root`` not in the expected layout (names the missing file
        or folder and shows the layout), no usable rows, or the manifest cannot be written.
    ManifestError
        A metadata file of the dataset is malformed (names the file and line).
    """
    cls = adapter_class(name)
    unknown = sorted(set(options) - set(cls.option_names()))
    if unknown:
        raise ConfigError(
            f"unknown option(s) for {cls.name}: {', '.join(unknown)}",
            f"{cls.name} accepts: {', '.join(cls.option_names()) or 'no options'}",
        )
    return prepare_with(
        cls(**options), root, out, check_audio=check_audio, show_progress=show_progress
    )


def prepare_with(
    adapter: DatasetAdapter,
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    check_audio: bool = False,
    show_progress: bool = False,
) -> PreparedDataset:
    """:func:`prepare` with an adapter instance (also one not in the registry)."""
    cls = type(adapter)
    root = Path(os.path.abspath(Path(root).expanduser()))
    if not root.is_dir():
        raise ConfigError(
            f"{cls.title}: root folder not found: {root}",
            f"pass --root the folder that holds the dataset in its official layout:\n{cls.layout}",
        )
    collected: Collected = adapter.collect(root)
    rows, skipped = _drop_missing(collected.rows)
    skipped = collected.skipped + skipped
    if check_audio:
        rows, unreadable = _check_audio(rows, show_progress)
        skipped += unreadable
    if not rows:
        raise ConfigError(
            f"{cls.title}: no usable audio files under {root} ({len(skipped)} skipped"
            + (f", e.g. {skipped[0]})" if skipped else ")"),
            "check that the audio is unpacked where the layout expects it:\n" + cls.layout,
        )

    out_path = Path(out).expanduser() if out is not None else root / f"musicrep_{cls.name}.csv"
    out_path = Path(os.path.abspath(out_path))
    manifest = Manifest.from_rows(rows, root=out_path.parent)
    skipped_path = out_path.with_name(out_path.name + ".skipped.txt")
    try:
        manifest.write(out_path)
        if skipped:
            write_text_atomic(skipped_path, "".join(f"{s}\n" for s in skipped))
        elif skipped_path.exists():  # from an earlier run: no longer true
            skipped_path.unlink()
    except OSError as err:
        raise ConfigError(
            f"cannot write the manifest {out_path}: {err.strerror or err}",
            "pass --out a file in a writable folder (dataset folders are often read-only)",
        ) from None
    return PreparedDataset(
        name=cls.name,
        manifest_path=out_path,
        manifest=manifest,
        counts=manifest.class_counts(),
        skipped=skipped,
        notes=list(collected.notes),
        skipped_path=skipped_path if skipped else None,
    )


def _drop_missing(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[SkippedFile]]:
    index = FileIndex()
    kept, skipped = [], []
    reported: set[str] = set()
    for row in rows:
        path = os.fspath(row["path"])
        if index.exists(path):
            kept.append(row)
        elif path not in reported:
            reported.add(path)
            skipped.append(SkippedFile(Path(path), "file not found"))
    return kept, skipped


def _check_audio(
    rows: list[dict[str, Any]], show_progress: bool
) -> tuple[list[dict[str, Any]], list[SkippedFile]]:
    from musicrep.audio import info

    paths = list(dict.fromkeys(os.fspath(r["path"]) for r in rows))
    bad: dict[str, str] = {}
    disable = None if show_progress else True  # None: shown when stderr is a terminal
    for path in progress(paths, desc="checking audio", unit="file", disable=disable):
        try:
            if info(path).frames == 0:
                bad[path] = "no samples (empty audio file)"
        except AudioError as err:
            bad[path] = err.reason
    kept = [r for r in rows if os.fspath(r["path"]) not in bad]
    return kept, [SkippedFile(Path(p), f"unreadable: {reason}") for p, reason in bad.items()]
