"""Tests of the model zoo: back-ends, shared blocks, the registry and the recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from musicrep.backends import create_backend, list_backends
from musicrep.errors import ConfigError
from musicrep.models import build_encoder, create_encoder, create_model, list_models, model_spec
from musicrep.nn import ConvBNReLU2d, ResBlock2d

torch.set_num_threads(1)  # the test machine's cores are shared

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

#: Published models: (embedding size, sequence step size).
DIMS = {
    "fcn": (64, 64),
    "crnn": (32, 32),
    "musicnn": (1506, 753),
    "samplecnn": (512, 512),
    "samplecnn_se": (512, 512),
    "shortchunk_cnn": (512, 512),
    "shortchunk_resnet": (512, 512),
    "attention": (256, 256),
    "hcnn": (256, 256),
    "modnet": (512, 512),
    "sincmodnet": (512, 512),
}

#: Narrow versions of every back-end: same strides, pools and shapes, a fraction of the compute.
TINY = {
    "fcn": {"channels": [4, 8, 8, 8, 4]},
    "crnn": {"channels": [4, 8, 8, 8], "rnn_hidden": 4},
    "musicnn": {"timbral_filters": 4, "temporal_filters": 4, "mid_channels": 4},
    "samplecnn": {"channels": [4] * 10, "last_channels": 8},
    "samplecnn_se": {"channels": [4] * 10, "last_channels": 8},
    "shortchunk_cnn": {"channels": [4, 4, 8, 8, 8, 8, 8]},
    "shortchunk_resnet": {"channels": [4, 4, 8, 8, 8, 8, 8]},
    "hcnn": {"channels": 4},
    "attention": {"channels": [4, 4, 8, 8, 8, 8, 16], "num_heads": 2, "ffn_dim": 16},
    "modnet": {"channels": [4, 4, 8, 8, 8, 8, 8]},
    "sincmodnet": {"channels": [4, 4, 8, 8, 8, 8, 8]},
}


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


#: Registered models outside the tagging zoo, with the test file that covers them.
TESTED_ELSEWHERE = {
    "coala": "tests/test_coala.py",
    "pase": "tests/test_pase.py",
    "pase_plus": "tests/test_pase.py",
    "multiview": "tests/test_multiview.py",
}


def test_every_registered_model_is_covered():
    assert sorted(DIMS) == sorted(set(list_models()) - set(TESTED_ELSEWHERE))


@pytest.mark.parametrize(
    "name",
    [n for n in sorted(DIMS) if model_spec(n).reference_params_m is not None],
)
def test_parameter_count_matches_reference(name):
    """Counts with 50 outputs within 5 % of the reference code's (front-end BN included)."""
    model = create_model(name, num_outputs=50)
    ref = model_spec(name).reference_params_m * 1e6
    assert abs(n_params(model) - ref) / ref < 0.05, (name, n_params(model), ref)
    assert (model.encoder.embed_dim, model.encoder.sequence_dim) == DIMS[name]


def test_nine_reference_counts_are_tested():
    with_ref = [n for n in list_models() if model_spec(n).reference_params_m is not None]
    assert len(with_ref) == 9


@pytest.mark.parametrize("name", sorted(DIMS))
def test_native_input_shapes(name):
    """At the native chunk length: logits (B, C), embedding (B, D), sequence (B, T', D')."""
    spec = model_spec(name)
    model = create_model(name, num_outputs=5, backend_kwargs=TINY[name]).eval()
    wave = torch.randn(2, spec.input_samples)
    with torch.no_grad():
        feats = model.encoder.frontend(wave)
        emb = model.encoder.backend(feats)
        logits = model.head(emb)
        seq = model.encoder.backend.forward_sequence(feats)
    assert logits.shape == (2, 5)
    assert emb.shape == (2, model.encoder.embed_dim)
    steps = model.encoder.sequence_length(spec.input_samples)
    assert seq.shape == (2, steps, model.encoder.sequence_dim)
    assert model.encoder.input_samples == spec.input_samples
    assert model.encoder.sample_rate == spec.sample_rate == 16000


def test_native_steps_of_published_models():
    """The frame counts the papers' architectures produce at their native lengths."""
    expected = {"crnn": 18, "attention": 118, "shortchunk_resnet": 2, "fcn": 1, "musicnn": 188}
    for name, steps in expected.items():
        enc = create_encoder(name, backend_kwargs=TINY[name])
        assert enc.sequence_length(model_spec(name).input_samples) == steps, name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DIMS))
def test_full_size_forward_native(name):
    spec = model_spec(name)
    model = create_model(name).eval()
    with torch.no_grad():
        wave = torch.randn(2, spec.input_samples)
        assert model(wave).shape == (2, 50)
        assert model.embed(wave).shape == (2, DIMS[name][0])


def test_model_returns_logits_and_trains():
    """No sigmoid inside (outputs leave [0, 1]); BCE-with-logits decreases on a fixed batch."""
    torch.manual_seed(0)
    model = create_model(
        "shortchunk_resnet",
        num_outputs=3,
        backend_kwargs=TINY["shortchunk_resnet"],
        input_samples=4096,
        dropout=0.0,
    )
    wave = torch.randn(4, 4096)
    target = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        logits = model(wave)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        out = model(wave)
    assert ((out < 0) | (out > 1)).any()
    assert losses[-1] < 0.5 * losses[0]


def test_gradient_reaches_learnable_frontend():
    model = create_model("hcnn", num_outputs=2, backend_kwargs=TINY["hcnn"])
    model(torch.randn(2, model.input_samples)).sum().backward()
    q = model.encoder.frontend.bw_Q
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().item() > 0


@pytest.mark.parametrize(
    ("name", "frontend", "samples", "backend_kwargs"),
    [
        ("shortchunk_resnet", "harmonic", 16000, None),
        ("hcnn", "mel", 80000, None),
        ("musicnn", "gammatone", 8000, None),
        ("attention", "cqt", 16000, None),
        ("crnn", "stft", 32000, None),
        ("shortchunk_resnet", "sinc_modulation", 16000, None),
        ("modnet", "mel", 16000, None),
        # a 1-D back-end reads a (1, F, T) map as F channels over frames
        ("samplecnn", "mel", 16000, {"channels": [4, 4, 4], "last_channels": 8}),
        ("samplecnn_se", "sinc", 16000, {"channels": [4, 4, 4], "last_channels": 8}),
    ],
)
def test_frontend_backend_composition(name, frontend, samples, backend_kwargs):
    model = create_model(
        name,
        num_outputs=3,
        frontend=frontend,
        backend_kwargs=backend_kwargs or TINY[name],
        input_samples=samples,
    ).eval()
    assert model.config["frontend"] == frontend
    with torch.no_grad():
        wave = torch.randn(2, samples)
        assert model(wave).shape == (2, 3)
        assert model.embed(wave).shape == (2, model.encoder.embed_dim)


def test_published_composition_example_builds():
    model = create_model("shortchunk_resnet", frontend="harmonic")
    assert model.encoder.backend.in_shape == (6, 128, 231)
    assert model.encoder.embed_dim == 512


@pytest.mark.parametrize(
    ("kwargs", "needles"),
    [
        (
            {"name": "shortchunk_cnn", "frontend": "waveform"},
            ["waveform", "shortchunk_cnn", "(1, 59049)"],
        ),
        (
            {"name": "shortchunk_cnn", "frontend_kwargs": {"n_mels": 96}},
            ["mel", "shortchunk_cnn", "(1, 96, 231)", "128 frequency"],
        ),
        ({"name": "fcn", "input_samples": 48000}, ["mel", "fcn", "(1, 96, 188)", "1280 time"]),
    ],
)
def test_impossible_pair_raises_config_error(kwargs, needles):
    with pytest.raises(ConfigError) as info:
        create_model(**kwargs)
    for needle in needles:
        assert needle in str(info.value)


def test_unknown_names_and_options():
    with pytest.raises(ConfigError, match="valid names: .*shortchunk_resnet"):
        create_model("shortchunk_resnot")
    with pytest.raises(ConfigError, match="front-end"):
        create_model("fcn", frontend="spectrogramm")
    with pytest.raises(ConfigError, match="unknown option.*chanels.*valid: channels"):
        create_model("fcn", backend_kwargs={"chanels": [1]})
    with pytest.raises(ConfigError, match="valid names"):
        model_spec("vgg")


@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "name": "attention",
            "backend_kwargs": {"positional_encoding": "sinusoidal", **TINY["attention"]},
        },
        {"name": "shortchunk_resnet", "frontend": "harmonic", "num_outputs": 10},
        {"name": "musicnn", "head_hidden": None, "dropout": 0.1, "input_samples": 32000},
        {"name": "modnet", "backend_kwargs": TINY["modnet"]},
    ],
)
def test_config_rebuilds_identical_architecture(kwargs):
    model = create_model(**kwargs)
    config = json.loads(json.dumps(model.config))  # JSON-serialisable
    rebuilt = create_model(**config)
    a, b = model.state_dict(), rebuilt.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(a)  # strict


def test_attention_maps():
    model = create_model(
        "attention", num_outputs=4, backend_kwargs=TINY["attention"], input_samples=16000
    ).eval()
    enc = model.encoder
    steps = enc.sequence_length(16000)  # 63 frames -> ceil(63 / 8) = 8 tokens
    assert steps == 8
    with torch.no_grad():
        emb, maps = enc(torch.randn(3, 16000), return_attention=True)
    assert emb.shape == (3, 16)
    assert len(maps) == 2
    for m in maps:
        assert m.shape == (3, 2, steps + 1, steps + 1)  # [CLS] + tokens, 2 heads
        torch.testing.assert_close(m.sum(-1), torch.ones(3, 2, steps + 1))
    assert enc.backend.last_attention is maps
    # the explicit path and the fused path agree
    with torch.no_grad():
        wave = torch.randn(2, 16000)
        torch.testing.assert_close(enc(wave), enc(wave, return_attention=True)[0])
    assert isinstance(enc.backend.cls_token, torch.nn.Parameter)  # learned [CLS]
    other = create_encoder("fcn", backend_kwargs=TINY["fcn"])
    with pytest.raises(ConfigError, match="attention"):
        other(torch.randn(1, other.input_samples), return_attention=True)


def test_sequence_length_matches_longer_inputs():
    enc = create_encoder("shortchunk_resnet", backend_kwargs=TINY["shortchunk_resnet"]).eval()
    n = 3 * enc.input_samples
    with torch.no_grad():
        seq = enc.forward_sequence(torch.randn(1, n))
        emb = enc(torch.randn(1, n))
    assert seq.shape == (1, enc.sequence_length(n), 8)
    assert emb.shape == (1, 8)


def test_too_short_input_at_run_time_raises():
    enc = create_encoder("fcn", backend_kwargs=TINY["fcn"])
    with pytest.raises(ConfigError, match="1280 time"):
        enc(torch.randn(1, 16000))


def test_backends_on_random_feature_maps():
    torch.manual_seed(0)
    for name, shape in [
        ("shortchunk_cnn", (1, 128, 128)),
        ("hcnn", (6, 128, 313)),
        ("musicnn", (1, 96, 50)),
        ("crnn", (1, 96, 200)),
        ("samplecnn", (1, 59049)),
        ("modnet", (8, 40, 300)),
    ]:
        be = create_backend(name, shape, **TINY[name]).eval()
        with torch.no_grad():
            out = be(torch.randn(2, *shape))
        assert out.shape == (2, be.embed_dim), name
    assert "attention" in list_backends()
    be = create_backend("shortchunk_cnn", (1, 128, 128), **TINY["shortchunk_cnn"])
    with pytest.raises(ConfigError, match="built for features"):
        be(torch.randn(2, 1, 96, 128))


def test_block_shape_tracing_matches_modules():
    """``out_shape`` (used for the fit checks) agrees with what the modules produce."""
    for block, shape in [
        (ConvBNReLU2d(1, 4, pool=(3, 5)), (1, 17, 23)),
        (ResBlock2d(2, 4, stride=(2, 1)), (2, 9, 7)),
        (ResBlock2d(4, 4, stride=1), (4, 5, 5)),
    ]:
        assert block(torch.randn(1, *shape)).shape[1:] == block.out_shape(shape)


def test_shipped_recipes_build():
    """One configs/<model>.yaml per model; the training code accepts it; its model builds."""
    train = pytest.importorskip("musicrep.training")
    files = [  # the zoo's recipes (the others are tested with their models)
        f
        for f in sorted(CONFIGS.glob("*.yaml"))
        if (yaml.safe_load(f.read_text()).get("model") or {}).get("name", None) == f.stem
        and f.stem not in TESTED_ELSEWHERE
    ]  # method recipes (clmr.yaml on samplecnn, ...) are tested with their objectives
    names = [yaml.safe_load(f.read_text())["model"]["name"] for f in files]
    assert sorted(names) == sorted(DIMS)
    assert [f.stem for f in files] == sorted(names)
    for f in files:
        cfg = train.resolve_config(train.load_recipe(f))
        assert cfg["training"]["schedule"] == "won2020", f.name
        assert cfg["training"]["batch_size"] == 16 and cfg["training"]["max_epochs"] == 200
        assert cfg["evaluation"]["chunks"] == 16
    cfg = yaml.safe_load((CONFIGS / "shortchunk_resnet.yaml").read_text())
    assert create_model(**cfg["model"]).num_outputs == 50


def test_build_encoder_any_pair():
    enc = build_encoder(
        "harmonic", "shortchunk_resnet", 80000, backend_kwargs=TINY["shortchunk_resnet"]
    )
    assert enc.backend.in_shape == (6, 128, 313)
    with pytest.raises(ConfigError, match="'sinc'.*'hcnn'"):
        build_encoder("sinc", "hcnn", 16000)


def test_cli_shows_one_model(capsys):
    import argparse

    from musicrep.cli import models as cli_models

    parser = argparse.ArgumentParser()
    cli_models.register(parser.add_subparsers())
    args = parser.parse_args(["models", "fcn"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "464000 samples (29.00 s)" in out and "(1, 96, 1813)" in out
    assert "reference 0.45 M" in out
    with pytest.raises(ConfigError, match="valid names"):
        cli_models.print_model("fcnn")
