"""Pictures of what a model learned: analyze filters / attention / saliency."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from musicrep.analysis.filters import filter_banks, fir_responses
from musicrep.analysis.saliency import tf_saliency, window_starts
from musicrep.cli import main
from musicrep.io import save_model
from musicrep.models import create_model

SR = 16000
VOCAB = ["a", "b", "c"]


def _tiny_attention(seed: int = 0):
    torch.manual_seed(seed)
    return create_model(
        "attention",
        num_outputs=len(VOCAB),
        input_samples=SR * 2,
        backend_kwargs={"channels": [4, 4, 8, 8, 8, 8, 8], "num_heads": 2, "ffn_dim": 16},
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    t = np.arange(int(3.5 * SR)) / SR
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1500 * t)
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    sf.write(path, wave.astype(np.float32), SR)
    return path


# ------------------------------------------------------------------------------------ filters


def test_harmonic_bank_is_the_frontend_filterbank():
    model = create_model("hcnn", num_outputs=2)
    fe = model.encoder.frontend
    (bank,) = filter_banks(model)
    assert bank.kind == "harmonic" and bank.name == "frontend"
    np.testing.assert_allclose(bank.responses, fe.filterbank().detach().reshape(768, -1).numpy())
    fc = fe.center_frequencies().detach().reshape(-1).numpy()
    np.testing.assert_allclose(bank.centers, fc, rtol=1e-6)
    bw = (0.1079 * fc + 24.7) / 1.0  # Q = 1 at init
    np.testing.assert_allclose(bank.high - bank.low, bw, rtol=1e-5)
    assert bank.params["Q"] == pytest.approx(1.0)


def test_sinc_and_modulation_banks_match_their_kernels():
    model = create_model("sincmodnet", num_outputs=2)
    fe = model.encoder.frontend
    acoustic, modulation = filter_banks(model)
    assert (acoustic.kind, modulation.kind) == ("sinc", "sinc")
    assert modulation.sample_rate == pytest.approx(fe.envelope_rate)
    np.testing.assert_allclose(acoustic.low, fe.acoustic.low_hz.detach().numpy(), rtol=1e-6)
    kernels = fe.acoustic.filters().detach()[:, 0].double().numpy()
    direct = np.abs(np.fft.rfft(kernels, n=1024))
    np.testing.assert_allclose(acoustic.responses, direct, atol=1e-9)
    # a band-pass peaks inside its band
    inside = (acoustic.peaks >= acoustic.low - 20) & (acoustic.peaks <= acoustic.high + 20)
    assert inside.mean() > 0.9


def test_first_conv_of_a_waveform_model_and_none_for_mel():
    model = create_model("samplecnn", num_outputs=2)
    (bank,) = filter_banks(model)
    assert bank.kind == "conv" and bank.name.startswith("backend.")
    w = dict(model.encoder.named_modules())[bank.name].weight.detach()[:, 0]
    freqs, resp = fir_responses(w, SR)
    np.testing.assert_allclose(bank.responses, resp)
    assert freqs[-1] == pytest.approx(SR / 2)
    np.testing.assert_allclose(resp, np.abs(np.fft.rfft(w.double().numpy(), n=1024)), atol=1e-9)
    assert filter_banks(create_model("musicnn", num_outputs=2)) == []


def test_cli_filters_initial_beside_trained(tmp_path):
    torch.manual_seed(0)
    model = create_model("hcnn", num_outputs=2, backend_kwargs={"channels": 4})
    with torch.no_grad():
        model.encoder.frontend.bw_Q.fill_(2.0)  # "trained": narrower filters
    save_model(model, tmp_path / "m", vocab=["x", "y"], task="multilabel")
    out = tmp_path / "rep"
    assert main(["analyze", "filters", str(tmp_path / "m"), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "Q 1.0000 → 2.0000" in md
    assert (out / "frontend_harmonic.png").stat().st_size > 10_000
    doc = json.loads((out / "filters.json").read_text())
    (bank,) = doc["banks"]
    assert bank["initial"]["params"]["Q"] == 1.0 and bank["trained"]["params"]["Q"] == 2.0
    assert "<img" in (out / "report.html").read_text()


def test_cli_filters_seeded_rebuild_is_the_initial_state(tmp_path):
    torch.manual_seed(0)  # what musicrep train does before building the encoder
    model = create_model("samplecnn", num_outputs=2, backend_kwargs={"channels": [4] * 10})
    save_model(model, tmp_path / "m", vocab=["x", "y"], task="multilabel")
    assert main(["analyze", "filters", str(tmp_path / "m"), "--out", str(tmp_path / "a")]) == 0
    assert "kernels moved 0.0 %" in (tmp_path / "a" / "report.md").read_text()
    # another seed is another draw: the kernels differ
    argv = ["analyze", "filters", str(tmp_path / "m"), "--seed", "1", "--out", str(tmp_path / "b")]
    assert main(argv) == 0
    assert "kernels moved 0.0 %" not in (tmp_path / "b" / "report.md").read_text()


def test_cli_filters_error_for_fixed_frontends(tmp_path, capsys):
    rc = main(["analyze", "filters", "untrained:musicnn", "--out", str(tmp_path)])
    assert rc != 0
    assert "no learned input filters" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- attention


def test_cli_attention_report(tmp_path, clip):
    save_model(_tiny_attention(), tmp_path / "att", vocab=VOCAB, task="multilabel")
    out = tmp_path / "rep"
    argv = ["analyze", "attention", str(tmp_path / "att"), str(clip), "--out", str(out)]
    assert main(argv + ["--top", "2"]) == 0
    data = np.load(out / "attention.npz")
    # 3.5 s with 2 s windows: starts 0 and 1.5 s; [CLS] rows over frames sum to <= 1
    assert data["window"].max() == 1
    assert data["cls"].shape[:2] == (2, 2)
    assert np.all(data["cls"] >= 0) and np.all(data["cls"].sum(-1) <= 2 + 1e-5)
    for w in (0, 1):
        t = data["times"][data["window"] == w]
        assert np.all(np.diff(t) > 0)
    assert (out / "attention.png").is_file() and (out / "tokens.png").is_file()
    assert "clip probability" in (out / "report.md").read_text()


def test_attention_rows_are_probabilities(clip):
    from musicrep.analysis.attention import clip_attention
    from musicrep.analysis.saliency import load_clip

    att = clip_attention(_tiny_attention(), load_clip(clip, SR), "multilabel")
    for m in att.maps:  # (layers, heads, 1 + T', 1 + T')
        np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-5)


def test_cli_attention_needs_an_attention_backend(tmp_path, clip, capsys):
    torch.manual_seed(0)
    m = create_model("samplecnn", num_outputs=3, backend_kwargs={"channels": [4] * 10})
    save_model(m, tmp_path / "s", vocab=VOCAB, task="multilabel")
    assert main(["analyze", "attention", str(tmp_path / "s"), str(clip)]) != 0
    assert "returns no attention maps" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- saliency


class BandEnergy(nn.Module):
    """Logits = log of the share of energy in 1-2 kHz and in 300-700 Hz (a known answer)."""

    sample_rate = SR
    input_samples = SR

    def forward(self, x):
        p = torch.fft.rfft(x).abs().square()
        f = torch.fft.rfftfreq(x.shape[-1], 1 / SR)
        total = p.sum(-1) + 1e-9
        hi = p[:, (f >= 1000) & (f <= 2000)].sum(-1) / total
        lo = p[:, (f >= 300) & (f <= 700)].sum(-1) / total
        return torch.log(torch.stack([hi, lo], -1) + 1e-6)


@pytest.mark.parametrize("method", ["gradient", "occlusion"])
def test_saliency_finds_the_band_a_tag_reads(method):
    t = np.arange(int(2.5 * SR)) / SR
    wave = (0.3 * np.sin(2 * np.pi * 500 * t) + 0.3 * np.sin(2 * np.pi * 1500 * t)).astype("f4")
    sal = tf_saliency(
        BandEnergy(), wave, ["hi", "lo"], "multilabel", tags=["hi"], method=method, bands=12
    )
    assert sal.maps.shape == (1, 513, len(sal.times))
    assert sal.tags == ["hi"]
    m = sal.maps[0]
    near = lambda hz: np.argmin(np.abs(sal.freqs - hz))  # noqa: E731
    at_1500 = m[near(1500) - 1 : near(1500) + 2].mean()
    at_500 = m[near(500) - 1 : near(500) + 2].mean()
    # energy at 1.5 kHz supports "hi", energy at 500 Hz works against it (it dilutes the share)
    assert at_1500 > 0 > at_500
    assert np.abs(m[near(4000) :]).max() < 0.1 * np.abs(m).max()


def test_window_starts_cover_the_clip():
    assert window_starts(100, 40) == [0, 40, 60]
    assert window_starts(80, 40) == [0, 40]
    assert window_starts(30, 40) == [0]


def test_cli_saliency_report_and_errors(tmp_path, clip, capsys):
    save_model(_tiny_attention(), tmp_path / "att", vocab=VOCAB, task="multilabel")
    out = tmp_path / "rep"
    argv = ["analyze", "saliency", str(tmp_path / "att"), str(clip), "--out", str(out)]
    assert main(argv + ["--method", "occlusion", "--bands", "4", "--segments", "2"]) == 0
    data = np.load(out / "saliency.npz")
    assert data["maps"].shape[0] == 3 and list(data["tags"]) != []
    assert (out / "saliency.png").is_file()
    assert main(argv + ["--tags", "nope"]) != 0
    assert "unknown tag" in capsys.readouterr().err
