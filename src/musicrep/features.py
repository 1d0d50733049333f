"""Classic audio descriptors in numpy/librosa, used as baselines, SSL targets and in analysis.

MFCC statistics baseline
------------------------
:func:`mfcc_stats` is the MFCC "low anchor" of COALA (Favory et al., 2020, "COALA: Co-Aligned
Autoencoders for Learning Semantically Enriched Audio Representations"): the first 20 MFCCs with
their deltas and delta-deltas, summarised by their mean and spread over time, a 120-d vector
per clip. The settings (all in :data:`MFCC_BASELINE`) follow the reference script
(``xavierfav/coala``, ``scripts/extract_mfcc.py``):

* MFCCs from ``librosa.feature.mfcc`` with librosa's defaults: ``n_fft`` 2048, hop 512, Hann
  window, centred frames, 128 Slaney mel bands from 0 Hz to ``sr / 2``, ``power_to_db`` with
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

:class:`MfccStatsStream` computes the same statistics from consecutive blocks of a long
recording without holding its waveform or spectrogram in memory (only the 128-band mel
spectrogram, 128 values per 23 ms hop at 22.05 kHz: about 80 MB per hour).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from musicrep.errors import ConfigError

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
    if int(n_mfcc) != n_mfcc or n_mfcc < 1:
        raise ConfigError(f"n_mfcc must be a positive integer; got {n_mfcc!r}")
    if int(delta_width) != delta_width or delta_width < 3 or delta_width % 2 == 0:
        raise ConfigError(f"delta_width must be an odd integer >= 3; got {delta_width!r}")
    if spread not in _SPREADS:
        raise ConfigError(f"unknown spread {spread!r}", f"use one of {', '.join(_SPREADS)}")


def _db(mel_power: np.ndarray, top_db: float) -> np.ndarray:
    """``librosa.power_to_db`` of each ``(n_mels, frames)`` item separately.

    librosa's ``top_db`` floor is relative to the maximum of the whole array it is given, so a
    batch is converted item by item: a clip's features never depend on the rest of the batch.
    """
    import librosa

    if mel_power.ndim == 2:
        return librosa.power_to_db(mel_power, top_db=top_db)
    flat = mel_power.reshape(-1, *mel_power.shape[-2:])
    out = np.stack([librosa.power_to_db(m, top_db=top_db) for m in flat])
    return out.reshape(mel_power.shape)


def _stats_from_db(db: np.ndarray, n_mfcc: int, delta_width: int, spread: str) -> np.ndarray:
    """``(..., n_mels, frames)`` dB mel spectrogram -> ``(..., 6 * n_mfcc)`` statistics."""
    import librosa

    mfcc = librosa.feature.mfcc(S=db, n_mfcc=n_mfcc)
    mode = MFCC_BASELINE["delta_mode"]
    d1 = librosa.feature.delta(mfcc, width=delta_width, order=1, mode=mode)
    d2 = librosa.feature.delta(mfcc, width=delta_width, order=2, mode=mode)
    parts = []
    for feat in (mfcc, d1, d2):
        parts.append(feat.mean(axis=-1))
        parts.append(feat.std(axis=-1) if spread == "std" else feat.var(axis=-1))
    return np.concatenate(parts, axis=-1).astype(np.float32)


def mfcc_stats(
    audio: np.ndarray,
    sr: float,
    *,
    n_mfcc: int = MFCC_BASELINE["n_mfcc"],
    delta_width: int = MFCC_BASELINE["delta_width"],
    spread: str = "std",
) -> np.ndarray:
    """MFCC + delta + delta-delta statistics over time (the COALA MFCC baseline).

    Parameters
    ----------
    audio : np.ndarray
        ``(samples,)`` or a batch ``(..., samples)``; each signal is summarised on its own.
    sr : float
        Sampling rate of ``audio`` in Hz (no resampling happens here).
    n_mfcc : int
        Number of MFCCs (20).
    delta_width : int
        Odd window of ``librosa.feature.delta`` in frames (5).
    spread : {"std", "var"}
        Spread statistic: standard deviation (paper) or variance (reference script).

    Returns
    -------
    np.ndarray, float32
        ``(..., 6 * n_mfcc)`` (120 by default), laid out as ``[mean(mfcc), spread(mfcc),
        mean(delta), spread(delta), mean(delta2), spread(delta2)]``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> mfcc_stats(x, 22050).shape
    (120,)
    """
    import librosa

    _check(sr, n_mfcc, delta_width, spread)
    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 0 or y.shape[-1] == 0:
        raise ConfigError(f"mfcc_stats needs a non-empty signal; got shape {y.shape}")
    mel = librosa.feature.melspectrogram(
        y=y,
        sr=sr,
        n_fft=MFCC_BASELINE["n_fft"],
        hop_length=MFCC_BASELINE["hop_length"],
        n_mels=MFCC_BASELINE["n_mels"],
    )
    return _stats_from_db(_db(mel, MFCC_BASELINE["top_db"]), n_mfcc, delta_width, spread)


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
        self._n_fft = int(MFCC_BASELINE["n_fft"])
        self._hop = int(MFCC_BASELINE["hop_length"])
        # samples of the zero-padded signal not yet fully used; index 0 is padded sample _pos
        self._buf = np.zeros(self._n_fft // 2, dtype=np.float32)
        self._pos = 0
        self._next = 0  # index of the next mel frame to compute
        self._samples = 0
        self._mels: list[np.ndarray] = []
        self._done = False

    def _frames_upto(self, end: int) -> None:
        """Compute every frame that fits in padded samples ``[_pos, end)``."""
        import librosa

        n_avail = (end - self._next * self._hop - self._n_fft) // self._hop + 1
        if n_avail > 0:
            a = self._next * self._hop - self._pos
            seg = self._buf[a : a + (n_avail - 1) * self._hop + self._n_fft]
            mel = librosa.feature.melspectrogram(
                y=seg,
                sr=self.sr,
                n_fft=self._n_fft,
                hop_length=self._hop,
                n_mels=MFCC_BASELINE["n_mels"],
                center=False,
            )
            self._mels.append(mel.astype(np.float32, copy=False))
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
            self._mel = np.concatenate(self._mels, axis=-1)
            self._mels = []
        db = _db(self._mel, MFCC_BASELINE["top_db"])
        return _stats_from_db(db, self.n_mfcc, self.delta_width, self.spread)
