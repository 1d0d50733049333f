"""Shared machinery of the public-dataset adapters.

An adapter reads a user's local copy of a public dataset in its official layout and returns the
rows of a :class:`~musicrep.data.Manifest` (absolute paths, labels, split, fold, segment times and
extra columns), plus notes and the files it had to leave out. :func:`musicrep.data.adapters.prepare`
then drops rows whose file is missing (and, with ``check_audio``, files that do not open), writes
the manifest atomically and returns a :class:`PreparedDataset` with the per-split class counts.

Nothing here downloads anything: every adapter works offline on files the user already has.
"""

from __future__ import annotations

import abc
import argparse
import csv
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from musicrep.data.manifest import SPLITS, Manifest
from musicrep.errors import ConfigError, ManifestError

__all__ = [
    "Collected",
    "DatasetAdapter",
    "FileIndex",
    "FoldAdapter",
    "PreparedDataset",
    "SkippedFile",
    "find_dataset_dir",
    "format_count_table",
    "read_list_file",
    "read_metadata_csv",
    "resolve_split_lists",
    "stratified_split",
]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SkippedFile:
    """A file (or list entry) left out of the manifest, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Collected:
    """What an adapter's :meth:`DatasetAdapter.collect` returns.

    Attributes
    ----------
    rows : list of dict
        Manifest rows as accepted by :meth:`Manifest.from_rows` (``path`` absolute, a ``str``
        or ``Path``; large adapters use ``str``, which is faster to build).
    skipped : list of SkippedFile
        Entries the adapter itself left out (e.g. listed in a split list but absent).
    notes : list of str
        Things the user should know (clips in no split list, a split folder not found...).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class PreparedDataset:
    """The result of :func:`musicrep.data.adapters.prepare`.

    Attributes
    ----------
    name : str
        Canonical adapter name (``"gtzan"``, ``"urbansound8k"``...).
    manifest_path : Path
        The manifest CSV written.
    manifest : Manifest
        The manifest itself.
    counts : dict of str to dict of str to int
        ``{split: {label: rows}}``; every label appears in every split present (0 if absent).
    skipped : list of SkippedFile
        Files left out: missing, unreadable (``check_audio``), known corrupt, listed but absent.
    notes : list of str
        Other things the user should know.
    skipped_path : Path or None
        A text file listing every skipped file (written beside the manifest when any was).
    """

    name: str
    manifest_path: Path
    manifest: Manifest
    counts: dict[str, dict[str, int]]
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_path: Path | None = None

    def fold_counts(self) -> dict[int, dict[str, int]]:
        """``{fold: {label: rows}}`` for manifests with a ``fold`` column (empty otherwise)."""
        vocab = self.manifest.vocabulary()
        counts: dict[int, dict[str, int]] = {
            k: dict.fromkeys(vocab, 0) for k in self.manifest.folds()
        }
        for r in self.manifest:
            if r.fold is not None:
                for label in r.labels:
                    counts[r.fold][label] += 1
        return counts

    def table(self) -> str:
        """Per-class row counts per split (and per fold when the manifest has folds)."""
        m = self.manifest
        kind = "tags" if m.is_multilabel else "classes"
        lines = [f"{self.manifest_path.name}: {len(m)} rows, {len(m.vocabulary())} {kind}"]
        sizes = {s: sum(r.split == s for r in m) for s in self.counts}
        lines.append(format_count_table(self.counts, sizes, first="class"))
        folds = self.fold_counts()
        if folds:
            fold_sizes = {k: sum(r.fold == k for r in m) for k in folds}
            by_fold = {f"fold {k}": v for k, v in folds.items()}
            lines.append(
                format_count_table(
                    by_fold, {f"fold {k}": n for k, n in fold_sizes.items()}, first="class"
                )
            )
        return "\n".join(lines)


def format_count_table(
    counts: Mapping[str, Mapping[str, int]], sizes: Mapping[str, int], *, first: str = "class"
) -> str:
    """A text table: one row per label, one column per key of ``counts``, plus totals.

    Parameters
    ----------
    counts : mapping of column -> {label: count}
        E.g. ``{"train": {"rock": 80}, "test": {"rock": 20}}``.
    sizes : mapping of column -> int
        Rows per column, printed as the last line (``(rows)``); for multi-label data this differs
        from the sum of the label counts.
    first : str
        Header of the label column.
    """
    columns = list(counts)
    labels = sorted({label for per in counts.values() for label in per})
    width = max([len(first), len("(rows)")] + [len(label) for label in labels])
    cw = max([5] + [len(c) for c in columns] + [len(str(n)) for n in sizes.values()])
    header = f"{first:<{width}}  " + "  ".join(f"{c:>{cw}}" for c in columns) + f"  {'total':>{cw}}"
    out = [header, "-" * len(header)]
    for label in labels:
        row = [counts[c].get(label, 0) for c in columns]
        out.append(
            f"{label:<{width}}  " + "  ".join(f"{n:>{cw}}" for n in row) + f"  {sum(row):>{cw}}"
        )
    totals = [sizes.get(c, 0) for c in columns]
    out.append(
        f"{'(rows)':<{width}}  "
        + "  ".join(f"{n:>{cw}}" for n in totals)
        + f"  {sum(totals):>{cw}}"
    )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- adapters


class DatasetAdapter(abc.ABC):
    """Base class of the adapters: reads one public dataset's official layout.

    Subclasses set the class attributes, add their options in :meth:`add_arguments` (with
    ``dest`` names equal to their ``__init__`` keyword arguments, so the CLI can pass them on)
    and implement :meth:`collect`.

    Attributes
    ----------
    name : str
        Canonical name (``musicrep data prepare NAME``); the manifest is
        ``<root>/musicrep_<name>.csv`` by default.
    aliases : tuple of str
        Other accepted names (``"us8k"``, ``"mtat"``...).
    title : str
        The dataset's full name.
    summary : str
        One line for listings.
    layout : str
        The expected folder layout, shown in ``--help`` and in layout errors.
    details : str
        Labels, splits and options, for ``--help``.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    title: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    layout: ClassVar[str] = ""
    details: ClassVar[str] = ""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add the adapter's own command-line options (none by default)."""
        return None

    @classmethod
    def option_names(cls) -> list[str]:
        """The keyword arguments of ``__init__`` (= the ``dest`` of the CLI options)."""
        params = inspect.signature(cls.__init__).parameters
        return [n for n, p in params.items() if n != "self" and p.kind is p.KEYWORD_ONLY]

    @abc.abstractmethod
    def collect(self, root: Path) -> Collected:
        """Read the dataset under ``root`` and return its manifest rows.

        Raises
        ------
        ConfigError
            ``root`` does not hold the dataset in its official layout (the message names the
            missing file or folder; the hint shows the expected layout).
        ManifestError
            A metadata file of the dataset is malformed (names the file and line).
        """

    # helpers for subclasses ------------------------------------------------------------

    def layout_error(self, what: str, tried: Iterable[Path]) -> ConfigError:
        """A :class:`ConfigError` naming what is missing and where it was looked for."""
        tried = [str(p) for p in tried]
        where = tried[0] if len(tried) == 1 else "; ".join(tried)
        return ConfigError(
            f"{self.title}: {what} not found (looked for {where})",
            f"pass --root the folder that holds the dataset in its official layout:\n{self.layout}",
        )


def find_dataset_dir(
    root: Path, is_match: Callable[[Path], bool], nested: Sequence[str] = ()
) -> Path | None:
    """The folder holding a dataset: ``root`` itself, one of ``nested`` below it, or a child.

    Parameters
    ----------
    root : Path
        What the user passed as ``--root``.
    is_match : callable
        Tells whether a folder is the dataset's folder (e.g. contains its metadata file).
    nested : sequence of str
        Relative folders to try after ``root`` (the names the official archives unpack to).

    Returns
    -------
    Path or None
        The first matching folder, in the order ``root``, ``nested``, then ``root``'s immediate
        sub-folders (sorted by name); ``None`` when nothing matches.
    """
    candidates = [root] + [root / n for n in nested]
    for c in candidates:
        if c.is_dir() and is_match(c):
            return c
    if root.is_dir():
        for child in sorted(p for p in root.iterdir() if p.is_dir()):
            if is_match(child):
                return child
    return None


class FileIndex:
    """Existence checks against cached directory listings (one ``listdir`` per folder).

    Checking 300,000 NSynth files with one ``stat`` each is slow on network file systems; this
    lists each folder once. (A folder named like the file also counts as present; ``check_audio``
    catches it.)
    """

    def __init__(self) -> None:
        self._dirs: dict[str, frozenset[str]] = {}

    def exists(self, path: str | os.PathLike) -> bool:
        folder, name = os.path.split(os.fspath(path))
        names = self._dirs.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._dirs[folder] = names
        return name in names


def read_list_file(path: Path) -> list[str]:
    """Entries of a split/subset list: a text file (one per line) or a NumPy ``.npy`` array.

    Blank lines and lines starting with ``#`` are ignored; surrounding whitespace is stripped
    (a tab inside a line is kept, for ``index<TAB>path`` lists). ``.npy`` files are read with
    ``allow_pickle=False`` (string arrays, as in minzwon/sota-music-tagging-models).

    Raises
    ------
    ConfigError
        The file is missing or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"list file not found: {path}", "check the path passed on the command line"
        )
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise ConfigError(
                f"cannot read {path} as a NumPy array of strings ({err})",
                "object arrays need pickle, which musicrep never loads; convert the list to a "
                "text file with one entry per line",
            ) from None
        return [str(x).strip() for x in np.asarray(array).reshape(-1) if str(x).strip()]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {path} as UTF-8 text ({err})") from None
    return [s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#")]


def read_metadata_csv(
    path: Path, required: Sequence[str], header: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` of a dataset's comma-separated metadata file.

    Parameters
    ----------
    path : Path
        The CSV (UTF-8, a byte-order mark is accepted).
    required : sequence of str
        Columns that must be in the header.
    header : str
        The official header, quoted in the error when columns are missing.

    Raises
    ------
    ManifestError
        Missing columns, or a row with a different number of fields than the header.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ManifestError(
                    path,
                    1,
                    f"missing column(s) {', '.join(missing)}",
                    f"the official header is {header}",
                )
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise ManifestError(
                        path,
                        reader.line_num,
                        "the row has a different number of fields than the header",
                    )
                yield reader.line_num, {k: v.strip() for k, v in row.items()}
    except UnicodeDecodeError as err:
        raise ManifestError(path, None, f"not UTF-8 text ({err.reason})") from None


#: File-name prefixes that name a split, for list files given one by one.
_SPLIT_PREFIXES = {
    "train": ("train",),
    "valid": ("valid", "validation", "val"),
    "test": ("test",),
}


def _split_of_name(name: str) -> str | None:
    lower = name.lower()
    for split, prefixes in _SPLIT_PREFIXES.items():
        # longest prefix first so "validation" is not read as "valid" + junk
        for prefix in sorted(prefixes, key=len, reverse=True):
            if lower.startswith(prefix):
                rest = lower[len(prefix) :]
                if not rest or not rest[0].isalpha():
                    return split
    return None


def resolve_split_lists(
    values: Sequence[str | os.PathLike], names: Mapping[str, Sequence[str]]
) -> dict[str, Path]:
    """Map ``--split-lists`` arguments to ``{split: list file}``.

    Parameters
    ----------
    values : sequence of path-like
        Either one folder (searched for ``names[split]``, first match wins) or list files whose
        names start with the split (``train*``, ``valid*``/``validation*``/``val*``, ``test*``).
    names : mapping of split -> file names
        The file names to look for in a folder, in order of preference.

    Raises
    ------
    ConfigError
        A path does not exist, a file name does not say its split, two files claim one split,
        or a folder holds none of the expected files.
    """
    paths = [Path(v).expanduser() for v in values]
    if not paths:
        raise ConfigError("--split-lists needs a folder or list files")
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        found: dict[str, Path] = {}
        for split in SPLITS:
            for name in names.get(split, ()):
                if (folder / name).is_file():
                    found[split] = folder / name
                    break
        if not found:
            expected = ", ".join(n for split in SPLITS for n in names.get(split, ()))
            raise ConfigError(
                f"no split list found in {folder}", f"the folder should hold some of: {expected}"
            )
        return found
    found = {}
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"split list not found: {p}", "pass a folder or existing list files")
        split = _split_of_name(p.name)
        if split is None:
            raise ConfigError(
                f"cannot tell the split of {p.name}",
                "name list files train*, valid* (or val*, validation*) and test*",
            )
        if split in found:
            raise ConfigError(f"two lists for the {split} split: {found[split]} and {p}")
        found[split] = p
    return found


def stratified_split(
    items_by_class: Mapping[str, Sequence[str]], ratios: Sequence[float], seed: int
) -> dict[str, str]:
    """Assign items to train/valid/test with the same proportions in every class.

    Within each class (in sorted class order) the items are sorted, shuffled by a generator
    seeded with ``(seed, class index)`` and cut: the first ``round(n * test)`` go to test, the
    next ``round(n * valid)`` to valid, the rest to train. The assignment of a class therefore
    depends only on the seed and that class's items.

    Parameters
    ----------
    items_by_class : mapping of class -> item keys
    ratios : (train, valid, test) floats >= 0 summing to 1
    seed : int

    Returns
    -------
    dict of item -> split
    """
    train, valid, test = _check_ratios(ratios)
    out: dict[str, str] = {}
    for index, cls in enumerate(sorted(items_by_class)):
        items = sorted(items_by_class[cls])
        n = len(items)
        n_test = int(round(n * test))
        n_valid = min(int(round(n * valid)), n - n_test)
        order = np.random.default_rng([seed, index]).permutation(n)
        for rank, i in enumerate(order):
            out[items[i]] = (
                "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
            )
    return out


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(r) for r in ratios)
    if len(values) != 3 or any(not np.isfinite(r) or r < 0 for r in values):
        raise ConfigError(
            f"split ratios {list(ratios)} must be three numbers >= 0 (train, valid, test)"
        )
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(f"split ratios {list(values)} sum to {sum(values):g}, not 1")
    return values  # type: ignore[return-value]


# --------------------------------------------------------------------------- fold datasets


class FoldAdapter(DatasetAdapter):
    """Base of datasets that ship cross-validation folds (UrbanSound8K, ESC-50).

    By default every row has ``split="train"`` and its official ``fold``: the manifest describes
    the whole cross-validation, and an evaluator runs leave-one-fold-out with
    :meth:`Manifest.fold` (train on the other folds, test on fold ``k``, average over ``k``), as
    the official protocols require; ``musicrep evaluate`` does so whenever every row has a fold.
    ``test_fold=k`` instead writes one fixed partition: fold ``k`` becomes ``split="test"`` (and
    ``valid_fold=j`` makes fold ``j`` the ``valid`` split), and the official fold moves to the
    extra column ``official_fold`` so that evaluators use the split rather than the folds.
    """

    n_folds: ClassVar[int] = 0

    def __init__(self, *, test_fold: int | None = None, valid_fold: int | None = None):
        for name, k in (("test_fold", test_fold), ("valid_fold", valid_fold)):
            if k is not None and not (1 <= int(k) <= self.n_folds):
                raise ConfigError(
                    f"{name}={k} is not a fold of {self.title}",
                    f"folds are numbered 1..{self.n_folds}",
                )
        if valid_fold is not None and test_fold is None:
            raise ConfigError("valid_fold needs test_fold", "pass --test-fold as well")
        if valid_fold is not None and int(valid_fold) == int(test_fold):
            raise ConfigError(f"valid_fold and test_fold are both {test_fold}")
        self.test_fold = None if test_fold is None else int(test_fold)
        self.valid_fold = None if valid_fold is None else int(valid_fold)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--test-fold",
            type=int,
            metavar="K",
            help=f"write a fixed partition: fold K (1..{cls.n_folds}) as split=test, the rest "
            "as train, the fold in column official_fold (default: every row split=train with "
            "its fold, for leave-one-fold-out)",
        )
        parser.add_argument(
            "--valid-fold",
            type=int,
            metavar="J",
            help="with --test-fold: write fold J as split=valid",
        )

    def parse_fold(self, value: str, path: Path, line: int) -> int:
        """The fold of a metadata row, checked to be an integer in ``1..n_folds``."""
        try:
            fold = int(value)
        except (TypeError, ValueError):
            raise ManifestError(path, line, f"fold {value!r} is not an integer") from None
        if not 1 <= fold <= self.n_folds:
            raise ManifestError(path, line, f"fold {fold} is not in 1..{self.n_folds}")
        return fold

    def fold_columns(self, fold: int) -> dict[str, Any]:
        """The ``split`` and fold columns of a row of ``fold`` under this adapter's options."""
        if self.test_fold is None:
            return {"split": "train", "fold": fold}
        split = (
            "test" if fold == self.test_fold else "valid" if fold == self.valid_fold else "train"
        )
        return {"split": split, "official_fold": fold}
