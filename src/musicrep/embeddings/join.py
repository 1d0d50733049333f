"""Joining embeddings to manifest rows (or to verification trials) by file path.

One set of rules, used by ``evaluate``, ``benchmark`` and ``analyze cca``. A row (or a trial's
file) is matched to a stored path

1. by its absolute path, also with symbolic links resolved; a stored *relative* path is read
   against the manifest's folder, then the embeddings file's folder, then the working directory;
2. failing that, by its path relative to the manifest's folder as the suffix of exactly one
   stored path (embeddings computed on another machine);
3. failing that, by its file name when that name is unique among the stored paths and among
   the rows.

Rows without an embedding are reported (:attr:`JoinResult.missing`) and left out; a path
stored twice, or a file in several manifest rows (segments), is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from musicrep.data.manifest import Manifest, ManifestRow
from musicrep.errors import ConfigError

__all__ = ["JoinResult", "join", "join_trials"]


class _PathIndex:
    """Looks up stored embedding paths: exact absolute path, path suffix, unique file name."""

    def __init__(self, paths: Sequence[str], root: Path, base_dirs: Sequence[Path] = ()):
        self.exact: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.parts: list[tuple[str, ...]] = []
        dupes = []
        for i, p in enumerate(paths):
            pp = Path(str(p))
            first = pp if pp.is_absolute() else root / pp
            if os.path.abspath(first) in self.exact:
                dupes.append(str(p))
            bases = [] if pp.is_absolute() else [Path(b) / pp for b in base_dirs]
            for absolute in (first, *bases):
                for key in (os.path.abspath(absolute), os.path.realpath(absolute)):
                    self.exact.setdefault(key, i)
            self.by_name.setdefault(pp.name, []).append(i)
            self.parts.append(pp.parts)
        if dupes:
            raise ConfigError(
                f"the embeddings list {len(dupes)} path(s) more than once, e.g. {dupes[0]}",
                "write each file's embedding once",
            )

    def lookup(self, path: Path, root: Path, names: Mapping[str, int]) -> tuple[int, str] | None:
        """Index of ``path``'s embedding and how it was found, or ``None``.

        ``names`` counts the file names on the manifest side (a name must be unique there too).
        """
        for key in (os.path.abspath(path), os.path.realpath(path)):
            if key in self.exact:
                return self.exact[key], "path"
        candidates = self.by_name.get(path.name, [])
        try:
            rel = Path(os.path.abspath(path)).relative_to(root).parts
        except ValueError:
            rel = ()
        if len(rel) > 1:
            hits = [i for i in candidates if self.parts[i][-len(rel) :] == rel]
            if len(hits) == 1:
                return hits[0], "relative"
        if len(candidates) == 1 and names.get(path.name, 0) == 1:
            return candidates[0], "name"
        return None


@dataclass
class JoinResult:
    """Manifest rows aligned with their embeddings (:func:`join`).

    Attributes
    ----------
    manifest : Manifest
        The rows that have an embedding, in manifest order.
    X : np.ndarray, shape (rows, D)
        Their embeddings, row ``i`` for ``manifest[i]``.
    index : np.ndarray of int, shape (rows,)
        Position of each row's embedding among the stored embeddings.
    missing : list of Path
        Manifest rows without an embedding (left out).
    matched_by : dict
        How many rows were matched by ``"path"``, ``"relative"`` path or unique file ``"name"``.
    positions : np.ndarray of int, shape (rows,)
        Position of each kept row in the manifest that was joined.
    """

    manifest: Manifest
    X: np.ndarray
    index: np.ndarray
    missing: list[Path]
    matched_by: dict[str, int]
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def report(self, first: int = 5) -> dict[str, Any]:
        """JSON-ready summary: matched/missing counts and the first missing paths."""
        return {
            "matched": int(len(self.manifest)),
            "missing": len(self.missing),
            "missing_first": [str(p) for p in self.missing[:first]],
            "matched_by": dict(self.matched_by),
        }

    def note(self) -> str | None:
        """A sentence about the rows left out, or ``None`` when every row matched."""
        if not self.missing:
            return None
        total = len(self.manifest) + len(self.missing)
        shown = ", ".join(str(p) for p in self.missing[:3])
        return (
            f"{len(self.missing)} of {total} manifest row(s) have no embedding and were left "
            f"out (e.g. {shown})"
        )


def _name_counts(paths: Iterable[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in paths:
        counts[p.name] = counts.get(p.name, 0) + 1
    return counts


def _no_match_error(what: str, example: Path, stored: Sequence[str]) -> ConfigError:
    shown = stored[0] if len(stored) else "(none)"
    return ConfigError(
        f"no {what} has an embedding: e.g. {example} is not among the {len(stored)} stored "
        f"paths (first: {shown})",
        "embed the files this manifest lists (musicrep evaluate --model ... does it for you), "
        "or pass the embeddings file that was computed from them",
    )


def _check_one_row_per_file(manifest: Manifest) -> None:
    seen: dict[str, ManifestRow] = {}
    for row in manifest:
        key = os.path.abspath(row.path)
        if key in seen:
            raise ConfigError(
                f"{manifest.source}: {row.path} appears in several rows (segments?)",
                "evaluation uses one embedding per file; cut segments into their own files",
            )
        seen[key] = row


def join(
    manifest: Manifest,
    paths: Sequence[str],
    X: np.ndarray,
    *,
    base_dirs: Sequence[str | os.PathLike] = (),
) -> JoinResult:
    """Match manifest rows to embeddings by path (rules in the module docstring).

    Parameters
    ----------
    manifest : Manifest
        The labelled rows; each file may appear once (segment rows of one file cannot be told
        apart by path).
    paths : sequence of str, shape (N,)
        The stored paths (absolute, or relative to the manifest's folder or to ``base_dirs``).
    X : np.ndarray, shape (N, D)
        The stored embeddings.
    base_dirs : sequence of path
        More folders to read stored relative paths against, after the manifest's
        (:meth:`Embeddings.join` passes the embeddings file's folder and the working directory).

    Returns
    -------
    JoinResult

    Raises
    ------
    ConfigError
        No row matches, a file appears in several manifest rows, or a path is stored twice.
    """
    X = np.asarray(X)
    if len(paths) != X.shape[0]:
        raise ConfigError(f"{len(paths)} paths but {X.shape[0]} embeddings")
    _check_one_row_per_file(manifest)
    index = _PathIndex(paths, manifest.root, [Path(b) for b in base_dirs])
    names = _name_counts(r.path for r in manifest)
    kept, idx, pos, missing = [], [], [], []
    matched_by = {"path": 0, "relative": 0, "name": 0}
    for i, row in enumerate(manifest):
        hit = index.lookup(row.path, manifest.root, names)
        if hit is None:
            missing.append(row.path)
            continue
        kept.append(row)
        idx.append(hit[0])
        pos.append(i)
        matched_by[hit[1]] += 1
    if not kept:
        raise _no_match_error(
            "manifest row", manifest[0].path if len(manifest) else Path("?"), paths
        )
    sub = Manifest(kept, manifest.root, source=manifest.source)
    index_arr = np.asarray(idx, dtype=np.int64)
    return JoinResult(
        sub, X[index_arr], index_arr, missing, matched_by, np.asarray(pos, dtype=np.int64)
    )


class TrialsLike(Protocol):
    """What :func:`join_trials` needs of a trial list (:class:`musicrep.probes.Trials`)."""

    enroll: list[Path]
    test: list[Path]
    labels: np.ndarray
    root: Path

    def files(self) -> list[Path]: ...


def join_trials(
    trials: TrialsLike,
    paths: Sequence[str],
    X: np.ndarray,
    *,
    base_dirs: Sequence[str | os.PathLike] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Embeddings of both sides of every trial whose two files have one (same rules as
    :func:`join`, relative to the trials file's folder).

    Returns
    -------
    enroll_X, test_X : np.ndarray, shape (kept, D)
    labels : np.ndarray, shape (kept,)
    dropped : list of int
        Indices of trials left out because a file has no embedding.
    """
    X = np.asarray(X)
    index = _PathIndex(paths, trials.root, [Path(b) for b in base_dirs])
    files = trials.files()
    names = _name_counts(files)
    where: dict[Path, int | None] = {}
    for f in files:
        hit = index.lookup(f, trials.root, names)
        where[f] = None if hit is None else hit[0]
    ia, ib, keep, dropped = [], [], [], []
    for t, (a, b) in enumerate(zip(trials.enroll, trials.test)):
        if where[a] is None or where[b] is None:
            dropped.append(t)
            continue
        ia.append(where[a])
        ib.append(where[b])
        keep.append(t)
    if not keep:
        first = next(f for f in files if where[f] is None)
        raise _no_match_error("trial", first, paths)
    return X[ia], X[ib], trials.labels[keep], dropped
