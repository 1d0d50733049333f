"""Late fusion from the CLI: `musicrep evaluate --ensemble` averages the track posteriors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import tone
from musicrep.cli import main

VOCAB = ["low", "high"]


def _model(seed: int, path, vocab=VOCAB):
    from musicrep.io import save_model
    from musicrep.models import create_model

    torch.manual_seed(seed)
    m = create_model(
        "shortchunk_cnn",
        num_outputs=len(vocab),
        backend_kwargs={"channels": (4, 4, 8)},
        frontend_kwargs={"n_mels": 16},
        input_samples=8000,
    )
    return save_model(m, path, vocab=vocab, task="singlelabel")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("lf")
    rows = ["path,labels,split"]
    for i, (freq, label) in enumerate([(220, "low"), (250, "low"), (1200, "high"), (1500, "high")]):
        sf.write(root / f"t{i}.wav", tone(freq, seconds=1.5, amp=0.3 + 0.1 * i), 16000)
        rows.append(f"t{i}.wav,{label},test")
    (root / "m.csv").write_text("\n".join(rows) + "\n")
    models = [_model(s, root / f"m{s}") for s in (0, 1, 2)]
    return root, models


def test_ensemble_scores_the_mean_posterior(setup):
    from musicrep import io
    from musicrep.data.dataset import TrackDataset
    from musicrep.data.manifest import Manifest
    from musicrep.evaluate_tracks import predict_tracks

    root, models = setup
    out = root / "lf.json"
    args = ["evaluate", "--ensemble", *map(str, models), "--manifest", str(root / "m.csv")]
    assert main([*args, "--chunks", "2", "--device", "cpu", "-q", "--out", str(out)]) == 0
    result = json.loads(out.read_text())["result"]
    assert result["n_tracks"] == 4 and len(result["per_model"]) == 3
    # the same computation done directly: each model's track posteriors, averaged, argmax
    rows = Manifest.read(root / "m.csv")
    probs, accs = [], []
    for m in models:
        model, meta = io.load(m)
        data = TrackDataset(rows, "test", VOCAB, 16000, 8000, "singlelabel", n_chunks=2)
        p = predict_tracks(model, data, device="cpu", show_progress=False)
        order = np.argsort(p.indices)
        probs.append(p.scores[order])
        targets = p.targets[order]
        accs.append(float((p.scores[order].argmax(1) == targets).mean()))
    fused = np.mean(probs, axis=0)
    assert result["metrics"]["accuracy"] == pytest.approx(
        float((fused.argmax(1) == targets).mean())
    )
    assert sorted(v["accuracy"] for v in result["per_model"].values()) == pytest.approx(
        sorted(accs)
    )


def test_ensemble_errors(setup, tmp_path):
    root, models = setup
    csv = str(root / "m.csv")
    # one model is not an ensemble; labels must agree
    assert main(["evaluate", "--ensemble", str(models[0]), "--manifest", csv, "-q"]) == 2
    other = _model(3, tmp_path / "other", vocab=["a", "b"])
    assert (
        main(["evaluate", "--ensemble", str(models[0]), str(other), "--manifest", csv, "-q"]) == 2
    )
