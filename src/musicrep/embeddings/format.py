"""The embeddings file format: atomic writers, readers and their checks.

Two kinds of ``.npz`` file (see :mod:`musicrep.embeddings` for the layout) and a folder of the
first kind. Every reader turns a wrong input into a :class:`~musicrep.errors.ConfigError` that
names the file and says what to pass instead.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.errors import ConfigError

__all__ = [
    "COMBINED_KEYS",
    "PER_FILE_KEYS",
    "Embeddings",
    "FileEmbeddings",
    "load",
    "load_embeddings",
    "read_file_embeddings",
    "write_combined",
    "write_file_embeddings",
]

#: Arrays of a per-file output (``musicrep embed``: one per audio file).
PER_FILE_KEYS = ("embedding", "timestamps", "scene", "path", "model", "duration")
#: Arrays of a combined file (``musicrep embed --combine``).
COMBINED_KEYS = ("paths", "embeddings", "model")

_HINT = "pass the .npz written by `musicrep embed ... --combine FILE.npz` (or its --out folder)"
_AUDIO_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"FORM", b"ID3")


# ---------------------------------------------------------------------------- writing


def _write_npz(target: str | os.PathLike, /, **arrays: np.ndarray) -> Path:
    """``np.savez`` to ``target`` atomically (through a file handle: no suffix is added)."""
    from musicrep.utils import atomic_path

    target = Path(target)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return target


def write_file_embeddings(
    path: str | os.PathLike,
    embedding: np.ndarray,
    timestamps: np.ndarray,
    scene: np.ndarray,
    *,
    source: str | os.PathLike,
    model: str,
    duration: float,
) -> Path:
    """Write one audio file's embeddings atomically (the per-file layout).

    Parameters
    ----------
    path : path
        The ``.npz`` to write (replaced atomically if it exists).
    embedding : np.ndarray, shape (T, D)
        Timestamp embeddings, stored as float32.
    timestamps : np.ndarray, shape (T,)
        Seconds, stored as float64.
    scene : np.ndarray, shape (D,)
        The clip (scene) embedding, stored as float32.
    source : path
        The audio file (stored as given; :class:`musicrep.embed.Embedder` passes it absolute).
    model : str
        Identity of the model that made the embeddings (``Embedder.name``).
    duration : float
        Seconds of audio.
    """
    return _write_npz(
        path,
        embedding=np.asarray(embedding, dtype=np.float32),
        timestamps=np.asarray(timestamps, dtype=np.float64),
        scene=np.asarray(scene, dtype=np.float32),
        path=np.array(str(source)),
        model=np.array(str(model)),
        duration=np.array(float(duration)),
    )


def write_combined(
    path: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    embeddings: np.ndarray,
    *,
    model: str = "",
) -> Path:
    """Write a combined embeddings file atomically: ``paths (N,)``, ``embeddings (N, D)``.

    ``embeddings`` is stored as float32 and ``paths`` as a string array; ``model`` (the model
    identity) is stored as a 0-d string.
    """
    X = np.asarray(embeddings, dtype=np.float32)
    names = np.array([str(p) for p in paths], dtype=str)
    if X.ndim != 2 or X.shape[0] != names.shape[0]:
        raise ConfigError(f"write_combined: {names.shape[0]} paths but embeddings {X.shape}")
    return _write_npz(path, paths=names, embeddings=X, model=np.array(str(model)))


# ---------------------------------------------------------------------------- reading


@dataclass
class FileEmbeddings:
    """One per-file output (:func:`read_file_embeddings`).

    Attributes
    ----------
    embedding : np.ndarray, shape (T, D), float32
    timestamps : np.ndarray, shape (T,), float64 seconds
    scene : np.ndarray, shape (D,), float32
        The stored scene embedding (older files without one: the mean of ``embedding``).
    source : str
        The audio file the embeddings were computed from.
    model : str
        Model identity.
    duration : float or None
        Seconds of audio.
    file : Path
        The ``.npz`` read.
    """

    embedding: np.ndarray
    timestamps: np.ndarray
    scene: np.ndarray
    source: str
    model: str
    duration: float | None
    file: Path


@dataclass
class Embeddings:
    """One embedding per audio file, with the files' paths.

    Attributes
    ----------
    paths : np.ndarray of str, shape (N,)
        The audio files (as stored: absolute when written by ``musicrep embed``).
    X : np.ndarray, shape (N, D), float32
    model : str
        Model identity recorded in the file (``""`` if none).
    source : str
        Where the embeddings were read from (``"<arrays>"`` for arrays).
    """

    paths: np.ndarray
    X: np.ndarray
    model: str = ""
    source: str = "<arrays>"

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        """Embedding size ``D``."""
        return int(self.X.shape[1])

    def base_dirs(self) -> list[Path]:
        """Folders that stored relative paths are also tried against (the file's, the cwd)."""
        if self.source.startswith("<"):
            return [Path.cwd()]
        return [Path(os.path.abspath(self.source)).parent, Path.cwd()]

    def join(self, manifest):
        """:func:`musicrep.embeddings.join` of these embeddings with ``manifest``."""
        from musicrep.embeddings.join import join

        return join(manifest, self.paths, self.X, base_dirs=self.base_dirs())


def _sniff(path: Path, head: bytes) -> ConfigError:
    """The error for a file that is not an ``.npz``: say what it seems to be."""
    if not head:
        return ConfigError(f"{path} is empty (0 bytes), not an embeddings file", _HINT)
    if head.startswith(b"\x93NUMPY"):
        return ConfigError(
            f"{path} is a .npy array without file paths, not an embeddings file", _HINT
        )
    if head.startswith(_AUDIO_MAGIC):
        return ConfigError(
            f"{path} is an audio file, not an embeddings file",
            "embed it first (`musicrep embed FILES --out DIR --combine emb.npz`), or give "
            "`musicrep evaluate` a --model instead of --embeddings",
        )
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ConfigError(f"{path} is not an .npz file (it starts with {head[:8]!r})", _HINT)
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if path.suffix.lower() in (".csv", ".tsv") or "," in first or "\t" in first:
        return ConfigError(
            f"{path} is a CSV, not an embeddings file",
            "pass the .npz written by `musicrep embed ... --combine FILE.npz`; a manifest CSV "
            "goes to --manifest",
        )
    return ConfigError(f"{path} is a text file, not an embeddings file", _HINT)


def _read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, checked to be one (with a clear error otherwise)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"embeddings file not found: {p}", "write one with `musicrep embed ... --combine`"
        )
    with open(p, "rb") as fh:
        head = fh.read(512)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _sniff(p, head)
    try:
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ConfigError(
                f"{p}: holds object (pickled) arrays, which are never loaded",
                "store the paths as a string array: np.savez(f, paths=np.array(paths, "
                "dtype=str), embeddings=X)",
            ) from None
        raise ConfigError(f"{p}: not a readable .npz file ({err})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ConfigError(
            f"{p}: a damaged .npz file ({err})", "write it again (was the writer interrupted?)"
        ) from None


def _scalar(arrays: dict[str, np.ndarray], key: str, default: Any = None) -> Any:
    if key not in arrays:
        return default
    value = np.asarray(arrays[key])
    return value.item() if value.ndim == 0 else value.reshape(-1)[0].item()


def _per_file(arrays: dict[str, np.ndarray], path: Path) -> FileEmbeddings:
    if "embedding" not in arrays and "scene" not in arrays:
        raise ConfigError(
            f"{path}: not a per-file embeddings output (it has {', '.join(arrays) or 'nothing'})",
            _HINT,
        )
    emb = np.asarray(arrays.get("embedding", np.asarray(arrays.get("scene"))[None]))
    scene = arrays.get("scene")
    scene = emb.mean(axis=0) if scene is None else np.asarray(scene)
    if emb.ndim != 2 or scene.ndim != 1 or scene.shape[0] != emb.shape[1]:
        raise ConfigError(
            f"{path}: embedding {emb.shape} and scene {scene.shape} do not fit (T, D) / (D,)"
        )
    times = np.asarray(arrays.get("timestamps", np.zeros(emb.shape[0])), dtype=np.float64)
    duration = _scalar(arrays, "duration")
    return FileEmbeddings(
        emb.astype(np.float32, copy=False),
        times,
        scene.astype(np.float32, copy=False),
        str(_scalar(arrays, "path", "")),
        str(_scalar(arrays, "model", "")),
        None if duration is None else float(duration),
        path,
    )


def read_file_embeddings(path: str | os.PathLike) -> FileEmbeddings:
    """Read one per-file output (``embedding``, ``timestamps``, ``scene``, ``path``, ...).

    Raises
    ------
    ConfigError
        Missing, not an ``.npz``, or not the per-file layout.
    """
    return _per_file(_read_arrays(path), Path(path))


def _check_matrix(paths: np.ndarray, X: np.ndarray, where: str, check_finite: bool) -> np.ndarray:
    if X.ndim != 2:
        raise ConfigError(
            f"{where}: embeddings have shape {X.shape}; expected (files, dim)",
            "evaluate one vector per file: pool timestamp embeddings over time first",
        )
    if X.shape[0] != paths.shape[0]:
        raise ConfigError(f"{where}: {paths.shape[0]} paths but {X.shape[0]} embeddings")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ConfigError(f"{where}: embeddings are {X.dtype}, not real numbers")
    X = X.astype(np.float32, copy=False)
    if check_finite:
        bad = ~np.isfinite(X).all(axis=1)
        if bad.any():
            raise ConfigError(
                f"{where}: {int(bad.sum())} embedding(s) contain NaN or inf, e.g. {paths[bad][0]}",
                "re-extract those files, or drop them from the manifest",
            )
    return X


def _load_folder(folder: Path, check_finite: bool) -> Embeddings:
    """The scene embeddings of every per-file output under ``folder`` (combined files skipped)."""
    files = sorted(
        f
        for f in folder.rglob("*.npz")
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    )
    rows: list[FileEmbeddings] = []
    for f in files:
        arrays = _read_arrays(f)
        if "paths" in arrays:  # a --combine file written into the output folder
            continue
        rows.append(_per_file(arrays, f))
    if not rows:
        raise ConfigError(f"{folder}: no per-file embeddings (.npz) in this folder", _HINT)
    models = {r.model for r in rows}
    if len(models) > 1:
        a, b = sorted(models)[:2]
        fa = next(r.file for r in rows if r.model == a)
        fb = next(r.file for r in rows if r.model == b)
        raise ConfigError(
            f"{folder}: the outputs come from different models ({fa}: {a!r}; {fb}: {b!r})",
            "keep one model's outputs per folder",
        )
    dims = {r.scene.shape[0] for r in rows}
    if len(dims) > 1:
        raise ConfigError(f"{folder}: the outputs have different sizes {sorted(dims)}")
    paths = np.array([r.source or str(r.file) for r in rows], dtype=str)
    X = _check_matrix(paths, np.stack([r.scene for r in rows]), str(folder), check_finite)
    return Embeddings(paths, X, rows[0].model, str(folder))


def load(path: str | os.PathLike, *, check_finite: bool = True) -> Embeddings:
    """Read embeddings: a combined ``.npz``, a per-file ``.npz`` or a folder of per-file ones.

    Parameters
    ----------
    path : path
        ``musicrep embed --combine`` output (``paths``, ``embeddings``), one per-file output
        (one row: its scene embedding), or an ``--out`` folder (the scene embedding of every
        per-file output in it and its sub-folders, sorted by output path; combined files in the
        folder are skipped).
    check_finite : bool
        Reject NaN/inf rows (naming the first file affected).

    Returns
    -------
    Embeddings

    Raises
    ------
    ConfigError
        Missing file; a CSV, audio, ``.npy``, text or empty file (each said so); pickled object
        arrays; missing ``paths``/``embeddings``; shapes that do not fit; NaN/inf.
    """
    p = Path(path)
    if p.is_dir():
        return _load_folder(p, check_finite)
    arrays = _read_arrays(p)
    if "paths" not in arrays and ("embedding" in arrays or "scene" in arrays):
        f = _per_file(arrays, p)
        paths = np.array([f.source or str(p)], dtype=str)
        return Embeddings(
            paths, _check_matrix(paths, f.scene[None], str(p), check_finite), f.model, str(p)
        )
    missing = [k for k in ("paths", "embeddings") if k not in arrays]
    if missing:
        raise ConfigError(
            f"{p}: an embeddings file needs arrays 'paths' and 'embeddings'; no "
            f"{' or '.join(repr(k) for k in missing)} (it has {', '.join(arrays) or 'nothing'})",
            "write one with `musicrep embed ... --combine FILE.npz`: 'paths' (N,) and "
            "'embeddings' (N, D)",
        )
    paths = np.asarray(arrays["paths"]).astype(str).reshape(-1)
    X = _check_matrix(paths, np.asarray(arrays["embeddings"]), str(p), check_finite)
    return Embeddings(paths, X, str(_scalar(arrays, "model", "")), str(p))


def load_embeddings(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(paths (N,) str, X (N, D) float32)`` of :func:`load` (NaN/inf rejected)."""
    e = load(path)
    return e.paths, e.X
