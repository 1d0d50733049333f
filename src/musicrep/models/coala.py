"""COALA (Favory, Drossos, Virtanen & Serra, 2020): co-aligned audio and tag autoencoders.

The audio side of COALA is an ordinary :class:`~musicrep.models.Encoder`, so every tool of the
toolkit (``musicrep embed``, ``evaluate``, ``export``, ``musicrep.io.load``) uses it unchanged:

- **front-end** ``coala_logmel`` (:class:`CoalaLogMel`): 96 log-mel bands at 22.05 kHz (window
  1024, hop 512, magnitude, natural log), cut into non-overlapping 96-frame patches (about
  2.2 s) and scaled to [0, 1] with min/max values fitted on the training patches and **stored
  in the model** (buffers), so that any audio can be embedded later;
- **back-end** ``coala`` (:class:`CoalaConvBackend`): 5 blocks of Conv2d (128 filters 4x4,
  stride 2, padding 1) -> BatchNorm -> ReLU -> Dropout 0.25, taking a 1 x 96 x 96 patch to
  128 x 3 x 3 = the **1152-d embedding** z_audio; an input of several patches gives the mean
  of their embeddings (the paper's downstream protocol: non-overlapping patches, mean over the
  clip), ``forward_sequence`` one embedding per patch.

``create_model("coala", num_outputs=C, variant=...)`` builds a :class:`CoalaModel` (a
:class:`~musicrep.models.TaggingModel`) for one of the paper's ablations:

- ``"ae_c"`` (COALA, "AE-C") and ``"e_c"`` ("E-C", no decoders): the head is the audio affine
  projection AFF_a of eq. (8) (``Linear(1152, 1152, bias=False)`` + Dropout 0.25) followed by a
  cosine similarity to each tag's projected tag embedding (:class:`CoalaProjectionHead`), i.e.
  logits are **tag-retrieval scores** ``cos(AFF_a(z_a), AFF_t(e_t(onehot(tag)))) / tau``. The tag
  side (tag autoencoder, AFF_t) belongs to the ``coala`` objective
  (:mod:`musicrep.objectives.coala`), which refreshes the head's tag embeddings whenever the
  model is validated, so an exported COALA model can rank tags for any audio (and
  ``musicrep train`` scores that ranking). One-hot tag vectors through the tag encoder are how
  the original code embeds single tags (``encode.py``, ``extract_tag_embedding``).
- ``"cnn"`` (the supervised baseline): the audio encoder followed by two fully connected layers
  ``Linear(1152, 1152) -> ReLU -> Linear(1152, C)`` predicting the tags (logits; the paper's
  sigmoid is inside the loss).

The audio decoder (:class:`CoalaAudioDecoder`, mirrored transposed convolutions ending in
BatchNorm + sigmoid), the tag autoencoder (:class:`CoalaTagEncoder`, :class:`CoalaTagDecoder`:
512-512-1152 Linear-BN-ReLU-Dropout layers and the mirror) and the tag projection are built by
the objective from the classes here.

Numbers are from the paper and the public code (``xavierfav/coala``: ``models_t1000.py``,
``utils.py``); where they differ:

- Window: the paper says Hamming; the code calls ``librosa.feature.melspectrogram`` whose
  default is Hann. Default ``"hamming"`` (the paper and the issue asking for this model);
  ``frontend_kwargs={"window": "hann"}`` gives the code's.
- Sample rate: the paper says 22 kHz, the code resamples to 22000 Hz (sic); here 22050 Hz, the
  usual "22 kHz" rate (``frontend_kwargs={"sample_rate": 22000}`` for the code's).
- STFT padding: centred frames with reflection padding (librosa 0.7, which the code pins; newer
  librosa pads with zeros). Mel filters: librosa's defaults (Slaney scale and area
  normalisation, 0 Hz to Nyquist). ``log(mel + eps)`` with eps = float32 machine epsilon.
- Scaling: the code fits scikit-learn's ``MinMaxScaler`` on the training patches with the mel
  bands as rows and the 96 frames as columns, i.e. one min/max **per time position** of the
  patch (``scaling="time"``, default); ``"band"`` (per mel band), ``"global"`` and ``"none"``
  are options. Values below the fitted minimum are clamped to 0, as the code's validation does
  (``.clamp(0)``); values above the maximum are kept (as the code).
"""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.backends import BACKENDS, Backend
from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS, STFT, Frontend
from musicrep.models.encoder import Encoder, TaggingModel, build_encoder
from musicrep.models.spec import ModelSpec, register_model

# ------------------------------------------------------------------------ paper numbers (one place)

#: Sample rate in Hz ("22 kHz"; the code uses 22000).
SAMPLE_RATE = 22050
#: STFT window and hop in samples (1024 ~ 46 ms, 50 % overlap).
N_FFT = 1024
HOP_LENGTH = 512
#: Mel bands F.
N_MELS = 96
#: Patch length T in frames (~2.2 s) and the step between candidate patches (frames).
PATCH_FRAMES = 96
PATCH_STEP = 12
#: Natural-log offset of the log-mel (``np.finfo(np.float32).eps``).
LOG_EPS = float(np.finfo(np.float32).eps)
#: Samples whose centred STFT has exactly PATCH_FRAMES frames: ``(96 - 1) * 512``.
INPUT_SAMPLES = (PATCH_FRAMES - 1) * HOP_LENGTH
#: Audio encoder: N_CNN blocks of CHANNELS filters 4x4, stride 2, padding 1; dropout 25 %.
NUM_BLOCKS = 5
CHANNELS = 128
KERNEL_SIZE = 4
STRIDE = 2
PADDING = 1
DROPOUT = 0.25
#: Embedding size (128 x 3 x 3) of the audio and tag encoders.
EMBED_DIM = 1152
#: Hidden layers of the tag encoder (the decoder mirrors them).
TAG_HIDDEN = (512, 512)
#: Contrastive temperature tau.
TEMPERATURE = 0.1
#: The three pre-trained embeddings of the paper's ablation.
VARIANTS = ("ae_c", "e_c", "cnn")
SCALINGS = ("time", "band", "global", "none")
WINDOWS = ("hamming", "hann", "blackman")

REFERENCE = (
    "X. Favory, K. Drossos, T. Virtanen, X. Serra. COALA: Co-aligned autoencoders for learning "
    "semantically enriched audio representations. ICML 2020 Workshop on Self-supervision in "
    "Audio and Speech (arXiv:2006.08386)."
)


# ------------------------------------------------------------------------ patches


def num_patches(frames: int, length: int = PATCH_FRAMES, step: int = PATCH_STEP) -> int:
    """Candidate patches of ``length`` frames every ``step`` frames (``librosa.util.frame``)."""
    return 0 if frames < length else 1 + (frames - length) // step


def max_energy_patches(
    spec: torch.Tensor, length: int = PATCH_FRAMES, step: int = PATCH_STEP
) -> tuple[torch.Tensor, torch.Tensor]:
    """The patch of ``length`` frames with the largest summed value, per example.

    COALA keeps, of each training clip, the 96-frame window (candidates every 12 frames) whose
    log-mel values sum highest ("the patch with the maximum energy"; ``utils.py``,
    ``return_spectrogram_max_nrg_frame``: the sum of the natural-log mel values). Ties go to
    the earliest window.

    Parameters
    ----------
    spec : Tensor, shape (batch, channels, freq, frames)
        Log-mel spectrograms (unscaled).
    length, step : int
        Patch length and step in frames.

    Returns
    -------
    patches : Tensor, shape (batch, channels, freq, length)
    starts : Tensor, shape (batch,), int64
        First frame of each chosen patch.
    """
    if spec.dim() != 4:
        raise ConfigError(f"expected (batch, channels, freq, frames); got {tuple(spec.shape)}")
    b, c, f, t = spec.shape
    n = num_patches(t, length, step)
    if n == 0:
        raise ConfigError(f"{t} frames are fewer than one patch of {length} frames")
    frame_energy = spec.sum(dim=(1, 2))  # (batch, frames)
    windows = frame_energy.unfold(1, length, step).sum(dim=-1)  # (batch, n)
    starts = windows.argmax(dim=1) * step
    index = starts[:, None] + torch.arange(length, device=spec.device)  # (batch, length)
    index = index[:, None, None, :].expand(b, c, f, length)
    return spec.gather(3, index), starts


# ------------------------------------------------------------------------ front-end


class CoalaLogMel(Frontend):
    """COALA's input: scaled 96-band log-mel patches, ``(batch, samples) -> (batch, 1, 96, 96 k)``.

    ``log(mel(|STFT|) + eps)`` (magnitude, natural log), cut to whole patches of
    ``patch_frames`` frames (the frames after the last whole patch are dropped, as the code's
    ``librosa.util.frame``), then min-max scaled with stored statistics and clamped at 0.

    Parameters
    ----------
    sample_rate : int
        Input rate in Hz (22050).
    n_fft, hop_length : int
        STFT window and hop in samples (1024, 512).
    n_mels : int
        Mel bands (96).
    window : {"hamming", "hann", "blackman"}
        STFT window (the paper: Hamming; the code: Hann).
    f_min, f_max : float
        Mel band edges in Hz (0 and Nyquist when None).
    pad_mode : str
        Padding of the centred STFT (``"reflect"``, as librosa 0.7).
    eps : float
        Offset inside the natural log.
    patch_frames : int
        Patch length in frames (96).
    scaling : {"time", "band", "global", "none"}
        Min-max statistics: one per time position of the patch (the code's MinMaxScaler), per
        mel band, one for everything, or no scaling.

    Attributes
    ----------
    scale_min, scale_max : Tensor
        Fitted statistics (``(patch_frames,)``, ``(n_mels,)`` or ``(1,)``); buffers saved with
        the model. Before :meth:`set_scaler` (``is_fitted`` False) no scaling is applied.
    """

    kind = "tf"

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = N_FFT,
        hop_length: int = HOP_LENGTH,
        n_mels: int = N_MELS,
        window: str = "hamming",
        f_min: float = 0.0,
        f_max: float | None = None,
        pad_mode: str = "reflect",
        eps: float = LOG_EPS,
        patch_frames: int = PATCH_FRAMES,
        scaling: str = "time",
    ):
        super().__init__()
        for name, value in (
            ("sample_rate", sample_rate),
            ("n_fft", n_fft),
            ("hop_length", hop_length),
            ("n_mels", n_mels),
            ("patch_frames", patch_frames),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer; got {value!r}")
        if window not in WINDOWS:
            raise ConfigError(f"window must be one of {', '.join(WINDOWS)}; got {window!r}")
        if scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}; got {scaling!r}")
        if pad_mode not in ("reflect", "constant"):
            raise ConfigError(f"pad_mode must be 'reflect' or 'constant'; got {pad_mode!r}")
        if not eps > 0:
            raise ConfigError(f"eps must be > 0; got {eps}")
        self.sample_rate = int(sample_rate)
        nyquist = self.sample_rate / 2
        f_max = nyquist if f_max is None else float(f_max)
        if not 0 <= f_min < f_max <= nyquist + 1e-6:
            raise ConfigError(
                f"need 0 <= f_min < f_max <= {nyquist} Hz; got f_min={f_min}, f_max={f_max}"
            )
        self.n_mels, self.patch_frames = int(n_mels), int(patch_frames)
        self.f_min, self.f_max, self.eps, self.scaling = float(f_min), f_max, float(eps), scaling
        self.stft = STFT(
            n_fft=int(n_fft),
            hop_length=int(hop_length),
            window=window,
            power=1.0,
            center=True,
            pad_mode=pad_mode,
        )
        fb = librosa.filters.mel(
            sr=self.sample_rate,
            n_fft=int(n_fft),
            n_mels=self.n_mels,
            fmin=self.f_min,
            fmax=self.f_max,
            dtype=np.float32,
        )
        self.register_buffer("mel_fb", torch.from_numpy(fb), persistent=False)
        size = {"time": self.patch_frames, "band": self.n_mels}.get(scaling, 1)
        self.register_buffer("scale_min", torch.zeros(size))
        self.register_buffer("scale_max", torch.ones(size))
        self.register_buffer("fitted", torch.zeros(1, dtype=torch.bool))

    # -- shapes
    @property
    def hop_length(self) -> int:
        return self.stft.hop_length

    def num_frames(self, num_samples: int) -> int:
        """STFT frames of ``num_samples`` samples (``1 + num_samples // hop``)."""
        return self.stft.num_frames(int(num_samples))

    def min_samples(self) -> int:
        """Fewest samples that give one whole patch."""
        return (self.patch_frames - 1) * self.hop_length

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        """``(1, n_mels, k * patch_frames)`` for the ``k`` whole patches of ``num_samples``
        samples (``k = 0`` below :meth:`min_samples`: :meth:`forward` then raises)."""
        frames = self.num_frames(num_samples)
        return (1, self.n_mels, frames // self.patch_frames * self.patch_frames)

    # -- computation
    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Unscaled ``log(mel + eps)``: ``(batch, samples) -> (batch, 1, n_mels, frames)``."""
        wave = self.check_input(wave)
        mel = torch.matmul(self.mel_fb, self.stft(wave))
        return torch.log(mel + self.eps).unsqueeze(1)

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.scale_min.to(x.dtype), self.scale_max.to(x.dtype)
        span = torch.where(hi - lo > 0, hi - lo, torch.ones_like(hi))  # as MinMaxScaler
        if self.scaling == "band":
            return lo[:, None], span[:, None]
        return lo, span  # time: broadcast over the last axis; global: scalar

    def scale(self, patches: torch.Tensor) -> torch.Tensor:
        """Min-max scale log-mel patches ``(batch, channels, n_mels, k * patch_frames)``,
        clamped at 0 (values above the fitted maximum are kept).

        Before the scaler is fitted (an untrained model, e.g. a random-network baseline) the
        log-mel passes unchanged.
        """
        if self.scaling == "none":
            return patches
        lo, span = self._stats(patches)
        if self.scaling == "time":
            shape = patches.shape
            x = patches.reshape(*shape[:-1], shape[-1] // self.patch_frames, self.patch_frames)
            scaled = ((x - lo) / span).clamp_min(0).reshape(shape)
        else:
            scaled = ((patches - lo) / span).clamp_min(0)
        return torch.where(self.fitted, scaled, patches)  # no host sync

    def whole_patches(self, spec: torch.Tensor) -> torch.Tensor:
        """Drop the frames after the last whole patch (ConfigError if there is none)."""
        t = spec.shape[-1]
        whole = t // self.patch_frames * self.patch_frames
        if whole == 0:
            raise ConfigError(
                f"audio of {t} frames is shorter than one COALA patch ({self.patch_frames} frames)",
                f"give at least {self.min_samples()} samples, or zero-pad the audio",
            )
        return spec[..., :whole]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> scaled patches side by side ``(batch, 1, n_mels, k * 96)``."""
        return self.scale(self.whole_patches(self.log_mel(wave)))

    # -- scaler
    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item())

    def patch_statistics(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Min and max of unscaled patches ``(batch, channels, n_mels, patch_frames)`` along
        the axes this scaling pools over (shapes of :attr:`scale_min`)."""
        if self.scaling == "time":
            dims: tuple[int, ...] = (0, 1, 2)
        elif self.scaling == "band":
            dims = (0, 1, 3)
        else:
            dims = (0, 1, 2, 3)
        return patches.amin(dim=dims).reshape(-1), patches.amax(dim=dims).reshape(-1)

    @torch.no_grad()
    def set_scaler(self, minimum: torch.Tensor, maximum: torch.Tensor) -> None:
        """Store fitted min/max statistics (shapes of :attr:`scale_min`)."""
        minimum = torch.as_tensor(minimum, dtype=self.scale_min.dtype).reshape(-1)
        maximum = torch.as_tensor(maximum, dtype=self.scale_max.dtype).reshape(-1)
        if minimum.shape != self.scale_min.shape or maximum.shape != self.scale_max.shape:
            raise ConfigError(
                f"scaler statistics of shape {tuple(minimum.shape)} do not fit scaling "
                f"{self.scaling!r} (expected {tuple(self.scale_min.shape)})"
            )
        if not (torch.isfinite(minimum).all() and torch.isfinite(maximum).all()):
            raise ConfigError("scaler statistics are not finite")
        self.scale_min.copy_(minimum)
        self.scale_max.copy_(maximum)
        self.fitted.fill_(True)


# ------------------------------------------------------------------------ audio encoder / decoder


def _conv_out(n: int, k: int = KERNEL_SIZE, s: int = STRIDE, p: int = PADDING) -> int:
    return (n + 2 * p - k) // s + 1


class CoalaConvBackend(Backend):
    """COALA's audio encoder: ``num_blocks`` x [Conv2d -> BatchNorm2d -> ReLU -> Dropout].

    A ``(1, 96, 96)`` patch becomes ``(128, 3, 3)``, flattened to the 1152-d embedding.
    Inputs of ``k`` patches side by side ``(channels, freq, k * patch_frames)`` are split into
    the ``k`` patches: ``forward`` returns the mean of their embeddings, ``forward_sequence``
    one embedding per patch.

    Parameters
    ----------
    in_shape : (channels, freq, time)
        Front-end output at the native input (``time`` a multiple of ``patch_frames``).
    channels : int
        Filters per block (128).
    num_blocks : int
        Blocks (5).
    dropout : float
        Dropout after every block (0.25; also before the flattening, as the code).
    patch_frames : int
        Frames per patch (96).
    """

    name = "coala"
    input_kind = "tf"

    def __init__(
        self,
        in_shape,
        channels: int = CHANNELS,
        num_blocks: int = NUM_BLOCKS,
        dropout: float = DROPOUT,
        patch_frames: int = PATCH_FRAMES,
    ):
        super().__init__(in_shape)
        c, f, t = self.in_shape
        if t < patch_frames:
            raise ConfigError(
                f"back-end 'coala' needs at least one patch of {patch_frames} frames; got "
                f"features {self.in_shape}"
            )
        self.patch_frames = int(patch_frames)
        self.patch_shape = (c, f, self.patch_frames)
        shape = [f, self.patch_frames]
        layers: list[nn.Module] = []
        c_in = c
        for i in range(int(num_blocks)):
            shape = [_conv_out(n) for n in shape]
            if min(shape) < 1:
                raise ConfigError(
                    f"back-end 'coala' cannot take patches {self.patch_shape}: after block "
                    f"{i + 1} the map would be {tuple(shape)}",
                    "the patch must keep >= 1 bin after the stride-2 blocks (e.g. 96 x 96)",
                )
            layers += [
                nn.Conv2d(c_in, channels, KERNEL_SIZE, stride=STRIDE, padding=PADDING),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
            c_in = channels
        self.blocks = nn.Sequential(*layers)
        #: Shape of the last block's output ``(channels, freq', time')`` (the decoder's input).
        self.feature_shape = (int(channels), int(shape[0]), int(shape[1]))
        self.embed_dim = int(np.prod(self.feature_shape))
        self.sequence_dim = self.embed_dim

    def encode_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """``(n, channels, freq, patch_frames)`` -> ``(n, embed_dim)`` (z_audio)."""
        return self.blocks(patches).flatten(1)

    def _split(self, features: torch.Tensor) -> tuple[torch.Tensor, int]:
        self.check_features(features)
        b, c, f, t = features.shape
        k = t // self.patch_frames
        if k == 0:
            raise ConfigError(
                f"back-end 'coala' needs at least {self.patch_frames} frames; got {t}"
            )
        x = features[..., : k * self.patch_frames].reshape(b, c, f, k, self.patch_frames)
        return x.permute(0, 3, 1, 2, 4).reshape(b * k, c, f, self.patch_frames), k

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, freq, k * patch_frames)`` -> ``(batch, k, embed_dim)``."""
        patches, k = self._split(features)
        return self.encode_patches(patches).reshape(features.shape[0], k, self.embed_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, freq, k * patch_frames)`` -> ``(batch, embed_dim)``: the mean of
        the ``k`` patch embeddings."""
        return self.forward_sequence(features).mean(dim=1)

    def sequence_length(self, time: int) -> int:
        return int(time) // self.patch_frames


class CoalaAudioDecoder(nn.Module):
    """Mirror of :class:`CoalaConvBackend`: z_audio ``(batch, 1152)`` -> patch in [0, 1].

    Unflatten to ``feature_shape`` -> Dropout -> ``num_blocks - 1`` x [ConvTranspose2d (4x4,
    stride 2, padding 1) -> BatchNorm2d -> ReLU (-> Dropout on all but the last)] ->
    ConvTranspose2d to the input channels -> BatchNorm2d -> Sigmoid, as ``AudioDecoder`` of the
    code.

    Parameters
    ----------
    feature_shape : (channels, freq', time')
        The encoder's last feature map.
    out_shape : (channels, freq, patch_frames)
        The patch shape it must reconstruct (ConfigError if the mirror does not give it).
    """

    def __init__(
        self,
        feature_shape: tuple[int, int, int],
        out_shape: tuple[int, int, int],
        num_blocks: int = NUM_BLOCKS,
        dropout: float = DROPOUT,
    ):
        super().__init__()
        ch, f, t = (int(v) for v in feature_shape)
        self.feature_shape = (ch, f, t)
        self.out_shape = tuple(int(v) for v in out_shape)
        got = (self.out_shape[0], f * STRIDE**num_blocks, t * STRIDE**num_blocks)
        if got != self.out_shape:
            raise ConfigError(
                f"the COALA audio decoder mirrors the encoder and would give {got}, not the "
                f"patch shape {self.out_shape}",
                "use patches whose sides are multiples of 32 (e.g. 96 x 96)",
            )
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        for i in range(num_blocks - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch, KERNEL_SIZE, stride=STRIDE, padding=PADDING),
                nn.BatchNorm2d(ch),
                nn.ReLU(),
            ]
            if i < num_blocks - 2:
                layers.append(nn.Dropout(dropout))
        layers += [
            nn.ConvTranspose2d(ch, self.out_shape[0], KERNEL_SIZE, stride=STRIDE, padding=PADDING),
            nn.BatchNorm2d(self.out_shape[0]),
            nn.Sigmoid(),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(batch, prod(feature_shape))`` -> ``(batch, *out_shape)`` in [0, 1]."""
        return self.net(z.reshape(z.shape[0], *self.feature_shape))


# ------------------------------------------------------------------------ tag autoencoder


def _fc_block(n_in: int, n_out: int, dropout: float | None) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
    if dropout is not None:
        layers.append(nn.Dropout(dropout))
    return layers


class CoalaTagEncoder(nn.Module):
    """Tag encoder e_t: multi-hot ``(batch, C)`` -> z_tag ``(batch, 1152)``.

    ``[Linear -> BatchNorm1d -> ReLU -> Dropout]`` for each size of ``hidden + (embed_dim,)``
    (512, 512, 1152), as ``TagEncoder`` of the code (eq. (7)).
    """

    def __init__(
        self,
        num_tags: int,
        embed_dim: int = EMBED_DIM,
        hidden: tuple[int, ...] = TAG_HIDDEN,
        dropout: float = DROPOUT,
    ):
        super().__init__()
        sizes = [int(num_tags), *(int(h) for h in hidden), int(embed_dim)]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += _fc_block(a, b, dropout)
        self.net = nn.Sequential(*layers)

    def forward(self, tags: torch.Tensor) -> torch.Tensor:
        return self.net(tags)


class CoalaTagDecoder(nn.Module):
    """Tag decoder d_t: z_tag ``(batch, 1152)`` -> tag **logits** ``(batch, C)``.

    The mirror of the encoder as in ``TagDecoder`` of the code: Linear(1152, 512) -> BN -> ReLU
    -> Dropout -> Linear(512, 512) -> BN -> ReLU -> Linear(512, C) -> BN; the code's final
    sigmoid is applied by the loss (``binary_cross_entropy_with_logits``, equal to its
    ``BCELoss`` on the sigmoid and numerically safer).
    """

    def __init__(
        self,
        num_tags: int,
        embed_dim: int = EMBED_DIM,
        hidden: tuple[int, ...] = TAG_HIDDEN,
        dropout: float = DROPOUT,
    ):
        super().__init__()
        sizes = [int(embed_dim), *(int(h) for h in reversed(hidden))]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += _fc_block(a, b, dropout if i == 0 else None)
        layers += [nn.Linear(sizes[-1], int(num_tags)), nn.BatchNorm1d(int(num_tags))]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def projection(dim: int = EMBED_DIM, dropout: float = DROPOUT) -> nn.Sequential:
    """The affine projection AFF of eqs. (8)-(9): ``Linear(dim, dim, bias=False)`` + Dropout."""
    return nn.Sequential(nn.Linear(dim, dim, bias=False), nn.Dropout(dropout))


# ------------------------------------------------------------------------ heads and model


class CoalaProjectionHead(nn.Module):
    """AE-C / E-C head: tag-retrieval scores in COALA's aligned space.

    ``logits[b, c] = cos(AFF_a(z_audio[b]), tag_embeddings[c]) / temperature``, where
    ``tag_embeddings[c]`` is the projected tag embedding ``AFF_t(e_t(onehot(c)))`` written by the
    ``coala`` objective (:meth:`set_tag_embeddings`). Until then they are zeros and every logit
    is 0.

    Attributes
    ----------
    mlp : nn.Sequential
        AFF_a: ``Linear(embed_dim, embed_dim, bias=False)`` -> Dropout (eq. (8)).
    tag_embeddings : Tensor, shape (num_tags, embed_dim)
        Unit-norm projected tag embeddings (a buffer, saved with the model).
    temperature : Tensor, shape (1,)
    """

    def __init__(
        self,
        embed_dim: int,
        num_tags: int,
        dropout: float = DROPOUT,
        temperature: float = TEMPERATURE,
    ):
        super().__init__()
        self.mlp = projection(embed_dim, dropout)
        self.register_buffer("tag_embeddings", torch.zeros(int(num_tags), int(embed_dim)))
        self.register_buffer("temperature", torch.tensor([float(temperature)]))

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """``(batch, embed_dim)`` -> phi_audio ``(batch, embed_dim)``."""
        return self.mlp(z)

    @property
    def has_tag_embeddings(self) -> bool:
        return bool(self.tag_embeddings.abs().sum() > 0)

    @torch.no_grad()
    def set_tag_embeddings(self, phi_tags: torch.Tensor, temperature: float | None = None) -> None:
        """Store projected tag embeddings ``(num_tags, embed_dim)`` (normalised here)."""
        if phi_tags.shape != self.tag_embeddings.shape:
            raise ConfigError(
                f"tag embeddings of shape {tuple(phi_tags.shape)}; expected "
                f"{tuple(self.tag_embeddings.shape)}"
            )
        self.tag_embeddings.copy_(F.normalize(phi_tags.float(), dim=-1))
        if temperature is not None:
            self.temperature.fill_(float(temperature))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(batch, embed_dim)`` -> tag scores ``(batch, num_tags)``."""
        phi = F.normalize(self.project(z), dim=-1)
        return phi @ self.tag_embeddings.to(phi.dtype).t() / self.temperature.to(phi.dtype)


class CoalaTagClassifier(nn.Module):
    """CNN-baseline head: ``Linear(D, hidden) -> ReLU -> Linear(hidden, C)`` (logits)."""

    def __init__(self, embed_dim: int, num_tags: int, hidden: int | None = None):
        super().__init__()
        hidden = int(hidden or embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, int(num_tags))
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z)


class CoalaModel(TaggingModel):
    """A COALA audio encoder with the head of one ablation (``variant``).

    ``model(wave)`` gives tag logits ``(batch, num_outputs)`` (retrieval scores for
    ``"ae_c"``/``"e_c"``, predictions for ``"cnn"``); ``model.embed(wave)`` / ``model.encoder``
    give the 1152-d embedding. ``create_model(**model.config)`` rebuilds it.
    """

    def __init__(self, encoder: Encoder, head: nn.Module, num_outputs: int, config: dict):
        super().__init__(encoder, head, num_outputs, config)
        self.variant = str(config["variant"])


def create_coala_encoder(
    spec: ModelSpec,
    *,
    frontend: str | None = None,
    frontend_kwargs: dict[str, Any] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
    input_samples: int | None = None,
) -> Encoder:
    """The COALA audio encoder alone (the ``encoder_factory`` of the ``coala`` spec; use
    ``create_encoder("coala", ...)``); options as :func:`create_coala_model`."""
    if frontend not in (None, spec.frontend):
        raise ConfigError(
            f"the COALA model needs its own front-end {spec.frontend!r}; got {frontend!r}",
            "COALA's patch selection and stored min-max scaling are part of the method; "
            "change its options with frontend_kwargs",
        )
    fe_kwargs = {"sample_rate": spec.sample_rate, **spec.frontend_kwargs, **(frontend_kwargs or {})}
    be_kwargs = {**spec.backend_kwargs, **(backend_kwargs or {})}
    fe = FRONTENDS.create(spec.frontend, **fe_kwargs)
    be_kwargs.setdefault("patch_frames", fe.patch_frames)
    if be_kwargs["patch_frames"] != fe.patch_frames:
        raise ConfigError(
            f"backend_kwargs.patch_frames={be_kwargs['patch_frames']} differs from the front-end's "
            f"patch_frames={fe.patch_frames}",
            "set frontend_kwargs.patch_frames only",
        )
    n = fe.min_samples() if input_samples is None else int(input_samples)
    if n < fe.min_samples():
        raise ConfigError(
            f"input_samples={n} is shorter than one COALA patch ({fe.patch_frames} frames)",
            f"use at least {fe.min_samples()} samples "
            f"({fe.min_samples() / fe.sample_rate:.2f} s at {fe.sample_rate} Hz)",
        )
    encoder = build_encoder(fe, spec.backend, n, backend_kwargs=be_kwargs)
    encoder.config = {
        "name": spec.name,
        "frontend": spec.frontend,
        "frontend_kwargs": fe_kwargs,
        "backend_kwargs": be_kwargs,
        "input_samples": n,
    }
    return encoder


def create_coala_head(
    variant: str,
    embed_dim: int,
    num_outputs: int,
    *,
    dropout: float | None = None,
    head_hidden: int | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The head of a COALA variant for an encoder of ``embed_dim``: the projection AFF_a with
    tag-retrieval scores (AE-C, E-C) or the CNN baseline's classifier.

    Returns the head and its part of the model config (``num_outputs``, ``variant``,
    ``dropout``, ``head_hidden``).
    """
    if variant not in VARIANTS:
        raise ConfigError(f"unknown COALA variant {variant!r}; valid: {', '.join(VARIANTS)}")
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ConfigError(f"num_outputs must be a positive integer; got {num_outputs!r}")
    if head_hidden is not None and variant != "cnn":
        raise ConfigError("head_hidden applies to the 'cnn' variant only")
    p = DROPOUT if dropout is None else float(dropout)
    if variant == "cnn":
        head: nn.Module = CoalaTagClassifier(embed_dim, num_outputs, head_hidden)
    else:
        head = CoalaProjectionHead(embed_dim, num_outputs, p)
    config = {
        "num_outputs": int(num_outputs),
        "variant": variant,
        "dropout": p,
        "head_hidden": None if head_hidden is None else int(head_hidden),
    }
    return head, config


def coala_model_config(encoder_config: dict[str, Any], head_config: dict[str, Any]) -> dict:
    """The config of a :class:`CoalaModel` (``create_model(**config)``) from its parts'."""
    enc = dict(encoder_config)
    config = {"name": enc.pop("name"), "num_outputs": head_config["num_outputs"]}
    config["variant"] = head_config["variant"]
    config.update(enc)
    config.update({k: head_config[k] for k in ("dropout", "head_hidden")})
    return config


def create_coala_model(
    spec: ModelSpec,
    num_outputs: int = 50,
    *,
    variant: str = "ae_c",
    frontend: str | None = None,
    frontend_kwargs: dict[str, Any] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
    input_samples: int | None = None,
    dropout: float | None = None,
    head_hidden: int | None = None,
) -> CoalaModel:
    """Build a COALA model (the ``factory`` of the ``coala`` spec; use ``create_model``).

    Parameters
    ----------
    num_outputs : int
        Tag vocabulary size C (1000 in the paper).
    variant : {"ae_c", "e_c", "cnn"}
        The ablation: COALA (AE-C) and E-C share the projection head, "cnn" has a classifier.
    frontend : {"coala_logmel"}, optional
        Only COALA's own front-end is supported (its scaler is part of the method).
    frontend_kwargs, backend_kwargs : dict, optional
        Options of :class:`CoalaLogMel` / :class:`CoalaConvBackend` merged over the spec's.
    input_samples : int, optional
        Chunk length; default the samples of one patch (48,640 at 22.05 kHz); longer chunks
        embed several patches (mean).
    dropout : float, optional
        Dropout of the projection head AFF_a (0.25).
    head_hidden : int, optional
        Hidden size of the CNN baseline's head (default the embedding size, 1152).
    """
    encoder = create_coala_encoder(
        spec,
        frontend=frontend,
        frontend_kwargs=frontend_kwargs,
        backend_kwargs=backend_kwargs,
        input_samples=input_samples,
    )
    head, head_config = create_coala_head(
        variant, encoder.embed_dim, num_outputs, dropout=dropout, head_hidden=head_hidden
    )
    return CoalaModel(encoder, head, num_outputs, coala_model_config(encoder.config, head_config))


def is_coala_encoder(encoder: nn.Module | None) -> bool:
    """Whether ``encoder`` has the COALA front-end and back-end."""
    return isinstance(getattr(encoder, "frontend", None), CoalaLogMel) and isinstance(
        getattr(encoder, "backend", None), CoalaConvBackend
    )


def is_coala_model(model: nn.Module) -> bool:
    """Whether ``model`` is a COALA model (its encoder has the COALA front-end and back-end)."""
    return is_coala_encoder(getattr(model, "encoder", None))


# ------------------------------------------------------------------------ registration

FRONTENDS.register("coala_logmel")(CoalaLogMel)
BACKENDS.register(CoalaConvBackend.name)(CoalaConvBackend)

COALA = register_model(
    ModelSpec(
        name="coala",
        title="COALA audio encoder (co-aligned audio/tag autoencoders; AE-C, E-C, CNN)",
        reference=REFERENCE,
        sample_rate=SAMPLE_RATE,
        input_samples=INPUT_SAMPLES,
        frontend="coala_logmel",
        backend="coala",
        frontend_kwargs={
            "n_fft": N_FFT,
            "hop_length": HOP_LENGTH,
            "n_mels": N_MELS,
            "window": "hamming",
            "patch_frames": PATCH_FRAMES,
            "scaling": "time",
        },
        backend_kwargs={},
        head_hidden=None,
        dropout=DROPOUT,
        reference_params_m=None,
        notes="One 96 x 96 log-mel patch (2.2 s at 22.05 kHz) -> 1152-d embedding; longer "
        "inputs: mean over non-overlapping patches. The paper counts ~2.4 M parameters for "
        "the audio encoder with its projection (the ae_c/e_c model here: 2.38 M). Variants: "
        "create_model('coala', variant='ae_c'|'e_c'|'cnn'); train with the 'coala' objective "
        "(configs/coala_*.yaml).",
        factory=create_coala_model,
        encoder_factory=create_coala_encoder,
    )
)

__all__ = [
    "COALA",
    "CoalaAudioDecoder",
    "CoalaConvBackend",
    "CoalaLogMel",
    "CoalaModel",
    "CoalaProjectionHead",
    "CoalaTagClassifier",
    "CoalaTagDecoder",
    "CoalaTagEncoder",
    "coala_model_config",
    "create_coala_encoder",
    "create_coala_head",
    "create_coala_model",
    "is_coala_encoder",
    "is_coala_model",
    "max_energy_patches",
    "num_patches",
    "projection",
]
