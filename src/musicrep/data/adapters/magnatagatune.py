"""MagnaTagATune (Law et al. 2009): 25,863 29-s clips with 188 binary tags; task: top-50 tagging.

Expected layout (``annotations_final.csv`` from the dataset page; the three ``mp3.zip.00*`` parts
unpack to the folders ``0`` .. ``f``, put either beside the CSV or in ``mp3/`` or ``audio/``)::

    ROOT/annotations_final.csv                 tab-separated: clip_id, 188 tags, mp3_path
    ROOT/mp3/<0-f>/<artist-album-NN-title-S-E>.mp3
        (or ROOT/<0-f>/... or ROOT/audio/<0-f>/...)

Labels: multi-label; by default the ``top`` (50) most frequent tags over all clips of the CSV
(ties broken by column order), which gives the standard MTAT top-50 list; ``tags`` instead reads
the tag list from a file (one per line). Tags are matched ignoring case, spaces, ``_`` and
``-``, so camel-case lists such as minzwon's ``top50_tags.txt`` (``noVocals``) match the CSV's
``no vocals``; the manifest keeps the CSV's spelling.

Splits:

* ``split_lists``: the standard lists, passed by path (a folder with ``train``/``valid``/``test``
  files in ``.npy``, ``.txt`` or ``.tsv``, or the files). Each entry is ``index<TAB>mp3_path``
  (minzwon/sota-music-tagging-models ``split/mtat/*.npy``, the split of Lee et al. 2017: 15,247 /
  1,529 / 4,332 clips with >= 1 top-50 tag and >= 29.1 s), a bare ``mp3_path``, or a numeric
  ``clip_id``. Every listed clip is kept, tagged or not; unlisted clips are left out.
* otherwise the split by directory used since Dieleman & Schrauwen (2014): folders ``0``-``b``
  train, ``c`` valid, ``d``-``f`` test. Clips with none of the selected tags are then left out
  unless ``keep_untagged``.

Extra column: ``clip_id``. A few MTAT mp3 files are empty (0 bytes) in the official archive;
``check_audio`` finds and skips them.

mirdata and soundata do not cover MagnaTagATune.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from musicrep.data.adapters.base import (
    Collected,
    DatasetAdapter,
    SkippedFile,
    find_dataset_dir,
    read_list_file,
    resolve_split_lists,
)
from musicrep.errors import ConfigError, ManifestError

ANNOTATIONS = "annotations_final.csv"
#: Default number of most frequent tags.
DEFAULT_TOP = 50
#: Split by the first character of the mp3 folder (Dieleman & Schrauwen 2014).
DIRECTORY_SPLIT = {
    **dict.fromkeys("0123456789ab", "train"),
    "c": "valid",
    **dict.fromkeys("def", "test"),
}
SPLIT_LIST_NAMES = {
    split: tuple(f"{stem}{ext}" for stem in stems for ext in (".npy", ".txt", ".tsv"))
    for split, stems in {
        "train": ("train",),
        "valid": ("valid", "validation", "val"),
        "test": ("test",),
    }.items()
}
NESTED = ("mtat", "MTAT", "magnatagatune", "MagnaTagATune")
AUDIO_DIRS = (".", "mp3", "audio", "mp3s")

LAYOUT = """\
    ROOT/annotations_final.csv                 tab-separated: clip_id, 188 tags, mp3_path
    ROOT/mp3/<0-f>/<artist-album-NN-title-S-E>.mp3
        (or ROOT/<0-f>/... or ROOT/audio/<0-f>/...)"""


def _norm(tag: str) -> str:
    return re.sub(r"[\s_\-]+", "", tag).lower()


class MagnaTagATune(DatasetAdapter):
    """MagnaTagATune top-N tagging; see the module docstring for layout, tags and splits.

    Parameters
    ----------
    top : int
        Number of most frequent tags (default 50); ignored with ``tags``.
    tags : path-like, optional
        File with the tag vocabulary, one tag per line.
    split_lists : sequence of path-like, optional
        A folder with train/valid/test lists, or the list files.
    keep_untagged : bool
        Without split lists: keep clips that have none of the selected tags.
    """

    name: ClassVar[str] = "magnatagatune"
    aliases: ClassVar[tuple[str, ...]] = ("mtat",)
    title: ClassVar[str] = "MagnaTagATune"
    summary: ClassVar[str] = "MagnaTagATune top-50 tagging (split lists or 0-b/c/d-f directories)"
    layout: ClassVar[str] = LAYOUT
    details: ClassVar[str] = """\
labels: the --top 50 most frequent tags (multi-label), or the tags listed in --tags FILE
splits: --split-lists (e.g. minzwon/sota-music-tagging-models split/mtat/{train,valid,test}.npy,
        lines "index<TAB>mp3_path", or text files of mp3 paths or clip ids); without lists the
        directory split 0-b train, c valid, d-f test, dropping clips with none of the tags
        unless --keep-untagged"""

    def __init__(
        self,
        *,
        top: int = DEFAULT_TOP,
        tags: str | Path | None = None,
        split_lists: Sequence[str | Path] | None = None,
        keep_untagged: bool = False,
    ):
        if int(top) < 1:
            raise ConfigError(f"top={top} must be >= 1")
        self.top = int(top)
        self.tags = read_list_file(Path(tags)) if tags is not None else None
        if self.tags is not None and not self.tags:
            raise ConfigError(f"tag list {tags} is empty")
        self.tags_file = tags
        self.split_lists = (
            resolve_split_lists(split_lists, SPLIT_LIST_NAMES) if split_lists else None
        )
        self.keep_untagged = bool(keep_untagged)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--top",
            type=int,
            default=DEFAULT_TOP,
            metavar="N",
            help="use the N most frequent tags (default 50)",
        )
        parser.add_argument("--tags", metavar="FILE", help="tag vocabulary, one tag per line")
        parser.add_argument(
            "--split-lists",
            nargs="+",
            metavar="DIR_OR_FILE",
            help="folder with train/valid/test lists (.npy, .txt, .tsv), or the list files",
        )
        parser.add_argument(
            "--keep-untagged",
            action="store_true",
            help="directory split: keep clips with none of the selected tags",
        )

    def collect(self, root: Path) -> Collected:
        base = find_dataset_dir(root, lambda d: (d / ANNOTATIONS).is_file(), NESTED)
        if base is None:
            raise self.layout_error(ANNOTATIONS, [root / ANNOTATIONS, root / "mtat" / ANNOTATIONS])
        audio = next(
            (
                base / d
                for d in AUDIO_DIRS
                if any((base / d / c).is_dir() for c in "0123456789abcdef")
            ),
            None,
        )
        if audio is None:
            raise self.layout_error(
                "the mp3 folders 0/ .. f/", [base / d / "0" for d in AUDIO_DIRS]
            )
        csv_path = base / ANNOTATIONS
        table = _read_annotations(csv_path)
        selected = self._select_tags(table)
        result = Collected()

        if self.split_lists is not None:
            split_of = self._read_lists(table, audio, result)
        else:
            split_of = {}
            for i, mp3 in enumerate(table.paths):
                split = DIRECTORY_SPLIT.get(mp3.split("/")[0].lower()[:1])
                if split is None:
                    raise ConfigError(
                        f"{csv_path}: mp3_path {mp3!r} (clip {table.clip_ids[i]}) is not in a "
                        "folder 0..f",
                        "pass --split-lists to split this copy",
                    )
                split_of[i] = split

        untagged = 0
        names = [table.tags[j] for j in selected]
        chosen = table.flags[:, selected]  # (clips, selected tags)
        for split in ("train", "valid", "test"):
            for i in (i for i, s in split_of.items() if s == split):
                labels = [names[k] for k in np.flatnonzero(chosen[i])]
                if not labels and self.split_lists is None and not self.keep_untagged:
                    untagged += 1
                    continue
                result.rows.append(
                    {
                        "path": os.path.join(audio, table.paths[i]),
                        "labels": labels,
                        "split": split,
                        "clip_id": table.clip_ids[i],
                    }
                )
        if untagged:
            result.notes.append(
                f"{untagged} clips have none of the {len(selected)} tags and were left out "
                "(--keep-untagged keeps them)"
            )
        return result

    def _select_tags(self, table: _Annotations) -> list[int]:
        """Column indices of the selected tags, in CSV column order."""
        names = table.tags
        if self.tags is None:
            counts = table.flags.sum(axis=0)
            order = sorted(range(len(names)), key=lambda j: (-int(counts[j]), j))
            return sorted(order[: self.top])
        index: dict[str, int] = {}
        for j, n in enumerate(names):
            index.setdefault(_norm(n), j)
        chosen: list[int] = []
        for tag in self.tags:
            j = index.get(_norm(tag))
            if j is None:
                close = difflib.get_close_matches(tag, names, n=3)
                raise ConfigError(
                    f"tag {tag!r} of {self.tags_file} is not a column of {ANNOTATIONS}",
                    f"did you mean {', '.join(close)}?" if close else "check the tag list",
                )
            if j not in chosen:
                chosen.append(j)
        return sorted(chosen)

    def _read_lists(self, table: _Annotations, audio: Path, result: Collected) -> dict[int, str]:
        assert self.split_lists is not None
        by_path = {p: i for i, p in enumerate(table.paths)}
        by_id = {c: i for i, c in enumerate(table.clip_ids)}
        split_of: dict[int, str] = {}
        for split, list_path in self.split_lists.items():
            for line_no, entry in enumerate(read_list_file(list_path), start=1):
                value = entry.split("\t")[-1].strip().replace("\\", "/")
                if value.isdigit():
                    i = by_id.get(value)
                else:
                    i = by_path.get(value)
                    if i is None and "/" in value:  # a longer path: keep <dir>/<file>.mp3
                        i = by_path.get("/".join(value.split("/")[-2:]))
                if i is None:
                    where = list_path if value.isdigit() else audio / value
                    result.skipped.append(
                        SkippedFile(
                            where,
                            f"line {line_no} of {list_path.name} ({value}) is not a clip of "
                            f"{ANNOTATIONS}",
                        )
                    )
                    continue
                if i in split_of and split_of[i] != split:
                    raise ConfigError(
                        f"{list_path}:{line_no}: {table.paths[i]} is in both the "
                        f"{split_of[i]} and the {split} list",
                        "split lists must be disjoint",
                    )
                split_of[i] = split
        unlisted = len(table.paths) - len(split_of)
        if unlisted:
            result.notes.append(f"{unlisted} clips are in no split list and were left out")
        return split_of


@dataclass
class _Annotations:
    """annotations_final.csv: tag names, and per clip its id, mp3 path and tag flags."""

    tags: list[str]
    clip_ids: list[str]
    paths: list[str]
    flags: np.ndarray  # (clips, tags) bool


def _read_annotations(path: Path) -> _Annotations:
    """Read annotations_final.csv (tab-separated, optionally quoted cells)."""
    clip_ids: list[str] = []
    paths: list[str] = []
    flags: list[list[bool]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if not header or len(header) < 3:
                raise ManifestError(
                    path, 1, "expected a tab-separated header clip_id, <tags>, mp3_path"
                )
            header = [h.strip() for h in header]
            if header[0] != "clip_id" or header[-1] != "mp3_path":
                raise ManifestError(
                    path,
                    1,
                    f"header starts with {header[0]!r} and ends with {header[-1]!r}",
                    "annotations_final.csv is tab-separated: clip_id, 188 tags, mp3_path",
                )
            names = header[1:-1]
            seen: set[str] = set()
            for cells in reader:
                line = reader.line_num
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise ManifestError(
                        path, line, f"{len(cells)} fields, but the header has {len(header)}"
                    )
                values = [c.strip() for c in cells[1:-1]]
                bad = next((v for v in values if v not in ("0", "1")), None)
                if bad is not None:
                    raise ManifestError(path, line, f"tag value {bad!r} is not 0 or 1")
                mp3 = cells[-1].strip().replace("\\", "/")
                if not mp3:
                    raise ManifestError(path, line, "empty mp3_path")
                if mp3 in seen:
                    raise ManifestError(path, line, f"mp3_path {mp3} appears twice")
                seen.add(mp3)
                clip_ids.append(cells[0].strip())
                paths.append(mp3)
                flags.append([v == "1" for v in values])
    except UnicodeDecodeError as err:
        raise ManifestError(path, None, f"not UTF-8 text ({err.reason})") from None
    if not paths:
        raise ManifestError(path, None, "no clips")
    return _Annotations(names, clip_ids, paths, np.array(flags, dtype=bool))
