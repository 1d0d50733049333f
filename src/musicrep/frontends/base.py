"""The front-end contract and the pieces every spectral front-end shares (STFT, dB).

A front-end is an ``nn.Module`` mapping a batch of waveforms ``(batch, samples)`` (float32, at
``sample_rate``) to a feature map, computed on the module's device:

* ``kind == "tf"``: time-frequency maps ``(batch, channels, freq, time)``;
* ``kind == "wave"``: waveform-like sequences ``(batch, channels, time)``.

Every front-end has ``sample_rate`` and ``output_shape(num_samples)`` (the shape without the batch
dimension), so back-ends can be sized before any audio is seen.
"""

from __future__ import annotations

import torch
from torch import nn

from musicrep.errors import ConfigError


class Frontend(nn.Module):
    """Base class of all front-ends. Subclasses set ``sample_rate``, ``kind`` and ``forward``."""

    sample_rate: int
    kind: str = "tf"

    def output_shape(self, num_samples: int) -> tuple[int, ...]:
        """Shape of ``forward(torch.zeros(1, num_samples))`` without the batch dimension.

        The default runs the module once on silence (in eval mode, without gradients, restoring
        the training flag); subclasses with a closed form override it.
        """
        was_training = self.training
        try:
            self.eval()
            device = next((p.device for p in self.parameters()), None)
            if device is None:
                device = next((b.device for b in self.buffers()), torch.device("cpu"))
            with torch.no_grad():
                out = self.forward(torch.zeros(1, int(num_samples), device=device))
        finally:
            self.train(was_training)
        return tuple(out.shape[1:])

    @staticmethod
    def check_input(wave: torch.Tensor) -> torch.Tensor:
        """Accept ``(batch, samples)`` or ``(samples,)``; return ``(batch, samples)`` float."""
        return as_batch(wave, "front-ends").float()


def as_batch(wave: torch.Tensor, what: str = "front-ends") -> torch.Tensor:
    """``(samples,)``, ``(batch, samples)`` or ``(batch, 1, samples)`` -> ``(batch, samples)``.

    Raises :class:`ConfigError` (naming ``what`` takes the input) for any other shape.
    """
    if wave.dim() == 1:
        wave = wave.unsqueeze(0)
    if wave.dim() == 3 and wave.shape[1] == 1:
        wave = wave[:, 0]
    if wave.dim() != 2:
        raise ConfigError(
            f"{what} take waveforms of shape (batch, samples); got {tuple(wave.shape)}",
            "mix down to mono first (musicrep.audio.load does by default)",
        )
    return wave


def stft_frames(num_samples: int, hop_length: int, n_fft: int, center: bool = True) -> int:
    """Number of STFT frames ``torch.stft`` / ``librosa.stft`` produce for ``num_samples``."""
    if center:
        return 1 + num_samples // hop_length
    if num_samples < n_fft:
        raise ConfigError(f"{num_samples} samples is shorter than n_fft={n_fft} with center=False")
    return 1 + (num_samples - n_fft) // hop_length


class STFT(nn.Module):
    """Magnitude (``power=1``) or power (``power=2``) STFT, ``(B, T) -> (B, n_fft//2+1, frames)``.

    Matches ``librosa.stft`` framing: centred frames, zero ("constant") padding by default, a
    periodic window of ``win_length`` zero-padded to ``n_fft``.
    """

    def __init__(
        self,
        n_fft: int = 512,
        hop_length: int = 256,
        win_length: int | None = None,
        window: str = "hann",
        power: float = 2.0,
        center: bool = True,
        pad_mode: str = "constant",
    ):
        super().__init__()
        win_length = win_length or n_fft
        if win_length > n_fft:
            raise ConfigError(f"win_length={win_length} must be <= n_fft={n_fft}")
        windows = {
            "hann": torch.hann_window,
            "hamming": torch.hamming_window,
            "blackman": torch.blackman_window,
        }
        if window not in windows:
            raise ConfigError(f"unknown window {window!r}; valid: {', '.join(windows)}")
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.power, self.center, self.pad_mode = power, center, pad_mode
        # float64, cast to the input's dtype in forward: float64 input gets an exact window
        window = windows[window](win_length, periodic=True, dtype=torch.float64)
        self.register_buffer("window", window, persistent=False)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        return stft_frames(num_samples, self.hop_length, self.n_fft, self.center)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wave,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(wave.dtype),
            center=self.center,
            pad_mode=self.pad_mode,
            return_complex=True,
        )
        mag = spec.abs()
        if self.power == 1.0:
            return mag
        if self.power == 2.0:
            return spec.real.square() + spec.imag.square()
        return mag.pow(self.power)


def amplitude_to_db(
    x: torch.Tensor,
    multiplier: float = 10.0,
    amin: float = 1e-10,
    ref: float = 1.0,
    top_db: float | None = None,
) -> torch.Tensor:
    """``multiplier * log10(max(x, amin) / ref)``, optionally clipped ``top_db`` below the
    per-example maximum (as ``librosa.power_to_db`` with ``multiplier=10`` for power input, or
    ``amplitude_to_db`` with ``multiplier=20``)."""
    db = multiplier * torch.log10(torch.clamp(x, min=amin))
    db = db - multiplier * torch.log10(torch.tensor(max(amin, ref), dtype=x.dtype, device=x.device))
    if top_db is not None:
        peak = db.amax(dim=tuple(range(1, db.dim())), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db
