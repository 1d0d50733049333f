"""PASE / PASE+ encoders, the QRNN, and the sequence hop of every zoo encoder."""

from __future__ import annotations

import math

import pytest
import torch

from musicrep.cli import main
from musicrep.errors import ConfigError
from musicrep.models import create_encoder, create_model, list_models, model_spec
from musicrep.nn import QRNN, QRNNLayer, forget_mult

TINY = {"channels": [4, 4, 8, 8, 8, 8, 8], "emb_dim": 6, "rnn_dim": 8}


def test_pase_plus_gives_625_frames_of_256_for_100000_samples():
    enc = create_encoder("pase_plus").eval()
    x = torch.randn(1, 100000)
    with torch.no_grad():
        seq = enc.forward_sequence(x)
        emb = enc.embed(x)
    assert seq.shape == (1, 625, 256)
    torch.testing.assert_close(emb, seq.mean(dim=1))
    assert enc.sequence_length(100000) == 625 and enc.sequence_length(32000) == 200
    assert enc.sequence_hop == 160 and enc.sequence_rate == 100
    assert enc.backend.frame_center(0) == 150.5 and enc.backend.frame_center(3) == 630.5
    assert model_spec("pase_plus").input_samples == 32000


def test_pase_plus_architecture_is_the_reference_configuration():
    enc = create_encoder("pase_plus")
    sinc = enc.frontend.sinc
    assert (sinc.out_channels, sinc.kernel_size, sinc.stride, sinc.padding) == (64, 251, 1, 125)
    assert sinc.padding_mode == "reflect"
    # mel-spaced band edges from 30 Hz to fs/2 - 100 Hz, minimum low cut-off / band 50 Hz
    assert float(sinc.low_param[0].detach()) == pytest.approx(30.0)
    assert float((sinc.low_param[-1] + sinc.band_param[-1]).detach()) == pytest.approx(8000 - 100)
    assert (sinc.min_low_hz, sinc.min_band_hz) == (50.0, 50.0)
    assert isinstance(enc.frontend.norm, torch.nn.BatchNorm1d)
    assert torch.all(enc.frontend.activation.weight == 0)  # PReLU initialised at 0
    be = enc.backend
    assert [b.kernel for b in be.blocks] == [20, 11, 11, 11, 11, 11, 11]
    assert [b.stride for b in be.blocks] == [10, 2, 1, 2, 1, 2, 2]
    assert [b.conv.out_channels for b in be.blocks] == [64, 128, 128, 256, 256, 512, 512]
    assert all(torch.all(b.act.weight == 0) for b in be.blocks)
    assert [s.in_channels for s in be.skips] == [64, 64, 128, 128, 256, 256, 512]
    assert all(s.bias is None and s.out_channels == 256 for s in be.skips)
    assert be.skip_factors == [160, 16, 8, 8, 4, 4, 2]
    rnn = be.rnn
    assert isinstance(rnn, QRNN) and not rnn.bidirectional and rnn.hidden_size == 512
    assert rnn.layers[0][0].window == 2
    assert be.proj.in_channels == 512 and be.proj.out_channels == 256
    assert isinstance(be.norm, torch.nn.BatchNorm1d) and not be.norm.affine
    n = sum(p.numel() for p in enc.parameters())
    assert n == 7_832_896  # the number README and `musicrep models` report


def test_pase_v1_and_rnn_options():
    pase = create_encoder("pase")
    assert pase.embed_dim == 100 and pase.backend.rnn is None and len(pase.backend.skips) == 0
    x = torch.randn(2, 8000)
    assert pase.forward_sequence(x).shape == (2, 50, 100)
    for rnn, bi, hidden in (("qrnn", True, 4), ("lstm", None, 4), ("gru", False, 8)):
        enc = create_encoder("pase_plus", backend_kwargs={**TINY, "rnn": rnn, "bidirectional": bi})
        assert enc.forward_sequence(x).shape == (2, 50, 6)
        module = enc.backend.rnn
        assert (module.hidden_size, module.bidirectional) == (hidden, hidden == 4)
    with pytest.raises(ConfigError, match="unknown rnn"):
        create_encoder("pase_plus", backend_kwargs={"rnn": "transformer"})


def test_dense_skips_reach_the_output_and_gradients_reach_the_sinc_filters():
    torch.manual_seed(0)
    enc = create_encoder("pase_plus", backend_kwargs=TINY).eval()
    x = torch.randn(2, 4800)
    out = enc.forward_sequence(x)
    with torch.no_grad():
        enc.backend.skips[0].weight.mul_(2)
    assert not torch.allclose(out, enc.forward_sequence(x))
    enc.train()
    enc.forward_sequence(x).square().mean().backward()
    assert enc.frontend.sinc.low_param.grad.abs().sum() > 0
    assert all(p.grad is not None for p in enc.backend.parameters())
    # other lengths round down in the strided blocks
    assert enc.forward_sequence(torch.randn(1, 4801)).shape == (1, 30, 6)
    assert enc.sequence_length(4801) == 30


def test_musicrep_models_lists_pase_plus(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("pase_plus "))
    params = sum(p.numel() for p in create_model("pase_plus").parameters()) / 1e6
    assert f"{params:.2f}" in row and "sinc" in row and "pase" in row
    assert main(["models", "pase_plus"]) == 0
    assert "200 x 256, one per 160 samples" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ QRNN


def _loop(log_decay, inputs, state=None):
    c = torch.zeros_like(inputs[:, 0]) if state is None else state
    out = []
    for t in range(inputs.shape[1]):
        c = log_decay[:, t].exp() * c + inputs[:, t]
        out.append(c)
    return torch.stack(out, 1)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_forget_mult_equals_the_sequential_recurrence(scale):
    g = torch.Generator().manual_seed(0)
    pre = scale * torch.randn(2, 37, 5, generator=g, dtype=torch.float64)
    log_decay = torch.nn.functional.logsigmoid(pre)  # gates down to e^-30: still finite
    u = torch.randn(2, 37, 5, generator=g, dtype=torch.float64)
    state = torch.randn(2, 5, generator=g, dtype=torch.float64)
    got = forget_mult(log_decay, u, state, chunk=8)
    torch.testing.assert_close(got, _loop(log_decay, u, state))
    assert torch.isfinite(got).all()


def test_forget_mult_gradients():
    g = torch.Generator().manual_seed(1)
    la = torch.nn.functional.logsigmoid(torch.randn(1, 9, 2, generator=g, dtype=torch.float64))
    u = torch.randn(1, 9, 2, generator=g, dtype=torch.float64)
    la.requires_grad_(True)
    u.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: forget_mult(a, b, chunk=4), (la, u))


def test_qrnn_layer_follows_pytorch_qrnn_equations():
    torch.manual_seed(0)
    layer = QRNNLayer(3, 4, window=2).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    prev = torch.cat([torch.zeros(2, 1, 3, dtype=torch.float64), x[:, :-1]], dim=1)
    z, f, o = layer.linear(torch.cat([x, prev], -1)).chunk(3, -1)
    z, f, o = torch.tanh(z), torch.sigmoid(f), torch.sigmoid(o)
    c, hs = torch.zeros(2, 4, dtype=torch.float64), []
    for t in range(6):
        c = f[:, t] * z[:, t] + (1 - f[:, t]) * c
        hs.append(o[:, t] * c)
    torch.testing.assert_close(layer(x), torch.stack(hs, 1))
    assert QRNN(3, 4, num_layers=2, bidirectional=True)(x.float())[0].shape == (2, 6, 8)
    q = QRNN(3, 4, bidirectional=True).double()
    out, _ = q(x)
    # the backward direction sees the future: changing the last step changes the first output
    x2 = x.clone()
    x2[:, -1] += 1
    assert not torch.allclose(q(x2)[0][:, 0, 4:], out[:, 0, 4:])
    torch.testing.assert_close(q(x2)[0][:, 0, :4], out[:, 0, :4])


# ------------------------------------------------------------------------- sequence hops


def test_every_sequence_encoder_reports_its_hop():
    expected = {"musicnn": 256, "pase_plus": 160, "samplecnn": 59049, "crnn": 256 * 96}
    expected["shortchunk_cnn"] = 256 * 2**7
    for name in list_models():
        enc = create_encoder(name)
        if not enc.supports_sequence:
            assert enc.sequence_hop is None
            continue
        hop = enc.sequence_hop
        assert hop is not None and hop == int(hop), name
        if name in expected:
            assert hop == expected[name], name
        n = 8 * enc.input_samples
        assert enc.sequence_length(n + int(hop)) == enc.sequence_length(n) + 1, name
        assert enc.sequence_rate == pytest.approx(enc.sample_rate / hop)
    assert math.isclose(create_model("pase").encoder.sequence_hop, 160)
