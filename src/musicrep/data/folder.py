"""Audio files in a folder: the one listing used by manifests and noise banks."""

from __future__ import annotations

import os
from pathlib import Path

from musicrep.errors import ConfigError


def is_audio_file(path: Path) -> bool:
    """A visible file whose extension is one of ``musicrep.embed.AUDIO_EXTENSIONS``."""
    from musicrep.embed import AUDIO_EXTENSIONS

    return (
        path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")
    )


def list_audio_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Audio files in ``folder`` (and its sub-folders with ``recursive``), sorted.

    Raises
    ------
    ConfigError
        ``folder`` is not a directory.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder", "give a folder of audio files")
    found = root.rglob("*") if recursive else root.iterdir()
    hidden = [p for p in found if is_audio_file(p)]
    # skip files under hidden sub-folders (.git, .cache, ...)
    return sorted(
        p for p in hidden if not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


__all__ = ["is_audio_file", "list_audio_files"]
