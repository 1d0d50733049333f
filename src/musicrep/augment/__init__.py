"""Seeded audio augmentations: batched transforms on the device, and published chains by name.

Transforms are ``nn.Module``\\ s mapping waveforms ``(batch, samples)`` to waveforms on the same
device, with independent random parameters per example drawn from a seeded
``torch.Generator``::

    >>> import torch
    >>> from musicrep.augment import AddNoise, Compose, Gain, RandomApply, create_augmentation
    >>> x = torch.randn(8, 16000)
    >>> noisy = AddNoise(snr_db=10, color="pink")(x)           # exactly 10 dB SNR
    >>> chain = Compose([RandomApply(Gain((-6, 0)), p=0.5), AddNoise(snr_db=(5, 20))], seed=0)
    >>> views = create_augmentation("clmr", sample_rate=16000, num_samples=8000, seed=0)(x)
    >>> views.shape
    torch.Size([8, 8000])

Every random quantity is a parameter spec: a number (fixed, what the robustness sweeps use), a
``(low, high)`` range, :class:`Choice`, :class:`Uniform` (optionally log) or :class:`Normal`
(see :mod:`musicrep.augment.base`).

=================== ============================================================ ===========
transform           what                                                          module
=================== ============================================================ ===========
RandomCrop          crop to ``num_samples`` at a random (or fixed) position       basic
Gain                gain in dB                                                    basic
PolarityInversion   multiply by -1                                                basic
Clip                clip at a fraction of the extremes                            basic
Delay               echo (delay in ms, volume)                                    basic
TimeMask            zero ``count`` spans of ``duration`` s (waveform chopping)    basic
AddNoise            white / pink / brown / recorded noise at an SNR in dB         noise
LowPass, HighPass   Butterworth-magnitude filters, cut-off in Hz                  spectral
BandPass, BandStop  band around a centre, width in octaves (BandStop: band-drop)  spectral
Downsample          band limit to ``rate / 2`` (resampling down and back)         spectral
PitchShift          shift by semitones, same duration (phase vocoder)             spectral
TimeStretch         tempo ratio, same pitch (resampling + phase vocoder)          spectral
Compressor          dynamic range compression (threshold, ratio; RMS detector)    dynamics
Reverb              synthetic room impulse response (RT60, DRR)                   reverb
Compose, RandomApply, OneOf   chains, probability per example, one of several     base
=================== ============================================================ ===========

Named chains (:func:`create_augmentation`): ``clmr`` (CLMR's view augmentation) and
``pase_plus`` (PASE+'s online distortions); see :mod:`musicrep.augment.presets` for their
probabilities and parameters.

Why not a library: ``torch-audiomentations`` needs torchaudio (no build here);
``audiomentations`` and ``pedalboard`` work on numpy arrays on the CPU, one example at a time;
``julius`` (pure torch) filters a batch with one cut-off, or every cut-off for every example,
so per-example random cut-offs need a loop. The transforms here draw per-example parameters
and run in one batched pass on the device.
"""

from __future__ import annotations

from typing import Any

from musicrep.augment.base import (
    Choice,
    Compose,
    Fixed,
    Normal,
    OneOf,
    Param,
    RandomApply,
    Transform,
    Uniform,
    as_param,
)
from musicrep.augment.basic import Clip, Delay, Gain, PolarityInversion, RandomCrop, TimeMask
from musicrep.augment.dynamics import Compressor
from musicrep.augment.noise import NOISE_COLORS, AddNoise, NoiseBank, colored_noise
from musicrep.augment.presets import CLMR_P, PASE_PLUS_P, clmr, pase_plus
from musicrep.augment.reverb import Reverb, synthetic_rir
from musicrep.augment.spectral import (
    BandPass,
    BandStop,
    Downsample,
    HighPass,
    LowPass,
    PitchShift,
    TimeStretch,
)
from musicrep.registry import Registry

AUGMENTATIONS: Registry[Compose] = Registry("augmentation")
AUGMENTATIONS.register("clmr")(clmr)
AUGMENTATIONS.register("pase_plus")(pase_plus)


def create_augmentation(name: str, **kwargs: Any) -> Compose:
    """Build the named augmentation chain (``clmr``, ``pase_plus``) with options ``kwargs``.

    Raises :class:`musicrep.ConfigError` listing the valid names when ``name`` is unknown.
    """
    return AUGMENTATIONS.create(name, **kwargs)


def list_augmentations() -> list[str]:
    """Names accepted by :func:`create_augmentation`."""
    return AUGMENTATIONS.names()


__all__ = [
    "AUGMENTATIONS",
    "CLMR_P",
    "NOISE_COLORS",
    "PASE_PLUS_P",
    "AddNoise",
    "BandPass",
    "BandStop",
    "Choice",
    "Clip",
    "Compose",
    "Compressor",
    "Delay",
    "Downsample",
    "Fixed",
    "Gain",
    "HighPass",
    "LowPass",
    "NoiseBank",
    "Normal",
    "OneOf",
    "Param",
    "PitchShift",
    "PolarityInversion",
    "RandomApply",
    "RandomCrop",
    "Reverb",
    "TimeMask",
    "TimeStretch",
    "Transform",
    "Uniform",
    "as_param",
    "colored_noise",
    "create_augmentation",
    "list_augmentations",
    "synthetic_rir",
]
