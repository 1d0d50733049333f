"""``musicrep data manifest``: a folder of audio -> a manifest with seeded splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicrep.cli import main
from musicrep.data import Manifest
from musicrep.data.folder import folder_manifest, list_audio_files, split_counts
from musicrep.errors import ConfigError


@pytest.fixture
def folder(tmp_path) -> Path:
    """20 clips at the top, 2 classes x 10 clips in sub-folders, a broken file, hidden files."""
    root = tmp_path / "audio"
    x = (0.1 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    for i in range(20):
        (root).mkdir(exist_ok=True)
        sf.write(root / f"clip{i:02d}.wav", x, 16000)
    for cls in ("drums", "piano"):
        (root / cls).mkdir()
        for i in range(10):
            sf.write(root / cls / f"{cls}{i}.flac", x, 16000)
    (root / "piano" / "broken.wav").write_bytes(b"RIFF not really")
    (root / ".hidden.wav").write_bytes(b"")
    (root / ".cache").mkdir()
    sf.write(root / ".cache" / "x.wav", x, 16000)
    (root / "notes.txt").write_text("not audio")
    return root


def _rows(csv: Path) -> dict[str, str]:
    return {r.path.name: r.split for r in Manifest.read(csv)}


def test_manifest_of_a_flat_folder(folder, tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["data", "manifest", str(folder), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "20 rows: train 18, valid 2" in stdout
    m = Manifest.read(out, check_files=True)
    assert len(m) == 20 and all(r.labels == () for r in m)
    assert m.splits() == ["train", "valid"]
    # paths are relative to the CSV's folder
    assert out.read_text().splitlines()[1].startswith("audio/clip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio", "m.csv"]  # no temp files


def test_splits_are_seeded(folder, tmp_path):
    args = ["data", "manifest", str(folder), "--recursive", "--valid", "0.2", "--test", "0.1"]
    main([*args, "--out", str(tmp_path / "a.csv")])
    main([*args, "--out", str(tmp_path / "b.csv")])
    main([*args, "--out", str(tmp_path / "c.csv"), "--seed", "1"])
    a, b, c = (_rows(tmp_path / f"{k}.csv") for k in "abc")
    assert a == b and a != c
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "valid", "test")}
    assert counts == {"train": 29, "valid": 8, "test": 4}  # 41 files (the broken one too)


def test_labels_from_parent_and_check_audio(folder, tmp_path, capsys):
    out = tmp_path / "labelled.csv"
    code = main(
        ["data", "manifest", str(folder), "--out", str(out), "--recursive"]
        + ["--labels-from", "parent", "--check-audio", "--valid", "0.2"]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "1 file(s) skipped" in captured.err and "broken.wav" in captured.err
    assert "20 file(s) directly in" in captured.err
    m = Manifest.read(out)
    assert len(m) == 40 and m.vocabulary() == ["drums", "piano"]
    for cls in ("drums", "piano"):
        assert sum(r.split == "valid" and cls in r.labels for r in m) == 2
    assert (tmp_path / "labelled.csv.skipped.txt").read_text().count("broken.wav") == 1
    assert "drums" in captured.out  # the per-class count table


def test_errors_and_help(tmp_path, folder, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "manifest", str(tmp_path / "empty"), "--out", "x.csv"]) == 2
    assert "no audio files" in capsys.readouterr().err
    assert (
        main(["data", "manifest", str(folder), "--out", "x.csv", "--valid", "0.7", "--test", "0.4"])
        == 2
    )
    assert "fractions" in capsys.readouterr().err
    assert main(["data", "manifest", str(tmp_path / "nope"), "--out", "x.csv"]) == 2
    with pytest.raises(SystemExit):
        main(["data", "manifest", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_library_function_and_helpers(folder, tmp_path):
    files = list_audio_files(folder, recursive=True)
    assert len(files) == 41 and not any(".cache" in str(f) for f in files)
    result = folder_manifest(folder, tmp_path / "lib.csv", valid=0.0)
    assert result.manifest.splits() == ["train"] and len(result.manifest) == 20
    assert split_counts(2, 0.1, 0.1) == (0, 0)
    assert split_counts(3, 0.1, 0.1) == (1, 1)
    assert split_counts(100, 0.1, 0.2) == (10, 20)
    with pytest.raises(ConfigError, match="label source"):
        folder_manifest(folder, tmp_path / "x.csv", labels_from="grandparent")
