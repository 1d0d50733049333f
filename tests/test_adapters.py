"""musicrep.data.adapters: public-dataset layouts -> manifests, on miniature copies of each layout."""

from __future__ import annotations

import csv
import importlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicrep.cli import main
from musicrep.data import Manifest
from musicrep.data.adapters import ADAPTERS, adapter_class, list_adapters, prepare
from musicrep.errors import ConfigError, ManifestError

SR = 8000


def _audio(path: Path, seconds: float = 0.1, fmt: str | None = None) -> Path:
    """A short noise file in any format libsndfile writes (WAV, AU, MP3...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(len(str(path))).uniform(-0.1, 0.1, int(seconds * SR))
    sf.write(path, noise.astype(np.float32), SR, format=fmt)
    return path


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _by_name(manifest: Manifest) -> dict[str, object]:
    return {r.path.name if r.start is None else f"{r.path.name}@{r.start:g}": r for r in manifest}


# ------------------------------------------------------------------------------ GTZAN

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


@pytest.fixture(scope="module")
def gtzan(tmp_path_factory) -> Path:
    """Kaggle-style layout, 10 clips per genre; ``rock`` as .au as in the Marsyas tarball."""
    root = tmp_path_factory.mktemp("gtzan")
    for genre in GENRES:
        for n in range(10):
            ext, fmt = (".au", "AU") if genre == "rock" else (".wav", "WAV")
            _audio(root / "Data" / "genres_original" / genre / f"{genre}.{n:05d}{ext}", fmt=fmt)
    return root


def test_gtzan_default_split_is_stratified_and_seeded(gtzan, tmp_path):
    result = prepare("gtzan", gtzan, tmp_path / "a.csv")
    m = result.manifest
    assert len(m) == 100 and m.vocabulary() == list(GENRES)
    for genre in GENRES:  # 80/10/10 in every genre
        assert [result.counts[s][genre] for s in ("train", "valid", "test")] == [8, 1, 1]
    assert all(r.labels == (r.path.name.split(".")[0],) for r in m)
    again = prepare("gtzan", gtzan, tmp_path / "b.csv")
    assert [(r.path, r.split) for r in again.manifest] == [(r.path, r.split) for r in m]
    other = prepare("gtzan", gtzan, tmp_path / "c.csv", seed=1)
    assert [r.split for r in other.manifest] != [r.split for r in m]
    ratios = prepare("gtzan", gtzan, tmp_path / "d.csv", ratios=(0.6, 0.2, 0.2))
    assert ratios.counts["test"]["jazz"] == 2 and ratios.counts["train"]["jazz"] == 6


def test_gtzan_split_lists_are_honoured(gtzan, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text(
        "blues/blues.00000.wav\nblues/blues.00001.wav\nrock/rock.00003.wav\n"
    )
    (lists / "valid_filtered.txt").write_text("jazz/jazz.00002.wav\n")
    # a missing clip is reported; the .au clip matches a .wav entry
    (lists / "test_filtered.txt").write_text("pop/pop.00004.wav\npop/pop.00099.wav\n")
    result = prepare("gtzan", gtzan, tmp_path / "m.csv", split_lists=[lists])
    splits = {r.path.name: r.split for r in result.manifest}
    assert splits == {
        "blues.00000.wav": "train",
        "blues.00001.wav": "train",
        "rock.00003.au": "train",
        "jazz.00002.wav": "valid",
        "pop.00004.wav": "test",
    }
    assert [s.path.name for s in result.skipped] == ["pop.00099.wav"]
    assert any("95 clips are in no split list" in n for n in result.notes)
    # the files may also be given one by one
    files = [lists / "train_filtered.txt", lists / "test_filtered.txt"]
    only = prepare("gtzan", gtzan, tmp_path / "n.csv", split_lists=files)
    assert only.manifest.splits() == ["train", "test"]


def test_gtzan_overlapping_lists_are_an_error(gtzan, tmp_path):
    (tmp_path / "train.txt").write_text("blues/blues.00000.wav\n")
    (tmp_path / "test.txt").write_text("blues/blues.00000.au\n")
    with pytest.raises(ConfigError, match="both the train and the test list"):
        prepare("gtzan", gtzan, tmp_path / "m.csv", split_lists=[tmp_path])


def test_gtzan_known_corrupt_file_is_skipped(tmp_path):
    for genre in ("jazz", "blues"):
        for n in (53, 54, 55):
            _audio(tmp_path / "genres" / genre / f"{genre}.{n:05d}.wav")
    (tmp_path / "genres" / "jazz" / "jazz.00054.wav").write_bytes(b"\x00" * 100)  # Kaggle's
    result = prepare("gtzan", tmp_path)  # without check_audio
    assert len(result.manifest) == 5
    assert "jazz.00054.wav" not in {r.path.name for r in result.manifest}
    assert [s.path.name for s in result.skipped] == ["jazz.00054.wav"]
    assert "known corrupt" in result.skipped[0].reason
    assert result.manifest_path == tmp_path / "musicrep_gtzan.csv"
    assert result.skipped_path.read_text().count("jazz.00054.wav") == 1


# ------------------------------------------------------------------------------ UrbanSound8K

US8K_HEADER = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
US8K_CLASSES = ["dog_bark", "siren", "drilling"]


@pytest.fixture(scope="module")
def us8k(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("us8k")
    base = root / "UrbanSound8K"
    rows = []
    for fold in range(1, 11):
        for c, cls in enumerate(US8K_CLASSES[: 1 + fold % 3]):
            name = f"{100 + fold}-{c}-0-0.wav"
            _audio(base / "audio" / f"fold{fold}" / name)
            rows.append([name, 100 + fold, 12.5, 16.5, 1 + c % 2, fold, c, cls])
    _csv(base / "metadata" / "UrbanSound8K.csv", US8K_HEADER, rows)
    return root


def test_us8k_folds_one_to_ten_all_in_train(us8k):
    result = prepare("us8k", us8k)  # the alias, root = the parent of UrbanSound8K/
    m = result.manifest
    assert result.manifest_path == us8k / "musicrep_urbansound8k.csv"
    assert m.folds() == list(range(1, 11)) and m.splits() == ["train"]
    assert all(r.path.parent.name == f"fold{r.fold}" for r in m)
    row = _by_name(m)["101-1-0-0.wav"]
    assert row.labels == ("siren",) and row.extra["fsID"] == "101" and row.extra["salience"] == "2"
    assert row.start is None  # the CSV's start/end are positions in the source recording
    assert [len(m.fold(k)) for k in (1, 2, 3)] == [2, 3, 1]
    table = result.table()
    assert "fold 10" in table and "dog_bark" in table


def test_us8k_fixed_partition_by_test_fold(us8k, tmp_path):
    m = prepare("urbansound8k", us8k, tmp_path / "m.csv", test_fold=10, valid_fold=9).manifest
    # the fold moves out of the fold column, so evaluators use the split, not the folds
    assert m.folds() == []
    assert {r.extra["official_fold"] for r in m.split("test")} == {"10"}
    assert {r.extra["official_fold"] for r in m.split("valid")} == {"9"}
    assert {int(r.extra["official_fold"]) for r in m.split("train")} == set(range(1, 9))
    with pytest.raises(ConfigError, match="folds are numbered 1..10"):
        prepare("us8k", us8k, tmp_path / "x.csv", test_fold=11)


def test_us8k_bad_fold_names_the_csv_line(tmp_path):
    _csv(
        tmp_path / "metadata" / "UrbanSound8K.csv",
        US8K_HEADER,
        [["a.wav", 1, 0, 1, 1, 1, 0, "siren"], ["b.wav", 1, 0, 1, 1, "x", 0, "siren"]],
    )
    (tmp_path / "audio").mkdir()
    with pytest.raises(ManifestError, match=r"UrbanSound8K\.csv:3: fold 'x'"):
        prepare("us8k", tmp_path)


# ------------------------------------------------------------------------------ NSynth

FAMILIES = [
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
]


def _nsynth_split(folder: Path, per_family: int, families: list[str]) -> None:
    examples = {}
    for f in families:
        for k in range(per_family):
            note = f"{f}_acoustic_{k:03d}-060-100"
            examples[note] = {
                "note_str": note,
                "instrument_family_str": f,
                "instrument_str": f"{f}_acoustic_{k:03d}",
                "instrument_source_str": "acoustic",
                "pitch": 60,
                "velocity": 100,
            }
            _audio(folder / "audio" / f"{note}.wav", seconds=0.02)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "examples.json").write_text(json.dumps(examples))


@pytest.fixture(scope="module")
def nsynth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nsynth")
    _nsynth_split(root / "nsynth-train", 6, FAMILIES)
    no_lead = [f for f in FAMILIES if f != "synth_lead"]  # as in NSynth: none in valid/test
    _nsynth_split(root / "nsynth-valid", 1, no_lead)
    _nsynth_split(root / "nsynth-test", 2, no_lead)
    return root


def test_nsynth_official_splits_without_synth_lead(nsynth, tmp_path):
    result = prepare("nsynth", nsynth, tmp_path / "m.csv")
    m = result.manifest
    assert len(m.vocabulary()) == 10 and "synth_lead" not in m.vocabulary()
    assert {s: sum(c.values()) for s, c in result.counts.items()} == {
        "train": 60,
        "valid": 10,
        "test": 20,
    }
    assert any("6 synth_lead notes left out" in n for n in result.notes)
    row = m.split("test")[0]
    assert row.extra["source"] == "acoustic" and row.extra["pitch"] == "60"
    with_lead = prepare("nsynth", nsynth, tmp_path / "n.csv", include_synth_lead=True)
    assert with_lead.counts["train"]["synth_lead"] == 6
    assert with_lead.counts["test"]["synth_lead"] == 0


def test_nsynth_balanced_subset_is_per_family_and_deterministic(nsynth, tmp_path):
    a = prepare("nsynth", nsynth, tmp_path / "a.csv", balanced=4, seed=3)
    assert set(a.counts["train"].values()) == {4}  # 4 per family, 10 families
    assert sum(a.counts["test"].values()) == 20  # test kept whole
    b = prepare("nsynth", nsynth, tmp_path / "b.csv", balanced=4, seed=3)
    train = sorted(r.path.name for r in a.manifest.split("train"))
    assert sorted(r.path.name for r in b.manifest.split("train")) == train

    def train_notes(seed: int) -> tuple[str, ...]:
        result = prepare("nsynth", nsynth, tmp_path / f"{seed}.csv", balanced=4, seed=seed)
        return tuple(sorted(r.path.name for r in result.manifest.split("train")))

    seeds = {train_notes(s) for s in range(4)}
    assert len(seeds) > 1  # the seed changes the selection
    big = prepare("nsynth", nsynth, tmp_path / "c.csv", balanced=50)
    assert set(big.counts["train"].values()) == {6}
    assert any("fewer than --balanced 50" in n for n in big.notes)


def test_nsynth_subset_list_json_and_text(nsynth, tmp_path):
    chosen = {"bass": ["bass_acoustic_001-060-100"], "vocal": ["vocal_acoustic_005-060-100"]}
    (tmp_path / "coala.json").write_text(json.dumps(chosen))
    m = prepare("nsynth", nsynth, tmp_path / "a.csv", subset_list=tmp_path / "coala.json").manifest
    assert sorted(r.path.stem for r in m.split("train")) == sorted(sum(chosen.values(), []))
    (tmp_path / "ids.txt").write_text("guitar_acoustic_000-060-100.wav\nnot_a_note\n")
    result = prepare(
        "nsynth", nsynth, tmp_path / "b.csv", subset_list=tmp_path / "ids.txt", splits=["train"]
    )
    assert [r.path.stem for r in result.manifest] == ["guitar_acoustic_000-060-100"]
    assert any("not_a_note" in n for n in result.notes)
    with pytest.raises(ConfigError, match="exclusive"):
        prepare("nsynth", nsynth, balanced=2, subset_list=tmp_path / "ids.txt")


# ------------------------------------------------------------------------------ MagnaTagATune

MTAT_TAGS = ["guitar", "no vocals", "rock", "piano", "female", "techno"]
MTAT_CLIPS = [  # clip_id, mp3_path, tags
    (2, "0/a-b-01-x-0-29.mp3", {"guitar", "rock"}),
    (6, "0/a-b-01-x-30-59.mp3", {"guitar", "no vocals"}),
    (10, "a/c-d-02-y-0-29.mp3", {"guitar", "piano"}),
    (11, "a/c-d-02-y-30-59.mp3", {"techno"}),  # only the rarest tag
    (14, "c/e-f-03-z-0-29.mp3", {"rock", "no vocals"}),
    (20, "d/g-h-04-w-0-29.mp3", {"guitar", "female"}),
    (23, "f/i-j-05-v-0-29.mp3", {"no vocals", "rock"}),
    (30, "f/i-j-05-v-30-59.mp3", set()),
]


@pytest.fixture(scope="module")
def mtat(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mtat")
    with open(root / "annotations_final.csv", "w", newline="") as fh:
        # the official file is tab-separated with every cell quoted
        writer = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["clip_id", *MTAT_TAGS, "mp3_path"])
        for clip_id, mp3, tags in MTAT_CLIPS:
            writer.writerow([clip_id, *[int(t in tags) for t in MTAT_TAGS], mp3])
    for _, mp3, _ in MTAT_CLIPS:
        _audio(root / "mp3" / mp3, seconds=0.05, fmt="MP3")
    return root


def test_mtat_top_n_and_directory_split(mtat, tmp_path):
    result = prepare("mtat", mtat, tmp_path / "m.csv", top=3)
    m = result.manifest
    # frequencies: guitar 4, rock 3, no vocals 3, piano 1, female 1, techno 1
    assert m.vocabulary() == ["guitar", "no vocals", "rock"] and m.is_multilabel
    rows = _by_name(m)
    assert rows["a-b-01-x-0-29.mp3"].labels == ("guitar", "rock")
    assert {r.path.name: r.split for r in m} == {
        "a-b-01-x-0-29.mp3": "train",
        "a-b-01-x-30-59.mp3": "train",
        "c-d-02-y-0-29.mp3": "train",
        "e-f-03-z-0-29.mp3": "valid",
        "g-h-04-w-0-29.mp3": "test",
        "i-j-05-v-0-29.mp3": "test",
    }  # clips 11 (techno only) and 30 (no tag) have none of the top 3
    assert any("2 clips have none of the 3 tags" in n for n in result.notes)
    assert rows["g-h-04-w-0-29.mp3"].extra["clip_id"] == "20"
    kept = prepare("mtat", mtat, tmp_path / "k.csv", top=3, keep_untagged=True).manifest
    assert len(kept) == 8
    Manifest.read(tmp_path / "m.csv", check_files=True)  # real mp3 files, paths resolve


def test_mtat_tag_file_matches_camel_case(mtat, tmp_path):
    (tmp_path / "tags.txt").write_text("noVocals\ntechno\n")
    m = prepare("mtat", mtat, tmp_path / "m.csv", tags=tmp_path / "tags.txt").manifest
    assert m.vocabulary() == ["no vocals", "techno"]
    (tmp_path / "bad.txt").write_text("guitarr\n")
    with pytest.raises(ConfigError, match="did you mean guitar"):
        prepare("mtat", mtat, tags=tmp_path / "bad.txt")


def test_mtat_split_lists_npy_and_text(mtat, tmp_path):
    lists = tmp_path / "split"
    lists.mkdir()
    # minzwon/sota-music-tagging-models style: "index<TAB>mp3_path" string arrays
    np.save(lists / "train.npy", np.array(["0\t0/a-b-01-x-0-29.mp3", "3\ta/c-d-02-y-30-59.mp3"]))
    np.save(lists / "valid.npy", np.array(["4\tc/e-f-03-z-0-29.mp3"]))
    (lists / "test.txt").write_text("mp3/f/i-j-05-v-30-59.mp3\n20\n0/missing.mp3\n")  # path, id
    result = prepare("mtat", mtat, tmp_path / "m.csv", split_lists=[lists], top=3)
    m = result.manifest
    assert {r.extra["clip_id"]: r.split for r in m} == {
        "2": "train",
        "11": "train",
        "14": "valid",
        "30": "test",
        "20": "test",
    }
    assert _by_name(m)["i-j-05-v-30-59.mp3"].labels == ()  # listed clips are kept untagged
    assert [s.path.name for s in result.skipped] == ["missing.mp3"]
    assert any("3 clips are in no split list" in n for n in result.notes)


def test_mtat_empty_mp3_is_skipped_with_check_audio(tmp_path):
    # folders 0..f beside the CSV (no mp3/ folder); one empty mp3, as in the official archive
    (tmp_path / "annotations_final.csv").write_text(
        "clip_id\tguitar\tmp3_path\n1\t1\t0/a-b-01-x-0-29.mp3\n2\t1\td/c-d-02-y-0-29.mp3\n"
    )
    _audio(tmp_path / "0" / "a-b-01-x-0-29.mp3", seconds=0.05, fmt="MP3")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "c-d-02-y-0-29.mp3").write_bytes(b"")
    assert len(prepare("mtat", tmp_path).manifest) == 2
    result = prepare("mtat", tmp_path, check_audio=True)
    assert [r.path.name for r in result.manifest] == ["a-b-01-x-0-29.mp3"]
    assert [s.path.name for s in result.skipped] == ["c-d-02-y-0-29.mp3"]
    assert result.skipped[0].reason.startswith("unreadable")


# ------------------------------------------------------------------------------ Speech Commands

SC_WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "cat", "dog"]


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sc") / "speech_commands_v0.02"
    for word in SC_WORDS:
        for speaker in ("aaaa1111", "bbbb2222", "cccc3333"):
            _audio(root / word / f"{speaker}_nohash_0.wav", seconds=0.05)
    (root / "validation_list.txt").write_text(
        "".join(f"{w}/bbbb2222_nohash_0.wav\n" for w in SC_WORDS)
    )
    (root / "testing_list.txt").write_text(
        "".join(f"{w}/cccc3333_nohash_0.wav\n" for w in SC_WORDS)
    )
    _audio(root / "_background_noise_" / "running_tap.wav", seconds=2.5)
    _audio(root / "_background_noise_" / "white_noise.wav", seconds=2.0)
    (root / "_background_noise_" / "README.md").write_text("noise")
    return root


def test_speechcommands_lists_honoured_and_noise_excluded(speech, tmp_path):
    result = prepare("speechcommands", speech.parent, tmp_path / "m.csv", keywords="all")
    m = result.manifest
    assert m.vocabulary() == sorted(SC_WORDS)
    assert all("_background_noise_" not in r.path.parts for r in m)
    speaker_split = {"aaaa1111": "train", "bbbb2222": "valid", "cccc3333": "test"}
    assert all(r.split == speaker_split[r.extra["speaker"]] for r in m)
    assert all(r.labels == (r.path.parent.name,) for r in m)
    assert any(
        "found 12 word folders, not 35" in n
        for n in prepare("gsc", speech, tmp_path / "n.csv", keywords="35").notes
    )


def test_speechcommands_twelve_classes_with_silence_windows(speech, tmp_path):
    result = prepare("speechcommands", speech, tmp_path / "m.csv", keywords="12")
    m = result.manifest
    assert m.vocabulary() == sorted(["_silence_", "_unknown_", *SC_WORDS[:10]])
    assert {r.path.parent.name for r in m if r.labels == ("_unknown_",)} == {"cat", "dog"}
    silence = [r for r in m if r.labels == ("_silence_",)]
    # 1-s windows every 0.5 s, the last window ending before the file does (tfds rule)
    assert sorted((r.path.name, r.start, r.split) for r in silence) == [
        ("running_tap.wav", 0.0, "valid"),
        ("running_tap.wav", 0.5, "valid"),
        ("running_tap.wav", 1.0, "valid"),
        ("white_noise.wav", 0.0, "train"),
        ("white_noise.wav", 0.5, "train"),
    ]
    assert all(r.duration == 1.0 for r in silence)
    assert result.counts["test"]["_silence_"] == 0
    # the official 12-class test set replaces testing_list.txt
    test_set = tmp_path / "speech_commands_test_set_v0.02"
    for label in ("yes", "_silence_", "_unknown_"):
        _audio(test_set / label / f"x_{label}.wav", seconds=0.05)
    official = prepare(
        "speechcommands", speech, tmp_path / "t.csv", keywords="12", test_set=test_set
    ).manifest.split("test")
    assert sorted(r.labels[0] for r in official) == ["_silence_", "_unknown_", "yes"]
    assert all(test_set in r.path.parents for r in official)
    with pytest.raises(ConfigError, match="--keywords 12"):
        prepare("speechcommands", speech, test_set=test_set)


# ------------------------------------------------------------------------------ ESC-50

ESC_HEADER = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]


def _esc50(root: Path, unreadable: str | None = None) -> Path:
    base = root / "ESC-50-master"
    rows = []
    for fold in range(1, 6):
        for target, (category, esc10) in enumerate([("dog", True), ("rain", True), ("fan", False)]):
            name = f"{fold}-{100 + target}-A-{target}.wav"
            _audio(base / "audio" / name, seconds=0.05)
            rows.append([name, fold, target, category, esc10, 100 + target, "A"])
    if unreadable:
        (base / "audio" / unreadable).write_bytes(b"<html>not audio</html>")
    _csv(base / "meta" / "esc50.csv", ESC_HEADER, rows)
    return base


def test_esc50_folds_and_esc10(tmp_path):
    base = _esc50(tmp_path)
    result = prepare("esc50", tmp_path)
    m = result.manifest
    assert m.folds() == [1, 2, 3, 4, 5] and m.splits() == ["train"] and len(m) == 15
    assert all(r.path.name.startswith(f"{r.fold}-") for r in m)
    assert _by_name(m)["2-101-A-1.wav"].labels == ("rain",)
    esc10 = prepare("esc50", base, tmp_path / "esc10.csv", esc10=True).manifest
    assert esc10.vocabulary() == ["dog", "rain"] and len(esc10) == 10
    # the written manifest: paths relative to its folder, reads back equal
    text = (tmp_path / "musicrep_esc50.csv").read_text()
    assert "ESC-50-master/audio/1-100-A-0.wav" in text and str(tmp_path) not in text
    assert Manifest.read(tmp_path / "musicrep_esc50.csv", check_files=True) == m


def test_check_audio_skips_unreadable_and_missing_files(tmp_path):
    base = _esc50(tmp_path, unreadable="3-100-A-0.wav")
    (base / "audio" / "4-101-A-1.wav").unlink()  # in the CSV, not on disk
    plain = prepare("esc50", base, tmp_path / "plain.csv")
    assert [(s.path.name, s.reason) for s in plain.skipped] == [("4-101-A-1.wav", "file not found")]
    checked = prepare("esc50", base, tmp_path / "checked.csv", check_audio=True)
    names = {r.path.name for r in checked.manifest}
    assert len(names) == 13 and "3-100-A-0.wav" not in names
    reasons = {s.path.name: s.reason for s in checked.skipped}
    assert reasons["3-100-A-0.wav"].startswith("unreadable: not a recognised audio file")
    assert checked.skipped_path.read_text().count("\n") == 2
    # a clean run to the same manifest removes the stale list of skipped files
    _audio(base / "audio" / "4-101-A-1.wav")
    _audio(base / "audio" / "3-100-A-0.wav")
    clean = prepare("esc50", base, tmp_path / "checked.csv", check_audio=True)
    assert not clean.skipped and clean.skipped_path is None and len(clean.manifest) == 15
    assert not (tmp_path / "checked.csv.skipped.txt").exists()


# ------------------------------------------------------------------------------ errors, registry


@pytest.mark.parametrize(
    "name, missing",
    [
        ("gtzan", "genre folders"),
        ("urbansound8k", "metadata/UrbanSound8K.csv"),
        ("nsynth", "nsynth-train/"),
        ("magnatagatune", "annotations_final.csv"),
        ("speechcommands", "validation_list.txt"),
        ("esc50", "meta/esc50.csv"),
    ],
)
def test_wrong_root_names_the_missing_file_and_shows_the_layout(tmp_path, name, missing):
    (tmp_path / "something_else").mkdir()
    with pytest.raises(ConfigError) as info:
        prepare(name, tmp_path)
    assert missing in info.value.message and str(tmp_path) in info.value.message
    assert adapter_class(name).layout in info.value.hint


def test_missing_audio_folder_and_root(tmp_path):
    _csv(tmp_path / "meta" / "esc50.csv", ESC_HEADER, [["1-1-A-0.wav", 1, 0, "dog", True, 1, "A"]])
    with pytest.raises(ConfigError, match="audio/ folder not found"):
        prepare("esc50", tmp_path)
    (tmp_path / "audio").mkdir()
    with pytest.raises(ConfigError, match=r"no usable audio files .*1-1-A-0.wav: file not found"):
        prepare("esc50", tmp_path)
    with pytest.raises(ConfigError, match="root folder not found"):
        prepare("esc50", tmp_path / "nope")


def test_registry_names_aliases_and_options(tmp_path):
    assert list_adapters() == [
        "esc50",
        "gtzan",
        "magnatagatune",
        "nsynth",
        "speechcommands",
        "urbansound8k",
        "voxceleb",
    ]
    assert adapter_class("US8K") is adapter_class("urbansound8k")
    assert adapter_class("mtat").name == "magnatagatune"
    with pytest.raises(ConfigError, match="valid names"):
        adapter_class("audioset")
    with pytest.raises(ConfigError, match="unknown option"):
        prepare("esc50", tmp_path, balanced=3)


@pytest.mark.parametrize("name", list_adapters())
def test_documented_layout_matches_the_checked_one(name):
    """The layout shown in errors and --help is the one in the module docstring."""
    cls = ADAPTERS.get(name)
    module = importlib.import_module(cls.__module__)
    assert cls.layout and cls.layout in module.__doc__


# ------------------------------------------------------------------------------ CLI


def test_cli_prepare_esc50_prints_the_count_table(tmp_path, capsys):
    base = _esc50(tmp_path, unreadable="5-102-A-2.wav")
    code = main(["data", "prepare", "esc50", "--root", str(base), "--check-audio"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "musicrep_esc50.csv: 14 rows, 3 classes" in out
    split_table, fold_table = out.split("\n\n")[:2]
    rows = {line.split()[0]: line.split()[1:] for line in split_table.splitlines()[2:]}
    assert rows["dog"] == ["5", "5"] and rows["fan"] == ["4", "4"]  # train, total
    folds = {line.split()[0]: line.split()[1:] for line in fold_table.splitlines()[2:]}
    assert folds["fan"] == ["1", "1", "1", "1", "0", "4"] and folds["(rows)"][-1] == "14"
    assert f"manifest: {base / 'musicrep_esc50.csv'}" in out
    assert "1 file(s) skipped" in err and "5-102-A-2.wav" in err
    counts = Counter(r.fold for r in Manifest.read(base / "musicrep_esc50.csv"))
    assert counts == {1: 3, 2: 3, 3: 3, 4: 3, 5: 2}


def test_cli_alias_options_and_errors(us8k, tmp_path, capsys):
    out_csv = tmp_path / "us8k.csv"
    assert (
        main(
            [
                "data",
                "prepare",
                "us8k",
                "--root",
                str(us8k),
                "--out",
                str(out_csv),
                "--test-fold",
                "1",
            ]
        )
        == 0
    )
    assert {r.extra["official_fold"] for r in Manifest.read(out_csv).split("test")} == {"1"}
    capsys.readouterr()
    assert main(["data", "prepare", "esc50", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "meta/esc50.csv not found" in err and "hint:" in err
