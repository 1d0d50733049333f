"""UrbanSound8K (Salamon, Jacoby & Bello 2014): 8,732 urban sound excerpts (<= 4 s), 10 classes.

Expected layout (the official ``UrbanSound8K.tar.gz`` unpacks to ``UrbanSound8K/``; ``--root``
may be that folder or its parent)::

    ROOT/metadata/UrbanSound8K.csv
        slice_file_name,fsID,start,end,salience,fold,classID,class
    ROOT/audio/fold1/<slice_file_name>   ...   ROOT/audio/fold10/...

Labels: the ``class`` column (air_conditioner, car_horn, children_playing, dog_bark, drilling,
engine_idling, gun_shot, jackhammer, siren, street_music).

Folds and splits: the ``fold`` column is the official fold (1..10). The dataset's authors require
10-fold cross-validation on these folds (never a random split: slices of one recording share a
fold). By default every row gets ``split="train"`` with its fold, and an evaluator runs
leave-one-fold-out (:meth:`musicrep.data.Manifest.fold`: train on 9 folds, test on the 10th,
average the 10 accuracies; the COALA and L3 protocols; ``musicrep evaluate`` does this whenever
every row has a fold). ``test_fold=k`` (``--test-fold``) writes one fixed partition instead: fold
``k`` is the test split (``valid_fold`` adds a validation fold) and the official fold moves to
the extra column ``official_fold``, so that evaluators use the split.

Extra columns: ``fsID`` (the Freesound recording the slice comes from), ``salience`` (1
foreground, 2 background) and ``classID``. The CSV's ``start``/``end`` (the slice's position in the
original recording) are not copied: the manifest's ``start`` means an offset into the audio file.

soundata's ``urbansound8k`` loader reads the same layout and can download and validate a copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from musicrep.data.adapters.base import (
    Collected,
    FoldAdapter,
    find_dataset_dir,
    read_metadata_csv,
)
from musicrep.errors import ManifestError

METADATA = Path("metadata/UrbanSound8K.csv")
COLUMNS = ("slice_file_name", "fsID", "salience", "fold", "classID", "class")
NESTED = ("UrbanSound8K", "urbansound8k")

LAYOUT = """\
    ROOT/metadata/UrbanSound8K.csv
        slice_file_name,fsID,start,end,salience,fold,classID,class
    ROOT/audio/fold1/<slice_file_name>   ...   ROOT/audio/fold10/..."""


class UrbanSound8K(FoldAdapter):
    """UrbanSound8K; see the module docstring for layout, folds and splits.

    Parameters
    ----------
    test_fold : int, optional
        Write fold ``k`` (1..10) as the test split and the rest as train.
    valid_fold : int, optional
        With ``test_fold``: write this fold as the validation split.
    """

    name: ClassVar[str] = "urbansound8k"
    aliases: ClassVar[tuple[str, ...]] = ("us8k",)
    title: ClassVar[str] = "UrbanSound8K"
    summary: ClassVar[str] = "UrbanSound8K (10 classes, official 10 folds)"
    layout: ClassVar[str] = LAYOUT
    n_folds: ClassVar[int] = 10
    details: ClassVar[str] = """\
labels: class (10 classes)
folds:  the official folds 1..10 in the fold column; every row split=train, for
        leave-one-fold-out cross-validation (the official protocol); --test-fold K writes a
        fixed partition instead (fold K = test split, the fold in column official_fold)
extra columns: fsID (source recording), salience, classID"""

    def __init__(self, *, test_fold: int | None = None, valid_fold: int | None = None):
        super().__init__(test_fold=test_fold, valid_fold=valid_fold)

    def collect(self, root: Path) -> Collected:
        base = find_dataset_dir(root, lambda d: (d / METADATA).is_file(), NESTED)
        if base is None:
            raise self.layout_error(str(METADATA), [root / METADATA, root / NESTED[0] / METADATA])
        csv_path = base / METADATA
        if not (base / "audio").is_dir():
            raise self.layout_error("the audio/ folder", [base / "audio"])
        result = Collected()
        header = LAYOUT.splitlines()[1].strip()
        for line, row in read_metadata_csv(csv_path, COLUMNS, header):
            fold = self.parse_fold(row["fold"], csv_path, line)
            name, label = row["slice_file_name"], row["class"]
            if not name or not label:
                raise ManifestError(csv_path, line, "empty slice_file_name or class")
            result.rows.append(
                {
                    "path": base / "audio" / f"fold{fold}" / name,
                    "labels": [label],
                    **self.fold_columns(fold),
                    "fsID": row["fsID"],
                    "salience": row["salience"],
                    "classID": row["classID"],
                }
            )
        return result
