"""ESC-50 (Piczak 2015): 2,000 5-s environmental recordings, 50 classes, 5 folds (ESC-10 subset).

Expected layout (the GitHub archive unpacks to ``ESC-50-master/``; ``--root`` may be that folder
or its parent)::

    ROOT/meta/esc50.csv
        filename,fold,target,category,esc10,src_file,take
    ROOT/audio/<filename>                      (e.g. 1-100032-A-0.wav)

Labels: the ``category`` column (50 classes, e.g. ``dog``, ``rain``, ``chainsaw``). ``esc10``
(``--esc10``) keeps only the ESC-10 subset (rows whose ``esc10`` column is ``True``: 10 classes,
400 clips).

Folds and splits: the ``fold`` column is the official fold (1..5); clips cut from one source
recording share a fold, so the dataset's protocol is 5-fold cross-validation on these folds. By
default every row gets ``split="train"`` with its fold and an evaluator runs leave-one-fold-out
(:meth:`musicrep.data.Manifest.fold`); ``test_fold=k`` (``--test-fold``) writes one fixed
partition with fold ``k`` as the test split (``valid_fold`` adds a validation fold) and the
official fold in the extra column ``official_fold``, so that evaluators use the split.

Extra columns: ``target`` (class index), ``src_file`` (Freesound source id), ``take``, ``esc10``.

soundata's ``esc50`` loader reads the same layout and can download and validate a copy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import ClassVar

from musicrep.data.adapters.base import (
    Collected,
    FoldAdapter,
    find_dataset_dir,
    read_metadata_csv,
)
from musicrep.errors import ManifestError

METADATA = Path("meta/esc50.csv")
COLUMNS = ("filename", "fold", "target", "category", "esc10")
NESTED = ("ESC-50-master", "ESC-50", "esc50")

LAYOUT = """\
    ROOT/meta/esc50.csv
        filename,fold,target,category,esc10,src_file,take
    ROOT/audio/<filename>                      (e.g. 1-100032-A-0.wav)"""


class ESC50(FoldAdapter):
    """ESC-50 / ESC-10; see the module docstring for layout, folds and splits.

    Parameters
    ----------
    esc10 : bool
        Keep only the ESC-10 subset (10 classes).
    test_fold : int, optional
        Write fold ``k`` (1..5) as the test split and the rest as train.
    valid_fold : int, optional
        With ``test_fold``: write this fold as the validation split.
    """

    name: ClassVar[str] = "esc50"
    aliases: ClassVar[tuple[str, ...]] = ("esc-50",)
    title: ClassVar[str] = "ESC-50"
    summary: ClassVar[str] = "ESC-50 environmental sounds (50 classes or ESC-10, official 5 folds)"
    layout: ClassVar[str] = LAYOUT
    n_folds: ClassVar[int] = 5
    details: ClassVar[str] = """\
labels: category (50 classes; --esc10: the 10-class ESC-10 subset)
folds:  the official folds 1..5 in the fold column; every row split=train, for
        leave-one-fold-out cross-validation (the official protocol); --test-fold K writes a
        fixed partition instead (fold K = test split, the fold in column official_fold)
extra columns: target, src_file, take, esc10"""

    def __init__(
        self, *, esc10: bool = False, test_fold: int | None = None, valid_fold: int | None = None
    ):
        super().__init__(test_fold=test_fold, valid_fold=valid_fold)
        self.esc10 = bool(esc10)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--esc10", action="store_true", help="keep only the ESC-10 subset (10 classes)"
        )
        super().add_arguments(parser)

    def collect(self, root: Path) -> Collected:
        base = find_dataset_dir(root, lambda d: (d / METADATA).is_file(), NESTED)
        if base is None:
            raise self.layout_error(
                str(METADATA), [root / METADATA] + [root / n / METADATA for n in NESTED[:2]]
            )
        csv_path = base / METADATA
        if not (base / "audio").is_dir():
            raise self.layout_error("the audio/ folder", [base / "audio"])
        result = Collected()
        header = LAYOUT.splitlines()[1].strip()
        for line, row in read_metadata_csv(csv_path, COLUMNS, header):
            esc10 = row["esc10"].lower()
            if esc10 not in ("true", "false"):
                raise ManifestError(csv_path, line, f"esc10 {row['esc10']!r} is not True or False")
            if self.esc10 and esc10 != "true":
                continue
            fold = self.parse_fold(row["fold"], csv_path, line)
            name, label = row["filename"], row["category"]
            if not name or not label:
                raise ManifestError(csv_path, line, "empty filename or category")
            result.rows.append(
                {
                    "path": base / "audio" / name,
                    "labels": [label],
                    **self.fold_columns(fold),
                    "target": row["target"],
                    "src_file": row.get("src_file", ""),
                    "take": row.get("take", ""),
                    "esc10": row["esc10"],
                }
            )
        if self.esc10 and not result.rows:
            raise ManifestError(csv_path, None, "no row has esc10=True", "check the CSV")
        return result
