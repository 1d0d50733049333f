"""Small helpers written once: atomic writes, seeding, progress bars, run metadata."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place atomically.

    A killed job therefore never leaves a half-written output: either the old file (or none)
    or the complete new one exists.

    Examples
    --------
    >>> with atomic_path("out.npz") as tmp:   # doctest: +SKIP
    ...     np.savez(tmp, x=1)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the output the permissions a normal open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (if imported) for reproducible runs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds code that uses the global state
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def progress(iterable=None, *, total=None, desc=None, unit="it", disable=None, **kw):
    """A tqdm progress bar that writes to stderr and hides itself when stderr is not a TTY
    (unless ``MUSICREP_PROGRESS=1``)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not (sys.stderr.isatty() or os.environ.get("MUSICREP_PROGRESS") == "1")
    return tqdm(
        iterable, total=total, desc=desc, unit=unit, disable=disable, dynamic_ncols=True, **kw
    )


def environment_info() -> dict[str, str]:
    """Versions of Python, the platform and the key packages, recorded beside every run."""
    info = {"python": platform.python_version(), "platform": platform.platform()}
    for mod in ("musicrep", "torch", "numpy", "librosa", "lightning", "sklearn", "music21"):
        try:
            m = __import__(mod)
            info[mod] = getattr(m, "__version__", "?")
        except Exception:  # noqa: BLE001 - optional packages may be missing
            info[mod] = "not installed"
    return info
