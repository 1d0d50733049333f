"""Multi-task self-supervised learning with PASE+ workers (Ravanelli et al. 2020; on music,
Wu et al. 2021), for any encoder with a sequence output.

The encoder's frame sequence ``(batch, steps, sequence_dim)`` of the (optionally distorted)
input feeds small heads, the *workers*, each predicting a target computed on the fly from the
clean crop with :mod:`musicrep.features` (batched, on the training device):

==============  ============================================================  ===========
worker          target                                                        loss
==============  ============================================================  ===========
``decoder``     the clean waveform (``hop`` samples per frame)                L1
``lps``         log power spectrum                                            MSE
``fbank``       log-mel filterbank (40)                                       MSE
``gammatone``   gammatone filterbank (40)                                     MSE
``mfcc``        MFCC (20) + deltas (``mfcc_deltas``, 2: PASE+'s 39-60 dims)   MSE
``prosody``     log F0, voicing, energy, zero crossings (YIN)                 MSE
``chroma``      chromagram (12)  [music worker]                               MSE
``tempogram``   autocorrelation tempogram  [music worker]                     MSE
``cqt``         constant-Q spectrum in dB  [music worker]                     MSE
``lim``         local info max: a frame of the clip vs a frame of another     BCE
                crop of the same track (positive) / of another track (neg.)
``gim``         global info max: the same with the mean of the frames         BCE
==============  ============================================================  ===========

The waveform decoder (``decoder_head``) is PASE+'s ``DecoderMinion`` by default
(``"transposed"``): transposed convolutions upsampling the frame sequence by the hop (PASE+:
channels 512, 256, 128, strides 4, 4, 10 = 160, kernel 30; each ``ConvTranspose1d ->
BatchNorm -> PReLU`` [open: the normalisation]; padding ``(kernel - stride) // 2`` so every
layer upsamples exactly), a 1x1 hidden layer of 64 and a 1x1 output; its output sample ``j``
targets the clean sample under frame ``j // hop`` at the same offset. ``decoder_head="mlp"`` is
a cheaper per-frame MLP to the frame's ``hop`` samples (ours; about 100x fewer operations than
PASE+'s decoder, which dominates a CPU step with a small encoder). ``decoder_strides`` must
multiply to the encoder's hop.

Regression workers are an MLP per frame (``sequence_dim -> hidden -> PReLU -> dims``, PASE's
``MLPBlock`` with 256 hidden units) and their targets are z-normalised per dimension with
statistics of the training data (:class:`~musicrep.features.FeatureStats`, fitted by
:meth:`MultiTaskObjective.prepare` on up to ``stats_batches`` training batches and kept in the
checkpoint). LIM/GIM are PASE's discriminators (the concatenated pair through an MLP to one
logit), with the same-track positive from a ``crop`` view and the negative from an ``other``
view of :mod:`musicrep.training.data`.

Frame alignment: targets are computed with a hop of ``round(encoder.sequence_hop)`` samples
(frame ``j`` centred on sample ``j * hop``), and encoder step ``k`` takes the target frame
nearest to its centre: ``backend.frame_center(k)`` where the back-end documents it (PASE:
``160 k + 150.5``, i.e. target frame ``k + 1``), else ``k * hop + hop / 2`` [open: the centre
of a pooled step of the spectrogram models].

The per-worker losses are combined by a scheme of :mod:`musicrep.objectives.weighting`
(``weighting``: ``equal`` as PASE+, ``inverse``, ``uncertainty``, ``dwa``, ``gradnorm``); the
weights are logged every epoch as ``weight/<worker>``. ``distort`` applies the ``pase_plus``
preset of :mod:`musicrep.augment` to the encoder's input (targets stay clean). Labels are never
read (unlabelled manifests work). Export: the encoder alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.augment import pase_plus as pase_plus_preset
from musicrep.errors import ConfigError
from musicrep.features import FeatureStats, create_feature
from musicrep.objectives.base import OBJECTIVES, Objective, View
from musicrep.objectives.weighting import create_weighting

#: Regression workers: feature name and default options (``mfcc_deltas`` adds deltas to mfcc).
FEATURE_WORKERS: dict[str, tuple[str, dict[str, Any]]] = {
    "lps": ("lps", {}),
    "fbank": ("fbank", {}),
    "gammatone": ("gammatone", {}),
    "mfcc": ("mfcc", {"n_mfcc": 20}),
    "prosody": ("prosody", {}),
    "chroma": ("chroma", {}),
    "tempogram": ("tempogram", {}),
    "cqt": ("cqt", {}),
}
WORKERS = ("decoder", *FEATURE_WORKERS, "lim", "gim")
#: Worker sets by name (``workers: pase_plus`` in a recipe).
WORKER_SETS = {
    "pase_plus": ("decoder", "lps", "fbank", "gammatone", "mfcc", "prosody", "lim", "gim"),
    "music": (
        "decoder",
        "lps",
        "fbank",
        "mfcc",
        "prosody",
        "chroma",
        "tempogram",
        "cqt",
        "lim",
        "gim",
    ),
    "spectral": ("lps", "fbank", "mfcc"),
    "music_only": ("chroma", "tempogram", "cqt"),
}
HIDDEN = 256
#: PASE+'s waveform decoder (``DecoderMinion`` in ``cfg/workers/workers+.cfg``).
DECODER_CHANNELS = (512, 256, 128)
DECODER_STRIDES = (4, 4, 10)
DECODER_KERNEL = 30
DECODER_HIDDEN = 64
DECODER_HEADS = ("transposed", "mlp")


class _MLP(nn.Sequential):
    def __init__(self, dim_in: int, hidden: int, dim_out: int):
        # PReLU with one slope (PASE's MLPBlock); on (..., features) maps
        super().__init__(nn.Linear(dim_in, hidden), nn.PReLU(), nn.Linear(hidden, dim_out))


class _TransposedDecoder(nn.Module):
    """PASE+'s waveform decoder: ``(batch, steps, dim)`` -> ``(batch, steps, hop)``."""

    def __init__(
        self,
        dim: int,
        hop: int,
        channels: Sequence[int] = DECODER_CHANNELS,
        strides: Sequence[int] = DECODER_STRIDES,
        kernel: int = DECODER_KERNEL,
        hidden: int = DECODER_HIDDEN,
    ):
        super().__init__()
        channels, strides = [int(c) for c in channels], [int(s) for s in strides]
        if len(channels) != len(strides) or not channels:
            raise ConfigError("objective.decoder_channels and decoder_strides need equal lengths")
        if math.prod(strides) != hop:
            raise ConfigError(
                f"objective.decoder_strides {strides} multiply to {math.prod(strides)}, "
                f"not to the encoder's hop ({hop} samples)",
                "choose strides whose product is the hop, or decoder_head: mlp",
            )
        if kernel < max(strides):
            raise ConfigError(f"objective.decoder_kernel ({kernel}) must be >= every stride")
        self.hop, self.strides = hop, strides
        blocks, c_in = [], dim
        for c, st in zip(channels, strides, strict=True):
            blocks.append(
                nn.ModuleDict(
                    {
                        "conv": nn.ConvTranspose1d(c_in, c, kernel, st, padding=(kernel - st) // 2),
                        "bn": nn.BatchNorm1d(c),
                        "act": nn.PReLU(c, init=0.0),
                    }
                )
            )
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        # the 1x1 hidden and output layers, as Linear layers on the channel-last map
        self.out = _MLP(c_in, hidden, 1)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        b, steps, _ = seq.shape
        x, length = seq.transpose(1, 2), steps
        for block, st in zip(self.blocks, self.strides, strict=True):
            length *= st
            # (kernel - stride) odd: one extra sample, dropped at the end
            x = block["act"](block["bn"](block["conv"](x)[..., :length]))
        return self.out(x.transpose(1, 2)).reshape(b, steps, self.hop)


@OBJECTIVES.register("multitask")
class MultiTaskObjective(Objective):
    """PASE+-style multi-task self-supervision (see the module docstring).

    Parameters
    ----------
    encoder : Encoder
        Any encoder with ``forward_sequence`` (passed by the trainer).
    workers : str or list of str
        A set name of :data:`WORKER_SETS` or worker names of :data:`WORKERS`.
    weighting : str or dict
        Loss-weighting scheme (``equal``; ``{"name": "dwa", "temperature": 2}``...).
    hidden : int
        Hidden units of the worker MLPs (256).
    mfcc_deltas : int
        Deltas of the mfcc target (2).
    feature_options : dict, optional
        Per-worker options for :func:`musicrep.features.create_feature` (e.g.
        ``{"cqt": {"n_bins": 48}}``).
    distort : bool
        Apply the ``pase_plus`` distortions to the encoder's input (PASE+: True).
    distort_p : dict, optional
        Probabilities overriding the preset's.
    stats_batches : int
        Training batches used to fit the target statistics (20) [open: PASE uses the whole set].
    decoder_head : {"transposed", "mlp"}
        The waveform decoder: PASE+'s transposed convolutions or a per-frame MLP (see above).
    decoder_channels, decoder_strides, decoder_kernel : sequence of int, int
        The transposed decoder's layers (PASE+: 512, 256, 128; 4, 4, 10; 30).
    """

    def __init__(
        self,
        encoder: nn.Module,
        workers: str | Sequence[str] = "pase_plus",
        weighting: str | Mapping[str, Any] = "equal",
        hidden: int = HIDDEN,
        mfcc_deltas: int = 2,
        feature_options: Mapping[str, Mapping[str, Any]] | None = None,
        distort: bool = False,
        distort_p: Mapping[str, float] | None = None,
        stats_batches: int = 20,
        decoder_head: str = "transposed",
        decoder_channels: Sequence[int] = DECODER_CHANNELS,
        decoder_strides: Sequence[int] = DECODER_STRIDES,
        decoder_kernel: int = DECODER_KERNEL,
    ):
        super().__init__()
        if encoder is None or not getattr(encoder, "supports_sequence", False):
            raise ConfigError(
                "the multitask objective needs an encoder with a frame sequence (forward_sequence)",
                "use pase_plus, pase, or a zoo model whose back-end has a sequence output",
            )
        names = (
            list(WORKER_SETS[workers])
            if isinstance(workers, str) and workers in WORKER_SETS
            else ([workers] if isinstance(workers, str) else list(workers))
        )
        unknown = [w for w in names if w not in WORKERS]
        if unknown or not names:
            raise ConfigError(
                f"unknown worker(s) {', '.join(unknown) or '(none given)'}",
                f"valid: {', '.join(WORKERS)}; sets: {', '.join(WORKER_SETS)}",
            )
        options = {k: dict(v) for k, v in (feature_options or {}).items()}
        bad = sorted(set(options) - set(FEATURE_WORKERS))
        if bad:
            raise ConfigError(f"feature_options for non-feature worker(s) {', '.join(bad)}")
        hop = encoder.sequence_hop
        if hop is None or abs(hop - round(hop)) > 1e-6:
            raise ConfigError(
                f"the encoder's sequence hop ({hop}) is not a whole number of samples",
                "frame-level targets need an integer hop; choose another encoder",
            )
        self.hop = int(round(hop))
        self.sample_rate = int(encoder.sample_rate)
        self.worker_names = names
        self.stats_batches = int(stats_batches)
        dim = int(encoder.sequence_dim)
        backend = getattr(encoder, "backend", None)
        self._center = getattr(backend, "frame_center", None)
        self.extractors = nn.ModuleDict()
        self.stats = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        for w in names:
            if w in FEATURE_WORKERS:
                feat, defaults = FEATURE_WORKERS[w]
                kw = {**defaults, **options.get(w, {})}
                if w == "mfcc":
                    kw.setdefault("deltas", int(mfcc_deltas))
                fx = create_feature(feat, sample_rate=self.sample_rate, hop_length=self.hop, **kw)
                self.extractors[w] = fx
                self.stats[w] = FeatureStats(fx.dims)
                self.heads[w] = _MLP(dim, hidden, fx.dims)
            elif w == "decoder":
                if decoder_head not in DECODER_HEADS:
                    raise ConfigError(
                        f"unknown objective.decoder_head {decoder_head!r}",
                        f"valid: {', '.join(DECODER_HEADS)}",
                    )
                self.heads[w] = (
                    _TransposedDecoder(
                        dim, self.hop, decoder_channels, decoder_strides, int(decoder_kernel)
                    )
                    if decoder_head == "transposed"
                    else _MLP(dim, hidden, self.hop)
                )
            else:  # lim / gim: discriminator on a concatenated pair
                self.heads[w] = _MLP(2 * dim, hidden, 1)
        self.weighting = create_weighting(weighting, names)
        self.distortion = pase_plus_preset(self.sample_rate, p=distort_p) if distort else None
        views = [View("clean", "crop")]
        views.append(View("wave", "same", source="clean", transform=self.distortion))
        if "lim" in names or "gim" in names:
            views += [View("context", "crop"), View("other", "other")]
        self.views = tuple(views)
        self._epoch_sums: dict[str, float] = {}
        self._epoch_count = 0

    # ------------------------------------------------------------------ targets
    def target_index(self, steps: int, frames: int, device=None) -> torch.Tensor:
        """Index of the target frame (hop grid, frame ``j`` at ``j * hop``) of each step."""
        k = torch.arange(steps, device=device, dtype=torch.float64)
        centre = self._center(k) if self._center is not None else k * self.hop + self.hop / 2
        return torch.round(torch.as_tensor(centre) / self.hop).long().clamp(0, frames - 1)

    def raw_target(self, worker: str, clean: torch.Tensor, steps: int) -> torch.Tensor:
        """Un-normalised target ``(batch, dims, steps)`` of a feature worker, on the grid."""
        feats = self.extractors[worker](clean)
        idx = self.target_index(steps, feats.shape[-1], feats.device)
        return feats.index_select(-1, idx)

    def decoder_target(self, clean: torch.Tensor, steps: int) -> torch.Tensor:
        """``(batch, steps, hop)``: the ``hop`` samples centred on each step's centre."""
        k = torch.arange(steps, device=clean.device, dtype=torch.float64)
        centre = self._center(k) if self._center is not None else k * self.hop + self.hop / 2
        start = torch.round(torch.as_tensor(centre, device=clean.device) - self.hop / 2).long()
        pad = self.hop + steps * self.hop
        padded = F.pad(clean, (self.hop, pad))
        index = (start[:, None] + self.hop + torch.arange(self.hop, device=clean.device)).clamp(
            0, padded.shape[-1] - 1
        )
        return padded[:, index]

    @torch.no_grad()
    def prepare(self, encoder, batches: Iterable[dict], device=None) -> None:
        """Fit the z-normalisation statistics of every feature worker on training batches."""
        if not self.extractors:
            return
        device = torch.device(device or "cpu")
        self.extractors.to(device)
        steps = encoder.sequence_length(encoder.input_samples)
        for i, batch in enumerate(batches):
            if i >= self.stats_batches:
                break
            clean = batch["clean"].to(device)
            for w in self.extractors:
                self.stats[w].update(self.raw_target(w, clean, steps).cpu())

    # ------------------------------------------------------------------ losses
    def worker_losses(self, encoder, batch) -> dict[str, torch.Tensor]:
        seq = encoder.forward_sequence(batch["wave"])  # (B, T, D)
        steps = seq.shape[1]
        clean = batch["clean"]
        losses: dict[str, torch.Tensor] = {}
        for w in self.worker_names:
            head = self.heads[w]
            if w in self.extractors:
                stats = self.stats[w]
                if float(stats.count) < 1:
                    raise ConfigError(
                        "the multitask targets have no statistics",
                        "call prepare() (musicrep train does) before training",
                    )
                with torch.no_grad():
                    target = stats.normalize(self.raw_target(w, clean, steps)).transpose(1, 2)
                losses[w] = F.mse_loss(head(seq), target.to(seq.dtype))
            elif w == "decoder":
                with torch.no_grad():
                    target = self.decoder_target(clean, steps)
                losses[w] = F.l1_loss(head(seq), target.to(seq.dtype))
            else:
                losses[w] = self._infomax(w, encoder, seq, batch)
        return losses

    def _infomax(self, w: str, encoder, seq, batch) -> torch.Tensor:
        """PASE's LIM/GIM: BCE of the discriminator on (anchor, positive) vs (anchor, negative)."""
        pos_seq = encoder.forward_sequence(batch["context"])
        neg_seq = encoder.forward_sequence(batch["other"])
        if w == "gim":
            anchor, pos, neg = seq.mean(1), pos_seq.mean(1), neg_seq.mean(1)
        else:
            b = seq.shape[0]
            pick = lambda s: s[torch.arange(b), torch.randint(0, s.shape[1], (b,))]  # noqa: E731
            anchor, pos, neg = pick(seq), pick(pos_seq), pick(neg_seq)
        head = self.heads[w]
        logits = torch.cat([head(torch.cat([anchor, pos], -1)), head(torch.cat([anchor, neg], -1))])
        labels = torch.cat(
            [torch.ones_like(logits[: len(anchor)]), torch.zeros_like(logits[len(anchor) :])]
        )
        return F.binary_cross_entropy_with_logits(logits, labels)

    def forward(self, encoder, batch):
        losses = self.worker_losses(encoder, batch)
        shared = [p for p in encoder.parameters() if p.requires_grad][-2:]
        total = self.weighting.combine(losses, shared=shared)
        if self.training:
            for k, v in losses.items():
                self._epoch_sums[k] = self._epoch_sums.get(k, 0.0) + float(v.detach())
            self._epoch_count += 1
        return {"loss": total, **{f"loss_{k}": v.detach() for k, v in losses.items()}}

    def encoder_inputs(self, batch):
        """The encoder runs on the (distorted) input and, for LIM/GIM, on the two chunks."""
        names = ["wave"] + (["context", "other"] if "context" in batch else [])
        return [batch[n] for n in names]

    # ------------------------------------------------------------------ optimisation
    def param_groups(self, encoder):
        learned = {id(p) for g in self.weighting.param_groups() for p in g["params"]}
        params = [p for p in encoder.parameters() if p.requires_grad]
        params += [p for p in self.parameters() if p.requires_grad and id(p) not in learned]
        return [{"params": params}, *self.weighting.param_groups()]

    def callbacks(self):
        import lightning as L

        scheme = self.weighting

        class _StepEnd(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                scheme.step_end()

        return [_StepEnd()]

    def on_train_epoch_end(self, module) -> None:
        if self._epoch_count:
            means = {k: v / self._epoch_count for k, v in self._epoch_sums.items()}
            self.weighting.epoch_end(means)
        self._epoch_sums, self._epoch_count = {}, 0
        for task, value in self.weighting.weights().items():
            module.log(f"weight/{task}", value, on_step=False, on_epoch=True)

    @classmethod
    def example_config(cls) -> dict[str, Any]:
        return {
            "model": {
                "name": "pase",
                "input_samples": 8000,
                "backend_kwargs": {"emb_dim": 16},
            },
            "objective": {
                "workers": ["decoder", "fbank", "mfcc", "chroma", "lim", "gim"],
                "weighting": "dwa",
                "hidden": 16,
                "stats_batches": 2,
                "decoder_channels": [16, 8],
                "decoder_strides": [16, 10],
                "decoder_kernel": 20,
            },
            "task": None,
        }


__all__ = ["FEATURE_WORKERS", "WORKERS", "WORKER_SETS", "MultiTaskObjective"]
