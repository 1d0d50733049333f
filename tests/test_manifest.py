"""musicrep.data.manifest: reading, validation (with line numbers), writing and label encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicrep.data import Manifest, ManifestRow
from musicrep.errors import ConfigError, ManifestError

HEADER = "path,labels,split,fold,start,duration,artist\n"


def _write(folder: Path, text: str, name: str = "manifest.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def good(tmp_path) -> Path:
    (tmp_path / "audio").mkdir()
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        (tmp_path / "audio" / name).write_bytes(b"")
    return _write(
        tmp_path,
        HEADER
        + "audio/a.wav,rock;guitar,train,0,,,Ann\n"
        + "audio/b.wav,jazz,train,1,0.5,10,Bob\n"
        + "audio/b.wav,,valid,1,30.25,10,Bob\n"
        + '"audio/c.wav","rock; piano",test,2,,,"Smith, Carl"\n'
        + "\n"
        + f"{tmp_path / 'audio' / 'd.wav'},piano,test,,,,Dee\n",
    )


# ------------------------------------------------------------------------------ reading


def test_read_parses_every_column(good, tmp_path):
    m = Manifest.read(good, check_files=True)
    assert len(m) == 5
    a, b, b2, c, d = m
    assert a == ManifestRow(
        tmp_path / "audio" / "a.wav", ("rock", "guitar"), "train", 0, extra={"artist": "Ann"}
    )
    assert (b.fold, b.start, b.duration) == (1, 0.5, 10.0)
    assert b2.labels == () and b2.start == 30.25 and b2.split == "valid"
    assert c.labels == ("rock", "piano") and c.extra == {"artist": "Smith, Carl"}
    assert d.fold is None and d.start is None and d.duration is None
    # line numbers: header is line 1, the blank line 6 is skipped
    assert [r.line for r in m] == [2, 3, 4, 5, 7]


def test_relative_paths_resolve_against_the_csv_folder(good, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "audio")  # the working directory must not matter
    m = Manifest.read(good)
    assert all(r.path.is_absolute() for r in m)
    assert m[0].path == tmp_path / "audio" / "a.wav"
    assert m[4].path == tmp_path / "audio" / "d.wav"
    sub = tmp_path / "lists"
    sub.mkdir()
    nested = _write(sub, "path,labels,split\n../audio/a.wav,x,train\n")
    assert Manifest.read(nested)[0].path == tmp_path / "audio" / "a.wav"


def test_helpers(good):
    m = Manifest.read(good)
    assert m.splits() == ["train", "valid", "test"]
    assert m.folds() == [0, 1, 2]
    assert m.vocabulary() == ["guitar", "jazz", "piano", "rock"]
    assert [r.path.name for r in m.split("train")] == ["a.wav", "b.wav"]
    assert len(m.split("valid")) == 1
    assert m.is_multilabel
    assert m.class_counts() == {
        "train": {"guitar": 1, "jazz": 1, "piano": 0, "rock": 1},
        "valid": {"guitar": 0, "jazz": 0, "piano": 0, "rock": 0},
        "test": {"guitar": 0, "jazz": 0, "piano": 2, "rock": 1},
    }
    with pytest.raises(ConfigError, match="unknown split"):
        m.split("validation")


def test_multi_hot(good):
    m = Manifest.read(good)
    y = m.multi_hot()
    assert y.dtype == np.float32 and y.shape == (5, 4)
    # vocabulary: guitar, jazz, piano, rock
    np.testing.assert_array_equal(
        y, [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0]]
    )
    y = m.split("test").multi_hot(["rock", "piano"])
    np.testing.assert_array_equal(y, [[1, 1], [0, 1]])
    with pytest.raises(ManifestError, match="'guitar'.*not in the vocabulary") as err:
        m.multi_hot(["rock", "jazz", "piano"])
    assert err.value.line == 2
    y = m.multi_hot(["rock"], unknown="ignore")
    np.testing.assert_array_equal(y[:, 0], [1, 0, 0, 1, 0])


def test_label_indices(tmp_path):
    path = _write(tmp_path, "path,labels,split\na.wav,dog,train\nb.wav,cat,train\nc.wav,dog,test\n")
    m = Manifest.read(path)
    assert not m.is_multilabel
    idx = m.label_indices()
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [1, 0, 1])  # vocabulary: cat, dog
    np.testing.assert_array_equal(m.label_indices(["dog", "cat", "bird"]), [0, 1, 0])
    with pytest.raises(ManifestError, match="'cat'.*not in the vocabulary") as err:
        m.label_indices(["dog"])
    assert err.value.line == 3


def test_label_indices_names_the_row_without_exactly_one_label(good):
    with pytest.raises(ManifestError, match="has 2 labels") as err:
        Manifest.read(good).label_indices()
    assert err.value.line == 2 and f"{good}:2" in str(err.value)
    with pytest.raises(ManifestError, match="has 0 labels") as err:
        Manifest.read(good).split("valid").label_indices()
    assert err.value.line == 4


# ------------------------------------------------------------------------------ writing


def test_write_round_trip_is_exact(good, tmp_path):
    m = Manifest.read(good)
    out = tmp_path / "copy.csv"
    m.write(out)
    again = Manifest.read(out)
    assert again == m and list(again) == list(m)
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[0] == "path,labels,split,fold,start,duration,artist"
    assert text[1] == "audio/a.wav,rock;guitar,train,0,,,Ann"  # relative inside the folder
    assert text[3] == "audio/b.wav,,valid,1,30.25,10,Bob"
    # writing the round-tripped manifest gives the same bytes
    out2 = tmp_path / "copy2.csv"
    again.write(out2)
    assert out2.read_bytes() == out.read_bytes()


def test_write_uses_absolute_paths_outside_the_csv_folder(good, tmp_path):
    m = Manifest.read(good)
    elsewhere = tmp_path / "elsewhere" / "m.csv"
    m.write(elsewhere)
    first = elsewhere.read_text(encoding="utf-8").splitlines()[1]
    assert first.startswith(str(tmp_path / "audio" / "a.wav") + ",")
    assert Manifest.read(elsewhere) == m


def test_write_is_atomic_and_leaves_no_temp_files(good, tmp_path):
    out = tmp_path / "out" / "m.csv"
    Manifest.read(good).write(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.csv"]


def test_floats_round_trip_exactly(tmp_path):
    m = Manifest.from_rows(
        [
            {
                "path": "a.wav",
                "labels": "",
                "split": "train",
                "start": 0.1 + 0.2,
                "duration": 1e-05,
            },
            {"path": "a.wav", "labels": "", "split": "train", "start": 1 / 3, "duration": 2.0},
        ],
        root=tmp_path,
    )
    m.write(tmp_path / "m.csv")
    again = Manifest.read(tmp_path / "m.csv")
    assert [r.start for r in again] == [0.1 + 0.2, 1 / 3]
    assert [r.duration for r in again] == [1e-05, 2.0]


def test_from_rows_accepts_typed_values(tmp_path):
    m = Manifest.from_rows(
        [
            {"path": Path("x/a.wav"), "labels": ["a", "b"], "split": "train", "fold": 3},
            {"path": "x/b.wav", "labels": "c;d", "split": "test", "mood": "calm"},
        ],
        root=tmp_path,
    )
    assert m[0] == ManifestRow(tmp_path / "x" / "a.wav", ("a", "b"), "train", fold=3)
    assert m[1].labels == ("c", "d") and m[1].extra == {"mood": "calm"}
    # records from pandas: integral float folds, NaN for missing values
    nan = float("nan")
    m = Manifest.from_rows(
        [{"path": "a.wav", "labels": nan, "split": "train", "fold": 2.0, "start": nan}],
        root=tmp_path,
    )
    assert (m[0].labels, m[0].fold, m[0].start) == ((), 2, None)
    with pytest.raises(ManifestError, match="unknown split 'dev'") as err:
        Manifest.from_rows(
            [
                {"path": "a.wav", "labels": "", "split": "train"},
                {"path": "b.wav", "labels": "", "split": "dev"},
            ]
        )
    assert err.value.line == 2
    with pytest.raises(ManifestError, match="missing required column"):
        Manifest.from_rows([{"path": "a.wav", "labels": ""}])


def test_constructor_resolves_relative_rows_against_root(tmp_path):
    m = Manifest([ManifestRow("a.wav", "x;y", "train")], root=tmp_path)
    assert m[0].path == tmp_path / "a.wav" and m[0].labels == ("x", "y")


# ------------------------------------------------------------------------------ errors


def _error(tmp_path, text, **kwargs) -> ManifestError:
    path = _write(tmp_path, text)
    with pytest.raises(ManifestError) as err:
        Manifest.read(path, **kwargs)
    assert str(path) in str(err.value)
    return err.value


def test_missing_columns_are_listed(tmp_path):
    err = _error(tmp_path, "file,tags,split\na.wav,x,train\n")
    assert err.line == 1
    assert "missing required column(s): path, labels" in err.message
    assert err.hint


def test_empty_file(tmp_path):
    assert _error(tmp_path, "").line == 1


def test_empty_path(tmp_path):
    err = _error(tmp_path, "path,labels,split\na.wav,x,train\n ,x,train\n")
    assert err.line == 3 and "empty path" in err.message


def test_unknown_split(tmp_path):
    err = _error(tmp_path, "path,labels,split\na.wav,x,train\nb.wav,x,validation\n")
    assert err.line == 3 and "unknown split 'validation'" in err.message
    assert "valid" in err.hint


@pytest.mark.parametrize("fold", ["1.5", "one", "True"])
def test_non_integer_fold(tmp_path, fold):
    err = _error(tmp_path, f"path,labels,split,fold\na.wav,x,train,0\nb.wav,x,train,{fold}\n")
    assert err.line == 3 and "not an integer" in err.message


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("start", "abc", "not a number"),
        ("start", "-1", "finite number of seconds >= 0"),
        ("start", "nan", "finite number"),
        ("duration", "-2.5", "finite number of seconds > 0"),
        ("duration", "0", "> 0"),
        ("duration", "10s", "not a number"),
    ],
)
def test_bad_start_or_duration(tmp_path, column, value, reason):
    err = _error(tmp_path, f"path,labels,split,{column}\na.wav,x,train,1\nb.wav,x,train,{value}\n")
    assert err.line == 3 and column in err.message and reason in err.message


def test_duplicate_rows_name_both_lines(tmp_path):
    text = (
        "path,labels,split,start\na.wav,x,train,0\na.wav,x,train,5\nb.wav,x,test,\na.wav,y,test,5\n"
    )
    err = _error(tmp_path, text)
    assert err.line == 5 and "line 3" in err.message and "duplicate" in err.message
    # the same file with different starts, and the same name in another folder, are fine
    ok = _write(
        tmp_path,
        "path,labels,split,start\na.wav,x,train,0\na.wav,x,train,5\nsub/a.wav,x,train,0\n",
        "ok.csv",
    )
    assert len(Manifest.read(ok)) == 3


def test_wrong_number_of_fields(tmp_path):
    err = _error(tmp_path, "path,labels,split\na.wav,x,train\nb.wav,rock,pop,train\n")
    assert err.line == 3 and "4 fields" in err.message


def test_missing_audio_file_with_check_files(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    text = "path,labels,split\na.wav,x,train\nmissing.wav,x,train\n"
    path = _write(tmp_path, text)
    assert len(Manifest.read(path)) == 2  # not checked by default
    err = _error(tmp_path, text, check_files=True)
    assert err.line == 3 and "missing.wav" in err.message


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        Manifest.read(tmp_path / "nope.csv")


def test_utf8_bom_and_unicode_labels(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("path,labels,split\nä.wav,música;électro,train\n".encode("utf-8-sig"))
    m = Manifest.read(path)
    assert m[0].labels == ("música", "électro") and m[0].path.name == "ä.wav"
    m.write(tmp_path / "out.csv")
    assert Manifest.read(tmp_path / "out.csv") == m


# ------------------------------------------------------------------------------ issue 14: silent wrong results


def test_one_empty_labels_cell_does_not_make_a_single_label_task_multilabel(tmp_path):
    path = _write(tmp_path, "path,labels,split\na.wav,dog,train\nb.wav,,train\nc.wav,cat,test\n")
    m = Manifest.read(path)
    assert not m.is_multilabel  # the task (and its metric) is not changed by one empty cell
    with pytest.raises(ManifestError, match="b.wav has 0 labels") as err:
        m.label_indices()
    assert err.value.line == 3
    # a genuinely multi-label manifest stays multi-label, empty rows included
    path = _write(tmp_path, "path,labels,split\na.wav,dog;cat,train\nb.wav,,train\n", "t.csv")
    assert Manifest.read(path).is_multilabel


def test_labels_differing_in_case_or_spaces_are_reported(tmp_path, rng):
    import warnings

    from musicrep.data.manifest import LabelCaseWarning
    from musicrep.probes import evaluate_embeddings

    rows = ["bach,train", "BACH,train", "bach ,test", "Mozart,test"] * 3
    text = "path,labels,split\n" + "".join(f"{i}.wav,{r}\n" for i, r in enumerate(rows))
    path = _write(tmp_path, text)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelCaseWarning)
        m = Manifest.read(path)  # reading stays quiet (free tags are case-folded later)
    assert m[2].labels == ("bach",)  # surrounding spaces are stripped
    assert m.near_duplicate_labels() == [["BACH", "bach"]]
    with pytest.warns(LabelCaseWarning, match=r"'BACH' \(line 3\) / 'bach' \(line 2\)"):
        m.warn_label_case()
    # where labels become classes, the user is told
    X = rng.normal(size=(len(m), 4)).astype(np.float32)
    with pytest.warns(LabelCaseWarning, match="differ only in case"):
        evaluate_embeddings(X, m, repeats=1, progress=False)


def test_singular_label_column_is_accepted(tmp_path):
    path = _write(tmp_path, "path,label,split\na.wav,dog,train\nb.wav,cat,test\n")
    m = Manifest.read(path)
    assert [r.labels for r in m] == [("dog",), ("cat",)]
    m.write(tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines()[0].startswith("path,labels,split")
    m2 = Manifest.from_rows([{"path": "/a.wav", "label": "x", "split": "train"}])
    assert m2[0].labels == ("x",)
    # with both columns, 'label' is an ordinary extra column
    path = _write(tmp_path, "path,labels,label,split\na.wav,dog,x,train\n", "both.csv")
    assert Manifest.read(path)[0].extra == {"label": "x"}
