"""Data-driven harmonic filterbank (Won, Chun, Nieto & Serra, ICASSP 2020).

The front-end of the Harmonic CNN: a power STFT followed by a bank of triangular band-pass
filters centred on the harmonics ``h * f0`` of a grid of fundamental frequencies, so that channel
``h`` of the output holds the energy of the ``h``-th harmonic of every pitch ``f0``::

    waveform (batch, samples)
      -> |STFT|^2                         (batch, n_fft // 2 + 1, frames)
      -> triangular harmonic filters      (batch, n_harmonic * n_pitch, frames)
      -> reshape                          (batch, n_harmonic, n_pitch, frames)
      -> 10 log10 (dB)  -> BatchNorm2d(n_harmonic)

With the defaults (16 kHz, ``n_fft=512``, hop 256, 6 harmonics, 2 bins per semitone) the output
is ``(batch, 6, 128, 1 + samples // 256)``; five seconds give ``(batch, 6, 128, 313)``.

Filter definition (the reference implementation, ``minzwon/sota-music-tagging-models``
``training/modules.py`` ``HarmonicSTFT``):

* fundamentals on a MIDI grid with ``semitone_scale`` steps per semitone, from ``low_midi``
  (C1 = 24) up to, but excluding, the note nearest to ``sample_rate / (2 * n_harmonic)`` (E6 = 88
  at 16 kHz, so the highest harmonic of the highest pitch stays below Nyquist):
  ``midi = linspace(low, high, (high - low) * semitone_scale + 1)[:-1]``,
  ``f0 = 440 * 2 ** ((midi - 69) / 12)``;
* centre frequencies ``f_c(h, k) = h * f0(k)``, ``h = 1 .. n_harmonic``;
* bandwidths from the Glasberg-Moore ERB with a learnable quality factor,
  ``BW = (alpha * f_c + beta) / Q``, ``alpha = 0.1079``, ``beta = 24.7``;
* response on the FFT bin frequencies ``f_b = linspace(0, sr / 2, n_fft // 2 + 1)``:
  ``W = relu(1 - 2 |f_b - f_c| / BW)`` (1 at ``f_c``, 0 from ``|f_b - f_c| >= BW / 2``).

Choices where the paper / code leave room (all configurable):

* ``q_init`` defaults to 1.0 as in the sota-music-tagging-models repository; the original
  ``data-driven-harmonic-filters`` repository initialises Q at 2.0.
* ``learn_bw``: ``"only_Q"`` (default: one shared scalar Q is learned), ``"full"`` (alpha, beta
  and Q learned), ``"fix"`` (nothing learned; ``None`` is accepted as an alias, as in the original
  code). Q is not constrained; as in the reference code, a negative Q would give zero filters.
* ``learn_f0=False`` by default (the sota repository); ``True`` makes the fundamental grid an
  ``nn.Parameter`` (the original repository's option), harmonics stay integer multiples of it.
* ``pad_mode="reflect"`` matches ``torchaudio.transforms.Spectrogram`` used by the reference;
  ``"constant"`` matches ``librosa.stft``. The dB conversion is ``10 log10(max(x, 1e-10))``
  with no ``top_db`` (torchaudio ``AmplitudeToDB`` defaults).
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.frontends.base import STFT, Frontend, amplitude_to_db, stft_frames

#: Glasberg & Moore (1990) ERB in Hz, ``24.7 * (4.37 f / 1000 + 1) = 0.1079 f + 24.7``.
ERB_ALPHA = 0.1079
ERB_BETA = 24.7

LEARN_BW_MODES = ("only_Q", "full", "fix")


def harmonic_midi_grid(
    sample_rate: int = 16000,
    n_harmonic: int = 6,
    semitone_scale: int = 2,
    low_midi: float = 24.0,
    high_midi: float | None = None,
) -> np.ndarray:
    """MIDI numbers of the fundamental grid, shape ``(n_pitch,)``.

    ``high_midi`` (exclusive) defaults to the note nearest ``sample_rate / (2 * n_harmonic)``;
    ``n_pitch = (high_midi - low_midi) * semitone_scale``.
    """
    if high_midi is None:
        high_midi = float(np.round(librosa.hz_to_midi(sample_rate / (2 * n_harmonic))))
    level = int(round((high_midi - low_midi) * semitone_scale))
    if level < 1:
        raise ConfigError(
            f"empty pitch grid: low_midi={low_midi} >= high_midi={high_midi} "
            f"(sample_rate={sample_rate}, n_harmonic={n_harmonic})",
            "lower low_midi or n_harmonic, or raise sample_rate",
        )
    return np.linspace(low_midi, high_midi, level + 1)[:-1]


def harmonic_filters(
    fft_freqs: torch.Tensor, center_freqs: torch.Tensor, bandwidths: torch.Tensor
) -> torch.Tensor:
    """Triangular filters ``relu(1 - 2 |f_b - f_c| / BW)``, shape ``(n_freqs, n_filters)``.

    Parameters
    ----------
    fft_freqs : (n_freqs,) bin frequencies in Hz.
    center_freqs, bandwidths : (n_filters,) in Hz; differentiable.
    """
    diff = (fft_freqs[:, None] - center_freqs[None, :]).abs()
    return torch.relu(1.0 - 2.0 * diff / bandwidths[None, :])


@FRONTENDS.register("harmonic")
class HarmonicFilterbank(Frontend):
    """Learnable harmonic filterbank, ``(batch, samples) -> (batch, n_harmonic, n_pitch, frames)``.

    Parameters
    ----------
    sample_rate : int
        Input rate in Hz (16000).
    n_fft, hop_length : int
        STFT size and hop in samples (512, 256; hann window of ``n_fft``).
    n_harmonic : int
        Number of harmonics, i.e. output channels (6).
    semitone_scale : int
        Fundamental grid steps per semitone (2: half-semitone grid).
    low_midi : float
        Lowest fundamental as a MIDI number (24 = C1, 32.70 Hz).
    high_midi : float or None
        Exclusive upper end of the grid; None = note nearest ``sample_rate / (2 * n_harmonic)``.
    learn_bw : {"only_Q", "full", "fix"}
        Which bandwidth parameters are learned (see module docstring).
    q_init : float
        Initial quality factor Q (1.0; the original repository used 2.0).
    alpha, beta : float
        ERB slope and intercept (0.1079, 24.7 Hz).
    learn_f0 : bool
        Learn the fundamental grid (False).
    batchnorm : bool
        Apply ``BatchNorm2d(n_harmonic)`` to the dB output (True).
    pad_mode : str
        STFT padding, ``"reflect"`` (torchaudio, the reference) or ``"constant"`` (librosa).

    Attributes
    ----------
    midi : Tensor (n_pitch,)
        The MIDI numbers of the initial fundamental grid (buffer).
    n_pitch : int
        Number of fundamentals (128 with the defaults).

    Examples
    --------
    >>> fe = HarmonicFilterbank()
    >>> fe.output_shape(80000)
    (6, 128, 313)
    """

    kind = "tf"

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_harmonic: int = 6,
        semitone_scale: int = 2,
        low_midi: float = 24.0,
        high_midi: float | None = None,
        learn_bw: str | None = "only_Q",
        q_init: float = 1.0,
        alpha: float = ERB_ALPHA,
        beta: float = ERB_BETA,
        learn_f0: bool = False,
        batchnorm: bool = True,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        if learn_bw is None:
            learn_bw = "fix"
        if learn_bw not in LEARN_BW_MODES:
            raise ConfigError(
                f"unknown learn_bw {learn_bw!r}; valid: {', '.join(LEARN_BW_MODES)}",
                "'only_Q' learns a shared Q, 'full' also alpha and beta, 'fix' learns nothing",
            )
        if n_harmonic < 1:
            raise ConfigError(f"n_harmonic must be >= 1, got {n_harmonic}")
        self.sample_rate = int(sample_rate)
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.n_harmonic = int(n_harmonic)
        self.semitone_scale = semitone_scale
        self.learn_bw, self.learn_f0 = learn_bw, bool(learn_f0)

        self.stft = STFT(n_fft=n_fft, hop_length=hop_length, power=2.0, pad_mode=pad_mode)
        midi = harmonic_midi_grid(sample_rate, n_harmonic, semitone_scale, low_midi, high_midi)
        self.n_pitch = len(midi)
        f0 = torch.as_tensor(librosa.midi_to_hz(midi), dtype=torch.float32)
        top = self.n_harmonic * float(f0[-1])
        if top >= sample_rate / 2:
            raise ConfigError(
                f"the {n_harmonic}th harmonic of the top pitch ({top:.0f} Hz) is above Nyquist "
                f"({sample_rate / 2:.0f} Hz)",
                "lower high_midi or n_harmonic",
            )
        self.register_buffer("midi", torch.as_tensor(midi, dtype=torch.float32), persistent=False)
        if self.learn_f0:
            self.f0 = nn.Parameter(f0)
        else:
            self.register_buffer("f0", f0)
        self.register_buffer(
            "harmonics", torch.arange(1, n_harmonic + 1, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "fft_freqs",
            torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float32),
            persistent=False,
        )

        for name, value, learn in (
            ("bw_alpha", alpha, learn_bw == "full"),
            ("bw_beta", beta, learn_bw == "full"),
            ("bw_Q", q_init, learn_bw in ("full", "only_Q")),
        ):
            tensor = torch.tensor(float(value))
            if learn:
                setattr(self, name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)
        self.bn = nn.BatchNorm2d(n_harmonic) if batchnorm else nn.Identity()

    def center_frequencies(self) -> torch.Tensor:
        """Filter centre frequencies ``h * f0`` in Hz, shape ``(n_harmonic, n_pitch)``."""
        return self.harmonics[:, None] * self.f0[None, :]

    def bandwidths(self) -> torch.Tensor:
        """Filter bandwidths ``(alpha f_c + beta) / Q`` in Hz, shape ``(n_harmonic, n_pitch)``."""
        return (self.bw_alpha * self.center_frequencies() + self.bw_beta) / self.bw_Q

    def filterbank(self) -> torch.Tensor:
        """The current filters on the FFT grid, shape ``(n_harmonic, n_pitch, n_fft // 2 + 1)``."""
        fc, bw = self.center_frequencies(), self.bandwidths()
        fb = harmonic_filters(self.fft_freqs, fc.reshape(-1), bw.reshape(-1))
        return fb.T.reshape(self.n_harmonic, self.n_pitch, -1)

    def output_shape(self, num_samples: int) -> tuple[int, ...]:
        frames = stft_frames(int(num_samples), self.hop_length, self.n_fft, self.stft.center)
        return (self.n_harmonic, self.n_pitch, frames)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> dB harmonic tensor ``(batch, n_harmonic, n_pitch, frames)``."""
        wave = self.check_input(wave)
        if self.stft.pad_mode == "reflect" and wave.shape[-1] <= self.n_fft // 2:
            raise ConfigError(
                f"{wave.shape[-1]} samples is too short for reflect padding with "
                f"n_fft={self.n_fft}; need more than {self.n_fft // 2}",
                "pass longer audio or pad_mode='constant'",
            )
        spec = self.stft(wave)  # (B, n_freqs, T)
        fb = self.filterbank()  # (H, P, n_freqs)
        out = torch.einsum("hpf,bft->bhpt", fb, spec)
        return self.bn(amplitude_to_db(out, multiplier=10.0))
