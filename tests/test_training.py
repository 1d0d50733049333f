"""The training core: data views, label-free objectives and encoder-only export, schedules and
parameter groups, and the run's life cycle (epoch lines, task choice, restart, overwrite,
corrupt checkpoints, exact resume, one CSV log)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from torch import nn

from musicrep import audio
from musicrep.cli import main
from musicrep.data.manifest import Manifest
from musicrep.errors import ConfigError
from musicrep.objectives import OBJECTIVES, Objective, View
from test_train import SR, TINY_MODEL, write_dataset, write_recipe

INPUT = TINY_MODEL["input_samples"]
#: The tiny encoder without its head option (label-free objectives add no head).
TINY_ENCODER = {k: v for k, v in TINY_MODEL.items() if k != "head_hidden"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Gain(nn.Module):
    """A trivial random transform: every row scaled by a gain drawn from U(0.5, 1.5)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        gain = 0.5 + torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device)
        return x * gain


class PairAgreement(Objective):
    """A label-free test objective: the embeddings of two augmented crops of a clip should be
    closer to each other than to a crop of another clip (a margin loss on cosines)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.gain_a, self.gain_b = Gain(), Gain()
        self.views = (
            View("view_a", transform=self.gain_a),
            View("view_b", transform=self.gain_b),
            View("other", kind="other"),
        )
        self.projection = nn.Linear(encoder.embed_dim, 8)

    def forward(self, encoder, batch):
        z = [F.normalize(self.projection(encoder(batch[k])), dim=-1) for k in self.names]
        pos, neg = (z[0] * z[1]).sum(-1), (z[0] * z[2]).sum(-1)
        loss = F.relu(0.5 - pos + neg).mean()
        return {"loss": loss, "positive": pos.mean().detach()}

    names = ("view_a", "view_b", "other")


@pytest.fixture
def pairs(monkeypatch):
    """``PairAgreement`` registered as the objective ``test_pairs`` for one test."""
    monkeypatch.setitem(OBJECTIVES._items, "test_pairs", PairAgreement)
    return PairAgreement


def write_unlabelled(root: Path, n: int = 12, seconds: float = 1.0) -> Path:
    """Tones without labels (empty ``labels`` cells): 8 train, 2 valid, 2 test."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * SR)) / SR
    rows = []
    for i in range(n):
        x = 0.4 * np.sin(2 * np.pi * (200 + 150 * i) * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(root / f"u{i:02d}.wav", x.astype(np.float32), SR)
        split = "train" if i < 8 else ("valid" if i < 10 else "test")
        rows.append(f"u{i:02d}.wav,,{split}")
    (root / "m.csv").write_text("path,labels,split\n" + "\n".join(rows) + "\n")
    return root / "m.csv"


# --------------------------------------------------------------------------- views


def test_view_dataset_makes_every_kind_of_view_from_seeded_crops(tmp_path):
    from musicrep.training.data import EpochSampler, ViewDataset

    manifest = Manifest.read(write_unlabelled(tmp_path))
    views = [
        View("view_a"),
        View("view_b"),
        View("clean"),
        View("noisy", kind="same", source="clean"),
        View("other", kind="other"),
        View("chunks", kind="track", chunks=3),
    ]
    ds = ViewDataset(manifest, "train", views, [], SR, 4000, None, seed=5)
    assert len(ds) == 8
    item = ds[2]
    assert "target" not in item and item["index"] == 2 and item["ok"] is True
    full, _ = audio.load(manifest.split("train")[2].path)
    # crops of the same clip, each from its own seeded offset
    for k, name in enumerate(["view_a", "view_b", "clean"]):
        start = ds.crop_start(2, () if k == 0 else (k,), 4000)
        np.testing.assert_array_equal(item[name].numpy(), full[start : start + 4000])
    assert not torch.equal(item["view_a"], item["view_b"])
    assert torch.equal(item["noisy"], item["clean"])  # transforms are applied later, on device
    # "other": a crop of another clip of the split
    others = [audio.load(r.path)[0] for j, r in enumerate(manifest.split("train")) if j != 2]
    x = item["other"].numpy()
    assert any(any(np.array_equal(x, o[s : s + 4000]) for s in range(0, 12001)) for o in others)
    assert item["chunks"].shape == (3, 4000)
    np.testing.assert_array_equal(item["chunks"][0].numpy(), full[:4000])
    # the same (seed, epoch) gives the same views; the next epoch new crops and a new order
    again = ViewDataset(manifest, "train", views, [], SR, 4000, None, seed=5)[2]
    assert all(torch.equal(item[k], again[k]) for k in ("view_a", "view_b", "other"))
    ds.set_epoch(1)
    assert not torch.equal(ds[2]["view_a"], item["view_a"])
    sampler = EpochSampler(8, seed=5)
    order0 = list(sampler)
    sampler.set_epoch(1)
    assert sorted(order0) == list(range(8)) and list(sampler) != order0
    sampler.set_epoch(0)
    assert list(sampler) == order0
    with pytest.raises(ConfigError, match="not declared before"):
        ViewDataset(manifest, "train", [View("b", kind="same", source="a")], [], SR, 4000, None)


def test_label_free_objective_trains_on_an_unlabelled_manifest_and_exports_the_encoder(
    tmp_path, pairs, capsys
):
    import musicrep
    from musicrep.embed import resolve_model
    from musicrep.models import Encoder

    manifest = write_unlabelled(tmp_path / "data")
    recipe = tmp_path / "pairs.yaml"
    recipe.write_text(
        json.dumps(
            {
                "model": TINY_ENCODER,
                "objective": {"name": "test_pairs"},
                "data": {"num_workers": 0},
                "training": {"batch_size": 4, "max_epochs": 2, "early_stopping_patience": 0},
            }
        )
    )
    run = tmp_path / "run"
    args = ["train", "--recipe", str(recipe), "--manifest", str(manifest), "--out", str(run)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "task: none (the objective needs no labels)" in out and "views: view_a, view_b" in out
    assert json.loads((run / "vocab.json").read_text()) == []
    assert not (run / "results.json").exists()  # no final evaluation for this objective
    rows = list(csv.DictReader(open(run / "logs" / "metrics.csv")))
    assert {"train/loss", "val/loss", "train/positive"} <= set(rows[0])

    model_dir = tmp_path / "model"
    assert main(["export", str(run), str(model_dir)]) == 0
    assert "encoder (embedding model" in capsys.readouterr().out
    meta = json.loads((model_dir / "config.json").read_text())
    assert meta["kind"] == "encoder" and "vocab" not in meta and meta["embed_dim"] > 0
    encoder, meta = musicrep.load(model_dir)
    assert isinstance(encoder, Encoder) and meta["vocab"] is None
    x = torch.randn(3, INPUT) * 0.1
    with torch.no_grad():
        np.testing.assert_allclose(
            resolve_model(model_dir)(x).numpy(), encoder(x).numpy(), rtol=1e-5, atol=1e-6
        )
    # the run folder embeds too (its best checkpoint), and predict explains there are no labels
    with torch.no_grad():
        np.testing.assert_allclose(
            resolve_model(run)(x).numpy(), encoder(x).numpy(), rtol=1e-5, atol=1e-6
        )
    sf.write(tmp_path / "a.wav", np.zeros(SR, np.float32), SR)
    assert main(["predict", str(tmp_path / "a.wav"), "--model", str(model_dir)]) == 2
    assert "embedding model" in capsys.readouterr().err


def test_views_are_transformed_on_the_device_and_validation_uses_a_fixed_seed(tmp_path):
    from musicrep.training.module import MusicrepModule

    encoder = nn.Sequential(nn.Flatten(), nn.Linear(10, 4))
    encoder.embed_dim = 4
    objective = PairAgreement(encoder)
    module = MusicrepModule(encoder, objective)
    batch = {k: torch.ones(6, 10) for k in ("view_a", "view_b", "other")}
    seen = []
    objective.forward = lambda enc, b: seen.append(b) or {"loss": torch.zeros(())}
    module.validation_step(batch, 0)
    module.validation_step(batch, 0)
    state = torch.get_rng_state()
    module.validation_step(batch, 1)
    assert torch.equal(torch.get_rng_state(), state)  # validation draws nothing globally
    assert torch.equal(seen[0]["view_a"], seen[1]["view_a"])  # same seed, same gains
    assert not torch.equal(seen[0]["view_a"], seen[2]["view_a"])
    assert not torch.equal(seen[0]["view_a"], batch["view_a"])  # transformed
    assert torch.equal(seen[0]["other"], batch["other"])  # no transform declared
    assert objective.gain_a.calls == 3


# --------------------------------------------------------------------------- optimisation


def test_schedules_registry_polynomial_decay_and_param_groups():
    from musicrep.training import SCHEDULES, TrainingConfig
    from musicrep.training.module import MusicrepModule

    assert {"plateau", "cosine", "none", "polynomial", "won2020"} <= set(SCHEDULES.names())

    class TwoRates(PairAgreement):
        def param_groups(self, encoder):  # as PASE+: encoder 1e-3, workers 5e-4
            return [
                {"params": list(encoder.parameters())},
                {"params": list(self.parameters()), "lr": 5e-4},
            ]

    encoder = nn.Linear(10, 4)
    encoder.embed_dim = 4
    t = TrainingConfig(schedule="polynomial", lr=1e-3, max_epochs=4, polynomial_power=2.0)
    conf = MusicrepModule(encoder, TwoRates(encoder), t).configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(4):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    lrs.append([g["lr"] for g in opt.param_groups])
    expected = [[r * (1 - e / 4) ** 2 for r in (1e-3, 5e-4)] for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6, atol=1e-12)
    with pytest.raises(ConfigError, match="polynomial"):
        from musicrep.training import resolve_config

        resolve_config({"model": "fcn", "training": {"schedule": "polynomal"}})


# --------------------------------------------------------------------------- runs


def _train_args(recipe: Path, manifest: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--recipe",
        str(recipe),
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        *extra,
    ]


def test_epoch_lines_and_quiet_lightning_output(tmp_path, capfd):
    manifest = write_dataset(tmp_path / "data", multilabel=True)
    recipe = write_recipe(tmp_path / "tiny.yaml", max_epochs=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(_train_args(recipe, manifest, tmp_path / "run")) == 0
    out, err = capfd.readouterr()
    lines = [ln for ln in out.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  train/loss ")
    assert "val/loss" in lines[0] and lines[0].endswith(" s") and "(best)" in lines[0]
    assert "litlogger" not in out + err and "GPU available" not in out + err
    assert not [w for w in caught if "LeafSpec" in str(w.message)]


def test_task_comes_from_the_manifest_unless_asked(tmp_path, capsys):
    import yaml

    manifest = write_dataset(tmp_path / "data", multilabel=False)  # one class per row
    recipe = yaml.safe_load(Path("configs/fcn.yaml").read_text())
    recipe["model"] = TINY_MODEL
    recipe["data"]["num_workers"] = 0
    recipe["training"].update(max_epochs=1, batch_size=4)
    recipe["evaluation"].update(chunks=2, batch_size=4)
    (tmp_path / "fcn.yaml").write_text(yaml.safe_dump(recipe))
    assert main(_train_args(tmp_path / "fcn.yaml", manifest, tmp_path / "a")) == 0
    out = capsys.readouterr().out
    assert "task: singlelabel (inferred from the manifest" in out and "accuracy" in out
    assert json.loads((tmp_path / "a" / "config.json").read_text())["task"] == "singlelabel"
    args = _train_args(
        tmp_path / "fcn.yaml", manifest, tmp_path / "b", "--set", "data.task=multilabel"
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "task: multilabel (data.task in the recipe; the manifest looks singlelabel)" in out
    assert "ROC-AUC" in out


class Kill(Callback):
    """Stops a run with an error at the start of epoch ``epoch`` (a kill)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("killed")


def _config(tmp_path: Path, max_epochs: int, **training) -> dict:
    from musicrep.training import load_recipe

    manifest = tmp_path / "data" / "manifest.csv"
    if not manifest.is_file():
        write_dataset(tmp_path / "data", multilabel=True)
    recipe = load_recipe(write_recipe(tmp_path / "tiny.yaml", max_epochs=max_epochs, **training))
    recipe["data"]["manifest"] = str(manifest)
    return recipe


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path, capsys):
    from musicrep import io
    from musicrep.training import train

    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="killed"):
        train(_config(tmp_path, 1), out=run, extra_callbacks=[Kill(0)])
    assert (run / "config.json").is_file() and not (run / "checkpoints" / "last.ckpt").exists()
    # nothing to export or load yet, and the messages say why
    with pytest.raises(ConfigError, match="without a checkpoint"):
        io.load(run)
    with pytest.raises(ConfigError, match="has no checkpoint"):
        io.export_run(run, tmp_path / "m")
    recipe = tmp_path / "tiny.yaml"
    manifest = tmp_path / "data" / "manifest.csv"
    assert main(_train_args(recipe, manifest, run)) == 0
    assert "stopped before its first checkpoint: starting it again" in capsys.readouterr().out
    assert (run / "checkpoints" / "last.ckpt").is_file()

    with pytest.raises(RuntimeError, match="killed"):
        train(_config(tmp_path, 1), out=tmp_path / "run2", extra_callbacks=[Kill(0)])
    assert main(["train", "--out", str(tmp_path / "run2"), "--resume"]) == 0
    assert "starting it from the beginning" in capsys.readouterr().out
    # a finished run is never overwritten by accident, but --overwrite starts it again
    assert main(_train_args(recipe, manifest, run)) == 2
    assert "--overwrite" in capsys.readouterr().err
    (run / "notes.txt").write_text("mine")
    assert main(_train_args(recipe, manifest, run, "--overwrite")) == 0
    assert "removing the previous run's files" in capsys.readouterr().out
    assert (run / "notes.txt").read_text() == "mine"  # only the run's own files are removed
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0


def test_checkpoints_are_atomic_and_a_corrupt_one_falls_back(tmp_path, capsys, monkeypatch):
    from musicrep.training import train
    from musicrep.training.callbacks import AtomicCheckpointIO

    run = tmp_path / "run"
    train(_config(tmp_path, 2), out=run)
    last, best = run / "checkpoints" / "last.ckpt", run / "checkpoints" / "best.ckpt"
    good = last.read_bytes()

    # a kill during a write leaves the previous checkpoint intact
    def dies_half_way(obj, fh, *args, **kwargs):
        fh.write(good[: len(good) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, last)
    monkeypatch.undo()
    assert last.read_bytes() == good and sorted(p.name for p in last.parent.iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]

    # a truncated last.ckpt (e.g. copied half-way): resume and export use best.ckpt instead
    last.write_bytes(good[: len(good) // 3])
    with pytest.warns(RuntimeWarning, match="truncated or corrupt"):
        assert main(["export", str(run), str(tmp_path / "m"), "--checkpoint", "last"]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["source"]["checkpoint"] == str(
        best
    )
    assert main(["train", "--out", str(run), "--resume", "--max-epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "last.ckpt is truncated or corrupt" in out and f"resuming from {best} instead" in out
    assert torch.load(last, weights_only=True)["epoch"] == 2

    # no readable checkpoint at all: a clear error, no traceback
    for p in (last, best):
        p.write_bytes(b"PK\x03\x04 not a checkpoint")
    assert main(["train", "--out", str(run), "--resume", "--max-epochs", "4"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "truncated or corrupt" in err and "--overwrite" in err
    assert main(["export", str(run), str(tmp_path / "m2")]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err


def _curves(run: Path) -> dict[int, dict[str, float]]:
    rows = list(csv.DictReader(open(run / "logs" / "metrics.csv")))
    out: dict[int, dict[str, float]] = {}
    for r in rows:
        for key in ("train/loss", "val/loss", "lr"):
            if r.get(key):
                out.setdefault(int(float(r["epoch"])), {})[key] = float(r[key])
    return out


def test_a_resumed_run_trains_exactly_as_an_uninterrupted_one(tmp_path):
    from musicrep.training import train

    # dropout in the head, random crops, shuffling and a plateau schedule that reacts at once
    config = _config(
        tmp_path, 4, schedule="plateau", plateau_patience=0, plateau_factor=0.5, lr="3e-2"
    )
    config["data"]["num_workers"] = 1
    config["evaluation"]["enabled"] = False
    train(config, out=tmp_path / "full")
    with pytest.raises(RuntimeError, match="killed"):
        train(config, out=tmp_path / "part", extra_callbacks=[Kill(2)])
    train(config, out=tmp_path / "part", resume=True)

    full, part = _curves(tmp_path / "full"), _curves(tmp_path / "part")
    assert sorted(full) == sorted(part) == [0, 1, 2, 3]  # one CSV log for the resumed run
    for epoch in range(4):
        for key, value in full[epoch].items():
            assert part[epoch][key] == pytest.approx(value, rel=1e-6, abs=1e-7), (epoch, key)
    assert not list((tmp_path / "part" / "logs").glob("version_*"))
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoints" / "last.ckpt", weights_only=True)
    plateau = next(k for k in a["callbacks"] if k.startswith("PlateauStep"))
    assert a["callbacks"][plateau] == b["callbacks"][plateau]
    assert a["callbacks"][plateau]["last_epoch"] == 4
    lrs = {round(full[e]["lr"], 6) for e in full}
    assert len(lrs) > 1  # the schedule reacted, identically in both runs
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-6, atol=1e-7)
