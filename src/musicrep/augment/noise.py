"""Additive noise at a signal-to-noise ratio: white, pink or brown noise, or noise recordings.

The noise ``n`` is scaled per example so that ``10 log10(P_x / P_kn) = snr_db`` with ``P`` the
mean square over the clip, then added: ``y = x + k n`` (a silent clip stays silent). PASE+
rescales the noisy signal back to the clean signal's energy (``preserve_energy=True``).

Generated noise has a power spectral density proportional to ``1 / f^beta``: white
``beta = 0``, pink 1 (-3 dB per octave), brown 2 (-6 dB per octave), shaped in the frequency
domain from Gaussian white noise on the device (the DC bin is zeroed). Recorded noise comes
from a folder of audio files (decoded once at ``sample_rate``, mono, kept in memory); each
example takes a random file (uniformly) and a random offset in it, looping a file shorter
than the clip.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from musicrep.augment.base import Choice, Transform, as_param
from musicrep.augment.spectral import match_energy
from musicrep.errors import AudioError, ConfigError
from musicrep.features.base import check_positive_int

#: Spectral exponent ``beta`` of each noise colour (PSD ~ 1 / f^beta).
NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def colored_noise(
    shape: tuple[int, int], beta: torch.Tensor, generator: torch.Generator, like: torch.Tensor
) -> torch.Tensor:
    """Gaussian noise ``(batch, samples)`` with PSD ``~ 1 / f^beta`` per row, unit RMS.

    ``beta`` is ``(batch,)`` (0 white, 1 pink, 2 brown).
    """
    b, n = shape
    white = Transform.randn((b, n), generator, like)
    if bool((beta == 0).all()):
        noise = white
    else:
        spec = torch.fft.rfft(white)
        f = torch.fft.rfftfreq(n, device=like.device, dtype=like.dtype)
        f[0] = 1.0
        spec = spec * f[None].pow(-beta[:, None] / 2)
        spec[:, 0] = 0
        noise = torch.fft.irfft(spec, n=n)
    rms = noise.square().mean(-1, keepdim=True).sqrt()
    return noise / rms.clamp(min=torch.finfo(like.dtype).tiny)


class NoiseBank:
    """Noise recordings held in memory, sampled as ``(batch, samples)`` segments.

    Parameters
    ----------
    paths : folder or sequence of files
        A folder is searched (recursively) for audio files.
    sample_rate : int
        Decoding rate in Hz.

    Unreadable files are skipped with a warning naming them; no readable file is an error.
    """

    def __init__(self, paths: str | os.PathLike | Sequence[str | os.PathLike], sample_rate: int):
        from musicrep.audio import load
        from musicrep.data.folder import list_audio_files

        if isinstance(paths, (str, os.PathLike)):
            files = list_audio_files(paths, recursive=True)
            if not files:
                raise ConfigError(f"{paths}: no audio files in the noise folder")
        else:
            files = list(paths)
        waves, bad = [], []
        for f in files:
            try:
                wave, _ = load(f, sr=sample_rate)
            except AudioError as exc:
                bad.append(str(exc))
                continue
            if len(wave):
                waves.append(torch.from_numpy(wave))
        if bad:
            warnings.warn(
                f"skipped {len(bad)} unreadable noise file(s): {'; '.join(bad)}", stacklevel=3
            )
        if not waves:
            raise ConfigError("no readable noise file", "check the noise folder or file list")
        self.files = len(waves)
        self._bank = torch.cat(waves)
        self._lengths = torch.tensor([len(w) for w in waves])
        self._starts = torch.cumsum(self._lengths, 0) - self._lengths
        self._on: dict[str, tuple[torch.Tensor, ...]] = {}

    def _device(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        key = str(device)
        if key not in self._on:
            self._on[key] = tuple(t.to(device) for t in (self._bank, self._starts, self._lengths))
        return self._on[key]

    def sample(self, b: int, n: int, generator: torch.Generator, like: torch.Tensor):
        """``(b, n)`` noise segments on ``like``'s device and dtype."""
        bank, starts, lengths = self._device(like.device)
        u = Transform.rand(
            (2, b), generator, torch.empty(0, dtype=torch.float64, device=like.device)
        )
        k = (u[0] * self.files).long().clamp(max=self.files - 1)
        offset = (u[1] * lengths[k]).long()
        t = torch.arange(n, device=like.device)[None]
        idx = starts[k, None] + (offset[:, None] + t) % lengths[k, None]
        return bank[idx].to(like.dtype)


class AddNoise(Transform):
    """Add noise at a signal-to-noise ratio.

    Parameters
    ----------
    sample_rate : int
        Hz (decoding rate of ``noise_dir``).
    snr_db : spec
        Signal-to-noise ratio in dB (default ``(0, 20)``); ``snr_db=10`` is exactly 10 dB.
    color : str or sequence of str
        ``"white"``, ``"pink"`` or ``"brown"``; a list draws one per example.
    noise_dir : folder or sequence of files, optional
        Use these recordings instead of generated noise (``color`` is then ignored).
    noise_ratio : spec, optional
        Instead of ``snr_db``: the noise RMS as a fraction of the signal RMS (CLMR draws it
        uniformly from ``(1e-4, 1e-2)``, i.e. 40-80 dB SNR weighted towards 40 dB).
    preserve_energy : bool
        Rescale the noisy signal to the clean signal's energy (PASE+).
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        snr_db: Any = (0.0, 20.0),
        color: str | Sequence[str] = "white",
        noise_dir: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        noise_ratio: Any = None,
        preserve_energy: bool = False,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.snr_db = as_param(snr_db, "snr_db")
        self.noise_ratio = None if noise_ratio is None else as_param(noise_ratio, "noise_ratio")
        colors = [color] if isinstance(color, str) else list(color)
        unknown = [c for c in colors if c not in NOISE_COLORS]
        if unknown or not colors:
            raise ConfigError(
                f"unknown noise color(s) {unknown or colors}", f"use {', '.join(NOISE_COLORS)}"
            )
        self.colors = colors
        self._beta = Choice([NOISE_COLORS[c] for c in colors])
        self.bank = None if noise_dir is None else NoiseBank(noise_dir, self.sample_rate)
        self.preserve_energy = bool(preserve_energy)

    def noise(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Unscaled noise ``(batch, samples)`` for ``wave``."""
        b, n = wave.shape
        if self.bank is not None:
            return self.bank.sample(b, n, generator, wave)
        return colored_noise((b, n), self.sample(self._beta, b, generator, wave), generator, wave)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b = wave.shape[0]
        noise = self.noise(wave, generator)
        p_x = wave.square().mean(-1)
        p_n = noise.square().mean(-1)
        if self.noise_ratio is not None:
            k = (
                self.sample(self.noise_ratio, b, generator, wave)
                * (p_x / p_n.clamp(min=1e-30)).sqrt()
            )
        else:
            snr = self.sample(self.snr_db, b, generator, wave)
            k = (p_x / (p_n.clamp(min=1e-30) * 10.0 ** (snr / 10))).sqrt()
        k = torch.where(p_n > 0, k, torch.zeros_like(k))
        out = wave + k[:, None] * noise
        return match_energy(out, wave) if self.preserve_energy else out

    def extra_repr(self) -> str:
        source = f"files={self.bank.files}" if self.bank is not None else f"color={self.colors}"
        level = f"noise_ratio={self.noise_ratio}" if self.noise_ratio else f"snr_db={self.snr_db}"
        return f"{source}, {level}"


__all__ = ["NOISE_COLORS", "AddNoise", "NoiseBank", "colored_noise"]
