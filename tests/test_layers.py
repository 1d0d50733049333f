"""Layer activations of any encoder and the ``analyze similarity`` report."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from conftest import tone
from musicrep.analysis import similarity as sim
from musicrep.analysis.layers import (
    OUTPUT,
    LayerActivations,
    block_layers,
    layer_activations,
    untrained_copy,
)
from musicrep.cli import main
from musicrep.embed import Embedder
from musicrep.errors import ConfigError


class TinyEncoder(nn.Module):
    sample_rate, input_samples, embed_dim = 8000, 800, 6

    def __init__(self):
        super().__init__()
        self.frontend = nn.Conv1d(1, 4, 16, stride=8)
        self.backend = nn.Sequential(nn.Conv1d(4, 5, 3), nn.ReLU(), nn.Conv1d(5, 6, 3))

    def forward(self, x):
        return self.backend(self.frontend(x[:, None])).amax(-1)


def test_layer_activations_equal_the_pooled_outputs():
    torch.manual_seed(0)
    enc = TinyEncoder().eval()
    assert block_layers(enc, 800) == ["frontend", "backend.0", "backend.1", "backend.2"]
    la = LayerActivations(enc, "tiny")
    assert la.layers[-1] == OUTPUT and la.dims == [4, 5, 5, 6, 6]
    x = torch.randn(3, 800)
    with torch.no_grad():
        v = la(x).numpy()
        f = enc.frontend(x[:, None])
        b0 = enc.backend[0](f)
        out = enc(x)
    parts = la.split(v)
    np.testing.assert_allclose(parts["frontend"], f.mean(-1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parts["backend.0"], b0.mean(-1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parts[OUTPUT], out.numpy(), rtol=1e-5, atol=1e-6)
    # through the Embedder: clip vector = mean of the window vectors
    wave = np.random.default_rng(0).standard_normal(2400).astype(np.float32)
    frames, _ = Embedder(la).timestamps(wave, 8000)
    np.testing.assert_allclose(Embedder(la).scene(wave, 8000), frames.mean(0), rtol=1e-5)
    assert LayerActivations(enc, "tiny", ["backend.2"]).layers == ["backend.2", OUTPUT]
    with pytest.raises(ConfigError, match="no layer"):
        LayerActivations(enc, "tiny", ["backend.9"])
    with pytest.raises(ConfigError, match="no zoo config"):
        untrained_copy(enc)


def test_untrained_copy_is_seeded_and_differs_from_the_original():
    la = layer_activations("samplecnn")
    u1 = layer_activations("samplecnn", untrained=True, seed=3)
    u2 = layer_activations("samplecnn", untrained=True, seed=3)
    w = [p for p in la.encoder.parameters() if p.dim() > 1][0]
    w1 = [p for p in u1.encoder.parameters() if p.dim() > 1][0]
    w2 = [p for p in u2.encoder.parameters() if p.dim() > 1][0]
    assert torch.equal(w1, w2) and not torch.equal(w, w1)
    assert u1.layers == la.layers and "untrained-copy" in u1.name


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("layers")
    rng = np.random.default_rng(2)
    rows = []
    for i in range(10):
        f = float(np.exp(rng.uniform(np.log(150), np.log(600)) + (i % 2) * np.log(5)))
        name = f"clip{i:02d}.wav"
        sf.write(root / name, tone(f, 0.5, 16000, 0.5), 16000)
        label = "high" if f > 700 else "low"
        rows.append({"path": name, "labels": label, "split": "test" if i < 4 else "train"})
    with open(root / "m.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "labels", "split"])
        w.writeheader()
        w.writerows(rows)
    return root


def test_cli_similarity_report(tones, tmp_path):
    out = tmp_path / "sim"
    argv = ["analyze", "similarity", "--model", "a=samplecnn", "--model", "b=samplecnn"]
    argv += ["--reference", "mfcc,chroma", "--manifest", str(tones / "m.csv"), "--out", str(out)]
    argv += ["--layers", "backend.blocks.1,backend.blocks.3", "--permutations", "3"]
    assert main(argv + ["--no-progress"]) == 0
    doc = json.loads((out / "similarity.json").read_text())
    assert doc["n_clips"] == 10 and doc["settings"]["method"] == "cka"
    cells = doc["layer_vs_layer"]["a | b"]["cells"]
    # the same seeded network twice: identical layers have CKA 1, well above the baseline
    for layer in ("backend.blocks.1", "backend.blocks.3", OUTPUT):
        assert cells[layer][layer]["similarity"] == pytest.approx(1.0, abs=1e-6)
        assert cells[layer][layer]["baseline_mean"] < 0.9
    ref = doc["layer_vs_reference"]["a"]["backend.blocks.1"]["mfcc"]
    assert 0.0 <= ref["similarity"] <= 1.0 and "baseline_mean" in ref
    probe = doc["probes"]["features"]["mfcc"]
    assert probe["metric"] == "accuracy" and 0.0 <= probe["value"] <= 1.0
    md = (out / "report.md").read_text()
    assert "layers x feature sets" in md and "Probe per layer" in md
    for png in ("layers_a_vs_features.png", "layers_a___b.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "report.html").is_file()


def test_cli_similarity_errors(tones, tmp_path):
    base = ["analyze", "similarity", "--manifest", str(tones / "m.csv"), "--out", str(tmp_path)]
    assert main(base + ["--model", "x=samplecnn", "--model", "x=samplecnn", "--no-probe"]) == 2
    assert main(base + ["--model", "mfcc", "--no-probe"]) == 2
    assert sim.get_measure("cka") is sim.MEASURES["cka"]
