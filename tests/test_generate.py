"""Generation: piano rolls, MIDI I/O, the biaxial LSTM and the conditioned WaveNet."""

import numpy as np
import pytest
import torch

from musicrep.generate import BiaxialLSTM, TimeLSTM, WaveNet, mu_law_decode, mu_law_encode
from musicrep.generate.lstm import roll_statistics, statistics_distance
from musicrep.symbolic import (
    ARTICULATE,
    PLAY,
    Notes,
    notes_to_roll,
    read_midi,
    roll_to_notes,
    write_midi,
)


def _notes():
    return Notes.make([60, 64, 67, 60, 72], [0.0, 0.0, 0.5, 0.5, 1.0], [0.5, 1.0, 0.5, 0.25, 0.5])


def test_roll_round_trip_and_repeated_notes():
    notes = _notes()
    roll = notes_to_roll(notes, rate=4)
    assert roll.shape == (2, 88, 6)
    assert roll[PLAY, 60 - 21, :3].tolist() == [1, 1, 1]  # C4 twice, back to back
    assert roll[ARTICULATE, 60 - 21, :3].tolist() == [1, 0, 1]
    back = roll_to_notes(roll, rate=4)
    assert sorted(zip(back.pitch, back.onset, back.duration)) == sorted(
        zip(notes.pitch, notes.onset, notes.duration)
    )


def test_midi_round_trip(tmp_path):
    notes = _notes()
    path = write_midi(notes, tmp_path / "x.mid", bpm=90)
    back = read_midi(path)
    assert list(back.pitch) == list(notes.pitch)
    np.testing.assert_allclose(back.onset, notes.onset, atol=2e-3)
    np.testing.assert_allclose(back.duration, notes.duration, atol=2e-3)


def test_mu_law_round_trip():
    x = torch.linspace(-1, 1, 1001)
    q = mu_law_encode(x)
    assert q.min() == 0 and q.max() == 255
    err = (mu_law_decode(q) - x).abs()
    assert err.max() < 0.04 and err[480:520].max() < 1e-3  # fine resolution near zero


def _wavenet(**kw):
    torch.manual_seed(0)
    cfg = dict(
        layers=6,
        cycle=3,
        channels=8,
        skip_channels=8,
        cond_channels=6,
        hop=4,
        num_styles=3,
        global_dim=4,
    )
    cfg.update(kw)
    return WaveNet(**cfg).eval()


def test_wavenet_shapes_and_causality():
    net = _wavenet()
    q = torch.randint(0, 256, (2, 40))
    roll = torch.rand(2, 6, 10)
    out = net(q, roll, style=1)
    assert out.shape == (2, 256, 40)
    q2 = q.clone()
    q2[:, 25:] = torch.randint(0, 256, (2, 15))
    out2 = net(q2, roll, style=1)
    # position n sees samples <= n only
    assert torch.allclose(out[..., :25], out2[..., :25], atol=1e-6)
    assert not torch.allclose(out[..., 25:], out2[..., 25:])
    # local conditioning changes the output from the frame where it changes on
    roll2 = roll.clone()
    roll2[..., 5:] = 0
    out3 = net(q, roll2, style=1)
    assert torch.allclose(out[..., :20], out3[..., :20], atol=1e-6)
    assert not torch.allclose(out[..., 20:], out3[..., 20:])
    assert net.receptive_field == 2 + (1 + 2 + 4) * 2


def test_cached_step_equals_full_forward():
    net = _wavenet()
    q = torch.randint(0, 256, (3, 50))
    roll = torch.rand(3, 6, 13)
    full = net(q, roll, style=torch.tensor([0, 1, 2]))
    y = net._cond(roll, 50)
    g = net._global(torch.tensor([0, 1, 2]), 3, q.device)
    cache = net.start(3)
    steps = [net.step(q[:, n], cache, y[:, :, n : n + 1], g) for n in range(50)]
    assert torch.allclose(torch.stack(steps, -1), full, atol=1e-5)


def test_wavenet_generate_seeded_and_loss_learns():
    net = _wavenet(num_styles=0)
    roll = torch.rand(2, 6, 8)
    a = net.generate(32, roll, seed=3)
    b = net.generate(32, roll, seed=3)
    c = net.generate(32, roll, seed=4)
    assert a.shape == (2, 32) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() <= 1
    # a short fit of a conditioned tone lowers the loss
    net.train()
    wave = torch.sin(torch.arange(256) * 0.3)[None] * 0.5
    q = mu_law_encode(wave)
    cond = torch.ones(1, 6, 64)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    first = net.loss(q, cond).item()
    for _ in range(30):
        opt.zero_grad()
        loss = net.loss(q, cond)
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


@pytest.mark.parametrize("cls", [BiaxialLSTM, TimeLSTM])
def test_lstm_causal_and_seeded(cls):
    torch.manual_seed(0)
    kw = dict(pitches=24, num_styles=2, lowest=48)
    model = cls(
        **kw, **({"time_hidden": 8, "pitch_hidden": 8} if cls is BiaxialLSTM else {"hidden": 8})
    ).eval()
    roll = (torch.rand(2, 2, 24, 12) > 0.8).float()
    roll[:, ARTICULATE] *= roll[:, PLAY]
    style = torch.tensor([0, 1])
    logits = model(roll, style)
    assert logits.shape == (2, 2, 24, 11)
    roll2 = roll.clone()
    roll2[..., 8:] = 1 - roll2[..., 8:]
    logits2 = model(roll2, style)
    # frame t's prediction (index t-1) depends on frames < t (and, for the biaxial model, on
    # lower pitches of frame t): frames 1..7 unchanged
    assert torch.allclose(logits[..., :7], logits2[..., :7], atol=1e-6)
    nll = model.nll(roll, style)
    assert nll.shape == (2, 11) and (nll > 0).all()
    a = model.sample(10, 1, batch=2, seed=5)
    b = model.sample(10, 1, batch=2, seed=5)
    assert a.shape == (2, 2, 24, 10) and torch.equal(a, b)
    assert (a[:, ARTICULATE] <= a[:, PLAY]).all()


def test_biaxial_pitch_axis_is_autoregressive():
    torch.manual_seed(0)
    model = BiaxialLSTM(pitches=16, num_styles=1, time_hidden=8, pitch_hidden=8, lowest=60).eval()
    roll = (torch.rand(1, 2, 16, 6) > 0.7).float()
    style = torch.tensor([0])
    base = model(roll, style)
    changed = roll.clone()
    changed[0, PLAY, 10, 3] = 1 - changed[0, PLAY, 10, 3]  # frame 3, pitch 10
    out = model(changed, style)
    # frame 3's prediction (index 2): pitches <= 10 unchanged, pitches above see it
    assert torch.allclose(base[..., :11, 2], out[..., :11, 2], atol=1e-6)
    assert not torch.allclose(base[..., 11:, 2], out[..., 11:, 2])


def test_roll_statistics():
    roll = notes_to_roll(_notes(), rate=4)
    s = roll_statistics(roll)
    assert abs(s["pitch_class"].sum() - 1) < 1e-9 and s["pitch_class"][0] == 3 / 5
    assert s["range"] == 12 and s["density"] == 5 / 6
    d = statistics_distance([s], [s])
    assert d["pitch_class_l1"] == 0 and d["interval_l1"] == 0


def test_generate_cli_end_to_end(tmp_path):
    """Tiny exported models: LSTM score -> MIDI + WaveNet audio; then render the MIDI file."""
    import soundfile as sf

    from musicrep import io
    from musicrep.cli import main

    torch.manual_seed(0)
    lstm = BiaxialLSTM(pitches=36, num_styles=2, time_hidden=4, pitch_hidden=4, lowest=48)
    lstm.config.update(styles=["bach", "folk"], frames_per_quarter=4)
    wn = WaveNet(layers=2, cycle=2, channels=4, skip_channels=4, cond_channels=72, hop=160)
    wn.config.update(lowest=48, highest=83, sample_rate=16000)
    io.save_model(lstm, tmp_path / "lstm")
    io.save_model(wn, tmp_path / "wn")
    out, mid = tmp_path / "p.wav", tmp_path / "p.mid"
    args = [
        "generate",
        "--lstm",
        str(tmp_path / "lstm"),
        "--wavenet",
        str(tmp_path / "wn"),
        "--style",
        "folk",
        "--seconds",
        "0.05",
        "--out",
        str(out),
        "--midi-out",
        str(mid),
    ]
    assert main(args) == 0
    audio, sr = sf.read(out)
    assert sr == 16000 and len(audio) == 800
    assert (
        main(
            [
                "generate",
                "--wavenet",
                str(tmp_path / "wn"),
                "--midi",
                str(mid),
                "--seconds",
                "0.05",
                "--out",
                str(tmp_path / "m.wav"),
            ]
        )
        == 0
    )
    assert main(args[:5] + ["--style", "jazz"] + args[7:]) == 2  # a clear error, no traceback
