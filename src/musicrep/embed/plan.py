"""Which files a job embeds and where their outputs go: inputs, output names and shards.

Output names are planned from all inputs before a shard is taken, so ``N`` jobs of a job array
(``--shard i/N``) write the same files as one job (:func:`plan_job`).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path

from musicrep.errors import ConfigError

#: File extensions collected from folders given to :meth:`Embedder.files` (case-insensitive).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def plan_job(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out_root: Path,
    recursive: bool,
    shard: str | tuple[int, int] | None,
    failed: list[tuple[Path, str]],
) -> list[tuple[Path, Path]]:
    """``[(input, output)]`` of this job (this shard); broken links found go to ``failed``.

    Raises ConfigError before any work for a bad shard, missing inputs or no audio at all.
    """
    shard_index, shard_count = _check_shard(shard)
    jobs, missing, broken = _collect(inputs, recursive)
    if missing:
        raise ConfigError(
            "input(s) not found: " + ", ".join(str(p) for p, _ in missing),
            "check the paths (relative paths start at the current folder); nothing was embedded",
        )
    failed.extend(broken)
    if not jobs and not broken:
        raise ConfigError(
            "no audio files found in the inputs",
            f"folders are searched for {', '.join(AUDIO_EXTENSIONS)}"
            + ("" if recursive else "; add --recursive to search sub-folders"),
        )
    plan = _plan_outputs(jobs, out_root)  # names from the whole job, so shards agree
    if shard_count > 1:
        plan = plan[shard_index::shard_count]
    return plan


def _check_shard(shard: str | tuple[int, int] | None) -> tuple[int, int]:
    """``"i/N"`` or ``(i, N)`` -> ``(i, N)`` with ``0 <= i < N``; None -> ``(0, 1)``."""
    if shard is None:
        return 0, 1
    try:
        i, n = (int(v) for v in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError):
        raise ConfigError(
            f"shard must look like i/N (e.g. 0/4); got {shard!r}",
            "i is this job's index from 0, N the number of jobs",
        ) from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"shard {i}/{n}: need N >= 1 and 0 <= i < N")
    return i, n


def _is_broken_link(p: Path) -> bool:
    """A symbolic link with an audio extension whose target is gone (listed as failed)."""
    return (
        p.is_symlink()
        and not p.exists()
        and p.suffix.lower() in AUDIO_EXTENSIONS
        and not p.name.startswith(".")
    )


def _is_audio(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")


def _collect(
    inputs: str | os.PathLike | Sequence[str | os.PathLike], recursive: bool
) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, str]], list[tuple[Path, str]]]:
    """``[(absolute file, folder it was found in or None)]``, missing inputs, and broken
    symbolic links found in folders (with their reasons)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    jobs: list[tuple[Path, Path | None]] = []
    missing: list[tuple[Path, str]] = []
    broken: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            root = p.resolve()
            found = sorted(root.rglob("*") if recursive else root.iterdir())
            for f in found:
                if _is_broken_link(f):
                    broken.append(
                        (f, f"broken symbolic link (its target {os.readlink(f)} does not exist)")
                    )
                elif _is_audio(f) and f not in seen:
                    seen.add(f)
                    jobs.append((f, root))
        elif p.exists():
            f = p.resolve()
            if f not in seen:
                seen.add(f)
                jobs.append((f, None))
        else:
            missing.append((p, "file not found"))
    return jobs, missing, broken


def _plan_outputs(jobs: list[tuple[Path, Path | None]], out_root: Path) -> list[tuple[Path, Path]]:
    """Output path of each input: mirrored sub-folders, ``<stem>.npz``; on a collision
    ``<name with extension>.npz``, then ``<stem>-<crc32 of the path>.npz``."""
    rels = [src.relative_to(root) if root is not None else Path(src.name) for src, root in jobs]
    names = [rel.with_suffix(".npz") for rel in rels]
    for fallback in ("extension", "hash"):
        counts: dict[Path, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        for i, name in enumerate(names):
            if counts[name] > 1:
                rel, src = rels[i], jobs[i][0]
                if fallback == "extension":
                    names[i] = rel.with_name(rel.name + ".npz")
                else:
                    names[i] = rel.with_name(f"{rel.stem}-{zlib.crc32(str(src).encode()):08x}.npz")
    return [(src, out_root / name) for (src, _), name in zip(jobs, names)]
