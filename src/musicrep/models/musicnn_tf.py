"""The ``musicnn`` package's taggers (Pons & Serra 2019) as PyTorch modules, layer for layer.

These reproduce the TensorFlow graphs of ``musicnn==0.1.0`` (``musicnn/models.py``) exactly so
its trained weights can be loaded (``scripts/convert_musicnn.py``; the converted models ship in
:mod:`musicrep.pretrained`). They differ from the zoo's ``musicnn`` model (:mod:`.musicnn`),
which is a re-implementation of the architecture for training from scratch.

Preprocessing (``musicnn/extractor.py``): 16 kHz mono; librosa power mel spectrogram (n_fft
512, hop 256, 96 Slaney mel bands, Hann window, centred frames); the mel values rounded to
float16 (the training data were stored as float16); ``log10(10000 * mel + 1)`` computed in
float32; patches of 187 frames (3 s). Two faults of the original are *not* reproduced:

- NumPy >= 2 computes ``10000 * float16_array`` in float16 (NEP 50), which overflows to
  ``inf`` for mel values above 6.55; NumPy 1.x promoted it to float32. Here the product is
  always float32 (:func:`log_compress`).
- the extractor returns the first patch's ``penultimate`` (and ``cnn1``-``cnn3``) features for
  every patch; :func:`~musicrep.pretrained.extract` computes them per patch.

TF semantics kept: NHWC kernels permuted; ``'same'`` padding of even kernels puts the extra
zero after (``before = (k - 1) // 2``); batch norm ``epsilon = 1e-3``; VGG pool5 flattened in
(time, freq, channel) order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames per patch (``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``).
N_FRAMES = 187
#: Samples whose centred STFT has exactly N_FRAMES frames (2.976 s).
INPUT_SAMPLES = (N_FRAMES - 1) * HOP
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization default
FLOAT16_MAX = float(np.finfo(np.float16).max)


def log_compress(mel: torch.Tensor, round_float16: bool = True) -> torch.Tensor:
    """``log10(10000 * mel + 1)`` in float32, mel first rounded to float16 (as musicnn stored it).

    Values above float16's maximum are clipped to it instead of becoming ``inf``.
    """
    mel = mel.float()
    if round_float16:
        mel = mel.clamp(max=FLOAT16_MAX).half().float()
    return torch.log10(10000.0 * mel + 1.0)


class LogMel(nn.Module):
    """musicnn's log-mel front-end on waveforms ``(batch, samples)`` -> ``(batch, frames, 96)``.

    ``pad_mode`` is the centring pad: ``"constant"`` is what librosa >= 0.10 (what ``pip install
    musicnn`` gets today) uses, ``"reflect"`` what librosa 0.7 (the training data) used.
    """

    def __init__(self, round_float16: bool = True, pad_mode: str = "constant"):
        super().__init__()
        import librosa

        fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
        self.register_buffer("fb", torch.from_numpy(fb.astype(np.float32)), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.round_float16 = round_float16
        self.pad_mode = pad_mode

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = F.pad(wave.float().unsqueeze(1), (N_FFT // 2, N_FFT // 2), mode=self.pad_mode)
        spec = torch.stft(
            x.squeeze(1), N_FFT, HOP, window=self.window, center=False, return_complex=True
        )
        power = spec.real**2 + spec.imag**2  # (batch, 257, frames)
        mel = torch.matmul(self.fb, power).transpose(1, 2)
        return log_compress(mel, self.round_float16)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


def _bn1(c: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(c, eps=BN_EPS)


class MusicnnNet(nn.Module):
    """musicnn on log-mel patches ``(batch, frames, 96)``; :meth:`layers` gives every layer."""

    def __init__(self, num_classes: int = 50, mid: int = 64, hidden: int = 200):
        super().__init__()
        self.bn_input = _bn(1)
        self.timbral = nn.ModuleList(
            [nn.Conv2d(1, 204, (7, int(0.4 * N_MELS))), nn.Conv2d(1, 204, (7, int(0.7 * N_MELS)))]
        )
        self.timbral_bn = nn.ModuleList([_bn(204), _bn(204)])
        self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in (128, 64, 32)])
        self.temporal_bn = nn.ModuleList([_bn(51) for _ in range(3)])
        self.mid = nn.ModuleList(
            [nn.Conv1d(561, mid, 7), nn.Conv1d(mid, mid, 7), nn.Conv1d(mid, mid, 7)]
        )
        self.mid_bn = nn.ModuleList([_bn1(mid) for _ in range(3)])
        feat = 2 * (561 + 3 * mid)
        self.pool_bn = _bn1(feat)
        self.dense = nn.Linear(feat, hidden)
        self.dense_bn = _bn1(hidden)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(hidden, num_classes)

    def layers(self, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits and the original's feature layers (time-major like musicnn's output)."""
        x = self.bn_input(mel.unsqueeze(1))  # (B, 1, T, F)
        xp = F.pad(x, (0, 0, 3, 3))
        front = []
        for conv, bn in zip(self.timbral, self.timbral_bn):
            front.append(bn(F.relu(conv(xp))).amax(dim=3))
        for conv, bn in zip(self.temporal, self.temporal_bn):
            k = conv.kernel_size[0]
            y = conv(F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2)))
            front.append(bn(F.relu(y)).amax(dim=3))
        return self.layers_from_front(front)

    def layers_from_front(self, front: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The layers from the five front-end maps ``(B, C, T)`` (2 timbral, 3 temporal) on;
        :class:`musicrep.models.inference.FastMusicnnNet` computes them differently."""
        fe = torch.cat(front, dim=1)  # (B, 561, T)
        c1 = self.mid_bn[0](F.relu(self.mid[0](F.pad(fe, (3, 3)))))
        c2 = self.mid_bn[1](F.relu(self.mid[1](F.pad(c1, (3, 3))))) + c1
        c3 = self.mid_bn[2](F.relu(self.mid[2](F.pad(c2, (3, 3))))) + c2
        feats = torch.cat([fe, c1, c2, c3], dim=1)
        max_pool, mean_pool = feats.amax(dim=2), feats.mean(dim=2)
        # TF concatenates (B, 753, 1) max and mean on the last axis and flattens: interleaved
        pooled = self.pool_bn(torch.stack([max_pool, mean_pool], dim=2).flatten(1))
        penultimate = self.dense_bn(F.relu(self.dense(self.dropout(pooled))))
        logits = self.out(self.dropout(penultimate))
        t = lambda z: z.transpose(1, 2)  # noqa: E731  (B, C, T) -> (B, T, C)
        return {
            "logits": logits,
            "timbral": t(torch.cat(front[:2], dim=1)),
            "temporal": t(torch.cat(front[2:], dim=1)),
            "cnn1": t(c1),
            "cnn2": t(c2),
            "cnn3": t(c3),
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
        }


class VggNet(nn.Module):
    """musicnn's VGG-like baseline on log-mel patches ``(batch, 187, 96)``."""

    POOLS = ((4, 1), (2, 2), (2, 2), (2, 2), (4, 4))
    STRIDES = ((2, 2), (2, 2), (2, 2), (2, 2), (4, 4))

    def __init__(self, num_classes: int = 50, filters: int = 128):
        super().__init__()
        self.bn_input = _bn(1)
        self.convs = nn.ModuleList(
            [nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)]
        )
        self.bns = nn.ModuleList([_bn(filters) for _ in range(5)])
        self.dropout = nn.Dropout(0.5)
        self.pool_dropout = nn.Dropout(0.25)
        self.out = nn.Linear(2 * 1 * filters, num_classes)

    def layers(self, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.bn_input(mel.unsqueeze(1))
        out: dict[str, torch.Tensor] = {}
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            if i:
                x = self.pool_dropout(x)
            x = F.max_pool2d(bn(F.relu(conv(x))), self.POOLS[i], self.STRIDES[i])
            out[f"pool{i + 1}"] = x.permute(0, 2, 3, 1)  # NHWC, as the original
        flat = out["pool5"].flatten(1)
        out["logits"] = self.out(self.dropout(flat))
        return {"logits": out["logits"], **{k: v for k, v in out.items() if k != "logits"}}


#: Embedding layer of each architecture (what ``musicrep embed`` returns by default).
DEFAULT_LAYER = {"musicnn": "penultimate", "vgg": "pool5"}


def check_input_samples(arch: str, input_samples: int | None) -> int:
    """The window length in samples a ``musicnn_tf`` model of ``arch`` takes.

    musicnn ends in a global max/mean pool over time, so it takes windows of any length (like
    the original extractor's ``input_length`` option; the weights were trained on 3 s patches,
    so other lengths are a change of input, not of the model). VGG flattens its last pooling
    map into the dense layer, so it only takes its native 2.976 s (187 frames).
    """
    from musicrep.errors import ConfigError

    if input_samples is None or int(input_samples) == INPUT_SAMPLES:
        return INPUT_SAMPLES
    n = int(input_samples)
    if arch == "vgg":
        raise ConfigError(
            f"the pretrained VGG taggers only take their native {INPUT_SAMPLES}-sample "
            f"({INPUT_SAMPLES / SAMPLE_RATE:g} s) windows, not {n}: their dense layer is sized "
            "for the pooled map of 187 frames",
            "leave the window at its default, or use musicnn-mtt / musicnn-msd (any length)",
        )
    if n < HOP:
        raise ConfigError(
            f"a {n}-sample window is shorter than one STFT hop ({HOP} samples) of musicnn",
            f"use at least {HOP} samples ({HOP / SAMPLE_RATE:g} s)",
        )
    return n


class MusicnnTFEncoder(nn.Module):
    """Waveform ``(batch, input_samples)`` -> the embedding layer (a musicrep encoder).

    ``input_samples`` (default :data:`INPUT_SAMPLES`, 2.976 s, the length the weights were
    trained on) may differ for ``arch="musicnn"`` only (:func:`check_input_samples`).
    """

    def __init__(
        self,
        arch: str,
        num_classes: int,
        layer: str | None = None,
        round_float16: bool = True,
        pad_mode: str = "constant",
        input_samples: int | None = None,
    ):
        super().__init__()
        if arch not in DEFAULT_LAYER:
            raise ValueError(f"unknown musicnn_tf arch {arch!r}; valid: musicnn, vgg")
        self.arch = arch
        self.layer = layer or DEFAULT_LAYER[arch]
        self.mel = LogMel(round_float16=round_float16, pad_mode=pad_mode)
        self.net = MusicnnNet(num_classes) if arch == "musicnn" else VggNet(num_classes)
        self.sample_rate = SAMPLE_RATE
        self.input_samples = check_input_samples(arch, input_samples)
        dims = {"penultimate": 200, "max_pool": 753, "mean_pool": 753, "pool5": 256}
        if self.layer not in dims:
            raise ValueError(f"layer {self.layer!r} is not an embedding layer; valid: {list(dims)}")
        self.embed_dim = dims[self.layer]
        #: rebuilds it (:func:`musicrep.models.rebuild_encoder`), e.g. from a fine-tuning run
        self.config = {
            "kind": "musicnn_tf",
            "arch": arch,
            "num_classes": num_classes,
            "layer": self.layer,
            "round_float16": round_float16,
            "pad_mode": pad_mode,
        }
        if self.input_samples != INPUT_SAMPLES:
            self.config["input_samples"] = self.input_samples

    def layers(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.layers(self.mel(wave))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.layers(wave)[self.layer].flatten(1)


class MusicnnTF(nn.Module):
    """A pretrained musicnn/VGG tagger: ``model(wave)`` -> logits, ``model.encoder`` embeds.

    ``config`` = ``{"arch": "musicnn"|"vgg", "num_outputs": 50, "layer": ..., "round_float16":
    True, "pad_mode": "constant"}`` (plus ``input_samples`` when not the native 2.976 s);
    exported as kind ``"musicnn_tf"``.
    """

    export_kind = "musicnn_tf"

    def __init__(
        self,
        arch: str = "musicnn",
        num_outputs: int = 50,
        layer: str | None = None,
        round_float16: bool = True,
        pad_mode: str = "constant",
        input_samples: int | None = None,
    ):
        super().__init__()
        self.encoder = MusicnnTFEncoder(
            arch, num_outputs, layer, round_float16, pad_mode, input_samples
        )
        self.num_outputs = num_outputs
        self.config = {
            "arch": arch,
            "num_outputs": num_outputs,
            "layer": self.encoder.layer,
            "round_float16": round_float16,
            "pad_mode": pad_mode,
        }
        if self.encoder.input_samples != INPUT_SAMPLES:
            self.config["input_samples"] = self.encoder.input_samples

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.encoder.layers(wave)["logits"]

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        return self.encoder(wave)
