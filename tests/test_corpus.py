"""The built-in corpus dataset: shipped note events, clip plans, rendering, manifests, CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicrep.cli import main
from musicrep.data import corpus, synth
from musicrep.data.manifest import Manifest

SR = 16000
SECONDS = 2.0
# 5 clips per style -> 3/1/1 clips in train/valid/test for each style
BUILD = dict(clips=15, seconds=SECONDS, seed=0, sr=SR, solo_fraction=0.4, progress=False)
STYLES3 = ("bach", "fiddle", "folk")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, corpus.CorpusSummary]:
    out = tmp_path_factory.mktemp("corpus") / "a"
    return out, corpus.build_corpus(out, styles=STYLES3, **BUILD)


# ------------------------------------------------------------------------------------- asset


def test_shipped_asset_has_six_plus_styles_of_real_pieces():
    pieces = corpus.load_pieces()
    per_style = {s: [p for p in pieces if p.style == s] for s in {p.style for p in pieces}}
    assert len(per_style) >= 6
    assert all(len(ps) >= 40 for ps in per_style.values()), {
        s: len(ps) for s, ps in per_style.items()
    }
    assert len({p.id for p in pieces}) == len(pieces)
    assert corpus.ASSET_PATH.stat().st_size < 3e6
    for p in pieces:
        assert p.mode in ("major", "minor") and p.num_parts >= 1 and p.length_ql > 0
        for part in p.parts:
            assert len(part.pitch) > 0
            assert part.pitch.min() >= 0 and part.pitch.max() <= 127
            assert np.all(part.duration > 0)
            assert np.all(part.onset >= 0) and np.all(part.onset < p.length_ql)
            assert np.all(np.diff(part.onset) >= 0)
    chorales = per_style["bach"]
    assert np.median([p.num_parts for p in chorales]) == 4  # SATB
    assert all(p.num_parts == 1 for p in per_style["fiddle"] + per_style["folk"])


def test_load_pieces_filters_styles_and_rejects_unknown():
    assert {p.style for p in corpus.load_pieces(styles=["bach"])} == {"bach"}
    with pytest.raises(corpus.ConfigError, match="jazz"):
        corpus.load_pieces(styles=["jazz"])


def test_extract_piece_merges_ties_splits_chords_and_reads_marks():
    from music21 import chord, meter, note, stream, tempo, tie

    top, bass = stream.Part(), stream.Part()
    m1, m2 = stream.Measure(number=1), stream.Measure(number=2)
    m1.append([meter.TimeSignature("3/4"), tempo.MetronomeMark(number=90)])
    a = note.Note("A4", quarterLength=2.0)
    a.tie = tie.Tie("start")
    m1.append([note.Note("C5", quarterLength=1.0), a])
    b = note.Note("A4", quarterLength=1.0)
    b.tie = tie.Tie("stop")
    m2.append([b, note.Note("E5", quarterLength=2.0)])
    top.append([m1, m2])
    n1, n2 = stream.Measure(number=1), stream.Measure(number=2)
    n1.append([meter.TimeSignature("3/4"), chord.Chord(["A2", "E3"], quarterLength=3.0)])
    n2.append(chord.Chord(["A2", "C3", "E3"], quarterLength=3.0))
    bass.append([n1, n2])
    score = stream.Score([top, bass])

    piece = corpus.extract_piece(score, collection="bach", source="test/x.mxl")
    assert piece.style == "bach" and piece.time_signature == "3/4"
    assert piece.beat_ql == 1.0 and piece.bar_ql == 3.0 and piece.meter == "triple"
    assert piece.quarter_bpm == 90.0 and piece.mode == "minor"
    np.testing.assert_array_equal(piece.parts[0].pitch, [72, 69, 76])  # tied A4 merged
    np.testing.assert_allclose(piece.parts[0].onset, [0, 1, 4])
    np.testing.assert_allclose(piece.parts[0].duration, [1, 3, 2])
    np.testing.assert_array_equal(piece.parts[1].pitch, [45, 52, 45, 48, 52])
    np.testing.assert_allclose(piece.measure_starts, [0, 3])
    assert piece.length_ql == 6.0

    short = corpus.extract_piece(score, collection="bach", source="t.mxl", max_quarters=2)
    assert short.length_ql == 3.0  # rounded up to the measure boundary
    np.testing.assert_allclose(short.parts[0].duration, [1, 2])  # cut at the excerpt end


def test_save_and_load_round_trip(tmp_path):
    pieces = corpus.load_pieces(styles=["folk"])[:3]
    path = tmp_path / "events.npz"
    corpus.save_pieces(pieces, path)
    back = corpus.load_pieces(path)
    assert [p.metadata() for p in back] == [p.metadata() for p in pieces]
    for a, b in zip(back, pieces):
        for pa, pb in zip(a.parts, b.parts):
            np.testing.assert_array_equal(pa.pitch, pb.pitch)
            np.testing.assert_allclose(pa.onset, pb.onset, atol=1e-5)


# ------------------------------------------------------------------------------------- labels


def test_meter_tempo_and_texture_classes():
    assert [corpus.meter_class(t) for t in ("2/2", "4/4", "6/8", "12/8")] == ["duple"] * 4
    assert [corpus.meter_class(t) for t in ("3/4", "3/8", "9/8")] == ["triple"] * 3
    assert corpus.meter_class("5/4") == "other"
    assert [corpus.tempo_class(b) for b in (79.9, 80, 115.9, 116)] == [
        "slow",
        "medium",
        "medium",
        "fast",
    ]

    def part(pitch, onset, dur):
        return synth.Part("flute", pitch, onset, dur, np.full(len(pitch), 0.8))

    line = part([60, 62, 64, 65], [0, 0.5, 1.0, 1.5], [0.5] * 4)
    assert corpus.texture([line], 2.0) == "monophonic"
    octave = part([72, 74, 76, 77], [0, 0.5, 1.0, 1.5], [0.5] * 4)
    assert corpus.texture([line, octave], 2.0) == "monophonic"  # doubling is not polyphony
    third = part([64, 65, 67, 69], [0, 0.5, 1.0, 1.5], [0.5] * 4)
    assert corpus.texture([line, third], 2.0) == "polyphonic"
    brief = part([64], [0.0], [0.1])  # overlaps for 0.1 s < POLYPHONY_MIN_SECONDS
    assert corpus.texture([line, brief], 2.0) == "monophonic"


def test_window_repeats_a_short_excerpt():
    p = corpus.PartNotes(np.array([60, 62], np.int16), np.array([0.0, 2.0]), np.array([2.0, 2.0]))
    pitch, onset, dur, pos = corpus._window(p, start=2.0, length=6.0, period=4.0)
    np.testing.assert_array_equal(pitch, [62, 60, 62])
    np.testing.assert_allclose(onset, [0, 2, 4])
    np.testing.assert_allclose(dur, [2, 2, 2])
    np.testing.assert_allclose(pos, [2, 0, 2])  # positions inside the excerpt, for accents


# ------------------------------------------------------------------------------------- splits


def test_splits_keep_groups_together_and_stratify_by_style():
    pieces = corpus.load_pieces()
    splits = corpus.assign_splits(pieces, seed=0)
    assert set(splits) == {p.id for p in pieces}
    group_splits: dict[str, set[str]] = {}
    for p in pieces:
        group_splits.setdefault(p.group, set()).add(splits[p.id])
    assert all(len(s) == 1 for s in group_splits.values())
    for style in {p.style for p in pieces}:
        ids = [p.id for p in pieces if p.style == style]
        frac = np.mean([splits[i] == "train" for i in ids])
        assert 0.6 <= frac <= 0.8, (style, frac)
        assert {splits[i] for i in ids} == set(corpus.SPLITS)
    other = corpus.assign_splits(pieces, seed=1)
    assert other != splits
    assert corpus.assign_splits(pieces, seed=0) == splits


def test_plans_are_balanced_and_deterministic():
    pieces = corpus.load_pieces()
    plans = corpus.plan_clips(pieces, 140, 4.0, seed=3, solo_fraction=0.5)
    assert plans == corpus.plan_clips(pieces, 140, 4.0, seed=3, solo_fraction=0.5)
    assert plans != corpus.plan_clips(pieces, 140, 4.0, seed=4, solo_fraction=0.5)
    styles = {p.style for p in pieces}
    counts = {s: sum(p.style == s for p in plans) for s in styles}
    assert max(counts.values()) - min(counts.values()) <= 1
    for s in styles:  # half of each style's clips are solo (up to rounding in each split)
        n_solo = sum(p.style == s and p.kind == "solo" for p in plans)
        assert abs(n_solo - counts[s] / 2) <= 1.5
    solo = [p for p in plans if p.kind == "solo"]
    assert all(len(p.instruments) == 1 for p in solo)
    per_inst = np.bincount(
        [synth.list_instruments().index(p.instruments[0]) for p in solo],
        minlength=len(synth.list_instruments()),
    )
    assert per_inst.max() - per_inst.min() <= 3  # cycled through all timbres in each split
    splits = corpus.assign_splits(pieces, seed=3)
    assert all(splits[p.piece_id] == p.split for p in plans)
    assert {p.tempo_source for p in plans} >= {"style"}


def test_unknown_names_are_config_errors(tmp_path):
    with pytest.raises(corpus.ConfigError, match="kazoo"):
        corpus.build_corpus(tmp_path, clips=2, instruments=["kazoo"], progress=False)
    with pytest.raises(corpus.ConfigError, match="renderer"):
        corpus.build_corpus(tmp_path, clips=2, renderer="timidity", progress=False)
    with pytest.raises(corpus.ConfigError, match="style"):
        corpus.build_corpus(tmp_path, clips=2, styles=["jazz"], progress=False)


# ------------------------------------------------------------------------------------- builds


def test_build_writes_16k_wavs_of_the_right_length(built):
    out, summary = built
    assert summary.clips == 15 and summary.rendered == 15 and not summary.failures
    wavs = sorted((out / "audio").glob("*.wav"))
    assert len(wavs) == 15
    for w in wavs:
        audio, sr = sf.read(w, dtype="float32")
        assert sr == SR and audio.ndim == 1 and len(audio) == int(SECONDS * SR)
        assert np.sqrt(np.mean(audio**2)) > 1e-3  # not silent
        assert np.abs(audio).max() <= 1.0


def test_manifests_parse_with_valid_labels_and_piece_disjoint_splits(built):
    out, _ = built
    style = Manifest.read(out / "style.csv", check_files=True)
    inst = Manifest.read(out / "instrument.csv", check_files=True)
    tags = Manifest.read(out / "tags.csv", check_files=True)
    clips = Manifest.read(out / "clips.csv", check_files=True)
    assert len(style) == len(tags) == len(clips) == 15
    assert set(style.vocabulary()) == set(STYLES3)
    assert all(len(r.labels) == 1 for r in style) and all(len(r.labels) == 1 for r in inst)
    assert set(inst.vocabulary()) <= set(synth.list_instruments())
    kinds = {r.path: r.extra["kind"] for r in clips}
    assert {kinds[r.path] for r in inst} == {"solo"}
    assert 0 < len(inst) == sum(k == "solo" for k in kinds.values()) < 15
    valid = {
        "style": set(corpus.STYLES),
        "instrument": set(synth.list_instruments()),
        "mode": {"major", "minor"},
        "tempo": {"slow", "medium", "fast"},
        "meter": {"duple", "triple"},
        "texture": {"monophonic", "polyphonic"},
    }
    for r in tags:
        facets = [t.split(":", 1) for t in r.labels]
        assert all(v in valid[f] for f, v in facets), r.labels
        assert {f for f, _ in facets} >= {"style", "instrument", "mode", "tempo", "texture"}
    for m in (style, inst, tags, clips):
        piece_split: dict[str, set[str]] = {}
        for r in m:
            piece_split.setdefault(r.extra["piece"], set()).add(r.split)
        assert all(len(s) == 1 for s in piece_split.values())
    assert set(style.splits()) == set(corpus.SPLITS)
    # a solo melody instrument plays a single line; single-line styles stay monophonic
    for r in clips:
        family = synth.instrument_family(r.extra["instruments"].split(";")[0])
        if r.extra["kind"] == "solo" and family not in corpus.CHORDAL_FAMILIES:
            assert "texture:monophonic" in r.labels, r.extra
        if r.extra["style"] in ("fiddle", "folk"):
            assert "texture:monophonic" in r.labels, r.extra
        if r.extra["style"] == "bach" and r.extra["kind"] == "ensemble":
            assert "texture:polyphonic" in r.labels, r.extra
    text = (out / "summary.txt").read_text()
    assert "style.csv" in text and "fiddle" in text
    assert (out / "metadata.json").is_file()


def test_same_seed_gives_identical_manifests_and_audio(built, tmp_path):
    out, _ = built
    other = tmp_path / "b"
    corpus.build_corpus(other, styles=STYLES3, jobs=2, **BUILD)  # also: jobs do not matter
    for name in ("style.csv", "instrument.csv", "tags.csv", "clips.csv", "metadata.json"):
        assert (other / name).read_bytes() == (out / name).read_bytes(), name
    for w in (out / "audio").glob("*.wav"):
        assert (other / "audio" / w.name).read_bytes() == w.read_bytes()


def test_rerun_resumes_without_rerendering(built):
    out, _ = built
    wavs = sorted((out / "audio").glob("*.wav"))
    mtimes = {w: os.stat(w).st_mtime_ns for w in wavs}
    wavs[0].unlink()  # as if interrupted before this clip
    summary = corpus.build_corpus(out, styles=STYLES3, **BUILD)
    assert summary.rendered == 1 and summary.reused == 14
    for w in wavs[1:]:
        assert os.stat(w).st_mtime_ns == mtimes[w]
    assert wavs[0].is_file()


def test_cli_prints_the_table(built, capsys):
    out, _ = built
    args = ["data", "corpus", "--out", str(out), "--clips", "15", "--seconds", str(SECONDS)]
    args += ["--styles", *STYLES3, "--solo-fraction", "0.4", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "style.csv" in printed and "instrument.csv" in printed and "tags.csv" in printed
    assert "train" in printed and "fiddle" in printed and "0 rendered, 15 reused" in printed


def test_cli_fluidsynth_missing_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(synth, "fluidsynth_available", lambda soundfont=None: False)
    code = main(["data", "corpus", "--out", str(tmp_path), "--renderer", "fluidsynth"])
    assert code == 2
    err = capsys.readouterr().err
    assert "fluidsynth" in err and "apt-get install fluidsynth" in err
    assert not (tmp_path / "audio").exists()


@pytest.mark.skipif(not synth.fluidsynth_available(), reason="fluidsynth is not installed")
def test_fluidsynth_renderer_when_installed(tmp_path):
    summary = corpus.build_corpus(
        tmp_path, clips=2, seconds=1.0, styles=["fiddle"], renderer="fluidsynth", progress=False
    )
    assert summary.rendered == 2 and not summary.failures
    for w in (tmp_path / "audio").glob("*.wav"):
        audio, sr = sf.read(w, dtype="float32")
        assert sr == SR and len(audio) == SR and np.abs(audio).max() > 0.1
