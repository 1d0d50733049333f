"""COALA's tag processing (musicrep.data.tags), ``musicrep data tags`` and the corpus's free tags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musicrep.cli import main
from musicrep.data import corpus
from musicrep.data.manifest import Manifest
from musicrep.data.tags import (
    TagVocabulary,
    apply_vocabulary,
    auto_min_count,
    build_vocabulary,
    check_options,
    normalize_tags,
    tokenize,
    vocabulary_from_manifest,
)
from musicrep.errors import ConfigError


def test_tokenize_lowercases_and_keeps_alphabetic_words():
    assert tokenize("Bowed  STRINGS") == ["bowed", "strings"]
    assert tokenize("hip-hop 80s mp3 field_recording") == ["hip", "hop", "field", "recording"]
    # COALA's code: split on spaces only, so hyphenated words are lost
    assert tokenize("hip-hop beats", split_punctuation=False) == ["beats"]


def test_normalize_drops_stop_words_short_words_and_singularizes():
    tags = normalize_tags(["The Violins", "a solo violin", "strings and brass", "x", "Chorales"])
    assert tags == ["violin", "solo", "string", "brass", "chorale"]
    # the code's quirks of inflect are kept; words that are not plurals stay as they are
    assert normalize_tags(["glass", "bass", "basses", "bowed"]) == ["glass", "bass", "bowed"]
    assert normalize_tags(["violins"], singularize=False) == ["violins"]
    assert normalize_tags(["fire crackling"]) == ["crackling"]  # scikit-learn stop word
    assert normalize_tags(["fire crackling"], stop_words=[]) == ["fire", "crackling"]


def test_max_df_min_count_and_top_c():
    clips = [["music", "violin"]] * 4 + [["music", "piano"]] * 3 + [["organ"]] * 2 + [["harp"]]
    # music: 7 of 10 clips = 0.7, not more than 0.7 -> kept
    vocab = build_vocabulary(clips, max_df=0.7, min_count=1)
    assert vocab.tags == ["music", "violin", "piano", "organ", "harp"]
    assert vocab.counts == [7, 4, 3, 2, 1]
    # one more clip with "music": 8 of 11 > 0.7 -> dropped and reported
    vocab = build_vocabulary(clips + [["music"]], max_df=0.7, min_count=1)
    assert "music" not in vocab.tags and vocab.dropped_max_df == [("music", 8)]
    assert vocab.clips_without_tags == 1  # the clip that only had "music"
    # min_count and top-C (ties in alphabetical order)
    vocab = build_vocabulary(clips, max_df=1.0, min_count=3)
    assert vocab.tags == ["music", "violin", "piano"] and vocab.dropped_min_count == 2
    vocab = build_vocabulary(clips + [["organ"]], max_df=1.0, min_count=1, max_tags=3)
    assert vocab.tags == ["music", "violin", "organ"] and vocab.dropped_max_tags == 2
    assert vocab.options["min_count_rule"] == "fixed"


def test_auto_min_count_scales_with_the_data():
    assert [auto_min_count(n) for n in (10, 42, 280, 700, 1000, 189_896)] == [2, 2, 3, 7, 10, 10]
    vocab = build_vocabulary([["a" + "b" * (i % 3), "common"] for i in range(300)], max_df=1.0)
    assert vocab.options["min_count"] == 3 and vocab.options["min_count_rule"] == "auto"


def test_encode_normalizes_and_ignores_unknown_tags():
    vocab = build_vocabulary([["violins", "slow"], ["violin"], ["piano", "slow"]], min_count=1,
                             max_df=1.0)  # fmt: skip
    hot = vocab.encode(["Slow Violins", "loud"])
    assert hot.dtype == np.float32 and hot.tolist() == [1.0, 1.0, 0.0]  # slow, violin, piano
    assert vocab.process(["PIANOS", "a"]) == ["piano"]
    assert vocab.encode_many([["piano"], []]).tolist() == [[0, 0, 1], [0, 0, 0]]


def test_errors_and_options():
    with pytest.raises(ConfigError, match="no tag is left"):
        build_vocabulary([["music"], ["music"]], max_df=0.7, min_count=1)
    with pytest.raises(ConfigError, match="max_df"):
        build_vocabulary([["a"]], max_df=1.5)
    with pytest.raises(ConfigError, match="unknown tag options maxtags"):
        check_options({"maxtags": 5})


def _manifest(tmp_path):
    rows = [
        {"path": f"{i}.wav", "labels": labels, "split": split}
        for i, (labels, split) in enumerate(
            [
                (["Solo violins", "music"], "train"),
                (["violin", "slow"], "train"),
                (["Piano", "slow"], "train"),
                ("piano;music", "train"),
                (["organ"], "valid"),  # only in valid: not in the vocabulary -> dropped
                (["violin", "organ"], "valid"),
                (["the"], "test"),  # a stop word only -> dropped
                (["slow pianos"], "test"),
            ]
        )
    ]
    m = Manifest.from_rows(rows, tmp_path)
    path = tmp_path / "m.csv"
    m.write(path)
    return path


def test_vocabulary_from_train_split_and_apply(tmp_path):
    m = Manifest.read(_manifest(tmp_path))
    vocab = vocabulary_from_manifest(m, max_df=0.9, min_count=1)
    assert vocab.num_clips == 4 and "organ" not in vocab.tags
    processed, dropped = apply_vocabulary(m, vocab)
    assert [r.split for r in dropped] == ["valid", "test"]
    assert [r.labels for r in processed.split("test")] == [("piano", "slow")]
    assert len(processed) == 6 and processed.splits() == ["train", "valid", "test"]
    path = tmp_path / "v.json"
    vocab.save(path)
    again = TagVocabulary.load(path)
    assert again.tags == vocab.tags and again.counts == vocab.counts
    assert again.encode(["Violins"]).tolist() == vocab.encode(["violin"]).tolist()


def test_cli_prints_the_vocabulary_and_writes_files(tmp_path, capsys):
    path = _manifest(tmp_path)
    out, mout = tmp_path / "vocab.json", tmp_path / "processed.csv"
    code = main(["data", "tags", "--manifest", str(path), "--max-df", "0.9", "--min-count", "1",
                 "--out", str(out), "--write-manifest", str(mout)])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "violin" in text and "clips left without a tag: 0 of 4" in text
    # four tags on 2 of the 4 training clips each (ties alphabetical), "solo" on one
    assert json.loads(out.read_text())["tags"] == ["music", "piano", "slow", "violin", "solo"]
    processed = Manifest.read(mout)
    assert len(processed) == 6 and all(r.labels for r in processed)
    # max_df 0.4 drops the four (2 of 4 clips), the automatic min_count (2) drops "solo"
    assert main(["data", "tags", "--manifest", str(path), "--max-df", "0.4"]) == 2
    assert "no tag is left" in capsys.readouterr().err


# ------------------------------------------------------------------------ corpus free tags


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(out, clips=21, seconds=1.0, progress=False)
    return out


def test_corpus_writes_free_tags_of_the_clips_facts(built):
    free = Manifest.read(built / "freetags.csv", check_files=True)
    clips = Manifest.read(built / "clips.csv")
    assert [(r.path, r.split) for r in free] == [(r.path, r.split) for r in clips]
    assert all(r.labels for r in free)
    assert free.is_multilabel and len(free.vocabulary()) > 20
    # instrument words only for instruments that are heard in the clip
    word_to_instruments: dict[str, set[str]] = {}
    for name, entries in corpus.FREE_TAG_INSTRUMENT_WORDS.items():
        for words, _ in entries:
            for w in words.split("|"):
                word_to_instruments.setdefault(w.lower(), set()).add(name)
    shared = {"strings", "string", "voices", "vocal"}  # also family words
    for f, c in zip(free, clips):
        heard = set(c.extra["instruments"].split(";"))
        for tag in f.labels:
            owners = word_to_instruments.get(tag.lower())
            if owners and tag.lower() not in shared:
                assert owners & heard, (tag, heard)
        lower = {t.lower() for t in f.labels}
        assert not ({"fast", "upbeat"} & lower and c.extra["tempo"] != "fast"), (lower, c.extra)
        assert not ("slow" in lower and c.extra["tempo"] != "slow")
        assert not ({"minor", "major"} - {c.extra["mode"]}) & lower
    # the tag processing turns them into a usable vocabulary; "music" is too common
    vocab = vocabulary_from_manifest(free)
    assert "music" not in vocab.tags and len(vocab) >= 10


def test_free_tags_are_seeded():
    pieces = corpus.load_pieces()
    plans = corpus.plan_clips(pieces, clips=7, seconds=2.0, seed=3)
    by_id = {p.id: p for p in pieces}
    for plan in plans:
        piece = by_id[plan.piece_id]
        labels = corpus.clip_labels(piece, plan)
        a = corpus.free_tags(piece, plan, labels, np.random.default_rng((3, 1, plan.index)))
        b = corpus.free_tags(piece, plan, labels, np.random.default_rng((3, 1, plan.index)))
        assert a == b and a
