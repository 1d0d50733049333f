"""analyze robustness: perturbation specs, SNRs within tolerance, the report."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.analysis.robustness import (
    KINDS,
    Perturbation,
    measured_snr_db,
    parse_perturbations,
)
from musicrep.cli import main
from musicrep.errors import ConfigError
from musicrep.io import save_model
from musicrep.models import create_model

SR = 16000


def _music(seconds=2.0, seed=0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(
        rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
        for f in (220, 330, 440, 880)
    )
    return torch.from_numpy(x.astype(np.float32))[None]


def test_parse_perturbations_defaults_and_errors(tmp_path):
    ps = parse_perturbations(
        ["noise:white", "noise:pink=20,10", "stretch", "pitch=-1,1", "compress:8", "bandlimit"],
        snr=[30, 0],
    )
    assert [p.name for p in ps] == [
        "noise:white",
        "noise:pink",
        "stretch",
        "pitch",
        "compress:8",
        "bandlimit",
    ]
    assert ps[0].strengths == (30.0, 0.0) and ps[1].strengths == (20.0, 10.0)
    assert ps[2].strengths == KINDS["stretch"].defaults
    assert ps[3].strengths == (-1.0, 1.0)
    assert parse_perturbations([f"noise:{tmp_path}"])[0].name == f"noise:{tmp_path.name}"
    for bad, match in [
        ("reverb", "unknown perturbation"),
        ("noise", "say which noise"),
        ("noise:purple", "neither a noise colour nor a folder"),
        ("pitch:3", "takes no"),
        ("pitch=a,b", "numbers"),
        ("compress:0.5", ">= 1"),
    ]:
        with pytest.raises(ConfigError, match=match):
            parse_perturbations([bad])
    with pytest.raises(ConfigError, match="twice"):
        parse_perturbations(["pitch", "pitch=1"])


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_noise_perturbations_hit_their_snr(color):
    x = _music()
    for snr in (40, 30, 20, 10, 5, 0):
        y = Perturbation("noise", color, (snr,)).transform(snr, SR, seed=snr)(x)
        assert measured_snr_db(x[0], y[0]) == pytest.approx(snr, abs=0.01)


def test_recorded_noise_hits_its_snr(tmp_path):
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "hum.wav", (0.1 * rng.standard_normal(SR // 2)).astype("f4"), SR)
    (p,) = parse_perturbations([f"noise:{tmp_path}=10"])
    x = _music()
    y = p.transform(10, SR, seed=0)(x)
    assert measured_snr_db(x[0], y[0]) == pytest.approx(10, abs=0.01)


def test_other_perturbations_are_the_augment_transforms():
    from musicrep import augment

    x = _music(1.0)
    assert isinstance(Perturbation("stretch").transform(1.25, SR, 0), augment.TimeStretch)
    assert Perturbation("stretch").transform(1.25, SR, 0)(x).shape[-1] == round(SR / 1.25)
    assert isinstance(Perturbation("pitch").transform(2, SR, 0), augment.PitchShift)
    comp = Perturbation("compress", "8").transform(-20, SR, 0)
    assert isinstance(comp, augment.Compressor)
    band = Perturbation("bandlimit").transform(2000, SR, 0)(x)
    spec = torch.fft.rfft(band[0]).abs()
    f = torch.fft.rfftfreq(band.shape[-1], 1 / SR)
    assert float(spec[f > 2100].max()) < 1e-3 * float(spec.max())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rob")
    rows = []
    for i in range(8):
        f0 = 220 if i % 2 else 1760  # "low" vs "high" tracks
        t = np.arange(int(1.5 * SR)) / SR
        wave = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.01 * np.random.default_rng(i).standard_normal(
            len(t)
        )
        sf.write(root / f"{i}.wav", wave.astype("f4"), SR)
        rows.append({"path": f"{i}.wav", "labels": "low" if i % 2 else "high", "split": "test"})
    with open(root / "m.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "labels", "split"])
        w.writeheader()
        w.writerows(rows)
    for k, name in enumerate(["a", "b"]):
        torch.manual_seed(k)
        m = create_model(
            "attention",
            num_outputs=2,
            input_samples=SR,
            backend_kwargs={"channels": [4, 4, 8, 8, 8, 8, 8], "num_heads": 2, "ffn_dim": 16},
        )
        save_model(m, root / name, vocab=["high", "low"], task="singlelabel")
    return root


def test_cli_robustness_report(setup, tmp_path):
    out = tmp_path / "rep"
    argv = ["analyze", "robustness", "--model", str(setup / "a"), "--model", f"other={setup / 'b'}"]
    argv += ["--manifest", str(setup / "m.csv"), "--perturb", "noise:white", "--snr", "20,0"]
    argv += ["--perturb", "pitch=3", "--chunks", "2", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    doc = json.loads((out / "robustness.json").read_text())
    assert doc["metric"] == "accuracy" and doc["tracks"] == 8
    assert set(doc["clean"]) == {"a", "other"}
    noise = doc["perturbations"][0]
    assert noise["name"] == "noise:white" and [s for s, _ in noise["scores"]["a"]] == [20, 0]
    for check in doc["snr_check"]:
        assert abs(check["mean_db"] - check["target_db"]) < 0.01
        assert check["max_abs_error_db"] < 0.01
    values = [v for p in doc["perturbations"] for s in p["scores"].values() for _, v in s]
    assert all(0 <= v <= 1 for v in values)
    assert (out / "curves.png").stat().st_size > 10_000
    md = (out / "report.md").read_text()
    assert "Mean drop from clean" in md and "Measured SNR" in md


def test_cli_robustness_same_audio_for_every_model(setup, tmp_path):
    """Two copies of one model score identically under a random perturbation (same draws)."""
    out = tmp_path / "rep"
    argv = ["analyze", "robustness", "--model", f"x={setup / 'a'}", "--model", f"y={setup / 'a'}"]
    argv += ["--manifest", str(setup / "m.csv"), "--perturb", "noise:pink=0", "--chunks", "1"]
    argv += ["--metric", "macro_f1", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    doc = json.loads((out / "robustness.json").read_text())
    s = doc["perturbations"][0]["scores"]
    assert s["x"] == s["y"]


def test_cli_robustness_errors(setup, tmp_path, capsys):
    base = ["analyze", "robustness", "--manifest", str(setup / "m.csv"), "--out", str(tmp_path)]
    assert main(base + ["--model", "untrained:musicnn", "--perturb", "pitch"]) != 0
    assert main(base + ["--model", str(setup / "a"), "--perturb", "wobble"]) != 0
    assert "unknown perturbation" in capsys.readouterr().err
    argv = base + ["--model", str(setup / "a"), "--perturb", "pitch", "--metric", "roc_auc"]
    assert main(argv + ["--no-progress"]) != 0
    assert "metric 'roc_auc' not available" in capsys.readouterr().err
