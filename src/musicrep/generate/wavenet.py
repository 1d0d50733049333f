"""A WaveNet with local (piano-roll) and optional global conditioning (Manzelli et al. 2018
stage 2; van den Oord et al. 2016).

- input: mu-law 8-bit samples (256 classes), embedded, then a causal kernel-2 convolution;
- ``layers`` gated residual blocks with dilations ``2**(i % cycle)``:
  ``z = tanh(W_f*x + V_f*y + U_f g) * sigmoid(W_g*x + V_g*y + U_g g)``, where ``y`` is the
  piano roll repeated to the sample rate (``hop`` samples per frame) and ``V_*`` are 1x1
  convolutions, ``g`` an optional global (style) embedding; each block adds a 1x1 residual and
  a 1x1 skip output;
- output: ReLU, 1x1, ReLU, 1x1 -> 256-way logits of the *next* sample.

Fast generation uses cached dilated convolutions (the queue method of Paine et al. 2016): each
layer keeps the last ``dilation`` inputs, so a step costs one kernel-2 product per layer instead
of re-running the receptive field. :meth:`WaveNet.step` is exact: feeding a sequence sample by
sample gives the logits of :meth:`WaveNet.forward` (tested).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError

QUANT = 256


def mu_law_encode(wave: torch.Tensor, channels: int = QUANT) -> torch.Tensor:
    """Waveform in [-1, 1] -> integer classes 0..channels-1 (mu-law companding)."""
    mu = channels - 1
    x = wave.clamp(-1.0, 1.0)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return ((y + 1) / 2 * mu + 0.5).long().clamp(0, mu)


def mu_law_decode(q: torch.Tensor, channels: int = QUANT) -> torch.Tensor:
    """Integer classes -> waveform in [-1, 1] (inverse of :func:`mu_law_encode`)."""
    mu = channels - 1
    y = q.float() / mu * 2 - 1
    return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


def upsample_roll(roll: torch.Tensor, hop: int, samples: int) -> torch.Tensor:
    """``(batch, channels, frames)`` frame-rate conditioning -> ``(batch, channels, samples)``
    by repetition (sample ``n`` sees frame ``n // hop``; frames past the end are zeros)."""
    y = roll.repeat_interleave(hop, dim=-1)
    if y.shape[-1] < samples:
        y = F.pad(y, (0, samples - y.shape[-1]))
    return y[..., :samples]


class _Block(nn.Module):
    def __init__(self, channels, skip, dilation, cond_channels, global_dim):
        super().__init__()
        self.dilation = dilation
        self.conv = nn.Conv1d(channels, 2 * channels, 2, dilation=dilation)
        self.cond = nn.Conv1d(cond_channels, 2 * channels, 1, bias=False) if cond_channels else None
        self.glob = nn.Linear(global_dim, 2 * channels, bias=False) if global_dim else None
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip, 1)

    def gate(self, h, y, g):
        if self.cond is not None:
            h = h + self.cond(y)
        if self.glob is not None:
            h = h + self.glob(g).unsqueeze(-1)
        f, s = h.chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(s)

    def forward(self, x, y, g):
        h = self.conv(F.pad(x, (self.dilation, 0)))
        z = self.gate(h, y, g)
        return x + self.res(z), self.skip(z)

    def step(self, x, past, y, g):
        """One time step: ``x`` (batch, channels, 1) now, ``past`` the input ``dilation``
        steps ago."""
        w = self.conv.weight  # (2C, C, 2): tap 0 = past, tap 1 = now
        h = F.conv1d(past, w[:, :, :1]) + F.conv1d(x, w[:, :, 1:], self.conv.bias)
        z = self.gate(h, y, g)
        return x + self.res(z), self.skip(z)


class WaveNet(nn.Module):
    """Conditioned WaveNet (see the module docstring).

    Parameters
    ----------
    layers : int
        Residual blocks; dilations cycle ``1, 2, ..., 2**(cycle-1)``.
    cycle : int
        Dilation cycle length (10 in the paper's audio models: 1..512).
    channels, skip_channels : int
        Residual and skip widths.
    cond_channels : int
        Channels of the local conditioning roll (0: unconditioned). With a play/articulate
        roll of 88 pitches that is 176.
    hop : int
        Audio samples per conditioning frame (e.g. 160 = 100 frames/s at 16 kHz).
    num_styles : int
        Global conditioning classes (0: none); ``global_dim`` their embedding size.
    """

    export_kind = "wavenet"

    def __init__(
        self,
        layers: int = 10,
        cycle: int = 10,
        channels: int = 32,
        skip_channels: int = 64,
        cond_channels: int = 176,
        hop: int = 160,
        num_styles: int = 0,
        global_dim: int = 16,
        quantization: int = QUANT,
    ):
        super().__init__()
        if layers < 1 or cycle < 1:
            raise ConfigError("WaveNet needs layers >= 1 and cycle >= 1")
        self.config = dict(
            layers=layers,
            cycle=cycle,
            channels=channels,
            skip_channels=skip_channels,
            cond_channels=cond_channels,
            hop=hop,
            num_styles=num_styles,
            global_dim=global_dim,
            quantization=quantization,
        )
        self.hop = hop
        self.sample_rate = (
            16000  # the rate it was trained at (objectives set config["sample_rate"])
        )
        self.quantization = quantization
        self.embed = nn.Embedding(quantization, channels)
        self.first = nn.Conv1d(channels, channels, 2)
        self.style = nn.Embedding(num_styles, global_dim) if num_styles else None
        gdim = global_dim if num_styles else 0
        self.blocks = nn.ModuleList(
            _Block(channels, skip_channels, 2 ** (i % cycle), cond_channels, gdim)
            for i in range(layers)
        )
        self.out1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.out2 = nn.Conv1d(skip_channels, quantization, 1)

    @property
    def input_samples(self) -> int:
        """Samples the output at one position depends on (the receptive field)."""
        return self.receptive_field

    @property
    def receptive_field(self) -> int:
        return 2 + sum(b.dilation for b in self.blocks)

    def _global(self, style, batch, device):
        if self.style is None:
            return None
        if style is None:
            raise ConfigError("this WaveNet is style-conditioned: give a style index")
        return self.style(torch.as_tensor(style, device=device).reshape(-1).expand(batch))

    def _cond(self, roll, samples):
        if not self.config["cond_channels"]:
            return None
        if roll is None:
            raise ConfigError("this WaveNet is roll-conditioned: give a piano roll")
        roll = roll.reshape(roll.shape[0], -1, roll.shape[-1])  # (B, 2, P, T) -> (B, 2P, T)
        if roll.shape[-1] != samples:
            roll = upsample_roll(roll, self.hop, samples)
        return roll

    def forward(self, q, roll=None, style=None):
        """Logits ``(batch, 256, samples)``: position ``n`` predicts sample ``n + 1`` from
        samples ``<= n`` of ``q`` (``(batch, samples)`` mu-law classes) and the conditioning at
        ``n + 1``; ``roll`` is ``(batch, cond_channels, frames)`` (or ``(batch, 2, pitches,
        frames)``) at the frame rate, aligned with the *targets* (frame ``(n + 1) // hop``), or
        already at the sample rate."""
        b, n = q.shape
        y = self._cond(roll, n)
        g = self._global(style, b, q.device)
        x = self.embed(q).transpose(1, 2)
        x = self.first(F.pad(x, (1, 0)))
        skips = 0
        for block in self.blocks:
            x, s = block(x, y, g)
            skips = skips + s
        return self.out2(F.relu(self.out1(F.relu(skips))))

    def loss(self, q, roll=None, style=None):
        """Mean next-sample cross-entropy (nats) of ``q`` given a roll at the sample rate or at
        the frame rate aligned with ``q`` (frame ``n // hop`` for sample ``n``)."""
        n = q.shape[-1]
        if roll is not None and self.config["cond_channels"]:
            roll = roll.reshape(roll.shape[0], -1, roll.shape[-1])
            if roll.shape[-1] != n:
                roll = upsample_roll(roll, self.hop, n)
            roll = roll[..., 1:]
        logits = self(q[:, :-1], roll, style)
        return F.cross_entropy(logits, q[:, 1:])

    # ------------------------------------------------------------------ fast generation
    def start(self, batch: int, device=None):
        """Empty caches for :meth:`step`: per layer a queue of the last ``dilation`` inputs
        (zeros = the zero padding of :meth:`forward`)."""
        c = self.config["channels"]
        queues = [torch.zeros(batch, c, 1, device=device)]
        queues += [torch.zeros(batch, c, b.dilation, device=device) for b in self.blocks]
        return {"queues": queues, "pos": 0}

    def step(self, q_now, cache, y=None, g=None):
        """Logits ``(batch, 256)`` of the next sample given the current one ``q_now``
        ``(batch,)``; ``y`` ``(batch, cond_channels, 1)`` the conditioning of the next sample,
        ``g`` the global embedding. Updates ``cache`` in place."""
        pos = cache["pos"]
        queues = cache["queues"]
        x = self.embed(q_now).unsqueeze(-1)  # (B, C, 1)
        w = self.first.weight
        past = queues[0][:, :, :1].clone()
        queues[0][:, :, 0:1] = x
        x = F.conv1d(past, w[:, :, :1]) + F.conv1d(x, w[:, :, 1:], self.first.bias)
        skips = 0
        for i, block in enumerate(self.blocks):
            d = block.dilation
            slot = pos % d
            past = queues[i + 1][:, :, slot : slot + 1].clone()
            queues[i + 1][:, :, slot : slot + 1] = x
            x, s = block.step(x, past, y, g)
            skips = skips + s
        cache["pos"] = pos + 1
        return self.out2(F.relu(self.out1(F.relu(skips))))[:, :, 0]

    @torch.no_grad()
    def generate(
        self,
        samples: int,
        roll: torch.Tensor | None = None,
        style=None,
        *,
        batch: int = 1,
        temperature: float = 1.0,
        seed: int | None = 0,
        progress: bool = False,
    ) -> torch.Tensor:
        """Sample ``(batch, samples)`` audio in [-1, 1] with the cached step (batched).

        ``roll``: ``(batch, cond_channels or (2, pitches), frames)`` at the frame rate (frame
        ``n // hop`` conditions sample ``n``). Temperature 0 takes the most likely class.
        """
        device = next(self.parameters()).device
        gen = torch.Generator(device=device)
        if seed is not None:
            gen.manual_seed(seed)
        if roll is not None:
            batch = roll.shape[0]
        y_all = self._cond(roll.to(device), samples) if roll is not None else None
        g = self._global(style, batch, device)
        cache = self.start(batch, device)
        q = torch.full((batch,), self.quantization // 2, dtype=torch.long, device=device)
        out = torch.empty(batch, samples, dtype=torch.long, device=device)
        steps = range(samples)
        if progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc="wavenet", unit="sample", unit_scale=True)
        for n in steps:
            y = y_all[:, :, n : n + 1] if y_all is not None else None
            logits = self.step(q, cache, y, g)
            if temperature <= 0:
                q = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                q = torch.multinomial(probs, 1, generator=gen)[:, 0]
            out[:, n] = q
        return mu_law_decode(out, self.quantization)


def samples_per_second(model: WaveNet, seconds: float = 0.25, batch: int = 1) -> float:
    """Measured generation speed: audio samples produced per wall-clock second."""
    import time

    n = int(seconds * 16000)
    cond = model.config["cond_channels"]
    roll = torch.zeros(batch, cond, n // model.hop + 1) if cond else None
    style = 0 if model.style is not None else None
    t0 = time.perf_counter()
    model.generate(n, roll, style, batch=batch)
    return batch * n / (time.perf_counter() - t0)


__all__ = [
    "QUANT",
    "WaveNet",
    "mu_law_decode",
    "mu_law_encode",
    "samples_per_second",
    "upsample_roll",
]


def build_wavenet(config: dict) -> WaveNet:
    """Rebuild a :class:`WaveNet` from its ``config`` (extra keys kept in the config)."""
    import inspect

    params = inspect.signature(WaveNet).parameters
    model = WaveNet(**{k: v for k, v in config.items() if k in params})
    model.config.update({k: v for k, v in config.items() if k not in params})
    model.sample_rate = int(config.get("sample_rate", 16000))
    return model
