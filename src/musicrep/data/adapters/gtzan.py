"""GTZAN genre collection (Tzanetakis & Cook 2002): 1,000 30-s clips, 10 genres.

Expected layout (the Marsyas ``genres.tar.gz`` unpacks to ``genres/`` with ``.au`` files; the
Kaggle copy has ``Data/genres_original/`` with ``.wav`` files; ``--root`` may be the folder that
holds the genre folders or any of its parents listed here)::

    ROOT/genres/<genre>/<genre>.000NN.au         (or .wav; NN = 00..99)
    ROOT/genres_original/<genre>/<genre>.000NN.wav
    ROOT/Data/genres_original/<genre>/...
    ROOT/<genre>/<genre>.000NN.wav
    genres: blues classical country disco hiphop jazz metal pop reggae rock

Labels: the genre (single-label, 10 classes).

Splits:

* default: stratified by genre with ratios train/valid/test = 0.8/0.1/0.1 (``ratios``), shuffled
  by ``seed`` (:func:`~musicrep.data.adapters.base.stratified_split`); the split is computed
  over every clip found, before unreadable files are dropped, so a copy missing one file gets
  the same split for the others. GTZAN repeats artists and recordings across clips, so random
  splits overestimate accuracy (Sturm 2013); prefer the fault-filtered split for comparisons.
* ``split_lists``: the fault-filtered, artist-disjoint split of Kereliuk, Sturm & Larsen (2015)
  as distributed by coreyker/dnn-mgr and jongpillee/music_dataset_split (``train_filtered.txt``,
  ``valid_filtered.txt``, ``test_filtered.txt``: 443/197/290 lines of ``genre/genre.000NN.wav``;
  the COALA protocol trains on train and tests on test). Pass the folder holding them or the
  files. Entries match clips by ``genre.000NN`` whatever the extension, so the lists work with
  ``.au`` and ``.wav`` copies; clips in no list are left out (70 of the 1,000 here).

The Kaggle copy's ``jazz.00054.wav`` is not a valid audio file: it is always opened, and reported
and skipped when it does not read (other unreadable files need ``check_audio``).

mirdata's ``gtzan_genre`` loader reads the same ``genres/`` layout and can validate a copy.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from musicrep.data.adapters.base import (
    Collected,
    DatasetAdapter,
    SkippedFile,
    _check_ratios,
    find_dataset_dir,
    read_list_file,
    resolve_split_lists,
    stratified_split,
)
from musicrep.errors import AudioError, ConfigError

GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
#: Clips known to be corrupt in widely used copies (the Kaggle ``jazz.00054.wav``).
KNOWN_CORRUPT = ("jazz/jazz.00054",)
#: Default train/valid/test ratios of the stratified split.
DEFAULT_RATIOS = (0.8, 0.1, 0.1)
#: File names looked for when ``split_lists`` is a folder, in order of preference.
SPLIT_LIST_NAMES = {
    "train": ("train_filtered.txt", "train.txt"),
    "valid": ("valid_filtered.txt", "valid.txt", "validation.txt", "val.txt"),
    "test": ("test_filtered.txt", "test.txt"),
}
#: Folders the official archives unpack to, tried below ``--root``.
NESTED = ("genres", "genres_original", "Data/genres_original", "gtzan_genre/genres")

_CLIP = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})\.(?P<ext>wav|au)$", re.IGNORECASE)
_ENTRY = re.compile(r"(?:(?P<dir>[a-z]+)/)?(?P<genre>[a-z]+)\.(?P<number>\d{5})(?:\.\w+)?$")

LAYOUT = """\
    ROOT/genres/<genre>/<genre>.000NN.au         (or .wav; NN = 00..99)
    ROOT/genres_original/<genre>/<genre>.000NN.wav
    ROOT/Data/genres_original/<genre>/...
    ROOT/<genre>/<genre>.000NN.wav
    genres: blues classical country disco hiphop jazz metal pop reggae rock"""


class GTZAN(DatasetAdapter):
    """GTZAN genre collection; see the module docstring for layout and splits.

    Parameters
    ----------
    split_lists : sequence of path-like, optional
        A folder holding ``train_filtered.txt``/``valid_filtered.txt``/``test_filtered.txt``
        (or ``train.txt``...), or the list files themselves (named ``train*``, ``valid*``,
        ``test*``). Without it, the stratified split by ``seed`` is used.
    ratios : (train, valid, test)
        Ratios of the stratified split (default 0.8, 0.1, 0.1).
    seed : int
        Seed of the stratified split.
    """

    name: ClassVar[str] = "gtzan"
    title: ClassVar[str] = "GTZAN"
    summary: ClassVar[str] = "GTZAN genre collection (10 genres; fault-filtered split lists)"
    layout: ClassVar[str] = LAYOUT
    details: ClassVar[str] = """\
labels: genre (10 classes)
splits: stratified 80/10/10 by --seed (default), or --split-lists with the fault-filtered
        artist-disjoint lists (train_filtered.txt, valid_filtered.txt, test_filtered.txt of
        coreyker/dnn-mgr or jongpillee/music_dataset_split; lines genre/genre.000NN.wav)
The Kaggle copy's corrupt jazz.00054.wav is reported and skipped."""

    def __init__(
        self,
        *,
        split_lists: Sequence[str | Path] | None = None,
        ratios: Sequence[float] = DEFAULT_RATIOS,
        seed: int = 0,
    ):
        self.split_lists = (
            resolve_split_lists(split_lists, SPLIT_LIST_NAMES) if split_lists else None
        )
        self.ratios = _check_ratios(ratios)
        self.seed = int(seed)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--split-lists",
            nargs="+",
            metavar="DIR_OR_FILE",
            help="folder with train_filtered.txt/valid_filtered.txt/test_filtered.txt, or the "
            "list files (train*, valid*, test*); clips in no list are left out",
        )
        parser.add_argument(
            "--ratios",
            nargs=3,
            type=float,
            default=list(DEFAULT_RATIOS),
            metavar=("TRAIN", "VALID", "TEST"),
            help="ratios of the stratified split without lists (default 0.8 0.1 0.1)",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="seed of the stratified split (default 0)"
        )

    def collect(self, root: Path) -> Collected:
        def has_genres(folder: Path) -> bool:
            return any((folder / g).is_dir() for g in GENRES)

        base = find_dataset_dir(root, has_genres, NESTED)
        if base is None:
            raise self.layout_error(
                "genre folders (blues/, classical/, ...)", [root] + [root / n for n in NESTED]
            )
        result = Collected()
        clips: dict[str, Path] = {}  # "genre/genre.000NN" -> file
        for genre in GENRES:
            folder = base / genre
            if not folder.is_dir():
                result.notes.append(f"genre folder {folder} not found: no {genre} clips")
                continue
            for path in sorted(folder.iterdir()):
                m = _CLIP.match(path.name)
                if not m or m["genre"].lower() != genre or not path.is_file():
                    continue
                key = f"{genre}/{genre}.{m['number']}"
                if key in clips:  # both .au and .wav: keep the .wav
                    if path.suffix.lower() != ".wav":
                        continue
                clips[key] = path
        if not clips:
            raise self.layout_error(f"<genre>.000NN.wav/.au files in {base}/<genre>/", [base])

        if self.split_lists is None:
            by_genre: dict[str, list[str]] = {}
            for key in clips:
                by_genre.setdefault(key.split("/")[0], []).append(key)
            split_of = stratified_split(by_genre, self.ratios, self.seed)
        else:
            split_of = self._read_lists(clips, base, result)

        for key in KNOWN_CORRUPT:
            if key in clips and key in split_of:
                reason = _unreadable(clips[key])
                if reason is not None:
                    result.skipped.append(
                        SkippedFile(clips[key], f"known corrupt file, unreadable: {reason}")
                    )
                    del split_of[key]
        for key, path in clips.items():
            if key in split_of:
                genre = key.split("/")[0]
                result.rows.append({"path": path, "labels": [genre], "split": split_of[key]})
        return result

    def _read_lists(self, clips: dict[str, Path], base: Path, result: Collected) -> dict[str, str]:
        assert self.split_lists is not None
        split_of: dict[str, str] = {}
        for split, list_path in self.split_lists.items():
            for line_no, entry in enumerate(read_list_file(list_path), start=1):
                m = _ENTRY.search(entry.replace("\\", "/"))
                if m is None or (m["dir"] and m["dir"] != m["genre"]):
                    raise ConfigError(
                        f"{list_path}:{line_no}: cannot read {entry!r} as a GTZAN clip",
                        "list lines look like blues/blues.00012.wav",
                    )
                key = f"{m['genre']}/{m['genre']}.{m['number']}"
                if key in split_of and split_of[key] != split:
                    raise ConfigError(
                        f"{list_path}:{line_no}: {key} is in both the {split_of[key]} and the "
                        f"{split} list",
                        "split lists must be disjoint",
                    )
                if key not in clips:
                    result.skipped.append(
                        SkippedFile(
                            base / f"{key}.wav", f"listed in {list_path.name} but not found"
                        )
                    )
                    continue
                split_of[key] = split
        unlisted = len(set(clips) - set(split_of))
        if unlisted:
            result.notes.append(f"{unlisted} clips are in no split list and were left out")
        return split_of


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be opened as audio, or ``None`` if it opens and has samples."""
    from musicrep.audio import info

    try:
        return None if info(path).frames > 0 else "no samples"
    except AudioError as err:
        return err.reason
