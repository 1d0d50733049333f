"""The objective contract, for every registered objective (those added later included).

Each objective in ``musicrep.objectives.OBJECTIVES`` provides a tiny configuration through
``example_config()`` (see ``musicrep.objectives.base``); this test builds it on a few seconds of
generated audio through the trainer's own steps (recipe, data views, encoder and objective),
takes two optimisation steps, validates, exports, reloads and embeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.objectives import OBJECTIVES

SR = 16000


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_clips(root: Path, task: str | None, seconds: float = 1.5, video: bool = False) -> Path:
    """8 training, 2 validation and 2 test clips (tones + noise) with labels as ``task`` says
    (none for label-free objectives); with ``video``, each clip also gets face frames (a
    ``.npy`` array at 25 frames/s whose colour follows the class) in a ``video`` column."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    rows = []
    for i in range(12):
        split = "train" if i < 8 else ("valid" if i < 10 else "test")
        f0 = [220.0, 880.0, 3520.0][i % 3]
        x = 0.4 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(len(t))
        sf.write(root / f"{i:02d}.wav", x.astype(np.float32), SR)
        name = ["low", "mid", "high"][i % 3]
        labels = {"multilabel": f"{name};tone", "singlelabel": name, None: ""}[task]
        rows.append(f"{i:02d}.wav,{labels},{split}" + (f",{i:02d}.npy" if video else ""))
        if video:
            frames = rng.integers(0, 40, (int(seconds * 25), 16, 16, 3)).astype(np.uint8)
            frames[..., i % 3] += 200
            np.save(root / f"{i:02d}.npy", frames)
    manifest = root / "manifest.csv"
    header = "path,labels,split" + (",video" if video else "")
    manifest.write_text(header + "\n" + "\n".join(rows) + "\n")
    return manifest


def _example(name: str) -> dict:
    factory = OBJECTIVES.get(name)
    example = getattr(factory, "example_config", None)
    config = example() if callable(example) else None
    assert config, (
        f"objective {name!r} gives no example_config(): add a classmethod returning a tiny "
        "{'model': ..., 'objective': ..., 'task': ...} (see musicrep.objectives.base)"
    )
    return config


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_objective_trains_exports_reloads_and_embeds(name, tmp_path):
    from musicrep import io
    from musicrep.embed import resolve_model
    from musicrep.training import TrainingConfig, resolve_config
    from musicrep.training.module import MusicrepModule, apply_views
    from musicrep.training.run import (
        RunFolder,
        build_datamodule,
        build_parts,
        load_data,
        prepare_objective,
    )

    example = _example(name)
    manifest = write_clips(
        tmp_path / "data", example.get("task"), video=example.get("video", False)
    )
    cfg = resolve_config(
        {
            "model": example.get("model"),
            "objective": {"name": name, **example.get("objective", {})},
            "data": {"manifest": str(manifest), "num_workers": 0, "valid_chunks": 2},
            "training": {"batch_size": 4},
        }
    )
    run = load_data(cfg)
    torch.manual_seed(0)
    encoder, objective = build_parts(cfg, run.task, run.vocab)
    dm = build_datamodule(cfg, run, encoder, objective, RunFolder(tmp_path / "run"))
    prepare_objective(encoder, objective, dm, TrainingConfig(batch_size=4))
    module = MusicrepModule(encoder, objective, TrainingConfig(**cfg["training"]))
    opt = torch.optim.Adam(module.param_groups(), lr=1e-3)

    # two optimisation steps: a finite loss, and gradients that reach the encoder
    module.train()
    batches = iter(dm.train_dataloader())
    for _ in range(2):
        batch = apply_views(next(batches), objective.training_views())
        out = objective(encoder, batch)
        assert torch.isfinite(out["loss"]) and out["loss"].dim() == 0, out["loss"]
        opt.zero_grad()
        out["loss"].backward()
        if encoder is not None:
            grads = [p.grad for p in encoder.parameters() if p.requires_grad]
            assert any(g is not None and g.abs().sum() > 0 for g in grads), "no gradient"
        opt.step()

    # validation: a finite loss on a validation batch
    module.eval()
    with torch.no_grad():
        val = objective.validation_step(encoder, next(iter(dm.val_dataloader())))
    assert torch.isfinite(val["loss"])
    assert isinstance(objective.validation_epoch_end(lambda x: x), dict)

    # export, reload (nothing pickled), embed
    model = objective.export_model(encoder)
    folder = io.save_model(model, tmp_path / "model", **objective.export_info())
    loaded, meta = io.load(folder)
    assert type(loaded) is type(model)
    reference = model.state_dict()
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0, msg=key)
    if encoder is None:
        return
    x = torch.randn(2, encoder.input_samples) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x), model.eval()(x), rtol=0, atol=1e-6)
        embedding = resolve_model(folder)(x)
        expected = encoder.eval()(x)
    assert embedding.shape == (2, encoder.embed_dim)
    torch.testing.assert_close(embedding, expected, rtol=1e-5, atol=1e-5)
