"""The embedding cache shared by ``evaluate``, ``benchmark`` and the correlation analysis.

A cache folder holds, per entry ``<key>`` (:func:`cache_key`)::

    <key>.npz          the combined embeddings of the entry's files
    <key>/             the per-file outputs (so an interrupted or partly failed run resumes)
    <key>.json         what made it: model identity, dimension, timings (after a clean run)
    <key>.failed.txt   the files that could not be embedded, one ``path<TAB>reason`` a line

An entry is reused as is when ``<key>.npz`` exists and ``<key>.failed.txt`` does not; a run that
had failures is retried on the next call, keeping the per-file outputs it already has and
recomputing only the failed files. Delete an entry (or the folder) to start afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicrep.errors import ConfigError

__all__ = ["CACHE_VERSION", "CacheEntry", "EmbeddingCache", "cache_key", "model_identity"]

#: Bumped when the key scheme or what an entry holds changes (old entries are then ignored).
CACHE_VERSION = 2
#: Files whose size and modification time identify a model folder (weights and configs).
MODEL_FILE_PATTERNS = ("*.json", "*.yaml", "*.safetensors", "*.ckpt", "checkpoints/*.ckpt")


def _slug(text: str, n: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:n] or "model"


def _stamp(path: Path) -> list[list[Any]]:
    """``[name, size, mtime_ns]`` of the files that define a model folder (or of the file)."""
    if path.is_file():
        files = [path]
    else:
        files = sorted({f for pat in MODEL_FILE_PATTERNS for f in path.glob(pat) if f.is_file()})
    return [
        [
            f.relative_to(path).as_posix() if path.is_dir() else f.name,
            f.stat().st_size,
            f.stat().st_mtime_ns,
        ]
        for f in files
    ]


def model_identity(model: str | os.PathLike, *, seed: int = 0) -> dict[str, Any]:
    """What the cache key knows of a model spec.

    A folder or file: its absolute path and the size and modification time (ns) of its weights
    and config files (:data:`MODEL_FILE_PATTERNS`), so retraining or re-exporting makes a new
    entry. A name (``mfcc``, a zoo name: an untrained encoder): the name and the seed that
    draws its weights.
    """
    p = Path(model)
    if p.exists():
        return {"path": os.path.abspath(p), "files": _stamp(p)}
    return {"name": str(model), "seed": int(seed)}


def cache_key(
    model: str | os.PathLike,
    files: Sequence[str | os.PathLike],
    *,
    seed: int = 0,
    device: str = "cpu",
    settings: Mapping[str, Any] | None = None,
) -> str:
    """``<model name>-<16 hex digits>``: the cache entry of ``files`` embedded with ``model``.

    The hash covers :func:`model_identity`, the sorted absolute file paths, the device and any
    other ``settings`` that change the numbers (not the batch size, not a label).
    """
    p = Path(model)
    payload = json.dumps(
        {
            "model": model_identity(model, seed=seed),
            "files": sorted(os.path.abspath(f) for f in files),
            "settings": {"device": str(device), **dict(settings or {})},
            "version": CACHE_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    name = p.resolve().name if p.exists() else str(model)
    return f"{_slug(name)}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


@dataclass
class CacheEntry:
    """One cache entry after :meth:`EmbeddingCache.get` or :meth:`~EmbeddingCache.fill`.

    Attributes
    ----------
    key : str
    npz : Path
        The combined embeddings file (read it with :func:`musicrep.embeddings.load`).
    cached : bool
        True when reused without embedding anything.
    meta : dict
        ``model_name``, ``embed_dim``, ``sample_rate``, ``window_seconds``, ``files``,
        ``embedded``, ``embed_seconds``, ``audio_seconds``, ``files_written``,
        ``files_reused``, ``created`` (and what the caller added, e.g. ``load_seconds``). For a
        reused entry: what the run that made it recorded.
    failed : list of (str, str)
        Files that could not be embedded, with the reason.
    report : EmbedReport or None
        The embedder's report when this call embedded.
    """

    key: str
    npz: Path
    cached: bool
    meta: dict[str, Any] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    report: Any = None


class EmbeddingCache:
    """A cache folder of combined embeddings (layout in the module docstring).

    Examples
    --------
    >>> cache = EmbeddingCache(".musicrep-cache")                         # doctest: +SKIP
    >>> entry = cache.get("mfcc", ["a.wav", "b.wav"])                      # doctest: +SKIP
    >>> embeddings = musicrep.embeddings.load(entry.npz)                   # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r})"

    def key(
        self,
        model: str | os.PathLike,
        files: Sequence[str | os.PathLike],
        *,
        seed: int = 0,
        device: str = "cpu",
        nan_policy: str = "raise",
    ) -> str:
        """:func:`cache_key` of an entry (``nan_policy="zero"`` gives a different key)."""
        settings = {} if nan_policy == "raise" else {"nan_policy": nan_policy}
        return cache_key(model, files, seed=seed, device=device, settings=settings)

    def _files(self, key: str) -> tuple[Path, Path, Path]:
        return (
            self.root / f"{key}.npz",
            self.root / f"{key}.json",
            self.root / f"{key}.failed.txt",
        )

    def lookup(self, key: str) -> CacheEntry | None:
        """The entry when it can be reused (its ``.npz`` exists, no failures), else ``None``."""
        npz, meta_path, failed_log = self._files(key)
        if not npz.is_file() or failed_log.exists():
            return None
        meta: dict[str, Any] = {}
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                return None  # a damaged record: embed again (the per-file outputs are kept)
        return CacheEntry(key, npz, True, meta)

    def fill(
        self,
        key: str,
        embedder: Any,
        files: Sequence[str | os.PathLike],
        *,
        progress: bool = True,
        meta: Mapping[str, Any] | None = None,
    ) -> CacheEntry:
        """Embed ``files`` with ``embedder`` (a :class:`musicrep.embed.Embedder`) into entry
        ``key``, keeping per-file outputs of an earlier run; record the metadata (with ``meta``
        added) or the failures.

        Raises
        ------
        ConfigError
            The embedder wrote no combined file.
        """
        from musicrep.utils import write_json_atomic, write_text_atomic

        npz, meta_path, failed_log = self._files(key)
        self.root.mkdir(parents=True, exist_ok=True)
        report = embedder.files(
            [str(f) for f in files],
            self.root / key,
            combine=npz,
            overwrite=False,
            progress=progress,
        )
        failed = [(str(p), str(r)) for p, r in (getattr(report, "failed", None) or [])]
        record = {**_report_meta(embedder, report, len(files), len(failed)), **dict(meta or {})}
        if failed:
            write_text_atomic(failed_log, "".join(f"{p}\t{r}\n" for p, r in failed))
        else:
            if failed_log.exists():
                failed_log.unlink()
            write_json_atomic(meta_path, record)
        if not npz.is_file():
            raise ConfigError(
                f"no embedding could be computed with {getattr(embedder, 'name', embedder)}",
                "see the errors above; check that the audio files exist and can be decoded",
            )
        return CacheEntry(key, npz, False, record, failed, report)

    def get(
        self,
        model: str | os.PathLike,
        files: Sequence[str | os.PathLike],
        *,
        seed: int = 0,
        device: str = "cpu",
        batch_size: int = 16,
        progress: bool = True,
        nan_policy: str = "raise",
    ) -> CacheEntry:
        """The entry of ``files`` under ``model``: reused, or embedded now.

        ``model`` is anything :class:`musicrep.embed.Embedder` takes; ``seed`` draws the weights
        of untrained zoo encoders. Loading the model is timed into ``meta["load_seconds"]``.
        """
        key = self.key(model, files, seed=seed, device=device, nan_policy=nan_policy)
        hit = self.lookup(key)
        if hit is not None:
            return hit
        from musicrep.embed import Embedder

        t0 = time.perf_counter()
        embedder = Embedder(
            model, batch_size=batch_size, seed=seed, device=device, nan_policy=nan_policy
        )
        load_seconds = time.perf_counter() - t0
        return self.fill(
            key, embedder, files, progress=progress, meta={"load_seconds": load_seconds}
        )


#: Added to a failure summary when files failed for NaN/Inf samples (the command-line fix).
NAN_HINT = (
    "files with NaN/Inf samples: repair them, or pass --nan-policy zero to replace them with 0"
)


def nan_hint(failed: Sequence[tuple[str, str]]) -> str | None:
    """:data:`NAN_HINT` when some failure reason is NaN/Inf samples, else ``None``."""
    return NAN_HINT if any("NaN/Inf" in str(reason) for _, reason in failed) else None


def _report_meta(embedder: Any, report: Any, n_files: int, n_failed: int) -> dict[str, Any]:
    """JSON-ready record of one embedding run."""
    outputs = getattr(report, "outputs", None)
    return {
        "model_name": getattr(embedder, "name", None),
        "embed_dim": getattr(embedder, "embed_dim", None),
        "sample_rate": getattr(embedder, "sample_rate", None),
        "window_seconds": getattr(embedder, "window_seconds", None),
        "files": n_files,
        "embedded": len(outputs) if outputs is not None else n_files - n_failed,
        "embed_seconds": getattr(report, "elapsed", None),
        "audio_seconds": getattr(report, "audio_seconds", None),
        "files_written": len(getattr(report, "written", None) or []),
        "files_reused": len(getattr(report, "skipped", None) or []),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
