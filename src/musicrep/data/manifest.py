"""Manifests: the one CSV format every dataset in musicrep is described by.

Format
------
A manifest is a UTF-8 CSV (standard ``csv`` dialect, header row) with the columns

========== ======== ================================================================
column     required meaning
========== ======== ================================================================
path       yes      audio file, relative to the CSV's folder or absolute
labels     yes      ``;``-separated labels; may be empty (unlabelled audio). A column
                    named ``label`` (singular) is read as ``labels`` when there is no
                    ``labels`` column.
split      yes      ``train``, ``valid`` or ``test``
fold       no       integer cross-validation fold
start      no       start of the segment in seconds (float >= 0)
duration   no       length of the segment in seconds (float > 0)
========== ======== ================================================================

Any other column is kept as text in :attr:`ManifestRow.extra` and written back. Empty cells of
the optional columns mean "not given" (``None``: the whole file, no fold). Labels are stripped
of surrounding spaces and empty labels are dropped, so ``"rock; guitar;"`` is
``("rock", "guitar")``. A UTF-8 byte-order mark (as Excel writes) is accepted.

Labels are case-sensitive: ``BACH`` and ``bach`` are two classes. Because that is rarely meant,
training, evaluation and benchmarks warn (:meth:`Manifest.warn_label_case`,
:class:`LabelCaseWarning`) naming the near-duplicates and a line of each; fix the CSV if they are
the same class. (Free-form tags processed by :mod:`musicrep.data.tags` are case-folded there.)

Task rule: a manifest is multi-label (:attr:`Manifest.is_multilabel`) only when some row has two
or more labels. An empty ``labels`` cell in an otherwise one-label-per-row manifest therefore does
not turn it into a multi-label task: :meth:`Manifest.label_indices` (used by single-label
training, probes and benchmarks) stops with an error naming that row.

Relative paths are made absolute against the CSV's folder when the manifest is read (normalised
with ``os.path.abspath``; symbolic links are not followed, so a manifest written back keeps the
paths the user chose). :meth:`Manifest.write` stores a path relative to the new CSV's folder when
the file lies inside that folder, and absolute otherwise; reading the written file gives back
equal rows.

Every problem is a :class:`~musicrep.errors.ManifestError` naming the CSV and the 1-based line of
the offending row (the header is line 1), with a hint.

Examples
--------
>>> m = Manifest.read("data/mtat/manifest.csv", check_files=True)   # doctest: +SKIP
>>> train = m.split("train")                                         # doctest: +SKIP
>>> y = train.multi_hot(m.vocabulary())          # (N, C) float32    # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.errors import ConfigError, ManifestError
from musicrep.utils import atomic_path

__all__ = [
    "LABEL_SEPARATOR",
    "LabelCaseWarning",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "Manifest",
    "ManifestRow",
]

#: Columns every manifest has.
REQUIRED_COLUMNS = ("path", "labels", "split")
#: Columns a manifest may have; any other column is kept in ``ManifestRow.extra``.
OPTIONAL_COLUMNS = ("fold", "start", "duration")
#: Allowed values of the ``split`` column, in their canonical order.
SPLITS = ("train", "valid", "test")
#: Separator of the labels in the ``labels`` column.
LABEL_SEPARATOR = ";"
#: Accepted spelling of the ``labels`` column when the CSV has no ``labels`` column.
LABEL_COLUMN_ALIAS = "label"


class LabelCaseWarning(UserWarning):
    """Warned when two labels differ only in upper/lower case (``BACH`` vs ``bach``)."""


def _alias_label_column(columns: Sequence[str]) -> dict[str, str]:
    """``{"label": "labels"}`` when the columns spell it singular and have no ``labels``."""
    if "labels" not in columns and LABEL_COLUMN_ALIAS in columns:
        return {LABEL_COLUMN_ALIAS: "labels"}
    return {}


_KNOWN = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_NO_SOURCE = "<manifest>"


@dataclass(frozen=True)
class ManifestRow:
    """One row of a manifest: an audio file (or a segment of it) with its labels.

    Attributes
    ----------
    path : Path
        The audio file, absolute (resolved against the CSV's folder).
    labels : tuple of str
        The row's labels, possibly empty.
    split : str
        ``"train"``, ``"valid"`` or ``"test"``.
    fold : int or None
        Cross-validation fold, if the manifest has one.
    start : float or None
        Segment start in seconds; ``None`` means the beginning of the file.
    duration : float or None
        Segment length in seconds; ``None`` means to the end of the file.
    extra : dict of str to str
        The row's values in the manifest's other columns.
    line : int or None
        1-based line of the row in its CSV (header = line 1); not compared by ``==``.
    """

    path: Path
    labels: tuple[str, ...]
    split: str
    fold: int | None = None
    start: float | None = None
    duration: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if isinstance(self.labels, str):
            object.__setattr__(self, "labels", _split_labels(self.labels))
        else:
            object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "extra", dict(self.extra))


def _split_labels(cell: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in cell.split(LABEL_SEPARATOR) if s.strip())


def _is_blank(value: Any) -> bool:
    """An empty cell: None, a blank string, or a float NaN (how pandas marks missing values)."""
    if isinstance(value, float):
        return math.isnan(value)
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_row(
    values: Mapping[str, Any], root: Path, source: str, line: int | None, check_files: bool
) -> ManifestRow:
    """Validate one row given as a mapping of column -> cell (strings or typed values)."""

    def fail(reason: str, hint: str | None = None) -> ManifestError:
        return ManifestError(source, line, reason, hint)

    raw_path = values.get("path")
    if _is_blank(raw_path):
        raise fail("empty path", "every row needs the audio file in the 'path' column")
    raw_path = Path(str(raw_path).strip() if isinstance(raw_path, str) else raw_path)
    path = Path(os.path.abspath(raw_path if raw_path.is_absolute() else root / raw_path))
    if check_files and not path.is_file():
        raise fail(
            f"audio file not found: {path}",
            "fix the path (relative paths start at the manifest's folder) or remove the row",
        )

    raw_labels = values.get("labels")
    if _is_blank(raw_labels):
        labels: tuple[str, ...] = ()
    elif isinstance(raw_labels, str):
        labels = _split_labels(raw_labels)
    else:
        labels = tuple(str(s).strip() for s in raw_labels if str(s).strip())
        bad = [s for s in labels if LABEL_SEPARATOR in s]
        if bad:
            raise fail(f"label {bad[0]!r} contains the separator {LABEL_SEPARATOR!r}")

    split = values.get("split")
    split = split.strip() if isinstance(split, str) else split
    if split not in SPLITS:
        raise fail(
            f"unknown split {split!r}",
            f"use one of {', '.join(SPLITS)} (e.g. write 'valid' for 'validation' or 'val')",
        )

    fold = None
    raw_fold = values.get("fold")
    if not _is_blank(raw_fold):
        try:
            if isinstance(raw_fold, bool) or (
                isinstance(raw_fold, float) and not raw_fold.is_integer()
            ):
                raise ValueError
            fold = int(raw_fold.strip() if isinstance(raw_fold, str) else raw_fold)
        except (TypeError, ValueError):
            raise fail(
                f"fold {raw_fold!r} is not an integer", "write folds as 0, 1, 2, ..."
            ) from None

    seconds: dict[str, float | None] = {}
    for name in ("start", "duration"):
        raw = values.get(name)
        if _is_blank(raw):
            seconds[name] = None
            continue
        try:
            value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise fail(
                f"{name} {raw!r} is not a number", f"write {name} in seconds, e.g. 12.5"
            ) from None
        if not math.isfinite(value) or value < 0 or (name == "duration" and value == 0):
            bound = "> 0" if name == "duration" else ">= 0"
            raise fail(f"{name} {raw!r} must be a finite number of seconds {bound}")
        seconds[name] = value

    extra = {str(k): "" if _is_blank(v) else str(v) for k, v in values.items() if k not in _KNOWN}
    return ManifestRow(
        path=path,
        labels=labels,
        split=split,
        fold=fold,
        start=seconds["start"],
        duration=seconds["duration"],
        extra=extra,
        line=line,
    )


def _format_float(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class Manifest:
    """An ordered collection of :class:`ManifestRow` (see the module docstring for the format).

    Parameters
    ----------
    rows : iterable of ManifestRow
        The rows; relative paths are made absolute against ``root``.
    root : str or Path, optional
        Folder that relative paths are resolved against (the CSV's folder when read); defaults
        to the current directory.
    source : str or Path, optional
        Where the rows came from, used in error messages (the CSV path when read).

    Raises
    ------
    ManifestError
        A row has an unknown split, or two rows share the same ``(path, start)``.
    """

    def __init__(
        self,
        rows: Iterable[ManifestRow],
        root: str | Path | None = None,
        *,
        source: str | Path | None = None,
    ):
        self.root = Path(os.path.abspath(root if root is not None else os.getcwd()))
        self.source = str(source) if source is not None else _NO_SOURCE
        resolved = []
        for row in rows:
            if not row.path.is_absolute():
                row = replace(row, path=Path(os.path.abspath(self.root / row.path)))
            if row.split not in SPLITS:
                raise ManifestError(
                    self.source,
                    row.line,
                    f"unknown split {row.split!r}",
                    f"use one of {', '.join(SPLITS)}",
                )
            resolved.append(row)
        self.rows: list[ManifestRow] = resolved
        # column order of the CSV this came from, so write() keeps extra columns in place
        self._columns: list[str] = []
        self._check_duplicates()

    # ------------------------------------------------------------------ construction / IO

    @classmethod
    def read(cls, path: str | Path, *, check_files: bool = False) -> Manifest:
        """Read and validate a manifest CSV.

        Parameters
        ----------
        path : str or Path
            The CSV file.
        check_files : bool
            Also check that every audio file exists.

        Raises
        ------
        ManifestError
            Naming the CSV and the line: missing file or columns, empty path, unknown split,
            non-integer fold, bad start/duration, duplicate ``(path, start)`` rows, wrong number
            of fields, or (``check_files``) a missing audio file.
        """
        csv_path = Path(path)
        if not csv_path.is_file():
            raise ManifestError(csv_path, None, "manifest not found", "check the path to the CSV")
        root = Path(os.path.abspath(csv_path.parent))
        rows: list[ManifestRow] = []
        try:
            with open(csv_path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    raise ManifestError(
                        csv_path,
                        1,
                        "empty file: no header row",
                        f"the first line names the columns: {','.join(REQUIRED_COLUMNS)}",
                    )
                header = [h.strip() for h in header]
                alias = _alias_label_column(header)
                header = [alias.get(h, h) for h in header]
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    raise ManifestError(csv_path, 1, f"duplicate column(s) {', '.join(dupes)}")
                missing = [c for c in REQUIRED_COLUMNS if c not in header]
                if missing:
                    raise ManifestError(
                        csv_path,
                        1,
                        f"missing required column(s): {', '.join(missing)} (header: {','.join(header)})",
                        f"a manifest needs the columns {', '.join(REQUIRED_COLUMNS)}",
                    )
                for cells in reader:
                    line = reader.line_num
                    if not cells or all(not c.strip() for c in cells):
                        continue  # blank line
                    if len(cells) != len(header):
                        raise ManifestError(
                            csv_path,
                            line,
                            f"row has {len(cells)} fields but the header has {len(header)}",
                            "quote cells that contain commas; write empty cells as ,,",
                        )
                    rows.append(
                        _parse_row(dict(zip(header, cells)), root, str(csv_path), line, check_files)
                    )
        except UnicodeDecodeError as err:
            raise ManifestError(
                csv_path, None, f"not UTF-8 text ({err.reason})", "save the CSV as UTF-8"
            ) from None
        except csv.Error as err:
            raise ManifestError(csv_path, None, f"malformed CSV ({err})") from None
        manifest = cls(rows, root, source=csv_path)
        manifest._columns = header
        return manifest

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        root: str | Path | None = None,
        *,
        check_files: bool = False,
    ) -> Manifest:
        """Build a manifest from dicts shaped like CSV rows, validating them as :meth:`read` does.

        Values may be strings (as in a CSV) or typed: ``labels`` a ``;``-string or a sequence of
        strings, ``fold`` an int (or integral float), ``start``/``duration`` numbers, ``path`` a
        str or Path; ``None`` or a float NaN (pandas' missing value) is an empty cell. Errors
        name the row by its 0-based index in ``rows`` ("line" is then that index + 1).

        Examples
        --------
        >>> m = Manifest.from_rows([{"path": "/a.wav", "labels": ["rock"], "split": "train"}])
        >>> m[0].labels
        ('rock',)
        """
        base = Path(os.path.abspath(root if root is not None else os.getcwd()))
        parsed = []
        for i, values in enumerate(rows):
            alias = _alias_label_column(list(values))
            if alias:
                values = {alias.get(k, k): v for k, v in values.items()}
            missing = [c for c in REQUIRED_COLUMNS if c not in values]
            if missing:
                raise ManifestError(
                    _NO_SOURCE, i + 1, f"missing required column(s): {', '.join(missing)}"
                )
            parsed.append(_parse_row(values, base, _NO_SOURCE, i + 1, check_files))
        return cls(parsed, base)

    def write(self, path: str | Path) -> None:
        """Write the manifest as CSV, atomically.

        Paths inside the CSV's folder are written relative to it, others absolute. Optional
        columns are written when some row uses them; extra columns follow, in first-seen order
        (empty where a row lacks them).
        """
        csv_path = Path(path)
        folder = Path(os.path.abspath(csv_path.parent))
        columns = list(REQUIRED_COLUMNS)
        columns += [
            c for c in OPTIONAL_COLUMNS if any(getattr(r, c) is not None for r in self.rows)
        ]
        extras: dict[str, None] = {}
        for c in self._columns:
            if c not in _KNOWN:
                extras[c] = None
        for r in self.rows:
            for c in r.extra:
                extras.setdefault(c, None)
        columns += list(extras)

        with atomic_path(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            for r in self.rows:
                bad = [s for s in r.labels if LABEL_SEPARATOR in s or s != s.strip() or not s]
                if bad:
                    raise ManifestError(
                        self.source,
                        r.line,
                        f"label {bad[0]!r} cannot be written (empty, padded, or contains "
                        f"{LABEL_SEPARATOR!r})",
                    )
                cells = {
                    "path": self._relative(r.path, folder),
                    "labels": LABEL_SEPARATOR.join(r.labels),
                    "split": r.split,
                    "fold": "" if r.fold is None else str(r.fold),
                    "start": "" if r.start is None else _format_float(r.start),
                    "duration": "" if r.duration is None else _format_float(r.duration),
                }
                writer.writerow([cells[c] if c in cells else r.extra.get(c, "") for c in columns])

    @staticmethod
    def _relative(path: Path, folder: Path) -> str:
        try:
            return path.relative_to(folder).as_posix()
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ container protocol

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ManifestRow]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> ManifestRow:
        return self.rows[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return self.rows == other.rows

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={sum(r.split == s for r in self.rows)}" for s in self.splits())
        return (
            f"Manifest({len(self)} rows{': ' + counts if counts else ''}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ selection

    def _subset(self, rows: list[ManifestRow]) -> Manifest:
        sub = Manifest(rows, self.root, source=self.source)
        sub._columns = self._columns
        return sub

    def split(self, name: str) -> Manifest:
        """The rows of one split (``"train"``, ``"valid"`` or ``"test"``), possibly none."""
        if name not in SPLITS:
            raise ConfigError(f"unknown split {name!r}", f"use one of {', '.join(SPLITS)}")
        return self._subset([r for r in self.rows if r.split == name])

    def fold(self, k: int) -> Manifest:
        """The rows whose ``fold`` is ``k``."""
        return self._subset([r for r in self.rows if r.fold == k])

    def splits(self) -> list[str]:
        """The splits present, in the order train, valid, test."""
        present = {r.split for r in self.rows}
        return [s for s in SPLITS if s in present]

    def folds(self) -> list[int]:
        """The distinct folds present, sorted (rows without a fold are ignored)."""
        return sorted({r.fold for r in self.rows if r.fold is not None})

    # ------------------------------------------------------------------ labels

    def vocabulary(self) -> list[str]:
        """The sorted set of labels used by any row."""
        return sorted({label for r in self.rows for label in r.labels})

    @property
    def is_multilabel(self) -> bool:
        """``True`` when some row has two or more labels.

        A row with no labels does not make a manifest multi-label (one empty cell in a
        single-label CSV must not silently change the task and the metric); single-label use
        (:meth:`label_indices`) then stops naming that row. Pass the task explicitly (e.g.
        ``--task multilabel``) for tagging data whose clips have at most one tag."""
        return any(len(r.labels) > 1 for r in self.rows)

    def _vocab_index(self, vocab: Sequence[str] | None) -> tuple[list[str], dict[str, int]]:
        vocab = self.vocabulary() if vocab is None else list(vocab)
        index = {label: i for i, label in enumerate(vocab)}
        if len(index) != len(vocab):
            raise ConfigError("the vocabulary has duplicate labels")
        return vocab, index

    def _unknown(self, row: ManifestRow, label: str) -> ManifestError:
        return ManifestError(
            self.source,
            row.line,
            f"label {label!r} of {row.path.name} is not in the vocabulary",
            "pass a vocabulary that contains it, filter the manifest, or use unknown='ignore'",
        )

    def multi_hot(
        self, vocab: Sequence[str] | None = None, *, unknown: str = "raise"
    ) -> np.ndarray:
        """Multi-hot targets ``(N, C)`` float32, column ``c`` for ``vocab[c]``.

        Parameters
        ----------
        vocab : sequence of str, optional
            Label order; defaults to :meth:`vocabulary`. Pass the training vocabulary when
            encoding validation/test rows.
        unknown : {"raise", "ignore"}
            A label missing from ``vocab`` raises :class:`ManifestError` naming the row, or is
            skipped.
        """
        if unknown not in ("raise", "ignore"):
            raise ConfigError(f"unknown={unknown!r}", "use 'raise' or 'ignore'")
        vocab, index = self._vocab_index(vocab)
        out = np.zeros((len(self.rows), len(vocab)), dtype=np.float32)
        for i, r in enumerate(self.rows):
            for label in r.labels:
                j = index.get(label)
                if j is None:
                    if unknown == "raise":
                        raise self._unknown(r, label)
                    continue
                out[i, j] = 1.0
        return out

    def label_indices(self, vocab: Sequence[str] | None = None) -> np.ndarray:
        """Class indices ``(N,)`` int64 for single-label tasks, index into ``vocab``.

        Raises
        ------
        ManifestError
            Naming the first row with zero or several labels, or with a label not in ``vocab``.
        """
        vocab, index = self._vocab_index(vocab)
        out = np.empty(len(self.rows), dtype=np.int64)
        for i, r in enumerate(self.rows):
            if len(r.labels) != 1:
                raise ManifestError(
                    self.source,
                    r.line,
                    f"{r.path.name} has {len(r.labels)} labels; a single-label task needs exactly 1",
                    "label or drop the row; for tagging data (clips with at most one tag) ask "
                    "for the multi-label task (--task multilabel, multi_hot())",
                )
            j = index.get(r.labels[0])
            if j is None:
                raise self._unknown(r, r.labels[0])
            out[i] = j
        return out

    def class_counts(self) -> dict[str, dict[str, int]]:
        """Rows per label in each split present: ``{split: {label: count}}``.

        Every label of the vocabulary appears in every split (with 0 where absent), so a label
        missing from a split is easy to spot.
        """
        vocab = self.vocabulary()
        counts = {s: dict.fromkeys(vocab, 0) for s in self.splits()}
        for r in self.rows:
            for label in r.labels:
                counts[r.split][label] += 1
        return counts

    # ------------------------------------------------------------------ checks

    def near_duplicate_labels(self) -> list[list[str]]:
        """Groups of labels that differ only in case, e.g. ``[["BACH", "bach"]]`` (sorted).

        Surrounding spaces are already stripped when rows are parsed, so ``"bach "`` is
        ``"bach"``."""
        groups: dict[str, set[str]] = {}
        for r in self.rows:
            for label in r.labels:
                groups.setdefault(label.casefold(), set()).add(label)
        return sorted(sorted(g) for g in groups.values() if len(g) > 1)

    def warn_label_case(self) -> None:
        """Warn (:class:`LabelCaseWarning`) when labels differ only in case.

        Called where a manifest's labels become classes as written (training without a tag
        vocabulary, evaluate, benchmark); not on reading, since free-form tag manifests are
        case-folded by :mod:`musicrep.data.tags` on purpose."""
        groups = self.near_duplicate_labels()
        if not groups:
            return
        first_line: dict[str, int | None] = {}
        for r in self.rows:
            for label in r.labels:
                first_line.setdefault(label, r.line)
        shown = "; ".join(
            " / ".join(
                f"{label!r}" + (f" (line {first_line[label]})" if first_line[label] else "")
                for label in g
            )
            for g in groups[:5]
        )
        more = f" and {len(groups) - 5} more" if len(groups) > 5 else ""
        warnings.warn(
            f"{self.source}: labels that differ only in case are separate classes: {shown}{more}; "
            "if they are the same class, write them the same way in the CSV",
            LabelCaseWarning,
            stacklevel=2,
        )

    def _check_duplicates(self) -> None:
        seen: dict[tuple[Path, float | None], ManifestRow] = {}
        for r in self.rows:
            key = (r.path, r.start)
            first = seen.get(key)
            if first is not None:
                where = f"line {first.line}" if first.line is not None else "an earlier row"
                at = "" if r.start is None else f" at start {r.start:g} s"
                raise ManifestError(
                    self.source,
                    r.line,
                    f"duplicate row: {r.path}{at} already appears on {where}",
                    "remove one of the rows, or give segments different 'start' values",
                )
            seen[key] = r
