"""Model columns of a benchmark: ``mfcc``, zoo names, model or run folders, ``label=spec``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from musicrep.errors import ConfigError

__all__ = ["ModelSpec", "parse_models"]


@dataclass(frozen=True)
class ModelSpec:
    """A model column: its label and the spec :class:`~musicrep.embed.Embedder` resolves."""

    label: str
    spec: str


def split_list(items: str | Sequence[str]) -> list[str]:
    """Comma-separated and/or repeated items -> one flat list (blanks dropped)."""
    parts = [items] if isinstance(items, str) else list(items)
    out = []
    for p in parts:
        out += [x.strip() for x in str(p).split(",") if x.strip()]
    return out


def split_label(text: str) -> tuple[str, str]:
    """``label=spec`` -> (label, spec); ``spec`` -> ("", spec). A path with ``=`` in a folder
    name is not split (the label may not contain a path separator)."""
    label, sep, spec = text.partition("=")
    if not sep or not label.strip() or "/" in label or os.sep in label:
        return "", text
    return label.strip(), spec.strip()


def check_unique(names: list[str], what: str, hint: str) -> None:
    """ConfigError naming the duplicates, if any."""
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"two {what} share the name(s) {', '.join(dupes)}", hint)


def _is_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or Path(spec.rstrip("/\\")).exists()


def _name_apart(models: list[ModelSpec], derived: list[bool]) -> list[ModelSpec]:
    """Folder-named columns that clash with another column get the path: ``NAME (PATH)``."""
    labels = [m.label for m in models]
    out = []
    for m, auto in zip(models, derived):
        if auto and labels.count(m.label) > 1:
            m = ModelSpec(f"{m.label} ({m.spec.rstrip('/' + os.sep)})", m.spec)
        out.append(m)
    return out


def parse_models(items: str | Sequence[str]) -> list[ModelSpec]:
    """Parse model specs: ``mfcc``, ``hcnn``, ``runs/x``, ``label=spec`` (comma-separated).

    The default label is the spec itself for names and the folder's name for paths. A folder
    name that clashes with another column (``musicnn,runs/musicnn``: an untrained zoo network
    and a trained run) becomes ``NAME (PATH)``: ``musicnn (runs/musicnn)``.

    Raises
    ------
    ConfigError
        An empty spec, nothing given, or two columns with the same name (the same spec twice,
        or two ``label=`` with one label).
    """
    models, derived = [], []
    for text in split_list(items):
        label, spec = split_label(text)
        if not spec:
            raise ConfigError(f"empty model spec in {text!r}")
        auto = not label and _is_path(spec)
        if not label:
            label = Path(spec.rstrip("/\\")).name if auto else spec
        models.append(ModelSpec(label, spec))
        derived.append(auto)
    if not models:
        raise ConfigError("no models given", "e.g. --models mfcc,hcnn,runs/my-run")
    models = _name_apart(models, derived)
    check_unique([m.label for m in models], "models", "name them: --models LABEL=SPEC,LABEL2=SPEC2")
    return models
