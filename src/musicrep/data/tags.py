"""Free-form tags -> a tag vocabulary and multi-hot targets, as COALA processes Freesound tags.

COALA (Favory et al., 2020; ``xavierfav/coala``, ``scripts/preproc_tags.py``) learns from the
tags users write. Its tag processing, reproduced here, is:

1. **Normalise** each clip's tags (:func:`normalize_tags`): split into words, lower-case, keep
   alphabetic words only, drop English stop words and 1-character words, make plural nouns
   singular with ``inflect`` (``"violins"`` -> ``"violin"``), de-duplicate.
2. **Filter** the vocabulary (:func:`build_vocabulary`, the code's
   ``gensim.corpora.Dictionary.filter_extremes(no_below=10, no_above=0.7, keep_n=1000)``):
   drop tags present in more than ``max_df`` (70 %) of the clips, drop tags present in fewer
   than ``min_count`` clips, keep the ``max_tags`` (1000) most frequent.
3. **Encode** each clip as a multi-hot vector over the kept tags; clips left without any tag are
   dropped (:func:`apply_vocabulary`).

Choices where the paper and code leave room (all are options):

- Stop words: scikit-learn's ``ENGLISH_STOP_WORDS`` (318 words, shipped with scikit-learn). The
  code used NLTK's list (179 words), which needs a corpus download; musicrep never downloads at
  run time. The lists differ: scikit-learn's also holds a few words that can describe sounds
  (``fire``, ``empty``, ``thin``, ``thick``, ``full``, ``back``, ``front``, ``top``,
  ``bottom``); pass ``stop_words=`` to use another list.
- Word splitting: the code splits a Freesound tag string on spaces and drops every token that is
  not purely alphabetic, so a hyphenated tag (``field-recording``) is lost. Here labels are
  free-form strings that may hold several words (``"bowed strings"``), and with
  ``split_punctuation=True`` (default) they are split on any non-alphanumeric character, so
  ``"hip-hop"`` gives ``hip`` and ``hop`` and ``"instrument:violin"`` gives ``instrument`` and
  ``violin``. Tokens with digits (``80s``, ``mp3``) are dropped either way.
  ``split_punctuation=False`` reproduces the code exactly.
- ``min_count``: the code's ``no_below=10`` on ~190k clips. A fixed 10 removes most tags of a
  few-hundred-clip dataset, so the default ``min_count=None`` means
  ``min(10, max(2, ceil(0.01 * clips)))``: 10 for 1000 clips or more (the paper's setting), a
  tag in at least 1 % of the clips for smaller sets, and never a tag seen on a single clip.
  Pass an integer to fix it.
- Order: tags are ranked by the number of clips they appear in (ties alphabetically); this is
  the target order. gensim keeps ties in first-seen order.
- Singular forms are ``inflect.engine().singular_noun`` exactly as the code uses it, quirks
  included (``"bus"`` -> ``"bu"``, ``"gas"`` -> ``"ga"``; ``"bass"``, ``"glass"`` are kept).

Examples
--------
>>> from musicrep.data.tags import build_vocabulary, normalize_tags
>>> normalize_tags(["Solo Violins", "the strings", "bowed strings"])
['solo', 'violin', 'string', 'bowed']
>>> clips = [["violins", "slow"], ["violin"], ["piano", "slow"], ["Piano"]]
>>> vocab = build_vocabulary(clips, max_df=0.9, min_count=2)
>>> vocab.tags, vocab.counts
(['piano', 'slow', 'violin'], [2, 2, 2])
>>> vocab.encode(["Violins", "loud"]).tolist()
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.errors import ConfigError, MusicrepError

# ----------------------------------------------------------------------------- paper numbers

#: COALA's vocabulary size C (the 1000 most frequent tags).
MAX_TAGS = 1000
#: Tags present in more than this fraction of the clips are dropped (gensim ``no_above``).
MAX_DF = 0.7
#: The code's ``no_below``: tags in fewer clips are dropped (the cap of the automatic rule).
MIN_COUNT = 10
#: Automatic ``min_count`` for small data: at least this fraction of the clips ...
MIN_COUNT_FRACTION = 0.01
#: ... and never fewer than this many clips.
MIN_COUNT_FLOOR = 2
#: Words shorter than this are dropped (the code keeps ``len(tag) > 1``).
MIN_LENGTH = 2

#: Version of the JSON written by :meth:`TagVocabulary.save`.
FORMAT_VERSION = 1

_SPLIT_PUNCT = re.compile(r"[\W_]+")
_SPLIT_SPACE = re.compile(r"\s+")


def english_stop_words() -> frozenset[str]:
    """scikit-learn's ``ENGLISH_STOP_WORDS`` (no download needed)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


# ----------------------------------------------------------------------------- normalisation


def tokenize(label: str, *, split_punctuation: bool = True) -> list[str]:
    """Lower-cased alphabetic words of one free-form label.

    Parameters
    ----------
    label : str
        A tag as a user wrote it (may hold several words, ``"Bowed Strings"``).
    split_punctuation : bool
        Split on any character that is neither a letter nor a digit (``"hip-hop"`` ->
        ``hip``, ``hop``); False splits on whitespace only, as COALA's code.

    Returns
    -------
    list of str
        The words, lower-cased; words with digits or punctuation left in them are dropped.
    """
    pattern = _SPLIT_PUNCT if split_punctuation else _SPLIT_SPACE
    return [w.lower() for w in pattern.split(label) if w and w.isalpha()]


@functools.lru_cache(maxsize=1)
def _inflect_engine():
    try:
        import inflect
    except ImportError:  # pragma: no cover - a declared dependency
        raise MusicrepError(
            "tag processing needs the 'inflect' package (plural -> singular nouns)",
            "pip install 'inflect>=7'",
        ) from None
    return inflect.engine()


@functools.lru_cache(maxsize=200_000)
def singular(word: str) -> str:
    """The singular of a plural noun (``inflect``'s ``singular_noun``), else ``word`` itself."""
    out = _inflect_engine().singular_noun(word)
    return out if out else word


def normalize_tags(
    labels: Iterable[str],
    *,
    stop_words: Iterable[str] | None = None,
    min_length: int = MIN_LENGTH,
    singularize: bool = True,
    split_punctuation: bool = True,
) -> list[str]:
    """COALA's tag normalisation of one clip's labels.

    Words are lower-cased, words that are not alphabetic, stop words and words shorter than
    ``min_length`` are dropped, then plural nouns are made singular and duplicates removed (in
    that order, as the code).

    Parameters
    ----------
    labels : iterable of str
        The clip's labels (free-form strings, each possibly several words).
    stop_words : iterable of str, optional
        Words to drop (lower case); default scikit-learn's English list.
    min_length : int
        Shortest word kept (2: 1-character words are dropped).
    singularize : bool
        Make plural nouns singular (``inflect``).
    split_punctuation : bool
        See :func:`tokenize`.

    Returns
    -------
    list of str
        Unique tags in first-seen order.
    """
    stops = english_stop_words() if stop_words is None else frozenset(stop_words)
    out: dict[str, None] = {}
    for label in labels:
        for word in tokenize(str(label), split_punctuation=split_punctuation):
            if word in stops or len(word) < min_length:
                continue
            out.setdefault(singular(word) if singularize else word, None)
    return list(out)


def auto_min_count(num_clips: int) -> int:
    """The automatic ``min_count``: ``min(10, max(2, ceil(0.01 * num_clips)))``."""
    return min(MIN_COUNT, max(MIN_COUNT_FLOOR, math.ceil(MIN_COUNT_FRACTION * num_clips)))


# ----------------------------------------------------------------------------- vocabulary


@dataclass
class TagVocabulary:
    """Kept tags with their clip counts, what was filtered out, and how to encode clips.

    Attributes
    ----------
    tags : list of str
        Kept tags, most frequent first (ties alphabetical): the target order.
    counts : list of int
        Number of clips (of those the vocabulary was built from) each tag appears in.
    num_clips : int
        Clips the vocabulary was built from.
    clips_without_tags : int
        Of those, clips left with no kept tag (they are dropped from training).
    num_candidates : int
        Distinct normalised tags before filtering.
    dropped_max_df : list of (str, int)
        Tags dropped for appearing in more than ``max_df`` of the clips, with their counts.
    dropped_min_count : int
        Distinct tags dropped for appearing in fewer than ``min_count`` clips.
    dropped_max_tags : int
        Distinct tags dropped because only the ``max_tags`` most frequent are kept.
    options : dict
        The settings (``max_tags``, ``max_df``, ``min_count`` as used, ``min_count_rule``,
        ``min_length``, ``singularize``, ``split_punctuation``, ``stop_words``).
    """

    tags: list[str]
    counts: list[int]
    num_clips: int
    clips_without_tags: int = 0
    num_candidates: int = 0
    dropped_max_df: list[tuple[str, int]] = field(default_factory=list)
    dropped_min_count: int = 0
    dropped_max_tags: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.tags) != len(self.counts):
            raise ValueError("tags and counts differ in length")
        self._index = {t: i for i, t in enumerate(self.tags)}

    def __len__(self) -> int:
        return len(self.tags)

    @property
    def index(self) -> dict[str, int]:
        """Tag -> position in the multi-hot vector."""
        return self._index

    def _stop_words(self) -> frozenset[str] | None:
        sw = self.options.get("stop_words", "english")
        return None if sw == "english" else frozenset(sw or ())

    def normalize(self, labels: Iterable[str]) -> list[str]:
        """:func:`normalize_tags` with this vocabulary's settings."""
        return normalize_tags(
            labels,
            stop_words=self._stop_words(),
            min_length=int(self.options.get("min_length", MIN_LENGTH)),
            singularize=bool(self.options.get("singularize", True)),
            split_punctuation=bool(self.options.get("split_punctuation", True)),
        )

    def process(self, labels: Iterable[str]) -> list[str]:
        """A clip's raw labels -> its kept tags, in vocabulary order (may be empty)."""
        found = {self._index[t] for t in self.normalize(labels) if t in self._index}
        return [self.tags[i] for i in sorted(found)]

    def encode(self, labels: Iterable[str]) -> np.ndarray:
        """Multi-hot vector ``(len(self),)`` float32 of a clip's raw labels (normalised first;
        tags outside the vocabulary are ignored)."""
        hot = np.zeros(len(self.tags), dtype=np.float32)
        for t in self.normalize(labels):
            i = self._index.get(t)
            if i is not None:
                hot[i] = 1.0
        return hot

    def encode_many(self, clips: Iterable[Iterable[str]]) -> np.ndarray:
        """Multi-hot matrix ``(clips, len(self))`` float32."""
        rows = [self.encode(labels) for labels in clips]
        return np.stack(rows) if rows else np.zeros((0, len(self.tags)), dtype=np.float32)

    # -- reporting
    def table(self, top: int = 20) -> str:
        """The ``top`` most frequent tags with their clip counts, and what was dropped."""
        o = self.options
        lines = [
            f"{len(self.tags)} tags kept of {self.num_candidates} distinct normalised tags "
            f"from {self.num_clips} clips (max_tags={o.get('max_tags')}, "
            f"max_df={o.get('max_df')}, min_count={o.get('min_count')}"
            + (" (auto)" if o.get("min_count_rule") == "auto" else "")
            + ")",
        ]
        if self.tags:
            width = max(len("tag"), *(len(t) for t in self.tags[:top]))
            n = max(1, self.num_clips)
            lines += ["", f"{'rank':>4}  {'tag':<{width}}  {'clips':>6}  {'share':>6}"]
            for i, (t, c) in enumerate(zip(self.tags[:top], self.counts[:top]), 1):
                lines.append(f"{i:>4}  {t:<{width}}  {c:>6}  {100 * c / n:>5.1f}%")
            if len(self.tags) > top:
                lines.append(f"{'':>4}  ... {len(self.tags) - top} more")
        common = ", ".join(f"{t} ({c})" for t, c in self.dropped_max_df) or "none"
        lines += [
            "",
            f"dropped: in more than {o.get('max_df')} of the clips: {common}",
            f"         in fewer than {o.get('min_count')} clips: {self.dropped_min_count} tags",
            f"         beyond the {o.get('max_tags')} most frequent: {self.dropped_max_tags} tags",
            f"clips left without a tag: {self.clips_without_tags} of {self.num_clips}",
        ]
        return "\n".join(lines)

    # -- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (:meth:`from_dict` reads it back)."""
        return {
            "format": "musicrep.tag_vocabulary",
            "format_version": FORMAT_VERSION,
            "tags": list(self.tags),
            "counts": [int(c) for c in self.counts],
            "num_clips": int(self.num_clips),
            "clips_without_tags": int(self.clips_without_tags),
            "num_candidates": int(self.num_candidates),
            "dropped_max_df": [[t, int(c)] for t, c in self.dropped_max_df],
            "dropped_min_count": int(self.dropped_min_count),
            "dropped_max_tags": int(self.dropped_max_tags),
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TagVocabulary:
        if d.get("format") != "musicrep.tag_vocabulary":
            raise ConfigError("not a musicrep tag vocabulary (format != musicrep.tag_vocabulary)")
        return cls(
            tags=list(d["tags"]),
            counts=[int(c) for c in d["counts"]],
            num_clips=int(d["num_clips"]),
            clips_without_tags=int(d.get("clips_without_tags", 0)),
            num_candidates=int(d.get("num_candidates", 0)),
            dropped_max_df=[(str(t), int(c)) for t, c in d.get("dropped_max_df", [])],
            dropped_min_count=int(d.get("dropped_min_count", 0)),
            dropped_max_tags=int(d.get("dropped_max_tags", 0)),
            options=dict(d.get("options", {})),
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (atomically)."""
        from musicrep.utils import write_json_atomic

        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TagVocabulary:
        """Read a vocabulary written by :meth:`save`."""
        import json

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"tag vocabulary {p} not found")
        try:
            return cls.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{p} is not a valid tag vocabulary: {exc}") from None


#: Keys accepted by :func:`build_vocabulary` (and a recipe's ``data.tags`` section).
OPTION_KEYS = (
    "max_tags",
    "max_df",
    "min_count",
    "min_length",
    "singularize",
    "split_punctuation",
    "stop_words",
)


def check_options(options: dict[str, Any] | None, where: str = "tag options") -> dict[str, Any]:
    """Validate a dict of :func:`build_vocabulary` options; unknown keys are a ConfigError."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ConfigError(f"unknown {where} {', '.join(unknown)}; valid: {', '.join(OPTION_KEYS)}")
    return options


def build_vocabulary(
    tag_lists: Iterable[Iterable[str]],
    *,
    max_tags: int = MAX_TAGS,
    max_df: float = MAX_DF,
    min_count: int | None = None,
    min_length: int = MIN_LENGTH,
    singularize: bool = True,
    split_punctuation: bool = True,
    stop_words: Iterable[str] | None = None,
) -> TagVocabulary:
    """Build COALA's tag vocabulary from the raw labels of a set of clips.

    Parameters
    ----------
    tag_lists : iterable of iterable of str
        One list of free-form labels per clip (normally the training split).
    max_tags : int
        Keep the ``max_tags`` tags found in the most clips (C = 1000 in COALA).
    max_df : float
        Drop tags found in more than this fraction of the clips (0.7), counted over all clips
        given, including those without tags (as gensim does).
    min_count : int, optional
        Drop tags found in fewer clips; default ``min(10, max(2, ceil(0.01 * clips)))``
        (:func:`auto_min_count`; 10 from 1000 clips up, the code's ``no_below``).
    min_length, singularize, split_punctuation, stop_words
        Normalisation settings, see :func:`normalize_tags`.

    Returns
    -------
    TagVocabulary

    Raises
    ------
    ConfigError
        Invalid settings, or no tag left after filtering (the message says which filter
        removed them).
    """
    if isinstance(max_tags, bool) or not isinstance(max_tags, int) or max_tags < 1:
        raise ConfigError(f"max_tags must be a positive integer; got {max_tags!r}")
    if isinstance(max_df, bool) or not 0 < float(max_df) <= 1:
        raise ConfigError(f"max_df must be a fraction in (0, 1]; got {max_df!r}")
    if min_count is not None and (
        isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1
    ):
        raise ConfigError(f"min_count must be a positive integer or null (auto); got {min_count!r}")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ConfigError(f"min_length must be a positive integer; got {min_length!r}")
    if isinstance(stop_words, str):
        raise ConfigError("stop_words must be a list of words, not a string")
    stops = None if stop_words is None else frozenset(w.lower() for w in stop_words)
    norm = functools.partial(
        normalize_tags,
        stop_words=stops,
        min_length=min_length,
        singularize=singularize,
        split_punctuation=split_punctuation,
    )
    clips = [norm(labels) for labels in tag_lists]
    n = len(clips)
    rule = "auto" if min_count is None else "fixed"
    min_count = auto_min_count(n) if min_count is None else int(min_count)
    df = Counter(t for tags in clips for t in tags)
    limit = float(max_df) * n
    too_common = sorted(((t, c) for t, c in df.items() if c > limit), key=lambda x: (-x[1], x[0]))
    common = {t for t, _ in too_common}
    rare = [t for t, c in df.items() if c < min_count and t not in common]
    ranked = sorted(
        ((t, c) for t, c in df.items() if c >= min_count and t not in common),
        key=lambda x: (-x[1], x[0]),
    )
    kept = ranked[:max_tags]
    options = {
        "max_tags": int(max_tags),
        "max_df": float(max_df),
        "min_count": int(min_count),
        "min_count_rule": rule,
        "min_length": int(min_length),
        "singularize": bool(singularize),
        "split_punctuation": bool(split_punctuation),
        "stop_words": "english" if stops is None else sorted(stops),
    }
    if not kept:
        raise ConfigError(
            f"no tag is left of {len(df)} distinct normalised tags in {n} clips: "
            f"{len(too_common)} are in more than {max_df:g} of the clips, {len(rare)} in fewer "
            f"than {min_count} clips",
            "lower min_count or raise max_df (musicrep data tags --min-count N --max-df F)",
        )
    keep = {t for t, _ in kept}
    return TagVocabulary(
        tags=[t for t, _ in kept],
        counts=[c for _, c in kept],
        num_clips=n,
        clips_without_tags=sum(1 for tags in clips if not keep.intersection(tags)),
        num_candidates=len(df),
        dropped_max_df=too_common,
        dropped_min_count=len(rare),
        dropped_max_tags=len(ranked) - len(kept),
        options=options,
    )


# ----------------------------------------------------------------------------- manifests


def vocabulary_from_manifest(
    manifest: Iterable, split: str | None = "train", **options: Any
) -> TagVocabulary:
    """:func:`build_vocabulary` over the ``labels`` of one split of a manifest.

    Parameters
    ----------
    manifest : Manifest
        Rows with free-form ``labels``.
    split : str or None
        Split to build from (``None``: every row). COALA's vocabulary is built from the
        training data only, so that validation/test tags do not leak into it.
    **options
        :func:`build_vocabulary` options.
    """
    options = check_options(options)
    rows = [r for r in manifest if split is None or r.split == split]
    if not rows:
        source = getattr(manifest, "source", "the manifest")
        raise ConfigError(
            f"{source}: no rows in split {split!r} to build the tag vocabulary from",
            "check the split column, or pass --split all",
        )
    return build_vocabulary([r.labels for r in rows], **options)


def apply_vocabulary(manifest: Any, vocab: TagVocabulary) -> tuple[Any, list[Any]]:
    """Replace every row's labels by its kept tags; drop rows left without a tag.

    Parameters
    ----------
    manifest : Manifest
    vocab : TagVocabulary

    Returns
    -------
    processed : Manifest
        Same rows (every split, other columns kept), labels = kept tags in vocabulary order.
    dropped : list of ManifestRow
        The original rows that were left without a tag.
    """
    from dataclasses import replace

    from musicrep.data.manifest import Manifest

    kept, dropped = [], []
    for row in manifest:
        tags = vocab.process(row.labels)
        if tags:
            kept.append(replace(row, labels=tuple(tags)))
        else:
            dropped.append(row)
    out = Manifest(kept, getattr(manifest, "root", None), source=getattr(manifest, "source", None))
    out._columns = list(getattr(manifest, "_columns", []))
    return out, dropped


def tag_counts(tag_lists: Sequence[Sequence[str]]) -> Counter:
    """Clip counts of each tag in already-processed tag lists."""
    return Counter(t for tags in tag_lists for t in set(tags))


__all__ = [
    "MAX_DF",
    "MAX_TAGS",
    "MIN_COUNT",
    "OPTION_KEYS",
    "TagVocabulary",
    "apply_vocabulary",
    "auto_min_count",
    "build_vocabulary",
    "check_options",
    "english_stop_words",
    "normalize_tags",
    "singular",
    "tag_counts",
    "tokenize",
    "vocabulary_from_manifest",
]
