"""Hand-crafted acoustic descriptors of a clip, summarised over frames (COALA's analysis set).

COALA (Favory et al. 2020, section 3.3 and Table 2) correlates its embedding with "statistics of
acoustic features computed with the librosa library: MFCCs, chromagram, spectral centroid and
spectral bandwidth, all computed at a frame level", summarised by their mean, variance and
skewness over frames. This module computes those summaries. The frame-level features come from
the feature registry (:mod:`musicrep.features`: ``mfcc``, ``chroma``, ``spectral_*``, which
compute what librosa computes, in torch), all from one magnitude STFT with the settings below.

Per clip and descriptor, the frame-level matrix ``(d, frames)`` becomes one vector of
``3 d`` values laid out stat-major: ``[mean (d), variance (d), skewness (d)]``.

============================ ===== ========================================================
descriptor                    d    frame-level feature (as librosa computes it)
============================ ===== ========================================================
``mfcc``                      20   ``feature.mfcc`` of the log-power mel spectrogram
``chroma``                    12   ``feature.chroma_stft`` of the power spectrogram
``spectral_centroid``          1   ``feature.spectral_centroid`` (Hz), magnitude spectrogram
``spectral_bandwidth``         1   ``feature.spectral_bandwidth`` (Hz), magnitude spectrogram
``spectral_rolloff``           1   ``feature.spectral_rolloff`` (Hz, 85 %), optional
============================ ===== ========================================================

So a clip gives MFCC 60, chroma 36, centroid 3 and bandwidth 3 values.

Settings (from COALA's public analysis script where it fixes them; ours where it is silent)
--------------------------------------------------------------------------------------------
* STFT: ``n_fft`` 1024, hop 512 samples, Hann window, centered frames (COALA's settings),
  computed in float64 (the values equal librosa's to its float32 rounding).
* Sample rate: 22,050 Hz (librosa's default). COALA resampled to 22,000 Hz; the 0.2 %
  difference only shifts the analysis frequencies.
* MFCC: 20 coefficients (librosa's default and COALA's) from ``power_to_db`` of a 128-band mel
  power spectrogram, as COALA computed them.
* Chroma: librosa's chroma of the *power* spectrogram (what ``chroma_stft(y=...)`` computes),
  with librosa's per-clip tuning estimate. COALA passed the magnitude spectrogram instead.
* Statistics: ``np.mean``, ``np.var`` (population variance) and ``scipy.stats.skew`` (biased
  estimator, scipy's default) over frames. The skewness of a feature that is constant over the
  clip (e.g. silence) is undefined and set to 0.
* Region: COALA computed the descriptors on the same 96-frame maximum-energy patch (frame hop 12)
  that its encoder saw. Our embeddings (:class:`musicrep.embed.Embedder` scene embeddings) cover
  the whole clip, so the default region is ``"clip"``; ``region="max_energy"`` reproduces
  COALA's choice (the 96-frame window with the largest summed STFT magnitude). No zero-padding
  to a fixed length is done (COALA padded clips to 10 s, which adds silent frames to the
  statistics).

Examples
--------
>>> from musicrep.analysis.descriptors import clip_descriptors
>>> wave = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
>>> d = clip_descriptors(wave, 22050)
>>> {k: v.shape for k, v in d.items()}
{'mfcc': (60,), 'chroma': (36,), 'spectral_centroid': (3,), 'spectral_bandwidth': (3,)}
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from musicrep.errors import ConfigError
from musicrep.features import SpectralFeature
from musicrep.frontends.base import STFT

__all__ = [
    "ALL_DESCRIPTORS",
    "DEFAULT_DESCRIPTORS",
    "DESCRIPTOR_LABELS",
    "STATS",
    "DescriptorConfig",
    "clip_descriptors",
    "descriptor_table",
    "frame_descriptors",
    "split_stats",
    "summarize",
]

#: Every descriptor this module computes, with its number of frame-level values.
ALL_DESCRIPTORS: dict[str, int] = {
    "mfcc": 20,  # replaced by DescriptorConfig.n_mfcc
    "chroma": 12,
    "spectral_centroid": 1,
    "spectral_bandwidth": 1,
    "spectral_rolloff": 1,
}
#: The descriptors of COALA's Table 2.
DEFAULT_DESCRIPTORS: tuple[str, ...] = (
    "mfcc",
    "chroma",
    "spectral_centroid",
    "spectral_bandwidth",
)
#: Names used in reports.
DESCRIPTOR_LABELS: dict[str, str] = {
    "mfcc": "MFCCs",
    "chroma": "Chromagram",
    "spectral_centroid": "Spectral centroid",
    "spectral_bandwidth": "Spectral bandwidth",
    "spectral_rolloff": "Spectral rolloff",
}
#: The frame statistics, in the order they are stored.
STATS: tuple[str, ...] = ("mean", "var", "skew")
_REGIONS = ("clip", "max_energy")


@dataclass(frozen=True)
class DescriptorConfig:
    """Settings of the descriptor computation (defaults: see the module docstring).

    Attributes
    ----------
    sr : int
        Analysis sample rate in Hz; audio at another rate is resampled (soxr).
    n_fft, hop_length : int
        STFT size and hop in samples.
    n_mfcc, n_mels : int
        MFCC coefficients and mel bands they are computed from.
    descriptors : tuple of str
        Which descriptors to compute (keys of :data:`ALL_DESCRIPTORS`).
    region : {"clip", "max_energy"}
        Whole clip, or COALA's maximum-energy patch of ``patch_frames`` frames.
    patch_frames, patch_hop : int
        Length and hop (in STFT frames) of the candidate patches of ``region="max_energy"``
        (COALA: 96 and 12). A clip shorter than one patch is used whole.
    """

    sr: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mfcc: int = 20
    n_mels: int = 128
    descriptors: tuple[str, ...] = field(default=DEFAULT_DESCRIPTORS)
    region: str = "clip"
    patch_frames: int = 96
    patch_hop: int = 12

    def __post_init__(self) -> None:
        object.__setattr__(self, "descriptors", tuple(self.descriptors))
        unknown = [d for d in self.descriptors if d not in ALL_DESCRIPTORS]
        if unknown or not self.descriptors:
            raise ConfigError(
                f"unknown descriptor(s) {unknown}" if unknown else "no descriptor selected",
                f"choose from {', '.join(ALL_DESCRIPTORS)}",
            )
        if len(set(self.descriptors)) != len(self.descriptors):
            raise ConfigError(f"descriptors listed twice: {list(self.descriptors)}")
        if self.region not in _REGIONS:
            raise ConfigError(
                f"unknown descriptor region {self.region!r}", f"choose from {', '.join(_REGIONS)}"
            )
        for name in ("sr", "n_fft", "hop_length", "n_mfcc", "n_mels", "patch_frames", "patch_hop"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ConfigError(
                    f"descriptor setting {name} must be a positive integer; got {value}"
                )

    def dims(self, name: str) -> int:
        """Frame-level dimension ``d`` of a descriptor (its summary has ``3 d`` values)."""
        return self.n_mfcc if name == "mfcc" else ALL_DESCRIPTORS[name]


def _max_energy_slice(S: np.ndarray, frames: int, hop: int) -> slice:
    """COALA's patch choice: the window of ``frames`` frames with the largest summed magnitude."""
    total = S.shape[1]
    if total <= frames:
        return slice(0, total)
    energy = np.cumsum(np.concatenate([[0.0], S.sum(axis=0, dtype=np.float64)]))
    starts = np.arange(0, total - frames + 1, hop)
    best = int(starts[np.argmax(energy[starts + frames] - energy[starts])])
    return slice(best, best + frames)


def _resample(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return audio
    import soxr

    from musicrep.audio import RESAMPLE_QUALITY

    return soxr.resample(audio, sr, target, quality=RESAMPLE_QUALITY).astype(np.float32)


def _check_audio(audio: np.ndarray, sr: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ConfigError(f"audio must be mono, shape (samples,); got shape {audio.shape}")
    if audio.size == 0:
        raise ConfigError("audio has no samples")
    if not np.all(np.isfinite(audio)):
        raise ConfigError("audio has NaN/Inf samples")
    if not sr or sr <= 0:
        raise ConfigError(f"sample rate must be positive; got {sr}")
    return audio


@lru_cache(maxsize=8)
def _extractors(config: DescriptorConfig) -> dict[str, SpectralFeature]:
    """The registry's extractors for ``config.descriptors``, all on one STFT's settings."""
    from musicrep.features import create_feature

    common = {
        "sample_rate": config.sr,
        "hop_length": config.hop_length,
        "n_fft": config.n_fft,
        "win_length": None,
    }
    options = {
        # librosa.feature.mfcc of power_to_db (top_db 80) of a Slaney mel spectrogram to Nyquist
        "mfcc": {"n_mfcc": config.n_mfcc, "n_mels": config.n_mels, "f_max": None},
        # chroma_stft of the power spectrogram with librosa's per-clip tuning estimate
        "chroma": {"tuning": "estimate"},
    }
    return {
        name: create_feature(name, **common, **options.get(name, {})).eval()
        for name in config.descriptors
    }


def frame_descriptors(
    audio: np.ndarray, sr: int, config: DescriptorConfig | None = None
) -> dict[str, np.ndarray]:
    """Frame-level descriptors of a clip.

    Parameters
    ----------
    audio : np.ndarray, (samples,)
        Mono waveform.
    sr : int
        Its sample rate in Hz (resampled to ``config.sr`` when different).
    config : DescriptorConfig, optional
        Settings; defaults as in the module docstring.

    Returns
    -------
    dict of str to np.ndarray
        ``name -> (d, frames)`` for each of ``config.descriptors`` (frames of the chosen region).
    """
    config = config or DescriptorConfig()
    y = _resample(_check_audio(audio, sr), int(sr), config.sr)
    extractors = _extractors(config)
    with torch.no_grad():
        # float64, as librosa's reference values are exact to float32 rounding
        wave = torch.from_numpy(y.astype(np.float64))[None]
        S = STFT(config.n_fft, config.hop_length, power=1.0)(wave)  # magnitude, (1, F, T)
        if config.region == "max_energy":
            S = S[..., _max_energy_slice(S[0].numpy(), config.patch_frames, config.patch_hop)]
        out = {name: fx.from_spectrum(S**fx.power)[0].numpy() for name, fx in extractors.items()}
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def summarize(frames: np.ndarray) -> np.ndarray:
    """Mean, variance and skewness over frames.

    Parameters
    ----------
    frames : np.ndarray, (d, frames)

    Returns
    -------
    np.ndarray, (3 d,)
        ``[mean (d), var (d), skew (d)]``; the skewness of a constant row is 0.
    """
    from scipy.stats import skew

    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] == 0:
        raise ConfigError(f"frames must have shape (d, frames) with frames > 0; got {frames.shape}")
    mean = frames.mean(axis=1)
    var = frames.var(axis=1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sk = skew(frames, axis=1)
    # scipy returns NaN for (numerically) constant rows; a constant has no asymmetry
    sk = np.where(np.isfinite(sk), sk, 0.0)
    return np.concatenate([mean, var, sk])


def split_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Split summaries ``(..., 3 d)`` into ``{"mean": (..., d), "var": ..., "skew": ...}``."""
    values = np.asarray(values)
    if values.shape[-1] % len(STATS):
        raise ConfigError(f"last axis must be a multiple of {len(STATS)}; got {values.shape}")
    d = values.shape[-1] // len(STATS)
    return {s: values[..., i * d : (i + 1) * d] for i, s in enumerate(STATS)}


def clip_descriptors(
    audio: np.ndarray, sr: int, config: DescriptorConfig | None = None
) -> dict[str, np.ndarray]:
    """Frame statistics of each descriptor of a clip.

    Parameters
    ----------
    audio : np.ndarray, (samples,)
        Mono waveform.
    sr : int
        Its sample rate in Hz.
    config : DescriptorConfig, optional

    Returns
    -------
    dict of str to np.ndarray
        ``name -> (3 d,)``: MFCC 60, chroma 36, centroid 3, bandwidth 3 (rolloff 3) values,
        laid out ``[mean, var, skew]``.
    """
    return {k: summarize(v) for k, v in frame_descriptors(audio, sr, config).items()}


def descriptor_table(
    inputs: Sequence[str | os.PathLike | np.ndarray],
    sr: int | None = None,
    config: DescriptorConfig | None = None,
    *,
    show_progress: bool = False,
) -> dict[str, np.ndarray]:
    """Descriptor summaries of many clips, stacked.

    Parameters
    ----------
    inputs : sequence of paths or np.ndarray
        Audio files (decoded with :func:`musicrep.audio.load` at ``config.sr``) or mono
        waveforms ``(samples,)``.
    sr : int, optional
        Sample rate of the waveforms in ``inputs`` (required when any input is an array).
    config : DescriptorConfig, optional
    show_progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    dict of str to np.ndarray
        ``name -> (n_clips, 3 d)``.

    Raises
    ------
    AudioError
        A file cannot be read (the first such file stops the computation; see
        :mod:`musicrep.analysis.cca_report` for a job that records failures and goes on).
    """
    from musicrep.audio import load
    from musicrep.utils import progress

    config = config or DescriptorConfig()
    if len(inputs) == 0:
        raise ConfigError("no clips given")
    rows: dict[str, list[np.ndarray]] = {name: [] for name in config.descriptors}
    for item in progress(
        inputs, desc="descriptors", unit="clip", disable=None if show_progress else True
    ):
        if isinstance(item, np.ndarray):
            if sr is None:
                raise ConfigError("sr is required when inputs are waveforms")
            wave, wave_sr = item, sr
        else:
            wave, wave_sr = load(item, sr=config.sr)
        for name, vec in clip_descriptors(wave, wave_sr, config).items():
            rows[name].append(vec)
    return {name: np.stack(v) for name, v in rows.items()}
