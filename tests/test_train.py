"""Training: datasets over manifests, objectives, the Lightning module, runs, resume, won2020,
track-level evaluation and metrics. Tiny WAV datasets are written into tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import default_collate

from musicrep import audio
from musicrep.cli import main
from musicrep.data.dataset import CropDataset, TrackDataset
from musicrep.data.manifest import Manifest
from musicrep.errors import AudioError, ConfigError
from musicrep.metrics import classification_metrics, tagging_metrics

SR = 16000
INPUT = 8000  # 0.5 s crops for the tiny model
#: The smallest zoo model, shrunk further (about 6 k parameters).
TINY_MODEL = {
    "name": "musicnn",
    "input_samples": INPUT,
    "frontend_kwargs": {"n_mels": 32},
    "backend_kwargs": {
        "timbral_filters": 8,
        "temporal_filters": 4,
        "mid_channels": 8,
        "temporal_lengths": [9, 5],
    },
    "head_hidden": 16,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny models are much faster on one thread on a shared CPU
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_dataset(
    root: Path, multilabel: bool, n_per: int = 2, seconds: float = 1.0, corrupt: bool = False
) -> Path:
    """Tones (low 220 Hz / high 2200 Hz), optionally with noise; train/valid/test splits."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    combos = [("low",), ("high",)]
    if multilabel:
        combos += [("low", "noise"), ("high", "noise")]
    rows, i = [], 0
    for split, n in (("train", 2 * n_per), ("valid", n_per), ("test", n_per)):
        for _ in range(n):
            for labels in combos:
                f0 = (220.0 if "low" in labels else 2200.0) * (1 + 0.03 * rng.standard_normal())
                x = 0.5 * np.sin(2 * np.pi * f0 * t)
                x += (0.3 if "noise" in labels else 0.01) * rng.standard_normal(len(t))
                name = f"{i:03d}.wav"
                i += 1
                sf.write(root / name, x.astype(np.float32), SR)
                rows.append(f"{name},{';'.join(labels)},{split}")
    if corrupt:
        (root / "bad.wav").write_bytes(b"this is not audio, just text saved as .wav\n" * 4)
        rows.append("bad.wav,low,train")
    manifest = root / "manifest.csv"
    manifest.write_text("path,labels,split\n" + "\n".join(rows) + "\n")
    return manifest


def write_recipe(path: Path, **training) -> Path:
    import yaml

    recipe = {
        "model": TINY_MODEL,
        "data": {"num_workers": 0, "valid_chunks": 4},
        "training": {
            "batch_size": 4,
            "max_epochs": 2,
            "lr": "1e-2",  # a string on purpose: YAML 1.1 reads 1e-2 as one
            "early_stopping_patience": 0,
            **training,
        },
        "evaluation": {"chunks": 4},
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


# --------------------------------------------------------------------------- metrics


def test_tagging_metrics_skip_single_class_tags_and_report_them():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(1)
    y = np.array([[1, 0, 1, 1], [0, 0, 1, 0], [1, 0, 1, 1], [0, 0, 1, 0], [1, 0, 1, 0]])
    s = rng.random(y.shape)
    scores = tagging_metrics(y, s, ["rock", "absent", "always", "jazz"])
    assert scores.skipped == {
        "absent": "no positive example in this split",
        "always": "no negative example in this split",
    }
    keep = [0, 3]
    assert scores.roc_auc == pytest.approx(roc_auc_score(y[:, keep], s[:, keep], average="macro"))
    assert scores.pr_auc == pytest.approx(
        average_precision_score(y[:, keep], s[:, keep], average="macro")
    )
    assert set(scores.per_tag) == {"rock", "jazz"}
    # a perfect ranking scores 1
    assert tagging_metrics(y[:, keep], y[:, keep] + 0.1).roc_auc == 1.0


def test_classification_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score

    y = np.array([0, 1, 2, 2, 1, 0])
    probs = np.eye(3)[[0, 2, 2, 2, 1, 1]] * 0.8 + 0.05
    c = classification_metrics(y, probs, ["a", "b", "c"])
    pred = probs.argmax(1)
    assert c.accuracy == pytest.approx(accuracy_score(y, pred))
    assert c.macro_f1 == pytest.approx(f1_score(y, pred, average="macro"))
    assert set(c.per_class_f1) == {"a", "b", "c"}


# --------------------------------------------------------------------------- datasets


def test_crop_dataset_seeded_crops_decode_only_the_crop(tmp_path, monkeypatch):
    manifest = Manifest.read(write_dataset(tmp_path, multilabel=True))
    vocab = manifest.vocabulary()
    ds = CropDataset(manifest, "train", vocab, SR, INPUT, "multilabel", seed=3)
    assert len(ds) == 16 and ds.skipped == []

    calls = []
    real_load = audio.load

    def spy(path, *args, **kwargs):
        calls.append(kwargs.get("duration"))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(audio, "load", spy)
    item = ds[7]
    assert calls == [pytest.approx(INPUT / SR)]  # one decode, of the crop only
    assert item["wave"].shape == (INPUT,) and item["wave"].dtype == torch.float32
    assert item["target"].tolist() == [1.0, 0.0, 1.0]  # "high;noise"
    full, _ = real_load(manifest.split("train")[7].path)
    start = ds.crop_start(7)
    np.testing.assert_array_equal(item["wave"].numpy(), full[start : start + INPUT])

    again = CropDataset(manifest, "train", vocab, SR, INPUT, "multilabel", seed=3)
    assert [again.crop_start(i) for i in range(16)] == [ds.crop_start(i) for i in range(16)]
    epoch0 = [ds.crop_start(i) for i in range(16)]
    ds.set_epoch(1)
    assert [ds.crop_start(i) for i in range(16)] != epoch0  # a new crop every epoch
    assert all(0 <= ds.crop_start(i) <= SR - INPUT for i in range(16))


def test_crop_dataset_pads_short_files_and_single_label_targets(tmp_path):
    sf.write(tmp_path / "short.wav", np.full(SR // 4, 0.25, np.float32), SR)
    (tmp_path / "m.csv").write_text("path,labels,split\nshort.wav,b,train\n")
    ds = CropDataset(
        Manifest.read(tmp_path / "m.csv"), "train", ["a", "b"], SR, INPUT, "singlelabel"
    )
    item = ds[0]
    assert item["target"].item() == 1 and item["target"].dtype == torch.long
    assert item["wave"].shape == (INPUT,)
    assert torch.all(item["wave"][: SR // 4] == 0.25) and torch.all(item["wave"][SR // 4 :] == 0)


def test_unreadable_files_are_reported_and_skipped(tmp_path, monkeypatch):
    manifest = Manifest.read(write_dataset(tmp_path, multilabel=False, corrupt=True))
    ds = CropDataset(manifest, "train", ["high", "low"], SR, INPUT, "singlelabel")
    assert len(ds) == 8
    assert [(Path(s.path).name, s.split) for s in ds.skipped] == [("bad.wav", "train")]
    assert "not" in ds.skipped[0].reason and ds.skipped[0].line == 18

    # a file that breaks after the header check: reported, and the next item is served
    broken = ds.items[2].path
    real_load = audio.load

    def flaky(path, *args, **kwargs):
        if Path(path) == broken:
            raise AudioError(path, "corrupt frame")
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(audio, "load", flaky)
    ds.failure_log = tmp_path / "failures.txt"
    with pytest.warns(RuntimeWarning, match="corrupt frame"):
        item = ds[2]
    assert item["index"] == 3
    assert "corrupt frame" in ds.failure_log.read_text()
    assert len(default_collate([ds[i] for i in range(len(ds))])["wave"]) == 8  # never raises

    tracks = TrackDataset(manifest, "train", ["high", "low"], SR, INPUT, "singlelabel", 4)
    with pytest.warns(RuntimeWarning):
        assert tracks[2]["ok"] is False and tracks[2]["chunks"].shape == (4, INPUT)


# --------------------------------------------------------------------------- track-level eval


class _Energy(torch.nn.Module):
    """Stand-in model: logits from each chunk's mean level and mean absolute value."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(4.0))

    def forward(self, wave):
        return torch.stack([self.scale * wave.abs().mean(1) - 1, wave.mean(1) * 10], dim=1)


def test_track_evaluation_averages_chunk_probabilities(tmp_path):
    from musicrep.evaluate_tracks import evaluate_tracks, predict_tracks

    # loudness ramps up over each track, so every chunk's output differs
    for i, amp in enumerate([0.2, 0.9, 0.5]):
        x = amp * np.linspace(0, 1, 2 * SR) * np.sin(np.arange(2 * SR) * 0.3) + 0.05 * i
        sf.write(tmp_path / f"{i}.wav", x.astype(np.float32), SR)
    (tmp_path / "m.csv").write_text(
        "path,labels,split\n0.wav,,test\n1.wav,loud;up,test\n2.wav,up,test\n"
    )
    manifest = Manifest.read(tmp_path / "m.csv")
    ds = TrackDataset(manifest, "test", ["loud", "up"], SR, INPUT, "multilabel", n_chunks=5)
    model = _Energy()
    preds = predict_tracks(model, ds, batch_size=10)  # two tracks per forward pass
    assert preds.scores.shape == (3, 2)
    for k, row in enumerate(manifest):
        wave, _ = audio.load(row.path)
        chunks = audio.equally_spaced_chunks(wave, INPUT, 5, endpoint=False)
        with torch.no_grad():
            expected = torch.sigmoid(model(torch.from_numpy(chunks))).mean(0).numpy()
        np.testing.assert_allclose(preds.scores[k], expected, rtol=1e-5)
    results = evaluate_tracks(model, ds)
    assert results["n_tracks"] == 3 and results["n_chunks"] == 5
    assert results["metrics"]["roc_auc"] == pytest.approx(
        tagging_metrics(preds.targets, preds.scores).roc_auc
    )


def test_validation_step_averages_chunks_per_track_and_leaves_out_failed_tracks():
    from musicrep.objectives import build_objective
    from musicrep.training import MusicrepModule

    encoder = torch.nn.Identity()  # the "embedding" is the chunk; _Energy is the head
    objective = build_objective(
        {"name": "supervised", "head": _Energy()}, task="multilabel", vocab=["a", "b"]
    )
    module = MusicrepModule(encoder, objective)
    model = objective.export_model(encoder)
    chunks = torch.randn(3, 4, 100) * torch.tensor([0.1, 1.0, 2.0])[:, None, None]
    batch = {
        "chunks": chunks,
        "target": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
        "ok": torch.tensor([True, False, True]),
    }
    module.validation_step(batch, 0)
    track, target, ok = objective._val_outputs[0]
    with torch.no_grad():
        expected = torch.sigmoid(model(chunks.reshape(12, 100))).reshape(3, 4, 2).mean(1)
    torch.testing.assert_close(track[ok], expected[[0, 2]])
    assert ok.tolist() == [True, False, True] and torch.all(track[1] == 0)


# --------------------------------------------------------------------------- objectives


@pytest.mark.parametrize("multilabel", [False, True])
def test_supervised_loss_decreases_on_separable_data(tmp_path, multilabel):
    from musicrep.models import create_encoder
    from musicrep.objectives import build_objective

    manifest = Manifest.read(write_dataset(tmp_path, multilabel=multilabel))
    task = "multilabel" if multilabel else "singlelabel"
    vocab = manifest.vocabulary()
    ds = CropDataset(manifest, "train", vocab, SR, INPUT, task)
    batch = default_collate([ds[i] for i in range(len(ds))])
    torch.manual_seed(0)
    encoder = create_encoder(**{k: v for k, v in TINY_MODEL.items() if k != "head_hidden"})
    model_config = {**encoder.config, "head_hidden": TINY_MODEL["head_hidden"]}
    objective = build_objective(
        "supervised", encoder=encoder, task=task, vocab=vocab, model_config=model_config
    )
    params = [*encoder.parameters(), *objective.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(20):
        out = objective(encoder, batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.6 * losses[0]
    assert out["logits"].shape == (len(ds), len(vocab))


def test_unknown_objective_lists_valid_names():
    from musicrep.objectives import build_objective

    with pytest.raises(ConfigError, match="supervised"):
        build_objective("superviesd", task="multilabel")


# --------------------------------------------------------------------------- runs


def _epoch_rows(metrics_csv: Path) -> list[int]:
    import csv

    with open(metrics_csv) as fh:
        return sorted({int(r["epoch"]) for r in csv.DictReader(fh) if r["val/loss"]})


def test_train_run_writes_outputs_then_resumes(tmp_path, capsys):
    manifest = write_dataset(tmp_path / "data", multilabel=True, corrupt=True)
    recipe = write_recipe(tmp_path / "tiny.yaml", max_epochs=2)
    out = tmp_path / "run"
    rc = main(["train", "--recipe", str(recipe), "--manifest", str(manifest), "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "ROC-AUC (macro)" in printed and "PR-AUC (macro)" in printed
    for name in ("config.json", "config.yaml", "vocab.json", "results.json", "skipped.txt"):
        assert (out / name).is_file(), name
    assert (out / "checkpoints" / "best.ckpt").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["environment"]["torch"] == torch.__version__
    assert cfg["seed"] == 0 and cfg["task"] == "multilabel"
    assert cfg["config"]["training"]["lr"] == 0.01 and cfg["config"]["model"]["name"] == "musicnn"
    assert json.loads((out / "vocab.json").read_text()) == ["high", "low", "noise"]
    assert "bad.wav" in (out / "skipped.txt").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["n_tracks"] == 8 and results["n_chunks"] == 4
    assert 0.0 <= results["metrics"]["roc_auc"] <= 1.0 and "pr_auc" in results["metrics"]
    assert list((out / "logs" / "tensorboard").glob("events.out.tfevents.*"))

    # plain tensors and Python values only: loads with weights_only=True
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1
    steps_per_epoch = last["global_step"] // 2

    # a run folder is never overwritten by accident
    assert (
        main(["train", "--recipe", str(recipe), "--manifest", str(manifest), "--out", str(out)])
        == 2
    )
    assert "--resume" in capsys.readouterr().err

    rc = main(["train", "--out", str(out), "--resume", "--max-epochs", "3"])
    assert rc == 0
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2 and last["global_step"] == 3 * steps_per_epoch
    assert _epoch_rows(out / "logs" / "metrics.csv") == [0, 1, 2]  # one log for the whole run
    assert json.loads((out / "config.json").read_text())["config"]["training"]["max_epochs"] == 3


def test_config_errors_name_the_valid_choices(tmp_path, capsys):
    manifest = write_dataset(tmp_path / "data", multilabel=False)
    args = ["train", "--manifest", str(manifest), "--out", str(tmp_path / "r")]
    assert main([*args, "--model", "no_such_model"]) == 2
    err = capsys.readouterr().err
    assert "no_such_model" in err and "musicnn" in err and "fcn" in err
    assert main([*args, "--model", "musicnn", "--set", "training.lrr=0.1"]) == 2
    assert "did you mean training.lr" in capsys.readouterr().err
    assert main([*args, "--model", "musicnn", "--set", "training.schedule=wonn"]) == 2
    assert "won2020" in capsys.readouterr().err
    assert main([*args, "--model", "musicnn", "--set", "data.vocab=[low, hihg]"]) == 2
    err = capsys.readouterr().err
    assert "'hihg'" in err and "valid labels: high, low" in err and "did you mean high" in err
    assert main([*args, "--model", "musicnn", "--set", "model.frontend=meel"]) == 2
    assert "'meel'" in capsys.readouterr().err
    from musicrep.training import apply_overrides, resolve_config

    cfg = resolve_config(
        apply_overrides({"model": {"name": "fcn"}}, ["training.lr=1e-3", "model.dropout=0.3"])
    )
    assert cfg["training"]["lr"] == 0.001 and cfg["model"] == {"name": "fcn", "dropout": 0.3}


def test_won2020_milestones_scale_with_the_run():
    from musicrep.training import won2020_milestones

    assert won2020_milestones(200) == [80, 100, 120]
    assert won2020_milestones(400) == [80, 100, 120]
    assert won2020_milestones(20) == [8, 10, 12]
    assert won2020_milestones(5) == [2, 3, 4]  # 2.0, 2.5 (half up), 3.0 -> strictly increasing
    assert won2020_milestones(3) == [1, 2, 3]


def test_won2020_schedule_switches_to_sgd_and_reloads_best(tmp_path):
    from lightning.pytorch.callbacks import Callback

    from musicrep.training import Won2020Schedule, load_recipe, train

    class Perturb(Callback):
        """Move the weights away from the best checkpoint before the schedule's hook runs."""

        def on_train_epoch_start(self, trainer, pl_module):
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.add_(0.5)

    class Spy(Callback):
        def __init__(self):
            self.seen = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx:
                return
            opt = trainer.optimizers[0]
            path = trainer.checkpoint_callback.best_model_path
            same = None
            if path:
                best = torch.load(path, weights_only=True)["state_dict"]
                same = all(torch.equal(v, best[k]) for k, v in pl_module.state_dict().items())
            self.seen.append((type(opt).__name__, opt.param_groups[0]["lr"], same))

    manifest = write_dataset(tmp_path / "data", multilabel=False)
    recipe = load_recipe(write_recipe(tmp_path / "tiny.yaml"))
    recipe["data"]["manifest"] = str(manifest)
    recipe["training"].update(schedule="won2020", max_epochs=3, lr=None)
    recipe["evaluation"]["enabled"] = False
    spy = Spy()
    result = train(recipe, out=tmp_path / "run", extra_callbacks=[Perturb(), spy])
    # 3 epochs: milestones scaled to 1, 2, 3
    assert [s[:2] for s in spy.seen] == [("Adam", 1e-4), ("SGD", 1e-3), ("SGD", 1e-4)]
    # at each switch the perturbed weights were replaced by the best checkpoint's
    assert [s[2] for s in spy.seen] == [None, True, True]
    sgd = torch.load(result.last_checkpoint, weights_only=True)
    assert sgd["optimizer_states"][0]["param_groups"][0]["nesterov"] is True
    state = sgd["callbacks"]["Won2020Schedule"]
    assert state["stage"] == 2 and state["milestones"] == [1, 2, 3]
    assert isinstance(Won2020Schedule([1], None).state_dict(), dict)


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tmp_path):
    exe = Path(sys.executable).parent / "musicrep"
    if not exe.is_file():
        exe = shutil.which("musicrep")
    assert exe, "the musicrep command is not installed"
    manifest = write_dataset(tmp_path / "data", multilabel=True)
    recipe = write_recipe(tmp_path / "tiny.yaml", max_epochs=1, batch_size=4)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            str(exe),
            "train",
            "--recipe",
            str(recipe),
            "--manifest",
            str(manifest),
            "--out",
            str(out),
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--accelerator",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    # 16 training crops over 2 processes, 4 per batch: two steps
    assert last["global_step"] == 2
    assert (out / "results.json").is_file()
