"""Hand-crafted frame-level features: one registry for baselines, SSL targets and analysis.

Every extractor is an ``nn.Module`` mapping waveforms ``(batch, samples)`` to features
``(batch, dims, frames)`` on the waveform's device, on one frame grid (frame ``k`` centred on
sample ``k * hop_length``, ``1 + samples // hop_length`` frames; default 16 kHz, hop 160 =
10 ms), with a ``dims`` attribute and optional deltas::

    >>> import torch
    >>> from musicrep.features import create_feature, list_features
    >>> fx = create_feature("mfcc", deltas=2)            # PASE's mfcc worker target
    >>> fx(torch.randn(2, 32000)).shape                  # 2 s at 16 kHz
    torch.Size([2, 39, 201])
    >>> fx.dims
    39

=================== ===================================================== =====================
name                feature                                               module
=================== ===================================================== =====================
``lps``             log power spectrum (1025)                             :mod:`.spectral`
``fbank``           log-mel filterbank (40)                               :mod:`.spectral`
``gammatone``       gammatone filterbank (40)                             :mod:`.spectral`
``mfcc``            MFCC (13)                                             :mod:`.spectral`
``cqt``             constant-Q magnitude in dB (84)                       :mod:`.spectral`
``chroma``          chromagram (12)                                       :mod:`.spectral`
``spectral_*``      centroid, bandwidth, rolloff, flatness (1 each)       :mod:`.spectral`
``prosody``         log F0 (YIN), voicing, RMS energy, ZCR (4)            :mod:`.prosody`
``onset_strength``  spectral-flux onset envelope (1)                      :mod:`.rhythm`
``tempogram``       autocorrelation tempogram, 64 tempo bins              :mod:`.rhythm`
``scattering``      wavelet scattering, orders 1+2 (Kymatio; 125 at J=6)   :mod:`.scattering`
=================== ===================================================== =====================

Every extractor takes ``sample_rate``, ``hop_length`` and ``deltas`` (0, 1 or 2: the static
features followed by their first and second derivatives) plus its own options; see each class.

Users of the registry:

* the multi-task self-supervised workers build their targets with :func:`create_feature` and
  z-normalise them with :class:`FeatureStats`;
* the MFCC statistics baseline (``musicrep embed --model mfcc``) is :func:`mfcc_stats` /
  :class:`MfccStatsStream` in :mod:`.baseline`, on top of the ``mfcc`` extractor;
* the analysis descriptors (:mod:`musicrep.analysis.descriptors`) read ``mfcc``, ``chroma``
  and ``spectral_*`` from here with their own settings.

Adding a feature: write a :class:`FeatureExtractor` subclass (``name``, ``base_dims``,
``compute``) in a module of this package and register it in the table below.
"""

from __future__ import annotations

from typing import Any

from musicrep.features.base import (
    DEFAULT_HOP,
    DEFAULT_SAMPLE_RATE,
    FeatureExtractor,
    check_wave,
    delta,
    frame_signal,
    stack_deltas,
)
from musicrep.features.baseline import MFCC_BASELINE, MfccStatsStream, _check, mfcc_stats
from musicrep.features.prosody import Prosody, yin
from musicrep.features.rhythm import OnsetStrength, Tempogram
from musicrep.features.scattering import Scattering, scattering_orders
from musicrep.features.spectral import (
    Chroma,
    ConstantQFeature,
    GammatoneFilterbank,
    LogMelFilterbank,
    LogPowerSpectrum,
    MFCCFeature,
    SpectralBandwidth,
    SpectralCentroid,
    SpectralFeature,
    SpectralFlatness,
    SpectralRolloff,
)
from musicrep.features.stats import FeatureStats
from musicrep.registry import Registry

FEATURES: Registry[FeatureExtractor] = Registry("feature")

for _cls in (
    LogPowerSpectrum,
    LogMelFilterbank,
    GammatoneFilterbank,
    MFCCFeature,
    ConstantQFeature,
    Chroma,
    SpectralCentroid,
    SpectralBandwidth,
    SpectralRolloff,
    SpectralFlatness,
    Prosody,
    OnsetStrength,
    Tempogram,
    Scattering,
):
    FEATURES.register(_cls.name)(_cls)


def create_feature(name: str, **kwargs: Any) -> FeatureExtractor:
    """Build the feature extractor registered as ``name`` with options ``kwargs``.

    Raises :class:`musicrep.ConfigError` listing the valid names when ``name`` is unknown, or
    naming the option when one is invalid.
    """
    return FEATURES.create(name, **kwargs)


def list_features() -> list[str]:
    """Names accepted by :func:`create_feature`."""
    return FEATURES.names()


__all__ = [
    "DEFAULT_HOP",
    "DEFAULT_SAMPLE_RATE",
    "FEATURES",
    "MFCC_BASELINE",
    "FeatureExtractor",
    "FeatureStats",
    "MfccStatsStream",
    "Scattering",
    "SpectralFeature",
    "_check",
    "check_wave",
    "create_feature",
    "delta",
    "frame_signal",
    "list_features",
    "mfcc_stats",
    "scattering_orders",
    "stack_deltas",
    "yin",
]
