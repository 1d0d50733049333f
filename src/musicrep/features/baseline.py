"""The MFCC statistics baseline (COALA's MFCC "low anchor"), computed from the feature registry.

:func:`mfcc_stats` is the MFCC "low anchor" of COALA (Favory et al., 2020, "COALA: Co-Aligned
Autoencoders for Learning Semantically Enriched Audio Representations"): the first 20 MFCCs with
their deltas and delta-deltas, summarised by their mean and spread over time, a 120-d vector
per clip. The settings (all in :data:`MFCC_BASELINE`) follow the reference script
(``xavierfav/coala``, ``scripts/extract_mfcc.py``):

* MFCCs as ``librosa.feature.mfcc`` computes them with librosa's defaults: ``n_fft`` 2048,
  hop 512, Hann window, centred frames, 128 Slaney mel bands from 0 Hz to ``sr / 2``, ``power_to_db`` with
  ``top_db=80`` (relative to the loudest bin of the clip), orthonormal DCT-II, no liftering.
  With librosa >= 0.10 the centre padding is zeros (``pad_mode="constant"``).
* Deltas ``librosa.feature.delta(width=5, mode="nearest")``; delta-deltas the same with
  ``order=2``, both computed from the MFCCs.
* Layout ``[mean(mfcc), spread(mfcc), mean(delta), spread(delta), mean(delta2),
  spread(delta2)]``, each block ``n_mfcc`` long.

Choices where the sources disagree or are silent:

* **Spread**: the paper says "means and standard deviations through time"; the reference
  script takes the variance. The default is the standard deviation (``spread="std"``);
  ``spread="var"`` reproduces the script.
* **Sample rate**: the script resamples to 22000 Hz; musicrep uses 22050 Hz (librosa's
  default and one of the rates HEAR accepts) for the baseline embedding model
  (:class:`musicrep.embed.MfccEmbedding`). :func:`mfcc_stats` itself works at any ``sr``.

The MFCCs and deltas come from the ``mfcc`` extractor of :mod:`musicrep.features` (torch, on
the input's device) with the settings above; the results equal the librosa computation this
module used before (``tests/test_embed.py`` checks it against librosa to ``rtol=1e-5,
atol=1e-4``), so numbers recorded with earlier versions stay valid.

:class:`MfccStatsStream` computes the same statistics from consecutive blocks of a long
recording without holding its waveform or spectrogram in memory (only the 128-band mel
spectrogram, 128 values per 23 ms hop at 22.05 kHz: about 80 MB per hour).
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType

import numpy as np
import torch

from musicrep.errors import ConfigError
from musicrep.features.spectral import MFCCFeature
from musicrep.frontends.base import STFT

__all__ = ["MFCC_BASELINE", "MfccStatsStream", "mfcc_stats"]

#: Settings of the MFCC statistics baseline (COALA's ``extract_mfcc.py``, librosa defaults).
MFCC_BASELINE = MappingProxyType(
    {
        "n_mfcc": 20,
        "n_fft": 2048,
        "hop_length": 512,
        "n_mels": 128,
        "top_db": 80.0,
        "delta_width": 5,
        "delta_mode": "nearest",
        "sample_rate": 22050,
    }
)

_SPREADS = ("std", "var")
_PIECE = 1 << 19  # samples per STFT call in MfccStatsStream (~24 s at 22.05 kHz)


def _check(sr: float, n_mfcc: int, delta_width: int, spread: str) -> None:
    if not (isinstance(sr, (int, float, np.integer, np.floating)) and sr > 0):
        raise ConfigError(f"sample rate must be a positive number of Hz; got {sr!r}")
    if int(sr) != sr:
        raise ConfigError(f"sample rate must be a whole number of Hz; got {sr!r}")
    if int(n_mfcc) != n_mfcc or n_mfcc < 1:
        raise ConfigError(f"n_mfcc must be a positive integer; got {n_mfcc!r}")
    if int(delta_width) != delta_width or delta_width < 3 or delta_width % 2 == 0:
        raise ConfigError(f"delta_width must be an odd integer >= 3; got {delta_width!r}")
    if spread not in _SPREADS:
        raise ConfigError(f"unknown spread {spread!r}", f"use one of {', '.join(_SPREADS)}")


@lru_cache(maxsize=16)
def _extractor(sr: int, n_mfcc: int, delta_width: int, device: str) -> MFCCFeature:
    """The registry's ``mfcc`` extractor with the baseline settings (cached per device)."""
    fx = MFCCFeature(
        sample_rate=sr,
        hop_length=MFCC_BASELINE["hop_length"],
        n_mfcc=n_mfcc,
        n_fft=MFCC_BASELINE["n_fft"],
        win_length=None,
        n_mels=MFCC_BASELINE["n_mels"],
        f_max=None,
        top_db=MFCC_BASELINE["top_db"],
        deltas=2,
        delta_width=delta_width,
        delta_mode=MFCC_BASELINE["delta_mode"],
    )
    return fx.to(device).eval()


def _summary(feats: torch.Tensor, n_mfcc: int, spread: str) -> torch.Tensor:
    """``(batch, 3 n_mfcc, frames)`` -> ``(batch, 6 n_mfcc)``: mean and spread of each block."""
    parts = []
    for block in feats.split(n_mfcc, dim=1):
        parts.append(block.mean(dim=-1))
        parts.append(
            block.var(dim=-1, correction=0) if spread == "var" else block.std(-1, correction=0)
        )
    return torch.cat(parts, dim=-1)


def mfcc_stats(
    audio: np.ndarray | torch.Tensor,
    sr: float,
    *,
    n_mfcc: int = MFCC_BASELINE["n_mfcc"],
    delta_width: int = MFCC_BASELINE["delta_width"],
    spread: str = "std",
) -> np.ndarray | torch.Tensor:
    """MFCC + delta + delta-delta statistics over time (the COALA MFCC baseline).

    Parameters
    ----------
    audio : np.ndarray or torch.Tensor
        ``(samples,)`` or a batch ``(..., samples)``; each signal is summarised on its own. A
        tensor is processed on its device.
    sr : float
        Sampling rate of ``audio`` in Hz (no resampling happens here).
    n_mfcc : int
        Number of MFCCs (20).
    delta_width : int
        Odd window of the deltas in frames (5).
    spread : {"std", "var"}
        Spread statistic: standard deviation (paper) or variance (reference script).

    Returns
    -------
    np.ndarray or torch.Tensor, float32
        ``(..., 6 * n_mfcc)`` (120 by default), laid out as ``[mean(mfcc), spread(mfcc),
        mean(delta), spread(delta), mean(delta2), spread(delta2)]``; a tensor for a tensor input
        (on its device), else a numpy array.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> mfcc_stats(x, 22050).shape
    (120,)
    """
    _check(sr, n_mfcc, delta_width, spread)
    is_tensor = torch.is_tensor(audio)
    y = audio.detach().float() if is_tensor else torch.from_numpy(np.asarray(audio, np.float32))
    if y.dim() == 0 or y.shape[-1] == 0:
        raise ConfigError(f"mfcc_stats needs a non-empty signal; got shape {tuple(y.shape)}")
    lead = y.shape[:-1]
    fx = _extractor(int(sr), int(n_mfcc), int(delta_width), str(y.device))
    with torch.no_grad():
        out = _summary(fx(y.reshape(-1, y.shape[-1])), int(n_mfcc), spread)
    out = out.reshape(*lead, out.shape[-1])
    return out if is_tensor else out.numpy()


class MfccStatsStream:
    """:func:`mfcc_stats` of a long mono recording fed block by block.

    The mel frames are computed from each block as it arrives (with the ``n_fft`` samples of
    context a centred frame needs carried over between blocks, and zero padding at both ends
    as librosa's centred STFT does), so the result equals ``mfcc_stats`` of the concatenated
    blocks up to float rounding. Only the mel spectrogram is kept (``n_mels`` values per hop).

    Parameters
    ----------
    sr : float
        Sampling rate of the blocks in Hz.
    n_mfcc, delta_width, spread
        As in :func:`mfcc_stats`.

    Examples
    --------
    >>> stream = MfccStatsStream(22050)                      # doctest: +SKIP
    >>> for block in musicrep.audio.blocks("concert.flac", sr=22050):  # doctest: +SKIP
    ...     stream.update(block)
    >>> stream.result().shape                                 # doctest: +SKIP
    (120,)
    """

    def __init__(
        self,
        sr: float,
        *,
        n_mfcc: int = MFCC_BASELINE["n_mfcc"],
        delta_width: int = MFCC_BASELINE["delta_width"],
        spread: str = "std",
    ):
        _check(sr, n_mfcc, delta_width, spread)
        self.sr = sr
        self.n_mfcc = int(n_mfcc)
        self.delta_width = int(delta_width)
        self.spread = spread
        self._fx = _extractor(int(sr), self.n_mfcc, self.delta_width, "cpu")
        self._n_fft = int(MFCC_BASELINE["n_fft"])
        self._hop = int(MFCC_BASELINE["hop_length"])
        self._stft = STFT(self._n_fft, self._hop, power=2.0, center=False)
        # samples of the zero-padded signal not yet fully used; index 0 is padded sample _pos
        self._buf = np.zeros(self._n_fft // 2, dtype=np.float32)
        self._pos = 0
        self._next = 0  # index of the next mel frame to compute
        self._samples = 0
        self._mels: list[torch.Tensor] = []
        self._done = False

    def _frames_upto(self, end: int) -> None:
        """Compute every frame that fits in padded samples ``[_pos, end)``."""
        n_avail = (end - self._next * self._hop - self._n_fft) // self._hop + 1
        if n_avail > 0:
            a = self._next * self._hop - self._pos
            seg = self._buf[a : a + (n_avail - 1) * self._hop + self._n_fft]
            with torch.no_grad():
                power = self._stft(torch.from_numpy(np.ascontiguousarray(seg))[None])
                self._mels.append(torch.matmul(self._fx.mel_fb, power)[0])
            self._next += n_avail
        drop = min(self._next * self._hop - self._pos, len(self._buf))
        self._buf = self._buf[drop:]
        self._pos += drop

    def update(self, block: np.ndarray) -> None:
        """Add the next ``(samples,)`` block."""
        if self._done:
            raise RuntimeError("MfccStatsStream.update after result()")
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 1:
            raise ConfigError(f"MfccStatsStream takes mono (samples,) blocks; got {block.shape}")
        # in pieces, so a long array never has its whole STFT in memory at once
        for a in range(0, len(block), _PIECE):
            piece = block[a : a + _PIECE]
            self._buf = np.concatenate([self._buf, piece])
            self._samples += len(piece)
            self._frames_upto(self._pos + len(self._buf))

    def result(self) -> np.ndarray:
        """The ``(6 * n_mfcc,)`` statistics of everything fed so far (ends the stream)."""
        if self._samples == 0:
            raise ConfigError("MfccStatsStream got no samples")
        if not self._done:
            self._buf = np.concatenate([self._buf, np.zeros(self._n_fft // 2, np.float32)])
            self._frames_upto(self._pos + len(self._buf))
            self._done = True
            self._mel = torch.cat(self._mels, dim=-1)[None]
            self._mels = []
        with torch.no_grad():
            feats = self._fx.add_deltas(self._fx.from_mel_power(self._mel))
            return _summary(feats, self.n_mfcc, self.spread)[0].numpy()
