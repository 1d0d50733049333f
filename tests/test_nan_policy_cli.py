"""Issue 14: NaN/Inf audio errors name the command-line fix, and --nan-policy is wired through."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from musicrep.audio import NonFiniteAudioWarning
from musicrep.cli import build_parser
from musicrep.embeddings import EmbeddingCache
from musicrep.embeddings.cache import nan_hint


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.wav"
    bad = tmp_path / "bad.wav"
    sf.write(good, tone(440.0, 1.0), 16000, subtype="FLOAT")
    wave = tone(330.0, 1.0)
    wave[100:110] = np.nan
    sf.write(bad, wave, 16000, subtype="FLOAT")
    return [good, bad]


def test_nan_file_fails_with_the_cli_fix_and_zero_policy_embeds_it(tmp_path, files):
    cache = EmbeddingCache(tmp_path / "cache")
    entry = cache.get("mfcc", files, progress=False)
    assert [p for p, _ in entry.failed] == [str(files[1])]
    assert "NaN/Inf" in entry.failed[0][1]
    assert "--nan-policy zero" in nan_hint(entry.failed)  # what evaluate/benchmark print
    assert nan_hint([("x.wav", "file not found")]) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteAudioWarning)
        fixed = cache.get("mfcc", files, progress=False, nan_policy="zero")
    assert fixed.key != entry.key and not fixed.failed and not fixed.cached


@pytest.mark.parametrize("command", ["evaluate", "benchmark"])
def test_nan_policy_flag_parses(command):
    base = {
        "evaluate": ["evaluate", "--model", "mfcc", "--manifest", "m.csv"],
        "benchmark": ["benchmark", "--tasks", "corpus-style", "--models", "mfcc", "--out", "r"],
    }[command]
    parser = build_parser()
    assert parser.parse_args(base).nan_policy == "raise"
    assert parser.parse_args([*base, "--nan-policy", "zero"]).nan_policy == "zero"
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--nan-policy", "drop"])


def test_evaluate_cli_prints_the_nan_fix(tmp_path, files, capsys):
    from musicrep.cli import main

    csv = tmp_path / "m.csv"
    csv.write_text("path,labels,split\ngood.wav,a,train\nbad.wav,b,test\n")
    try:
        main(
            [
                "evaluate",
                "--model",
                "mfcc",
                "--manifest",
                str(csv),
                "--out",
                str(tmp_path / "r.json"),
                "-q",
                "--repeats",
                "1",
            ]
        )
    except SystemExit:
        pass
    except Exception:  # noqa: BLE001 - evaluation of 2 rows may fail later; the hint came first
        pass
    assert "--nan-policy zero" in capsys.readouterr().err
