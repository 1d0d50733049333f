"""Any folder of audio -> a manifest (``musicrep data manifest``), and the audio-file listing.

:func:`folder_manifest` lists the audio files of a folder (sorted, hidden files and folders
left out), assigns seeded train/valid/test splits and writes the manifest with the machinery of
the dataset adapters (:func:`musicrep.data.adapters.prepare_with`): missing or (with
``check_audio``) unreadable files are skipped and listed in ``<manifest>.skipped.txt``, and the
CSV is written atomically.

Labels are empty (unlabelled audio, for self-supervised pre-training) unless
``labels_from="parent"``: then each file's label is the name of the folder it is in (files
directly in the root folder get none), and the splits are drawn per label so every class has
the same valid/test share.

Splits: the files (of each label) are sorted, shuffled with a generator seeded by ``seed``, and
cut: ``round(n * test)`` to test, ``round(n * valid)`` to valid, the rest to train; a non-zero
fraction gets at least one file when there are at least three files, and train always keeps
one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musicrep.data.adapters.base import Collected, DatasetAdapter, PreparedDataset
from musicrep.errors import ConfigError

#: Values of ``labels_from``.
LABEL_SOURCES = ("none", "parent")


def is_audio_file(path: Path) -> bool:
    """A visible file whose extension is one of ``musicrep.embed.AUDIO_EXTENSIONS``."""
    from musicrep.embed import AUDIO_EXTENSIONS

    return (
        path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")
    )


def list_audio_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Audio files in ``folder`` (and its sub-folders with ``recursive``), sorted.

    Files inside hidden folders (``.git``, ``.cache``...) are left out.

    Raises
    ------
    ConfigError
        ``folder`` is not a directory.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder", "give a folder of audio files")
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p
        for p in found
        if is_audio_file(p) and not any(s.startswith(".") for s in p.relative_to(root).parts)
    )


def split_counts(n: int, valid: float, test: float) -> tuple[int, int]:
    """``(n_valid, n_test)`` for ``n`` items (see the module docstring)."""
    n_test, n_valid = int(round(n * test)), int(round(n * valid))
    if n >= 3:
        n_test = max(n_test, 1) if test > 0 else 0
        n_valid = max(n_valid, 1) if valid > 0 else 0
    n_test = min(n_test, max(n - 1, 0))
    n_valid = min(n_valid, max(n - 1 - n_test, 0))
    return n_valid, n_test


class FolderAdapter(DatasetAdapter):
    """Adapter for any folder of audio files (see the module docstring).

    Parameters
    ----------
    valid, test : float
        Fractions of the files for the valid and test splits (0.1, 0).
    seed : int
        Seed of the split assignment.
    recursive : bool
        Include sub-folders.
    labels_from : {"none", "parent"}
        Empty labels, or the parent folder's name.
    """

    name = "folder"
    title = "audio folder"
    summary = "any folder of audio files"
    layout = "  DIR/*.wav (or flac, ogg, mp3, aiff), sub-folders with --recursive"

    def __init__(
        self,
        *,
        valid: float = 0.1,
        test: float = 0.0,
        seed: int = 0,
        recursive: bool = False,
        labels_from: str = "none",
    ):
        if not (0 <= valid < 1 and 0 <= test < 1 and valid + test < 1):
            raise ConfigError(
                f"--valid {valid} and --test {test} must be fractions in [0, 1) summing to < 1",
                "e.g. --valid 0.1 --test 0.1 keeps 80% for training",
            )
        if labels_from not in LABEL_SOURCES:
            raise ConfigError(
                f"unknown label source {labels_from!r}", f"use one of {', '.join(LABEL_SOURCES)}"
            )
        self.valid, self.test, self.seed = float(valid), float(test), int(seed)
        self.recursive, self.labels_from = bool(recursive), labels_from

    def _label(self, path: Path, root: Path) -> str:
        if self.labels_from == "parent" and path.parent != root:
            return path.parent.name
        return ""

    def collect(self, root: Path) -> Collected:
        files = list_audio_files(root, self.recursive)
        if not files:
            hint = "add --recursive to search sub-folders" if not self.recursive else None
            raise ConfigError(f"no audio files in {root}", hint)
        groups: dict[str, list[Path]] = {}
        for f in files:
            groups.setdefault(self._label(f, root), []).append(f)
        rows = []
        for index, label in enumerate(sorted(groups)):
            items = groups[label]
            n_valid, n_test = split_counts(len(items), self.valid, self.test)
            order = np.random.default_rng([self.seed, index]).permutation(len(items))
            for rank, i in enumerate(order):
                split = "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
                rows.append({"path": str(items[i]), "labels": label, "split": split})
        rows.sort(key=lambda r: r["path"])
        notes = []
        unlabelled = len(groups.get("", []))
        if self.labels_from == "parent" and unlabelled:
            notes.append(f"{unlabelled} file(s) directly in {root} have no label")
        return Collected(rows=rows, notes=notes)


def folder_manifest(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    valid: float = 0.1,
    test: float = 0.0,
    seed: int = 0,
    recursive: bool = False,
    labels_from: str = "none",
    check_audio: bool = False,
    show_progress: bool = False,
) -> PreparedDataset:
    """Write the manifest of a folder of audio files.

    Parameters
    ----------
    folder : path-like
        The folder.
    out : path-like
        Manifest CSV to write (atomically); audio paths inside its folder are relative.
    valid, test, seed, recursive, labels_from
        See :class:`FolderAdapter`.
    check_audio : bool
        Open every file's header; skip and list the unreadable ones.
    show_progress : bool
        Progress bar while checking audio.

    Returns
    -------
    PreparedDataset
        The manifest, its path, per-split counts and the skipped files.

    Examples
    --------
    >>> result = folder_manifest("recordings", "recordings.csv", valid=0.1)  # doctest: +SKIP
    >>> result.manifest.splits()                                             # doctest: +SKIP
    ['train', 'valid']
    """
    from musicrep.data.adapters import prepare_with

    adapter = FolderAdapter(
        valid=valid, test=test, seed=seed, recursive=recursive, labels_from=labels_from
    )
    return prepare_with(adapter, folder, out, check_audio=check_audio, show_progress=show_progress)


__all__ = [
    "LABEL_SOURCES",
    "FolderAdapter",
    "folder_manifest",
    "is_audio_file",
    "list_audio_files",
    "split_counts",
]
