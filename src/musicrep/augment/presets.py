"""Named augmentation chains of published methods (``create_augmentation(name)``).

``clmr`` -- Spijkervet & Burgoyne, "Contrastive Learning of Musical Representations", ISMIR
2021 (``Spijkervet/CLMR`` ``config/config.yaml`` and ``main.py``, transforms from
``torchaudio-augmentations``), applied to each view:

============================ ===== ==============================================================
transform                      p   parameters
============================ ===== ==============================================================
random crop                    1   ``num_samples`` (59,049 at 22,050 Hz)
polarity inversion            0.8
noise                         0.01 Gaussian, RMS 1e-4 .. 1e-2 of the signal's
gain                          0.3  -20 .. -1 dB
high- or low-pass (50/50)     0.8  high-pass 200-1200 Hz or low-pass 2200-4000 Hz
delay                         0.3  200, 250, ..., 450 ms, echo volume 0.5, sum halved
pitch shift                   0.6  -7 .. +7 semitones
reverb                        0.6  [open] RT60 0.2-1.5 s, DRR 0-10 dB (sox reverb in CLMR)
============================ ===== ==============================================================

Differences: filters are zero-phase Butterworth (order 4) instead of julius' windowed-sinc
FIRs; pitch shift is a phase vocoder instead of sox's ``pitch``; reverb is a synthetic impulse
response instead of sox's ``reverb``.

``pase_plus`` -- Ravanelli et al., ICASSP 2020 (``santi-pdp/pase`` ``cfg/distortions/pase+.cfg``
and ``pase/transforms.py``), applied to the encoder's input while the workers reconstruct
features of the clean signal:

============================ ===== ==============================================================
distortion                     p   parameters
============================ ===== ==============================================================
reverberation                 0.5  [open] synthetic RIR, RT60 0.3-1.0 s, DRR 0-10 dB
additive noise                0.4  SNR one of 0, 5, 10 dB; white/pink/brown or ``noise_dir``
clipping                      0.2  factor one of 0.1, 0.3, 0.5 of the extremes
waveform chopping             0.2  1-5 spans of N(0.05, 0.025) or N(0.1, 0.05) s
band-drop                     0.35 [open] band-stop 0.25-1 octave, centre 100 Hz-0.8 Nyquist
downsampling                  0.25 band limited to 4 kHz (16 -> 8 kHz)
============================ ===== ==============================================================

Energy is restored after reverberation, noise, band-drop and downsampling, as PASE does. Not
reproduced: overlapping speech (p 0.1, needs a speech corpus; pass other tracks as
``noise_dir`` for a music equivalent) and the recorded noise and impulse-response sets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from musicrep.augment.base import Choice, Compose, OneOf, RandomApply, Uniform
from musicrep.augment.basic import Clip, Delay, Gain, PolarityInversion, RandomCrop, TimeMask
from musicrep.augment.noise import AddNoise
from musicrep.augment.reverb import Reverb
from musicrep.augment.spectral import BandStop, Downsample, HighPass, LowPass, PitchShift
from musicrep.errors import ConfigError

#: Probabilities of the CLMR chain (``config/config.yaml``).
CLMR_P = {
    "polarity": 0.8,
    "noise": 0.01,
    "gain": 0.3,
    "filters": 0.8,
    "delay": 0.3,
    "pitch": 0.6,
    "reverb": 0.6,
}
#: Probabilities of the PASE+ distortions (``cfg/distortions/pase+.cfg``).
PASE_PLUS_P = {
    "reverb": 0.5,
    "noise": 0.4,
    "clip": 0.2,
    "chop": 0.2,
    "banddrop": 0.35,
    "downsample": 0.25,
}


def _probabilities(defaults: dict[str, float], given: Mapping[str, float] | None) -> dict:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown augmentation(s) {', '.join(unknown)}", f"valid: {', '.join(defaults)}"
        )
    return {**defaults, **given}


def clmr(
    sample_rate: int = 22050,
    num_samples: int | None = 59049,
    p: Mapping[str, float] | None = None,
    seed: int | None = None,
) -> Compose:
    """The CLMR view augmentation (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        Hz (CLMR: 22,050).
    num_samples : int or None
        Crop length (CLMR: 59,049); None: no crop.
    p : dict, optional
        Probabilities to override, by key of :data:`CLMR_P`.
    seed : int, optional
    """
    prob = _probabilities(CLMR_P, p)
    sr = sample_rate
    filters = OneOf([HighPass(sr, (200.0, 1200.0)), LowPass(sr, (2200.0, 4000.0))])
    chain = [] if num_samples is None else [RandomCrop(num_samples)]
    chain += [
        RandomApply(PolarityInversion(), prob["polarity"]),
        RandomApply(AddNoise(sr, noise_ratio=(1e-4, 1e-2)), prob["noise"]),
        RandomApply(Gain((-20.0, -1.0)), prob["gain"]),
        RandomApply(filters, prob["filters"]),
        RandomApply(Delay(sr), prob["delay"]),
        RandomApply(PitchShift(sr, (-7.0, 7.0)), prob["pitch"]),
        RandomApply(Reverb(sr, rt60=(0.2, 1.5), drr_db=(0.0, 10.0)), prob["reverb"]),
    ]
    return Compose(chain, seed=seed)


def pase_plus(
    sample_rate: int = 16000,
    noise_dir: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    p: Mapping[str, float] | None = None,
    seed: int | None = None,
) -> Compose:
    """The PASE+ online distortions (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        Hz (PASE+: 16,000).
    noise_dir : folder or files, optional
        Noise recordings (PASE+ used non-stationary noise sets); default generated
        white/pink/brown noise.
    p : dict, optional
        Probabilities to override, by key of :data:`PASE_PLUS_P`.
    seed : int, optional
    """
    prob = _probabilities(PASE_PLUS_P, p)
    sr = sample_rate
    noise = AddNoise(
        sr,
        snr_db=Choice([0.0, 5.0, 10.0]),
        color=["white", "pink", "brown"],
        noise_dir=noise_dir,
        preserve_energy=True,
    )
    band = BandStop(sr, Uniform(100.0, 0.4 * sr, log=True), (0.25, 1.0))
    return Compose(
        [
            RandomApply(Reverb(sr, rt60=(0.3, 1.0), drr_db=(0.0, 10.0)), prob["reverb"]),
            RandomApply(noise, prob["noise"]),
            RandomApply(Clip(Choice([0.1, 0.3, 0.5])), prob["clip"]),
            RandomApply(TimeMask(sr), prob["chop"]),
            RandomApply(band, prob["banddrop"]),
            RandomApply(Downsample(sr, rate=sr // 2), prob["downsample"]),
        ],
        seed=seed,
    )


__all__ = ["CLMR_P", "PASE_PLUS_P", "clmr", "pase_plus"]
