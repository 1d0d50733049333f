"""Symbolic models over play/articulate piano rolls (Manzelli et al. 2018 stage 1).

:class:`BiaxialLSTM` follows D. Johnson's "tied parallel networks" (2015/2017): for every
pitch, a *time-axis* LSTM (weights shared across pitches, so it is transposition-equivariant)
reads the previous frames as seen from that pitch (its own and its neighbours' play/articulate
state one octave either side, its pitch class, the beat position, the style); then at every
frame a *pitch-axis* LSTM runs from low to high pitch over the time-LSTM outputs plus the
notes already chosen below, and predicts ``p(play)`` and ``p(articulate | play)`` of each
pitch. :class:`TimeLSTM` is the single-axis baseline: one LSTM over whole frames with
independent Bernoulli outputs per pitch.

Choices not given by the paper (configurable): a 16th-note grid (4 frames per quarter), the
neighbourhood of +-12 semitones, beat features of ``bar_frames`` positions (16 = a 4/4 bar),
style as a learned embedding concatenated to every time-LSTM input.

Rolls here are ``(batch, 2, pitches, frames)`` float tensors (see :mod:`musicrep.symbolic`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.symbolic.roll import ARTICULATE, PLAY


def _nll(play_logit, art_logit, target):
    """Summed Bernoulli NLL per example of play, and of articulate where played."""
    play, art = target[:, PLAY], target[:, ARTICULATE]
    lp = F.binary_cross_entropy_with_logits(play_logit, play, reduction="none")
    la = F.binary_cross_entropy_with_logits(art_logit, art, reduction="none") * play
    return lp + la


class BiaxialLSTM(nn.Module):
    """Style-conditioned biaxial LSTM (see the module docstring)."""

    export_kind = "gen_lstm"
    sample_rate = 0  # symbolic: no audio
    input_samples = 0

    def __init__(
        self,
        pitches: int = 88,
        num_styles: int = 7,
        time_hidden: int = 64,
        pitch_hidden: int = 32,
        time_layers: int = 2,
        pitch_layers: int = 1,
        window: int = 12,
        bar_frames: int = 16,
        style_dim: int = 8,
        lowest: int = 21,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.config = dict(
            kind="biaxial",
            pitches=pitches,
            num_styles=num_styles,
            time_hidden=time_hidden,
            pitch_hidden=pitch_hidden,
            time_layers=time_layers,
            pitch_layers=pitch_layers,
            window=window,
            bar_frames=bar_frames,
            style_dim=style_dim,
            lowest=lowest,
            dropout=dropout,
        )
        self.pitches, self.window, self.bar_frames, self.lowest = (
            pitches,
            window,
            bar_frames,
            lowest,
        )
        self.style = nn.Embedding(max(num_styles, 1), style_dim)
        feat = 2 * (2 * window + 1) + 12 + 1 + bar_frames + style_dim
        self.time_lstm = nn.LSTM(
            feat,
            time_hidden,
            time_layers,
            batch_first=True,
            dropout=dropout if time_layers > 1 else 0.0,
        )
        self.pitch_lstm = nn.LSTM(time_hidden + 2, pitch_hidden, pitch_layers, batch_first=True)
        self.head = nn.Linear(pitch_hidden, 2)
        pc = torch.zeros(pitches, 12)
        pc[torch.arange(pitches), (torch.arange(pitches) + lowest) % 12] = 1
        self.register_buffer("pitch_class", pc, persistent=False)

    def _features(self, prev, t0, style):
        """Time-LSTM inputs ``(batch*pitches, frames, feat)`` from the previous frames
        ``prev`` ``(batch, 2, pitches, frames)`` (frame ``t`` holds the state before ``t``)."""
        b, _, p, t = prev.shape
        w = self.window
        padded = F.pad(prev, (0, 0, w, w))  # pad the pitch axis
        # unfold -> (b, 2, p, t, 2w+1) neighbourhoods -> (b, p, t, 2 * (2w+1))
        neigh = padded.unfold(2, 2 * w + 1, 1).permute(0, 2, 3, 1, 4).reshape(b, p, t, -1)
        pc = self.pitch_class[None, :, None, :].expand(b, p, t, 12)
        height = torch.arange(p, device=prev.device, dtype=prev.dtype) / p
        height = height[None, :, None, None].expand(b, p, t, 1)
        beat = F.one_hot(
            (torch.arange(t, device=prev.device) + t0) % self.bar_frames, self.bar_frames
        ).to(prev.dtype)
        beat = beat[None, None].expand(b, p, t, self.bar_frames)
        st = self.style(style)[:, None, None, :].expand(b, p, t, -1)
        return torch.cat([neigh, pc, height, beat, st], dim=-1).reshape(b * p, t, -1)

    def _pitch_pass(self, h_time, chosen):
        """Pitch-axis LSTM: ``h_time`` ``(batch*frames, pitches, H)``; ``chosen``
        ``(batch*frames, pitches, 2)`` the notes of each frame (teacher forcing), shifted so
        pitch ``k`` sees pitches ``< k``."""
        below = F.pad(chosen, (0, 0, 1, 0))[:, :-1]
        out, _ = self.pitch_lstm(torch.cat([h_time, below], dim=-1))
        return self.head(out)

    def forward(self, roll, style):
        """Logits ``(batch, 2, pitches, frames-1)`` of frames ``1..`` given the frames before
        (teacher forcing)."""
        b, _, p, t = roll.shape
        feats = self._features(roll[..., :-1], 0, style)
        h, _ = self.time_lstm(feats)  # (b*p, t-1, H)
        h = h.reshape(b, p, t - 1, -1).permute(0, 2, 1, 3).reshape(b * (t - 1), p, -1)
        target = roll[..., 1:].permute(0, 3, 2, 1).reshape(b * (t - 1), p, 2)
        logits = self._pitch_pass(h, target)  # (b*(t-1), p, 2)
        return logits.reshape(b, t - 1, p, 2).permute(0, 3, 2, 1)

    def nll(self, roll, style):
        """Negative log-likelihood in nats summed over pitches, ``(batch, frames-1)``."""
        logits = self(roll, style)
        return _nll(logits[:, PLAY], logits[:, ARTICULATE], roll[..., 1:]).sum(1)

    @torch.no_grad()
    def sample(self, frames, style, *, batch=1, temperature=1.0, seed=0, prime=None):
        """Sample ``(batch, 2, pitches, frames)`` rolls (seeded). ``prime``: optional first
        frames ``(batch, 2, pitches, k)`` kept as given."""
        device = self.pitch_class.device
        gen = torch.Generator(device=device).manual_seed(seed)
        style = torch.as_tensor(style, device=device).reshape(-1).expand(batch)
        p = self.pitches
        roll = torch.zeros(batch, 2, p, frames, device=device)
        k = 0
        if prime is not None:
            k = prime.shape[-1]
            roll[..., :k] = prime
        state = None
        start = max(k, 1)
        if start > 1:  # warm up the time LSTM on the primer
            _, state = self.time_lstm(self._features(roll[..., : start - 1], 0, style))
        for t in range(start, frames):
            feats = self._features(roll[..., t - 1 : t], t - 1, style)
            h, state = self.time_lstm(feats, state)
            h = h.reshape(batch, p, -1)
            below = torch.zeros(batch, 1, 2, device=device)
            pstate = None
            for q in range(p):
                out, pstate = self.pitch_lstm(torch.cat([h[:, q : q + 1], below], -1), pstate)
                logit = self.head(out[:, 0]) / max(temperature, 1e-6)
                prob = torch.sigmoid(logit)
                play = (torch.rand(batch, generator=gen, device=device) < prob[:, 0]).float()
                art = (torch.rand(batch, generator=gen, device=device) < prob[:, 1]).float()
                art = art * play
                if t > 0:  # a note that was not playing must be articulated
                    art = torch.maximum(art, play * (1 - roll[:, PLAY, q, t - 1]))
                roll[:, PLAY, q, t], roll[:, ARTICULATE, q, t] = play, art
                below = torch.stack([play, art], -1)[:, None]
        return roll


class TimeLSTM(nn.Module):
    """Single-axis baseline: one LSTM over frames, independent Bernoulli outputs per pitch."""

    export_kind = "gen_lstm"
    sample_rate = 0
    input_samples = 0

    def __init__(
        self,
        pitches=88,
        num_styles=7,
        hidden=128,
        layers=2,
        bar_frames=16,
        style_dim=8,
        lowest=21,
        dropout=0.0,
    ):
        super().__init__()
        self.config = dict(
            kind="time",
            pitches=pitches,
            num_styles=num_styles,
            hidden=hidden,
            layers=layers,
            bar_frames=bar_frames,
            style_dim=style_dim,
            lowest=lowest,
            dropout=dropout,
        )
        self.pitches, self.bar_frames = pitches, bar_frames
        self.style = nn.Embedding(max(num_styles, 1), style_dim)
        self.lstm = nn.LSTM(
            2 * pitches + bar_frames + style_dim,
            hidden,
            layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden, 2 * pitches)

    def _inputs(self, prev, t0, style):
        b, _, p, t = prev.shape
        x = prev.reshape(b, 2 * p, t).transpose(1, 2)
        beat = (
            F.one_hot((torch.arange(t, device=prev.device) + t0) % self.bar_frames, self.bar_frames)
            .to(prev.dtype)[None]
            .expand(b, t, -1)
        )
        st = self.style(style)[:, None].expand(b, t, -1)
        return torch.cat([x, beat, st], -1)

    def forward(self, roll, style):
        b, _, p, t = roll.shape
        h, _ = self.lstm(self._inputs(roll[..., :-1], 0, style))
        return self.head(h).reshape(b, t - 1, 2, p).permute(0, 2, 3, 1)

    def nll(self, roll, style):
        logits = self(roll, style)
        return _nll(logits[:, PLAY], logits[:, ARTICULATE], roll[..., 1:]).sum(1)

    @torch.no_grad()
    def sample(self, frames, style, *, batch=1, temperature=1.0, seed=0, prime=None):
        device = self.head.weight.device
        gen = torch.Generator(device=device).manual_seed(seed)
        style = torch.as_tensor(style, device=device).reshape(-1).expand(batch)
        p = self.pitches
        roll = torch.zeros(batch, 2, p, frames, device=device)
        k = 0 if prime is None else prime.shape[-1]
        if k:
            roll[..., :k] = prime
        state = None
        start = max(k, 1)
        if start > 1:
            _, state = self.lstm(self._inputs(roll[..., : start - 1], 0, style))
        for t in range(start, frames):
            h, state = self.lstm(self._inputs(roll[..., t - 1 : t], t - 1, style), state)
            prob = torch.sigmoid(self.head(h[:, 0]) / max(temperature, 1e-6)).reshape(
                b := batch, 2, p
            )
            u = torch.rand(b, 2, p, generator=gen, device=device)
            play = (u[:, 0] < prob[:, 0]).float()
            art = (u[:, 1] < prob[:, 1]).float() * play
            art = torch.maximum(art, play * (1 - roll[:, PLAY, :, t - 1]))
            roll[:, PLAY, :, t], roll[:, ARTICULATE, :, t] = play, art
        return roll


# ---------------------------------------------------------------------- statistics
def roll_statistics(roll, *, lowest: int = 21) -> dict:
    """Statistics of one ``(2, pitches, frames)`` roll: pitch-class histogram (12, sums to 1),
    note density (onsets per frame), polyphony (mean sounding notes over frames with any),
    pitch range (semitones between the lowest and highest note played) and the histogram of
    melodic intervals between successive onsets of the top voice (-12..12, clipped)."""
    roll = np.asarray(roll) > 0.5
    play, art = roll[PLAY], roll[ARTICULATE] & roll[PLAY]
    pitches = np.arange(play.shape[0]) + lowest
    onsets = art.sum(1)
    pc = np.bincount(pitches % 12, weights=onsets, minlength=12)
    pc = pc / max(pc.sum(), 1)
    sounding = play.sum(0)
    played = np.flatnonzero(play.any(1))
    top = [pitches[np.flatnonzero(art[:, t]).max()] for t in range(art.shape[1]) if art[:, t].any()]
    iv = np.clip(np.diff(top), -12, 12) + 12 if len(top) > 1 else np.zeros(0, dtype=int)
    ih = np.bincount(iv.astype(int), minlength=25).astype(float)
    ih = ih / max(ih.sum(), 1)
    return {
        "pitch_class": pc,
        "density": float(onsets.sum() / max(play.shape[1], 1)),
        "polyphony": float(sounding[sounding > 0].mean()) if (sounding > 0).any() else 0.0,
        "range": float(pitches[played].max() - pitches[played].min()) if len(played) else 0.0,
        "intervals": ih,
    }


def statistics_distance(generated: list[dict], real: list[dict]) -> dict:
    """Generated-vs-real: L1 distances of the mean pitch-class and interval histograms, and
    the mean density/polyphony/range of each set."""

    def mean(stats, key):
        return np.mean([s[key] for s in stats], axis=0)

    out = {
        "pitch_class_l1": float(
            np.abs(mean(generated, "pitch_class") - mean(real, "pitch_class")).sum()
        ),
        "interval_l1": float(np.abs(mean(generated, "intervals") - mean(real, "intervals")).sum()),
    }
    for key in ("density", "polyphony", "range"):
        out[f"{key}_generated"] = float(mean(generated, key))
        out[f"{key}_real"] = float(mean(real, key))
    return out


def build_symbolic_model(config: dict) -> nn.Module:
    """Rebuild a :class:`BiaxialLSTM` or :class:`TimeLSTM` from its ``config`` (an exported
    model's ``model`` field; extra keys such as ``styles`` are kept in the config)."""
    import inspect

    config = dict(config)
    cls = {"biaxial": BiaxialLSTM, "time": TimeLSTM}[config.pop("kind")]
    params = inspect.signature(cls).parameters
    model = cls(**{k: v for k, v in config.items() if k in params})
    model.config.update({k: v for k, v in config.items() if k not in params})
    return model
