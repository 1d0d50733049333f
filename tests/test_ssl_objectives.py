"""Self-supervised objectives: loss-weighting formulas, NT-Xent, multitask target alignment."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.objectives.contrastive import nt_xent
from musicrep.objectives.weighting import WEIGHTINGS, create_weighting

TASKS = ["a", "b", "c"]


def _losses(values):
    return {t: torch.tensor(float(v), requires_grad=True) for t, v in zip(TASKS, values)}


def test_registry_has_the_schemes():
    assert {"equal", "inverse", "uncertainty", "dwa", "gradnorm"} <= set(WEIGHTINGS.names())
    with pytest.raises(ConfigError):
        create_weighting("nope", TASKS)


def test_equal_and_fixed():
    s = create_weighting("equal", TASKS)
    assert float(s.combine(_losses([1, 2, 3]))) == pytest.approx(6.0)
    s = create_weighting({"name": "equal", "weights": {"b": 0.5}}, TASKS)
    assert float(s.combine(_losses([1, 2, 3]))) == pytest.approx(1 + 1 + 3)


def test_inverse_initial_loss():
    s = create_weighting({"name": "inverse", "normalize": False}, TASKS)
    s.train()
    assert float(s.combine(_losses([2, 4, 8]))) == pytest.approx(3.0)  # 2/2 + 4/4 + 8/8
    assert float(s.combine(_losses([1, 1, 1]))) == pytest.approx(0.5 + 0.25 + 0.125)
    n = create_weighting("inverse", TASKS)
    n.train()
    n.combine(_losses([2, 4, 8]))
    w = torch.tensor([1 / 2, 1 / 4, 1 / 8])
    expected = 3 * w / w.sum()
    assert list(n.weights().values()) == pytest.approx(expected.tolist())


def test_uncertainty_matches_kendall():
    s = create_weighting({"name": "uncertainty", "init": 0.3}, TASKS)
    values = [1.0, 2.0, 0.5]
    direct = sum(0.5 * math.exp(-0.3) * v + 0.5 * 0.3 for v in values)
    total = s.combine(_losses(values))
    assert float(total) == pytest.approx(direct, rel=1e-6)
    total.backward()
    # d/ds (0.5 e^-s L + 0.5 s) = -0.5 e^-s L + 0.5
    grads = [-0.5 * math.exp(-0.3) * v + 0.5 for v in values]
    assert s.log_var.grad.tolist() == pytest.approx(grads, rel=1e-5)
    assert s.param_groups()[0]["params"][0] is s.log_var


def test_dwa_formula_and_state():
    s = create_weighting({"name": "dwa", "temperature": 2.0}, TASKS)
    assert list(s.weights().values()) == [1.0, 1.0, 1.0]
    s.epoch_end({"a": 1.0, "b": 2.0, "c": 4.0})
    assert list(s.weights().values()) == [1.0, 1.0, 1.0]
    s.epoch_end({"a": 0.5, "b": 2.0, "c": 6.0})
    r = torch.tensor([0.5, 1.0, 1.5])
    expected = 3 * torch.exp(r / 2) / torch.exp(r / 2).sum()
    assert list(s.weights().values()) == pytest.approx(expected.tolist(), rel=1e-6)
    # resume: the state dict carries the history
    t = create_weighting("dwa", TASKS)
    t.load_state_dict(s.state_dict())
    assert t.weights() == s.weights()


def test_gradnorm_matches_direct_computation():
    torch.manual_seed(0)
    shared = nn.Linear(4, 4)
    heads = [nn.Linear(4, 1) for _ in TASKS]
    x = torch.randn(8, 4)
    s = create_weighting({"name": "gradnorm", "alpha": 1.5}, TASKS)
    s.train()
    with torch.no_grad():
        s.w.copy_(torch.tensor([0.5, 1.0, 1.5]))
    losses = {t: h(shared(x)).pow(2).mean() * (i + 1) for i, (t, h) in enumerate(zip(TASKS, heads))}
    total = s.combine(losses, shared=list(shared.parameters()))
    # direct: initial losses are these (first step) so r_i = 1 and the target is mean(G)
    values = torch.stack([losses[t] for t in TASKS])
    norms = []
    for t in TASKS:
        g = torch.autograd.grad(losses[t], list(shared.parameters()), retain_graph=True)
        norms.append(torch.sqrt(sum(x.pow(2).sum() for x in g)))
    G = torch.tensor([0.5, 1.0, 1.5]) * torch.stack(norms).detach()
    direct = (torch.tensor([0.5, 1.0, 1.5]) * values).sum() + (G - G.mean()).abs().sum()
    assert float(total) == pytest.approx(float(direct), rel=1e-5)
    s.w.grad = None
    total.backward()
    assert s.w.grad is not None
    s.step_end()
    assert float(s.w.sum()) == pytest.approx(3.0)


def _nt_xent_direct(a, b, tau):
    z = torch.nn.functional.normalize(torch.cat([a, b]), dim=-1)
    n2 = z.shape[0]
    n = n2 // 2
    total = 0.0
    for k in range(n2):
        p = (k + n) % n2
        num = math.exp(float(z[k] @ z[p]) / tau)
        den = sum(math.exp(float(z[k] @ z[j]) / tau) for j in range(n2) if j != k)
        total += -math.log(num / den)
    return total / n2


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_direct(tau):
    torch.manual_seed(1)
    a, b = torch.randn(5, 7), torch.randn(5, 7)
    assert float(nt_xent(a, b, tau)) == pytest.approx(_nt_xent_direct(a, b, tau), rel=1e-5)
    # identical views of orthogonal clips: the loss is small
    e = torch.eye(4)
    assert float(nt_xent(e, e, 0.1)) < 1e-3
    with pytest.raises(ConfigError):
        nt_xent(a[:1], b[:1])


def _tiny_pase():
    from musicrep.models import create_encoder

    return create_encoder("pase", input_samples=8000, backend_kwargs={"emb_dim": 16})


def test_multitask_targets_are_aligned_and_shaped():
    from musicrep.features import create_feature
    from musicrep.objectives.multitask import MultiTaskObjective

    torch.manual_seed(0)
    enc = _tiny_pase()
    obj = MultiTaskObjective(enc, workers=["decoder", "mfcc", "chroma", "lim"], hidden=8)
    assert obj.hop == 160
    steps = enc.sequence_length(8000)
    wave = torch.randn(2, 8000)
    # PASE frame k is centred on 160 k + 150.5: the target of step k is feature frame k + 1
    idx = obj.target_index(steps, 51)
    assert idx[:5].tolist() == [1, 2, 3, 4, 5]
    mfcc = create_feature("mfcc", n_mfcc=20, deltas=2, hop_length=160)(wave)
    target = obj.raw_target("mfcc", wave, steps)
    assert target.shape == (2, 60, steps)
    torch.testing.assert_close(target[..., 3], mfcc[..., 4])
    dec = obj.decoder_target(wave, steps)
    assert dec.shape == (2, steps, 160)
    start = round(float(enc.backend.frame_center(2)) - 80)
    torch.testing.assert_close(dec[:, 2], wave[:, start : start + 160])
    # statistics from prepare, then z-normalised losses
    obj.prepare(enc, [{"clean": wave}], "cpu")
    out = obj(enc, {"clean": wave, "wave": wave, "context": wave.flip(1), "other": -wave})
    assert set(out) >= {"loss", "loss_decoder", "loss_mfcc", "loss_chroma", "loss_lim"}
    assert torch.isfinite(out["loss"])


@pytest.mark.parametrize("kernel", [30, 25])
def test_transposed_decoder_upsamples_each_frame_to_its_hop(kernel):
    from musicrep.objectives.multitask import MultiTaskObjective

    torch.manual_seed(0)
    enc = _tiny_pase()
    obj = MultiTaskObjective(
        enc, workers=["decoder"], decoder_channels=[8, 8, 4], decoder_kernel=kernel
    )
    seq = torch.randn(2, 7, 16)
    assert obj.heads["decoder"](seq).shape == (2, 7, 160)
    # receptive field: output frame 0 does not depend on input frame 6
    seq.requires_grad_(True)
    obj.heads["decoder"].eval()
    obj.heads["decoder"](seq)[:, 0].sum().backward()
    assert seq.grad[:, 6].abs().max() == 0 and seq.grad[:, 0].abs().max() > 0
    with pytest.raises(ConfigError, match="multiply to"):
        MultiTaskObjective(enc, workers=["decoder"], decoder_strides=[4, 4, 4])
    mlp = MultiTaskObjective(enc, workers=["decoder"], decoder_head="mlp", hidden=8)
    assert mlp.heads["decoder"](seq.detach()).shape == (2, 7, 160)


def test_multitask_rejects_unknown_workers_and_sequence_free_encoders():
    from musicrep.objectives.multitask import MultiTaskObjective

    with pytest.raises(ConfigError, match="unknown worker"):
        MultiTaskObjective(_tiny_pase(), workers=["nope"])


@pytest.mark.parametrize("scheme", ["equal", "uncertainty", "gradnorm"])
def test_multitask_loss_decreases(scheme):
    from musicrep.objectives.multitask import MultiTaskObjective

    torch.manual_seed(0)
    enc = _tiny_pase()
    obj = MultiTaskObjective(enc, workers=["fbank", "mfcc"], hidden=16, weighting=scheme)
    t = torch.arange(8000) / 16000
    wave = torch.stack([0.5 * torch.sin(2 * math.pi * f * t) for f in (220, 440, 880, 1760)])
    wave = wave + 0.01 * torch.randn_like(wave)
    obj.prepare(enc, [{"clean": wave}], "cpu")
    obj.train()
    enc.train()
    opt = torch.optim.Adam([g for g in obj.param_groups(enc)][0]["params"], lr=3e-3)
    batch = {"clean": wave, "wave": wave}
    first = None
    for _ in range(15):
        out = obj(enc, batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        obj.weighting.step_end()
        measured = float(out["loss_fbank"] + out["loss_mfcc"])
        first = measured if first is None else first
    assert measured < 0.9 * first, (first, measured)


def test_clmr_loss_decreases():
    from musicrep.models import create_encoder
    from musicrep.objectives.contrastive import ClmrObjective
    from musicrep.objectives.supervised import _TINY_MUSICNN

    torch.manual_seed(0)
    cfg = {k: v for k, v in _TINY_MUSICNN.items() if k != "head_hidden" and k != "dropout"}
    cfg.pop("name")
    enc = create_encoder("musicnn", **cfg)
    obj = ClmrObjective(enc, projection_dim=8, augment=False)
    wave = torch.randn(6, enc.input_samples) * 0.1
    opt = torch.optim.Adam(obj.param_groups(enc)[0]["params"], lr=1e-3)
    losses = []
    for _ in range(10):
        out = obj(enc, {"view_a": wave, "view_b": wave + 0.01 * torch.randn_like(wave)})
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"]))
    assert losses[-1] < losses[0]


def _tiny_samplecnn():
    from musicrep.models import create_encoder

    # 3 * 3^6 = 2187 samples -> one frame; 8 BatchNorm layers like the full model's depth
    kw = {"channels": [16] * 7, "last_channels": 32}
    return create_encoder("samplecnn", input_samples=2187, backend_kwargs=kw)


def _clips(n, samples, seed):
    """``n`` distinct clips (harmonic tones + noise) and a second, shifted view of each."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(samples + 200) / 16000
    f0 = 110 * 2 ** (torch.arange(n) / 2)
    x = sum(torch.sin(2 * math.pi * k * f0[:, None] * t) / k for k in (1, 2, 3))
    x = 0.2 * x + 0.02 * torch.randn(x.shape, generator=g)
    return x[:, :samples], x[:, 150 : 150 + samples]


def test_clmr_learns_and_validates_below_chance_after_batchnorm_recompute():
    """NT-Xent falls on a small batch in a few steps; in eval mode (validation, export) the
    running BatchNorm averages of a short run collapse the embeddings (loss log(2N-1)) and the
    recomputed statistics (training.precise_bn_batches) give the training-mode loss back."""
    from musicrep.objectives.contrastive import ClmrObjective
    from musicrep.training.callbacks import recompute_batchnorm

    torch.manual_seed(0)
    enc = _tiny_samplecnn()
    obj = ClmrObjective(enc, embed_dim=32, projection_dim=16, augment=False)
    a, b = _clips(8, enc.input_samples, 0)
    opt = torch.optim.Adam(obj.param_groups(enc)[0]["params"], lr=3e-3)
    enc.train()
    losses = []
    for _ in range(8):
        loss = obj(enc, {"view_a": a, "view_b": b})["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    chance = math.log(2 * 8 - 1)
    assert losses[-1] < losses[0] - 0.3, losses

    def eval_loss():
        enc.eval()
        with torch.no_grad():
            return float(obj(enc, {"view_a": a, "view_b": b})["loss"])

    stale = eval_loss()
    loader = [{"view_a": a, "view_b": b}]
    assert recompute_batchnorm(enc, obj, loader, batches=1) == 2
    fixed = eval_loss()
    assert abs(stale - chance) < 0.05, stale  # the failure this fixes
    assert fixed < chance - 0.3, (fixed, losses[-1])


def test_recompute_batchnorm_is_the_average_of_the_batches_statistics():
    from musicrep.objectives.contrastive import ClmrObjective
    from musicrep.training.callbacks import recompute_batchnorm

    torch.manual_seed(0)
    enc = _tiny_samplecnn()
    obj = ClmrObjective(enc, embed_dim=32, augment=False)
    batches = [dict(zip(("view_a", "view_b"), _clips(4, enc.input_samples, s))) for s in (1, 2)]
    bn = enc.backend.blocks[0].bn
    conv = enc.backend.blocks[0].conv
    with torch.no_grad():
        outs = [conv(enc.frontend(b[v])) for b in batches for v in ("view_a", "view_b")]
    rng = torch.get_rng_state()
    enc.eval()
    assert recompute_batchnorm(enc, obj, batches + batches, batches=2) == 4
    assert torch.equal(torch.get_rng_state(), rng)  # the global generator is left alone
    means = torch.stack([o.mean(dim=(0, 2)) for o in outs]).mean(0)
    vars_ = torch.stack([o.var(dim=(0, 2)) for o in outs]).mean(0)  # torch keeps unbiased
    torch.testing.assert_close(bn.running_mean, means, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(bn.running_var, vars_, rtol=1e-4, atol=1e-6)
    assert bn.momentum == 0.1 and not enc.training  # momentum and mode are put back


def _write_unlabelled(root, n_train=8, seconds=1.0):
    """``n_train`` training and 2 validation clips (tones + noise), no labels."""
    import numpy as np
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    rows = []
    for i in range(n_train + 2):
        x = 0.4 * np.sin(2 * np.pi * [220.0, 880.0, 3520.0][i % 3] * t)
        x = x + 0.05 * rng.standard_normal(len(t))
        sf.write(root / f"{i:02d}.wav", x.astype(np.float32), 16000)
        rows.append(f"{i:02d}.wav,,{'train' if i < n_train else 'valid'}")
    (root / "manifest.csv").write_text("path,labels,split\n" + "\n".join(rows) + "\n")
    return root / "manifest.csv"


@pytest.mark.parametrize("scheme", ["dwa", "uncertainty"])
def test_multitask_run_logs_the_loss_weights_every_epoch(scheme, tmp_path):
    """``musicrep train`` with a multitask objective writes ``weight/<worker>`` to the run's
    metrics.csv once per epoch: dwa's are 1 after the first epoch, then K softmax(r / 2) of the
    logged epoch-mean losses; uncertainty's (learned) change between epochs."""
    import csv

    import yaml

    from musicrep.cli import main

    manifest = _write_unlabelled(tmp_path / "data")
    recipe = {
        "model": {"name": "pase", "input_samples": 8000, "backend_kwargs": {"emb_dim": 16}},
        "data": {"num_workers": 0},
        "training": {"batch_size": 4, "max_epochs": 3, "early_stopping_patience": 0},
        "objective": {
            "name": "multitask",
            "workers": ["fbank", "mfcc"],
            "weighting": scheme,
            "hidden": 16,
            "stats_batches": 2,
        },
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    argv = ["train", "--recipe", str(tmp_path / "r.yaml"), "--manifest", str(manifest)]
    assert main([*argv, "--out", str(out)]) == 0
    with open(out / "logs" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    workers = ["fbank", "mfcc"]
    weights, losses = {}, {}
    for r in rows:
        if r.get("weight/fbank"):
            assert int(r["epoch"]) not in weights, "weights logged twice in one epoch"
            weights[int(r["epoch"])] = [float(r[f"weight/{w}"]) for w in workers]
        if r.get("train/loss_fbank"):
            losses[int(r["epoch"])] = [float(r[f"train/loss_{w}"]) for w in workers]
    assert sorted(weights) == [0, 1, 2], rows
    if scheme == "dwa":
        assert weights[0] == [1.0, 1.0]
        for e in (1, 2):
            r = torch.tensor(losses[e]) / torch.tensor(losses[e - 1])
            expected = 2 * torch.softmax(r / 2.0, dim=0)
            assert weights[e] == pytest.approx(expected.tolist(), rel=1e-4), (e, weights)
    else:
        assert all(w > 0 for ws in weights.values() for w in ws)
        assert weights[0] != weights[2]  # learned: the weights move during training
