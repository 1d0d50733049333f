"""The data of a run: read the manifest, decide the task and the label vocabulary
(:func:`load_data`, :func:`decide_task`; COALA tag processing with ``data.tags``)."""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicrep.errors import ConfigError
from musicrep.objectives import objective_attribute
from musicrep.training.config import (
    DataConfig,
)
from musicrep.training.folder import RunFolder

log = logging.getLogger(__name__)


@dataclass
class RunData:
    """The manifest of a run, with its task and vocabulary."""

    manifest: Any
    manifest_path: Path
    task: str | None
    vocab: list[str]
    reason: str
    tag_vocab: Any = None
    untagged: list = field(default_factory=list)


def _process_tags(manifest, data: DataConfig):
    """COALA's tag processing of a manifest's labels (``data.tags``): returns the processed
    manifest, the :class:`~musicrep.data.tags.TagVocabulary` (built from the training split)
    and the rows left without a tag (as skipped entries)."""
    from musicrep.data.dataset import SkippedFile
    from musicrep.data.tags import apply_vocabulary, check_options, vocabulary_from_manifest

    if data.vocab:
        raise ConfigError(
            "data.vocab and data.tags cannot be combined",
            "data.tags builds the vocabulary from the training split (set max_tags to limit it)",
        )
    if data.task == "singlelabel":
        raise ConfigError("data.tags gives multi-label targets; data.task is 'singlelabel'")
    options = check_options({} if data.tags is True else data.tags, "data.tags option(s)")
    vocab = vocabulary_from_manifest(manifest, data.train_split, **options)
    processed, dropped = apply_vocabulary(manifest, vocab)
    reason = "no tag left after tag processing (data.tags)"
    skipped = [SkippedFile(str(r.path), reason, r.line, r.split) for r in dropped]
    if dropped:
        log.warning("%d clip(s) left without a tag are skipped (see skipped.txt)", len(dropped))
    return processed, vocab, skipped


def decide_task(
    data: DataConfig, manifest, needs_labels: bool, tags: bool
) -> tuple[str | None, str]:
    """The task of a run and why: label-free objectives have none; ``data.tags`` makes tags;
    an explicit ``data.task`` is used as given; ``"auto"`` reads the manifest."""
    from musicrep.data.dataset import infer_task

    if not needs_labels:
        return None, "the objective needs no labels"
    if tags:
        return "multilabel", "data.tags turns the labels into tags"
    inferred = infer_task(manifest)
    if data.task != "auto":
        note = "" if data.task == inferred else f"; the manifest looks {inferred}"
        return data.task, f"data.task in the recipe{note}"
    if inferred == "singlelabel":
        return inferred, "inferred from the manifest: every row has exactly one label"
    return inferred, "inferred from the manifest: some rows have several labels or none"


def _check_vocab(vocab: list[str], data: DataConfig, manifest_path: Path) -> list[str]:
    if not data.vocab:
        return vocab
    unknown = [v for v in data.vocab if v not in set(vocab)]
    if unknown or len(set(data.vocab)) != len(data.vocab):
        close = difflib.get_close_matches(unknown[0], vocab, n=3) if unknown else []
        raise ConfigError(
            f"data.vocab: {', '.join(map(repr, unknown)) or 'duplicate labels'} "
            f"(not in {manifest_path}); valid labels: {', '.join(vocab)}",
            f"did you mean {', '.join(close)}?" if close else None,
        )
    return list(data.vocab)


def load_data(cfg: dict, folder: RunFolder | None = None, resumed: bool = False) -> RunData:
    """Read the manifest of ``cfg`` and decide the task and vocabulary.

    On resume the run's saved vocabulary and task are kept (target order must not change).
    """
    from musicrep.data.dataset import vocabulary
    from musicrep.data.manifest import Manifest

    data = DataConfig(**cfg["data"])
    if objective_attribute(cfg["objective"], "provides_data", False):
        return RunData(None, None, None, [], "the objective makes its own data")
    if not data.manifest:
        raise ConfigError("no manifest given", "pass --manifest CSV or set data.manifest")
    manifest_path = Path(data.manifest).resolve()
    cfg["data"]["manifest"] = str(manifest_path)
    manifest = Manifest.read(manifest_path)
    needs_labels = bool(objective_attribute(cfg["objective"], "needs_labels", True))
    tag_vocab, untagged = None, []
    if data.tags and needs_labels:
        manifest, tag_vocab, untagged = _process_tags(manifest, data)
    task, reason = decide_task(data, manifest, needs_labels, tag_vocab is not None)
    vocab: list[str] = []
    if task is not None:
        if tag_vocab is None:
            manifest.warn_label_case()  # BACH / bach would silently be two classes
        vocab = vocabulary(manifest) if tag_vocab is None else list(tag_vocab.tags)
        if tag_vocab is None and objective_attribute(cfg["objective"], "open_set_labels", False):
            # open set (verification): classes are the training split's labels only; the
            # test split's unseen speakers must never become classes of the classifier
            vocab = sorted(
                {lab for r in manifest if r.split == data.train_split for lab in r.labels}
            )
        vocab = _check_vocab(vocab, data, manifest_path)
    if resumed and folder is not None and (folder.path / "config.json").is_file():
        saved = json.loads((folder.path / "config.json").read_text(encoding="utf-8"))
        vocab, task = list(saved.get("vocab") or []), saved.get("task", task)
        reason = "the resumed run's"
    if task is not None and not vocab:
        raise ConfigError(
            f"{manifest_path}: no labels in the manifest",
            f"objective {cfg['objective']['name']!r} needs labels; label-free objectives train "
            "on manifests without labels",
        )
    return RunData(manifest, manifest_path, task, vocab, reason, tag_vocab, untagged)
