"""The multi-view encoder: per-view branches, concatenation, rebuild from its config."""

import pytest
import torch

from musicrep.errors import ConfigError
from musicrep.models import create_encoder, create_model, rebuild_encoder

SMALL = [
    {"name": "mel", "frontend_kwargs": {"n_mels": 16}, "backend_kwargs": {"channels": [4, 8]}},
    {"name": "cqt", "frontend_kwargs": {"n_bins": 16}, "backend_kwargs": {"channels": [4, 6]}},
    {"name": "wave", "backend_kwargs": {"channels": [4, 4, 8], "last_channels": 8}},
]


def test_branches_concatenate_and_rebuild():
    torch.manual_seed(0)
    enc = create_encoder("multiview", backend_kwargs={"views": SMALL}, input_samples=8000)
    assert enc.branch_names == ["mel", "cqt", "wave"] and enc.branch_dims == [8, 6, 8]
    x = torch.randn(2, 8000)
    enc.eval()
    parts = enc.forward_branches(x)
    assert torch.allclose(enc(x), torch.cat([parts[k] for k in enc.branch_names], 1))
    assert enc.embed(x).shape == (2, 22) and not enc.supports_sequence
    again = rebuild_encoder(enc.config)
    again.load_state_dict(enc.state_dict())
    again.eval()
    assert torch.allclose(again(x), enc(x))


def test_create_model_views_and_errors():
    m = create_model("multiview", num_outputs=3, views=SMALL[:1], input_samples=8000)
    assert m(torch.randn(1, 8000)).shape == (1, 3)
    assert create_model(**m.config).encoder.branch_names == ["mel"]
    with pytest.raises(ConfigError, match="frontend and backend"):
        create_encoder("multiview", backend_kwargs={"views": [{"name": "mystery"}]})
    with pytest.raises(ConfigError, match="distinct"):
        create_encoder("multiview", backend_kwargs={"views": ["mel", "mel"]})


def _objective(weighting, **kw):
    from musicrep.objectives.gradient_blending import GradientBlending

    enc = create_encoder("multiview", backend_kwargs={"views": SMALL[::2]}, input_samples=8000)
    return enc, GradientBlending(enc, vocab=["a", "b", "c"], weighting=weighting, **kw)


def test_objective_uses_the_registered_weighting_and_updates_from_valid_losses(tmp_path):
    from musicrep.objectives.gblend import gblend_weights
    from musicrep.objectives.weighting import GradientBlendingWeighting

    torch.manual_seed(0)
    enc, obj = _objective("gblend", smoothing=0.0, floor=0.0)
    assert isinstance(obj.weighting, GradientBlendingWeighting)
    assert obj.branches == ["joint", "mel", "wave"]
    batch = {"wave": torch.randn(4, 8000), "target": torch.tensor([0, 1, 2, 0])}

    class Trainer:
        current_epoch, world_size, is_global_zero = 0, 1, True
        default_root_dir = str(tmp_path)

    class Module:
        trainer = Trainer()

        def log(self, *a, **k):
            pass

    losses = []
    for epoch in range(2):
        Trainer.current_epoch = epoch
        obj.on_train_epoch_start(Module())
        obj.train()
        out = obj(enc, batch)
        w = obj.branch_weights()
        # the loss is the weighted sum of the branch losses
        expect = sum(w[k] * float(out[f"loss_{k}"]) for k in obj.branches)
        assert float(out["loss"].detach()) == pytest.approx(expect, rel=1e-5)
        out["loss"].backward()
        obj.eval()
        with torch.no_grad():
            val = obj(enc, batch)
        losses.append(
            (
                {k: float(out[f"loss_{k}"]) for k in obj.branches},
                {k: float(val[f"loss_{k}"]) for k in obj.branches},
            )
        )
        obj.on_train_epoch_end(Module())
    ref = gblend_weights(*losses[0], *losses[1])
    assert obj.branch_weights() == pytest.approx(ref, abs=1e-6)
    assert [e for e, _ in obj.history] == [0, 1]
    rows = (tmp_path / "gblend_weights.csv").read_text().splitlines()
    assert rows[0] == "epoch,joint,mel,wave" and len(rows) == 3
    # the history travels with the checkpoint
    _, again = _objective("gblend", smoothing=0.0, floor=0.0)
    again.load_state_dict(obj.state_dict())
    assert again.history == obj.history and again.branch_weights() == obj.branch_weights()


def test_objective_fixed_weightings_and_errors():
    assert _objective("joint")[1].branch_weights() == {"joint": 1.0, "mel": 0.0, "wave": 0.0}
    assert _objective("uniform")[1].branch_weights() == pytest.approx(
        {"joint": 1 / 3, "mel": 1 / 3, "wave": 1 / 3}
    )
    fixed = _objective("fixed", weights={"joint": 2, "mel": 1, "wave": 1})[1]
    assert fixed.branch_weights() == pytest.approx({"joint": 0.5, "mel": 0.25, "wave": 0.25})
    assert _objective({"name": "dwa"})[1].branch_weights() == {"joint": 1, "mel": 1, "wave": 1}
    with pytest.raises(ConfigError, match="unknown weighting"):
        _objective("nonsense")
    with pytest.raises(ConfigError, match="share none"):
        _objective("gradnorm")
    with pytest.raises(ConfigError, match="needs weights"):
        _objective("fixed")
