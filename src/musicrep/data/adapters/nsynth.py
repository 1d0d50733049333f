"""NSynth (Engel et al. 2017): 305,979 4-s musical notes at 16 kHz; task: instrument family.

Expected layout (each official ``nsynth-{train,valid,test}.jsonwav.tar.gz`` unpacks to its
folder; ``--root`` is the folder that holds them; a split whose folder is absent is left out
with a note)::

    ROOT/nsynth-train/examples.json            {note_str: {"instrument_family_str": ...}}
    ROOT/nsynth-train/audio/<note_str>.wav
    ROOT/nsynth-valid/examples.json + audio/
    ROOT/nsynth-test/examples.json + audio/

Labels: the ``instrument_family_str`` of each note. NSynth has 11 families (bass, brass, flute,
guitar, keyboard, mallet, organ, reed, string, synth_lead, vocal), but ``synth_lead`` has no
valid or test notes, so it is left out by default (the 10-family task of COALA);
``include_synth_lead=True`` keeps it.

Splits: the official ones (nsynth-train -> train, nsynth-valid -> valid, nsynth-test -> test);
valid and test are always kept whole.

Training subsets (COALA protocol, Favory et al. 2020: 2,000 training notes per family, 20,000 in
all, tested on the full test set):

* ``balanced=N``: N training notes per family, chosen deterministically: a family's note ids are
  sorted and shuffled by a generator seeded with ``(seed, family index)``, and the first N kept,
  so one family's choice does not depend on the others. A family with fewer than N notes keeps
  them all (with a note).
* ``subset_list=FILE``: a fixed list of training note ids, e.g. COALA's
  ``json/nsynth_selected_sounds_per_class.json`` (a JSON object ``{family: [note_str, ...]}``), a
  JSON array, or a text file with one ``note_str`` (or ``note_str.wav``) per line.

Extra columns: ``instrument`` (``instrument_str``), ``source`` (acoustic/electronic/synthetic),
``pitch`` (MIDI) and ``velocity``.

mirdata and soundata do not cover NSynth (tensorflow-datasets has an ``nsynth`` builder).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from musicrep.data.adapters.base import Collected, DatasetAdapter, read_list_file
from musicrep.errors import ConfigError, ManifestError

FAMILIES = (
    "bass",
    "brass",
    "flute",
    "guitar",
    "keyboard",
    "mallet",
    "organ",
    "reed",
    "string",
    "synth_lead",
    "vocal",
)
#: The family with no valid/test notes, left out by default.
SYNTH_LEAD = "synth_lead"
#: Notes per family in COALA's training subset.
COALA_PER_FAMILY = 2000
SPLIT_DIRS = {"train": "nsynth-train", "valid": "nsynth-valid", "test": "nsynth-test"}

LAYOUT = """\
    ROOT/nsynth-train/examples.json            {note_str: {"instrument_family_str": ...}}
    ROOT/nsynth-train/audio/<note_str>.wav
    ROOT/nsynth-valid/examples.json + audio/
    ROOT/nsynth-test/examples.json + audio/"""


class NSynth(DatasetAdapter):
    """NSynth instrument-family classification; see the module docstring.

    Parameters
    ----------
    balanced : int, optional
        Keep N training notes per family (COALA: 2000), chosen by ``seed``.
    subset_list : path-like, optional
        Keep only the training notes of this list (JSON ``{family: [ids]}``, JSON array, or
        text with one id per line). Exclusive with ``balanced``.
    seed : int
        Seed of the ``balanced`` selection.
    include_synth_lead : bool
        Keep the ``synth_lead`` family (training notes only).
    splits : iterable of str
        Official splits to include (default all three found).
    """

    name: ClassVar[str] = "nsynth"
    title: ClassVar[str] = "NSynth"
    summary: ClassVar[str] = "NSynth instrument family (10 families; COALA 2,000-per-family subset)"
    layout: ClassVar[str] = LAYOUT
    details: ClassVar[str] = """\
labels: instrument_family_str (10 families; synth_lead, which has no valid/test notes, is left
        out unless --include-synth-lead)
splits: the official nsynth-train/-valid/-test (valid and test kept whole)
COALA protocol: --balanced 2000 (2,000 training notes per family, chosen by --seed) or
        --subset-list nsynth_selected_sounds_per_class.json (COALA's fixed list)"""

    def __init__(
        self,
        *,
        balanced: int | None = None,
        subset_list: str | Path | None = None,
        seed: int = 0,
        include_synth_lead: bool = False,
        splits: Iterable[str] | None = None,
    ):
        if balanced is not None and subset_list is not None:
            raise ConfigError("balanced and subset_list are exclusive", "pass one of them")
        if balanced is not None and int(balanced) < 1:
            raise ConfigError(f"balanced={balanced} must be >= 1 notes per family")
        self.balanced = None if balanced is None else int(balanced)
        self.subset = _read_subset(Path(subset_list)) if subset_list is not None else None
        self.subset_list = subset_list
        self.seed = int(seed)
        self.include_synth_lead = bool(include_synth_lead)
        self.splits = tuple(splits) if splits else tuple(SPLIT_DIRS)
        bad = [s for s in self.splits if s not in SPLIT_DIRS]
        if bad:
            raise ConfigError(f"unknown NSynth split(s) {bad}", "use train, valid, test")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--balanced",
            type=int,
            metavar="N",
            help=f"N training notes per family, chosen by --seed (COALA: {COALA_PER_FAMILY})",
        )
        parser.add_argument(
            "--subset-list",
            metavar="FILE",
            help="fixed training subset: COALA's nsynth_selected_sounds_per_class.json, a JSON "
            "array, or a text file of note ids",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="seed of the --balanced selection (default 0)"
        )
        parser.add_argument(
            "--include-synth-lead",
            action="store_true",
            help="keep the synth_lead family (it has no valid/test notes)",
        )
        parser.add_argument(
            "--splits",
            nargs="+",
            choices=list(SPLIT_DIRS),
            metavar="SPLIT",
            help="official splits to include (default: train valid test, those found)",
        )

    def collect(self, root: Path) -> Collected:
        base = root
        if not any((root / d).is_dir() for d in SPLIT_DIRS.values()):
            nested = [c for c in (root / "nsynth", root / "NSynth") if c.is_dir()]
            if nested and any((nested[0] / d).is_dir() for d in SPLIT_DIRS.values()):
                base = nested[0]
            else:
                raise self.layout_error(
                    "the nsynth-train/, nsynth-valid/ or nsynth-test/ folder",
                    [root / d for d in SPLIT_DIRS.values()],
                )
        result = Collected()
        families = [f for f in FAMILIES if self.include_synth_lead or f != SYNTH_LEAD]
        found_any = False
        for split in self.splits:
            folder = base / SPLIT_DIRS[split]
            if not folder.is_dir():
                result.notes.append(f"{folder} not found: no {split} split")
                continue
            meta_path = folder / "examples.json"
            if not meta_path.is_file():
                raise self.layout_error(f"{SPLIT_DIRS[split]}/examples.json", [meta_path])
            found_any = True
            examples = _read_examples(meta_path)
            dropped = sum(1 for e in examples.values() if e["family"] not in families)
            if dropped:
                result.notes.append(
                    f"{split}: {dropped} {SYNTH_LEAD} notes left out (no valid/test notes; "
                    "--include-synth-lead keeps them)"
                )
            ids = sorted(k for k, e in examples.items() if e["family"] in families)
            if split == "train":
                ids = self._select_train(ids, examples, families, result)
            audio = os.path.join(folder, "audio")
            for note in ids:
                e = examples[note]
                result.rows.append(
                    {
                        "path": os.path.join(audio, f"{note}.wav"),
                        "labels": [e["family"]],
                        "split": split,
                        "instrument": e["instrument"],
                        "source": e["source"],
                        "pitch": e["pitch"],
                        "velocity": e["velocity"],
                    }
                )
        if not found_any:
            raise self.layout_error(
                f"the folder of split(s) {', '.join(self.splits)}",
                [base / SPLIT_DIRS[s] for s in self.splits],
            )
        return result

    def _select_train(
        self,
        ids: list[str],
        examples: dict[str, dict[str, Any]],
        families: list[str],
        result: Collected,
    ) -> list[str]:
        if self.subset is not None:
            known = set(ids)
            chosen = [i for i in self.subset if i in known]
            missing = [i for i in self.subset if i not in known]
            if missing:
                result.notes.append(
                    f"{len(missing)} ids of {self.subset_list} are not training notes of the "
                    f"selected families (e.g. {', '.join(missing[:3])})"
                )
            return sorted(set(chosen))
        if self.balanced is None:
            return ids
        by_family: dict[str, list[str]] = {f: [] for f in families}
        for i in ids:
            by_family[examples[i]["family"]].append(i)
        chosen = []
        for family, members in by_family.items():
            n = self.balanced
            if len(members) < n:
                result.notes.append(
                    f"train: {family} has {len(members)} notes, fewer than --balanced {n}: all kept"
                )
                n = len(members)
            rng = np.random.default_rng([self.seed, FAMILIES.index(family)])
            pick = rng.permutation(len(members))[:n]
            chosen += [members[j] for j in pick]
        return sorted(chosen)


def _read_examples(path: Path) -> dict[str, dict[str, Any]]:
    """``{note_str: {family, instrument, source, pitch, velocity}}`` from an examples.json."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(
            path, getattr(err, "lineno", None), f"cannot read JSON ({err})"
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(path, None, "expected a JSON object {note_str: {...}}")
    out = {}
    for note, e in data.items():
        if not isinstance(e, dict) or "instrument_family_str" not in e:
            raise ManifestError(path, None, f"note {note!r} has no instrument_family_str")
        family = str(e["instrument_family_str"])
        if family not in FAMILIES:
            raise ManifestError(path, None, f"note {note!r}: unknown family {family!r}")
        out[str(note)] = {
            "family": family,
            "instrument": str(e.get("instrument_str", "")),
            "source": str(e.get("instrument_source_str", "")),
            "pitch": str(e.get("pitch", "")),
            "velocity": str(e.get("velocity", "")),
        }
    return out


def _read_subset(path: Path) -> list[str]:
    """Note ids of a subset list (JSON object of lists, JSON array, or text lines)."""
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise ConfigError(f"subset list not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot read {path} as JSON ({err})") from None
        if isinstance(data, dict):
            entries = [x for values in data.values() for x in values]
        elif isinstance(data, list):
            entries = data
        else:
            raise ConfigError(
                f"{path}: expected a JSON object {{family: [note ids]}} or a JSON array"
            )
    else:
        entries = read_list_file(path)
    ids = []
    for x in entries:
        note = Path(str(x).strip()).name
        ids.append(note[:-4] if note.lower().endswith(".wav") else note)
    if not ids:
        raise ConfigError(f"subset list {path} is empty")
    return list(dict.fromkeys(ids))
