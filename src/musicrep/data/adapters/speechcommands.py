"""Speech Commands (Warden 2018): 1-s spoken words at 16 kHz; keyword spotting.

Expected layout (``speech_commands_v0.02.tar.gz`` unpacks its content into the current folder:
make a folder for it; v0.01 has the same layout with 30 words; torchaudio's copy lives in
``SpeechCommands/speech_commands_v0.02/``)::

    ROOT/<word>/<speaker hash>_nohash_<n>.wav  (35 words in v0.02: yes, no, up, ..., zero, ...)
    ROOT/validation_list.txt                   lines <word>/<file>.wav
    ROOT/testing_list.txt
    ROOT/_background_noise_/*.wav              (not a class; see --keywords 12)

Splits: the official lists: files in ``validation_list.txt`` -> valid, in ``testing_list.txt``
-> test, every other file -> train (the lists put all clips of a speaker in one split).

Tasks (``keywords``):

* ``"all"`` (default; ``"35"`` and ``"30"`` are accepted as names for it): label = the word
  folder, every word (35 classes in v0.02, 30 in v0.01). ``_background_noise_`` is left out.
* ``"12"``: the 12-class task of the TensorFlow tutorial, tensorflow-datasets and HEAR 2021: the
  10 keywords (yes, no, up, down, left, right, on, off, stop, go), ``_unknown_`` for every other
  word (all of them, not subsampled, as tfds and HEAR do), and ``_silence_``: 1-s windows of the
  ``_background_noise_`` recordings every 0.5 s (manifest rows with ``start`` and
  ``duration``), the windows of ``running_tap.wav`` in valid and the others in train (the tfds
  rule). The test split is ``testing_list.txt`` mapped to the 12 labels, which has no
  ``_silence_`` rows; ``test_set`` (``--test-set DIR``) instead takes the test split from the
  official 12-class test set ``speech_commands_test_set_v0.02`` (folders ``<label>/*.wav``,
  including ``_silence_`` and ``_unknown_``) and drops the ``testing_list.txt`` files, as tfds
  and HEAR do.

Extra column: ``speaker`` (the hash before ``_nohash_``).

mirdata and soundata do not cover Speech Commands (torchaudio's ``SPEECHCOMMANDS`` and
tensorflow-datasets' ``speech_commands`` read the same archive).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, ClassVar

from musicrep.data.adapters.base import Collected, DatasetAdapter, SkippedFile, read_list_file
from musicrep.errors import AudioError, ConfigError

#: The 10 keywords of the 12-class task.
KEYWORDS_12 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
BACKGROUND_NOISE = "_background_noise_"
#: Length and hop of the silence windows cut from the background noise, in seconds (tfds).
SILENCE_WINDOW = 1.0
SILENCE_HOP = 0.5
#: Background recordings whose windows form the validation silence (tfds); the rest train.
VALID_NOISE = ("running_tap",)
LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}
NESTED = (
    "speech_commands_v0.02",
    "speech_commands_v0.01",
    "SpeechCommands/speech_commands_v0.02",
    "SpeechCommands/speech_commands_v0.01",
)
KEYWORD_CHOICES = ("all", "35", "30", "12")

LAYOUT = """\
    ROOT/<word>/<speaker hash>_nohash_<n>.wav  (35 words in v0.02: yes, no, up, ..., zero, ...)
    ROOT/validation_list.txt                   lines <word>/<file>.wav
    ROOT/testing_list.txt
    ROOT/_background_noise_/*.wav              (not a class; see --keywords 12)"""


class SpeechCommands(DatasetAdapter):
    """Speech Commands keyword spotting; see the module docstring for layout and tasks.

    Parameters
    ----------
    keywords : {"all", "35", "30", "12"}
        Every word as its own class, or the 12-class task.
    test_set : path-like, optional
        With ``keywords="12"``: the official test set folder (``<label>/*.wav``).
    """

    name: ClassVar[str] = "speechcommands"
    aliases: ClassVar[tuple[str, ...]] = ("speech_commands", "speech-commands", "gsc")
    title: ClassVar[str] = "Speech Commands"
    summary: ClassVar[str] = "Speech Commands keyword spotting (all 35 words, or 12 classes)"
    layout: ClassVar[str] = LAYOUT
    details: ClassVar[str] = """\
labels: the word (--keywords all: 35 classes in v0.02, 30 in v0.01), or --keywords 12: 10
        keywords + _unknown_ (all other words) + _silence_ (1-s windows of the background
        noise every 0.5 s; running_tap in valid, the others in train)
splits: validation_list.txt -> valid, testing_list.txt -> test, the rest -> train; with
        --keywords 12 --test-set DIR the test split is the official 12-class test set"""

    def __init__(self, *, keywords: str = "all", test_set: str | Path | None = None):
        keywords = str(keywords)
        if keywords not in KEYWORD_CHOICES:
            raise ConfigError(f"keywords={keywords!r}", f"use one of {', '.join(KEYWORD_CHOICES)}")
        self.keywords = "12" if keywords == "12" else "all"
        self.expected_words = int(keywords) if keywords in ("35", "30") else None
        if test_set is not None and self.keywords != "12":
            raise ConfigError("test_set is the 12-class test set", "use it with --keywords 12")
        self.test_set = None if test_set is None else Path(test_set).expanduser()
        if self.test_set is not None and not self.test_set.is_dir():
            raise ConfigError(
                f"test set folder not found: {self.test_set}",
                "pass the unpacked speech_commands_test_set_v0.02 folder (<label>/*.wav)",
            )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--keywords",
            choices=KEYWORD_CHOICES,
            default="all",
            help="all (= 35 in v0.02, 30 in v0.01): every word is a class; 12: 10 keywords + "
            "_unknown_ + _silence_ (default all)",
        )
        parser.add_argument(
            "--test-set",
            metavar="DIR",
            help="with --keywords 12: the official speech_commands_test_set_v0.02 folder",
        )

    def collect(self, root: Path) -> Collected:
        def is_match(d: Path) -> bool:
            return all((d / name).is_file() for name in LISTS.values())

        base = root if is_match(root) else None
        if base is None:
            base = next((root / n for n in NESTED if is_match(root / n)), None)
        if base is None:
            raise self.layout_error(
                f"{LISTS['valid']} and {LISTS['test']}",
                [root / LISTS["valid"]] + [root / NESTED[0] / LISTS["valid"]],
            )
        result = Collected()
        split_of: dict[str, str] = {}
        for split, name in LISTS.items():
            for entry in read_list_file(base / name):
                split_of[entry.replace("\\", "/")] = split

        words = sorted(
            d.name
            for d in base.iterdir()
            if d.is_dir() and not d.name.startswith(("_", ".")) and any(d.glob("*.wav"))
        )
        if not words:
            raise self.layout_error("word folders with .wav files", [base / "<word>"])
        if self.expected_words is not None and len(words) != self.expected_words:
            result.notes.append(
                f"found {len(words)} word folders, not {self.expected_words} "
                "(v0.02 has 35 words, v0.01 has 30)"
            )
        missing = [w for w in KEYWORDS_12 if w not in words]
        if self.keywords == "12" and missing:
            raise self.layout_error(
                f"keyword folder(s) {', '.join(missing)}", [base / w for w in missing]
            )

        dropped_test = 0
        for word in words:
            label = word if self.keywords == "all" or word in KEYWORDS_12 else UNKNOWN
            for path in sorted((base / word).glob("*.wav")):
                split = split_of.get(f"{word}/{path.name}", "train")
                if split == "test" and self.test_set is not None:
                    dropped_test += 1
                    continue
                result.rows.append(_row(path, label, split))
        if dropped_test:
            result.notes.append(
                f"{dropped_test} files of {LISTS['test']} left out: the test split is the "
                f"official test set {self.test_set}"
            )
        if self.keywords == "12":
            self._add_silence(base, result)
            if self.test_set is not None:
                self._add_test_set(result)
            else:
                result.notes.append(
                    f"the test split has no {SILENCE} rows (pass --test-set with the official "
                    "speech_commands_test_set_v0.02 for the standard 12-class test set)"
                )
        return result

    def _add_silence(self, base: Path, result: Collected) -> None:
        from musicrep.audio import info

        folder = base / BACKGROUND_NOISE
        noise = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        if not noise:
            raise self.layout_error(f"{BACKGROUND_NOISE}/*.wav (the source of {SILENCE})", [folder])
        for path in noise:
            try:
                meta = info(path)
            except AudioError as err:
                result.skipped.append(SkippedFile(path, f"unreadable: {err.reason}"))
                continue
            sr = meta.sample_rate
            window, hop = round(SILENCE_WINDOW * sr), round(SILENCE_HOP * sr)
            split = "valid" if path.stem in VALID_NOISE else "train"
            for start in range(0, meta.frames - window, hop):
                row = _row(path, SILENCE, split)
                row.update(start=start / sr, duration=SILENCE_WINDOW, speaker="")
                result.rows.append(row)

    def _add_test_set(self, result: Collected) -> None:
        assert self.test_set is not None
        labels = set(KEYWORDS_12) | {UNKNOWN, SILENCE}
        found = 0
        for folder in sorted(p for p in self.test_set.iterdir() if p.is_dir()):
            if folder.name not in labels:
                result.notes.append(f"test set folder {folder.name} is not a 12-class label")
                continue
            for path in sorted(folder.glob("*.wav")):
                result.rows.append(_row(path, folder.name, "test"))
                found += 1
        if not found:
            raise ConfigError(
                f"no <label>/*.wav files in the test set folder {self.test_set}",
                f"labels are {', '.join(KEYWORDS_12)}, {UNKNOWN}, {SILENCE}",
            )


def _row(path: Path, label: str, split: str) -> dict[str, Any]:
    speaker = path.name.split("_nohash_")[0] if "_nohash_" in path.name else ""
    return {"path": path, "labels": [label], "split": split, "speaker": speaker}
