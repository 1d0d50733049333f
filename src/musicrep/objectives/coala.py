"""The COALA objective (Favory et al., 2020): audio AE + tag AE + cross-modal contrastive loss.

For a batch of clips with their tags (multi-hot ``y_t``), one maximum-energy log-mel patch
``X_a`` per clip (:func:`musicrep.models.coala.max_energy_patches`, scaled with the model's
stored min/max) is encoded by the audio encoder ``e_a`` (the model's encoder) and the tags by
the tag encoder ``e_t``; then (eqs. (1)-(13) of the paper)::

    z_a = e_a(X_a)        X_a' = d_a(z_a)      L_a = D_KL(X_a || X_a')   generalised KL, eq. (4)
    z_t = e_t(y_t)        y_t' = d_t(z_t)      L_t = CE(y_t, y_t')       binary cross-entropy
    phi_a = AFF_a(z_a)    phi_t = AFF_t(z_t)   L_xi = contrastive(phi_a, phi_t, tau)   (10)-(12)
    L = lambda_a L_a + lambda_t L_t + lambda_xi L_xi                                     (13)

with lambda_a = lambda_t = 5, lambda_xi = 10, tau = 0.1. The objective is built with the
audio encoder e_a and owns d_a, e_t, d_t, AFF_t and the head: AFF_a
(:class:`~musicrep.models.coala.CoalaProjectionHead`), which the exported model keeps (as
:class:`~musicrep.models.coala.CoalaModel`, the encoder with this head) so that it holds the
audio side of the aligned space and can rank tags.

Variants (the paper's ablation; set with ``model.variant`` in the recipe, which the objective
reads; ``objective.variant`` must agree when given):

- ``"ae_c"`` (COALA): everything above.
- ``"e_c"``: no decoders (lambda_a = lambda_t = 0): ``L = 10 L_xi``.
- ``"cnn"``: the supervised baseline: the model's head (two fully connected layers) predicts
  the tags from z_a with binary cross-entropy (``L = tag_prediction``).

Returned values: ``loss`` (the optimised, weighted total) and the unweighted parts
``audio_recon``, ``tag_recon``, ``contrastive`` (AE-C/E-C) or ``tag_prediction`` (CNN), plus
``logits`` outside training: tag scores of the model's head (retrieval scores for AE-C/E-C,
predictions for CNN), which ``musicrep train`` scores as ROC-AUC/PR-AUC per tag. The code
logs the unweighted sum as "loss"; here ``loss`` is what is optimised and selects the best
checkpoint.

The contrastive loss (:func:`contrastive_loss`) has two forms:

- ``"code"`` (default; the public code, which produced the published results): SimCLR's
  NT-Xent over the 2N projected vectors (N audio, N tag): for every vector the positive is its
  pair from the other modality, the denominator sums over all 2N - 1 others (the positive and
  2N - 2 negatives: other clips' audio *and* tags), ``-log(p + 1e-5)``, mean over the 2N.
- ``"paper"``: eq. (10) as printed: audio anchors only, the tags of the other N - 1 clips as
  negatives, the positive not in the denominator.

Input pipeline (the code's preprocessing, done here on the device): training examples are whole
clips (``clip_seconds`` = 10 s, shorter clips zero-padded at the end by the dataset, longer
ones randomly cropped) plus ``noise`` * U(0, 1) (5e-4, the code's padding noise; it keeps
digital silence off the log floor), the 96 x 96 patch with the largest summed log-mel among the
windows every 12 frames, min-max scaled with the model's stored statistics, which
:meth:`CoalaObjective.prepare` fits on the training clips' patches before training. Validation
uses the same pipeline (as the code) with a fixed noise seed.

Optimisation: the code steps two SGD optimizers (lr 0.005, no momentum), one over the audio
modules and one over the tag modules, after back-propagating the three weighted losses. All
parameters are in one of the two and both use the same rate, so one SGD over all parameters
of the total loss takes exactly the same step; the recipes use ``optimizer: sgd, lr: 0.005,
momentum: 0``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError, MusicrepError
from musicrep.models import coala as C
from musicrep.objectives.base import OBJECTIVES, View
from musicrep.objectives.tagging import TaggingObjective

# --------------------------------------------------------------------------- paper numbers

#: Loss weights (lambda_a, lambda_t, lambda_xi) of eq. (13), per variant (E-C has no decoders).
WEIGHTS = {"ae_c": (5.0, 5.0, 10.0), "e_c": (0.0, 0.0, 10.0)}
#: Offset inside the generalised KL's logs and the contrastive loss's log (the code's 1e-5).
KL_EPS = 1e-5
CONTRASTIVE_EPS = 1e-5
#: Length of the training clips (s): Freesound clips of at most 10 s, zero-padded to 10 s.
CLIP_SECONDS = 10.0
#: Amplitude of the uniform noise added to the padded clips (the code's ``pad``).
NOISE = 5e-4
CONTRASTIVE_FORMS = ("code", "paper")


# --------------------------------------------------------------------------- losses


def generalized_kl(x: torch.Tensor, x_hat: torch.Tensor, eps: float = KL_EPS) -> torch.Tensor:
    """Generalised Kullback-Leibler divergence D(x || x_hat) of eq. (4), as the code computes it.

    ``sum over the last axis of x * (log(x + eps) - log(x_hat + eps)) + (x_hat - x)``, averaged
    over the other axes. Zero when ``x_hat == x``, positive otherwise (for ``x, x_hat >= 0``).

    Parameters
    ----------
    x : Tensor, shape (batch, channels, freq, time)
        Target (the scaled patch, values >= 0).
    x_hat : Tensor, same shape
        Reconstruction (the decoder's sigmoid output).
    """
    d = x * (torch.log(x + eps) - torch.log(x_hat + eps)) + (x_hat - x)
    return d.sum(dim=-1).mean()


def contrastive_loss(
    phi_audio: torch.Tensor,
    phi_tag: torch.Tensor,
    temperature: float = C.TEMPERATURE,
    form: str = "code",
    reduction: str = "mean",
    eps: float = CONTRASTIVE_EPS,
) -> torch.Tensor:
    """COALA's contrastive loss between paired audio and tag projections.

    Similarities are cosines, ``Xi(a, b) = exp(cos(a, b) / temperature)`` (eqs. (11)-(12)).

    Parameters
    ----------
    phi_audio, phi_tag : Tensor, shape (batch, dim)
        Projections of paired clips (row ``b`` of both belongs to clip ``b``). A single pair
        has no negatives: the loss is then 0 (``"paper"``) or ``-log(1 + eps)`` (``"code"``,
        whose denominator holds the positive).
    temperature : float
        tau (0.1).
    form : {"code", "paper"}
        ``"code"``: NT-Xent over the 2N vectors, each anchored on its cross-modal pair, the
        denominator over all 2N - 1 other vectors, ``-log(p + eps)``. ``"paper"``: eq. (10),
        ``-log(Xi(a_b, t_b) / sum_{i != b} Xi(a_b, t_i))`` over the audio anchors.
    reduction : {"mean", "sum"}
        Mean (the code; the recipes) or sum (eq. (10) as written) over the anchors.
    eps : float
        Offset inside the log of the ``"code"`` form (1e-5); unused by ``"paper"``.

    Returns
    -------
    Tensor
        Scalar loss. Computed in log space (stable at small temperatures); equal to the
        direct formula.
    """
    if form not in CONTRASTIVE_FORMS:
        raise ConfigError(f"contrastive form must be one of {CONTRASTIVE_FORMS}; got {form!r}")
    if reduction not in ("mean", "sum"):
        raise ConfigError(f"reduction must be 'mean' or 'sum'; got {reduction!r}")
    if phi_audio.shape != phi_tag.shape or phi_audio.dim() != 2:
        raise ConfigError(
            f"paired projections must both be (batch, dim); got {tuple(phi_audio.shape)} "
            f"and {tuple(phi_tag.shape)}"
        )
    n = phi_audio.shape[0]
    if n == 0:
        raise ConfigError("the contrastive loss needs at least one pair")
    if n == 1 and form == "paper":
        return (phi_audio.sum() + phi_tag.sum()) * 0.0
    a = F.normalize(phi_audio.float(), dim=-1)
    t = F.normalize(phi_tag.float(), dim=-1)
    if form == "paper":
        logits = a @ t.t() / temperature  # (N, N): audio b vs tag i
        positive = logits.diagonal()
        off = logits.masked_fill(torch.eye(n, dtype=torch.bool, device=a.device), float("-inf"))
        per_anchor = torch.logsumexp(off, dim=1) - positive
    else:
        z = torch.cat([a, t], dim=0)  # (2N, dim)
        logits = z @ z.t() / temperature
        eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        pos_index = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        positive = logits.gather(1, pos_index[:, None]).squeeze(1)
        log_p = positive - torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=1)
        per_anchor = -torch.log(torch.exp(log_p) + eps)
    return per_anchor.mean() if reduction == "mean" else per_anchor.sum()


# --------------------------------------------------------------------------- objective


@OBJECTIVES.register("coala")
class CoalaObjective(TaggingObjective):
    """COALA's training objective for a ``coala`` encoder (see the module docstring).

    Parameters
    ----------
    encoder : Encoder
        The COALA audio encoder (``create_encoder("coala", ...)``; passed by the trainer).
    num_outputs : int
        Tag vocabulary size C (passed by the trainer).
    variant : {"ae_c", "e_c", "cnn"}, optional
        The ablation; default the recipe's ``model.variant`` (``model_config["variant"]``),
        else ``"ae_c"``.
    model_config : dict, optional
        The recipe's model section (passed by the trainer): ``variant``, the head's ``dropout``
        (AFF_a, 0.25) and ``head_hidden`` (the CNN baseline's), and the encoder's options.
    vocab : list of str, optional
        The tags (passed by the trainer; default ``"0"``, ``"1"``...).
    embed_dim : int
        Size of z_audio / z_tag (1152; passed by the trainer).
    audio_weight, tag_weight, contrastive_weight : float, optional
        lambda_a, lambda_t, lambda_xi; default 5, 5, 10 (AE-C) and 0, 0, 10 (E-C; non-zero
        reconstruction weights are an error there: E-C has no decoders).
    temperature : float
        tau (0.1).
    contrastive : {"code", "paper"}
        Form of the contrastive loss (:func:`contrastive_loss`).
    tag_hidden : sequence of int
        Hidden sizes of the tag encoder (512, 512); the decoder mirrors them.
    dropout : float
        Dropout of the tag autoencoder, the tag projection and the audio decoder (0.25).
    clip_seconds : float or None
        Length of the training/validation clips in seconds (10); None uses the encoder's
        native chunk (one patch: no patch selection).
    noise : float
        Amplitude of the uniform noise added to every clip (5e-4; 0 disables).
    patch_step : int
        Frames between candidate patches (12).
    task : str
        Must be ``"multilabel"`` (tags).
    """

    task = "multilabel"
    model_options = ("variant", "dropout", "head_hidden")
    #: Validation: one clip per track, from its start (the clip length of training).
    valid_views = (View("chunks", kind="track", chunks=1),)

    def __init__(
        self,
        encoder: nn.Module,
        num_outputs: int | None = None,
        variant: str | None = None,
        *,
        model_config: dict[str, Any] | None = None,
        vocab: list[str] | None = None,
        embed_dim: int | None = None,
        audio_weight: float | None = None,
        tag_weight: float | None = None,
        contrastive_weight: float | None = None,
        temperature: float = C.TEMPERATURE,
        contrastive: str = "code",
        tag_hidden: Iterable[int] = C.TAG_HIDDEN,
        dropout: float = C.DROPOUT,
        clip_seconds: float | None = CLIP_SECONDS,
        noise: float = NOISE,
        patch_step: int = C.PATCH_STEP,
        task: str = "multilabel",
    ):
        super().__init__()
        if task != "multilabel":
            raise ConfigError(
                "the coala objective learns from tags (multi-label); the manifest is single-label",
                "give a manifest with several tags per clip, or set data.tags to process "
                "free-form labels",
            )
        if not C.is_coala_encoder(encoder):
            raise ConfigError(
                f"the coala objective trains COALA encoders; got {type(encoder).__name__}",
                "use model: {name: coala, variant: ...} (configs/coala_ae_c.yaml)",
            )
        self._init_tagging(task, vocab, num_outputs)
        cfg = dict(model_config or {})
        model_variant = cfg.get("variant")
        if variant is None:
            variant = model_variant or "ae_c"
        if variant not in C.VARIANTS:
            raise ConfigError(f"unknown COALA variant {variant!r}; valid: {', '.join(C.VARIANTS)}")
        if model_variant is not None and model_variant != variant:
            raise ConfigError(
                f"objective variant {variant!r} differs from the model's {model_variant!r}",
                "set model.variant only (the objective follows it), or both to the same value",
            )
        if contrastive not in CONTRASTIVE_FORMS:
            raise ConfigError(
                f"objective.contrastive must be one of {', '.join(CONTRASTIVE_FORMS)}; "
                f"got {contrastive!r}"
            )
        if not temperature > 0:
            raise ConfigError(f"temperature must be > 0; got {temperature}")
        if clip_seconds is not None and not clip_seconds > 0:
            raise ConfigError(f"clip_seconds must be > 0 or null; got {clip_seconds}")
        if noise < 0:
            raise ConfigError(f"noise must be >= 0; got {noise}")
        embed_dim = int(encoder.embed_dim if embed_dim is None else embed_dim)
        if variant != "cnn" and embed_dim != encoder.embed_dim:
            raise ConfigError(
                f"the encoder embeds to {encoder.embed_dim} dimensions, the objective's tag "
                f"encoder to {embed_dim}",
                "leave embed_dim to the trainer (the encoder's)",
            )
        self.variant = variant
        self.embed_dim = embed_dim
        self.temperature = float(temperature)
        self.contrastive = contrastive
        self.clip_seconds = None if clip_seconds is None else float(clip_seconds)
        self.noise = float(noise)
        self.patch_step = int(patch_step)
        self.encoder_config = dict(getattr(encoder, "config", None) or {})
        # the head first: parameters are drawn in the order of create_model("coala") + objective
        self.head, self.head_config = C.create_coala_head(
            variant,
            int(encoder.embed_dim),
            self.num_outputs,
            dropout=cfg.get("dropout"),
            head_hidden=cfg.get("head_hidden"),
        )
        hidden = tuple(int(h) for h in tag_hidden)
        if variant == "cnn":
            given = [w for w in (audio_weight, tag_weight, contrastive_weight) if w is not None]
            if given:
                raise ConfigError("the 'cnn' variant has no loss weights (it only predicts tags)")
            self.weights = (0.0, 0.0, 0.0)
        else:
            defaults = WEIGHTS[variant]
            given = (audio_weight, tag_weight, contrastive_weight)
            self.weights = tuple(
                float(d if g is None else g) for g, d in zip(given, defaults, strict=True)
            )
            if variant == "e_c" and (self.weights[0] or self.weights[1]):
                raise ConfigError(
                    "E-C has no decoders: audio_weight and tag_weight must be 0",
                    "use variant 'ae_c' to train with reconstruction losses",
                )
            self.tag_encoder = C.CoalaTagEncoder(self.num_outputs, embed_dim, hidden, dropout)
            self.tag_projection = C.projection(embed_dim, dropout)
            if variant == "ae_c":
                self.tag_decoder = C.CoalaTagDecoder(self.num_outputs, embed_dim, hidden, dropout)
                self.audio_decoder = _audio_decoder(encoder, dropout)
        self._stale = True
        self._noise_seed = 0

    # -- data
    def example_samples(self, encoder: nn.Module | None) -> int | None:
        """Samples per training/validation example: ``clip_seconds`` at the encoder's rate."""
        if self.clip_seconds is None or encoder is None:
            return None
        return max(int(round(self.clip_seconds * encoder.sample_rate)), int(encoder.input_samples))

    def _log_mel(self, encoder: nn.Module, wave: torch.Tensor, fixed_noise: bool) -> torch.Tensor:
        fe = encoder.frontend
        wave = fe.check_input(wave)
        short = fe.min_samples() - wave.shape[-1]
        if short > 0:
            wave = F.pad(wave, (0, short))
        if self.noise > 0:
            if fixed_noise:
                gen = torch.Generator(device=wave.device).manual_seed(self._noise_seed)
                u = torch.rand(wave.shape, generator=gen, device=wave.device, dtype=wave.dtype)
            else:
                u = torch.rand_like(wave)
            wave = wave + self.noise * u
        return fe.log_mel(wave)

    def patches(self, encoder: nn.Module, wave: torch.Tensor) -> torch.Tensor:
        """Scaled maximum-energy patches ``(batch, 1, 96, 96)`` of clips ``(batch, samples)``."""
        fe = encoder.frontend
        if fe.scaling != "none" and not fe.is_fitted:
            raise MusicrepError(
                "the COALA model's patch scaler is not fitted",
                "call objective.prepare(encoder, batches) on the training clips first "
                "(musicrep train does)",
            )
        spec = self._log_mel(encoder, wave, fixed_noise=not self.training)
        patches, _ = C.max_energy_patches(spec, fe.patch_frames, self.patch_step)
        return fe.scale(patches)

    @torch.no_grad()
    def prepare(
        self,
        encoder: nn.Module,
        batches: Iterable[dict[str, torch.Tensor]],
        device: str | torch.device | None = None,
    ) -> None:
        """Fit the encoder's min-max scaler on the maximum-energy patches of the training clips.

        Parameters
        ----------
        encoder : Encoder
            The COALA encoder (its front-end stores the statistics).
        batches : iterable of dict
            Batches with ``"wave"`` ``(batch, samples)`` (the training split, e.g. a
            DataLoader over the training dataset).
        device : str or torch.device, optional
            Where to compute the log-mels (default: the encoder's device).
        """
        fe = encoder.frontend
        if fe.scaling == "none":
            return
        device = torch.device(device) if device is not None else fe.scale_min.device
        work = fe if fe.scale_min.device == device else copy.deepcopy(fe).to(device)
        lo = hi = None
        for batch in batches:
            wave = batch["wave"].to(device)
            spec = self._log_mel(_FrontendOnly(work), wave, fixed_noise=True)
            patches, _ = C.max_energy_patches(spec, fe.patch_frames, self.patch_step)
            b_lo, b_hi = fe.patch_statistics(patches)
            lo = b_lo if lo is None else torch.minimum(lo, b_lo)
            hi = b_hi if hi is None else torch.maximum(hi, b_hi)
        if lo is None:
            raise ConfigError("no training clips to fit the COALA patch scaler on")
        fe.set_scaler(lo.cpu(), hi.cpu())

    # -- tag side
    @torch.no_grad()
    def tag_embeddings(self) -> torch.Tensor:
        """Projected one-hot tag embeddings ``AFF_t(e_t(onehot(c)))``, ``(C, embed_dim)``,
        computed in eval mode (no dropout, BatchNorm running statistics)."""
        if self.variant == "cnn":
            raise ConfigError("the 'cnn' variant has no tag encoder")
        was = self.training
        self.tag_encoder.eval()
        self.tag_projection.eval()
        try:
            eye = torch.eye(self.num_outputs, device=next(self.tag_encoder.parameters()).device)
            return self.tag_projection(self.tag_encoder(eye))
        finally:
            self.tag_encoder.train(was)
            self.tag_projection.train(was)

    def refresh_tag_embeddings(self) -> None:
        """Write :meth:`tag_embeddings` into the head (its tag-retrieval scores)."""
        if self.variant != "cnn":
            self.head.set_tag_embeddings(self.tag_embeddings(), self.temperature)
        self._stale = False

    # -- loss
    def total(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """Eq. (13): ``lambda_a L_a + lambda_t L_t + lambda_xi L_xi`` of the named parts."""
        wa, wt, wc = self.weights
        total = wc * parts["contrastive"]
        if "audio_recon" in parts:
            total = total + wa * parts["audio_recon"]
        if "tag_recon" in parts:
            total = total + wt * parts["tag_recon"]
        return total

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]) -> dict:
        patches = self.patches(encoder, batch["wave"])
        z_audio = encoder.backend.encode_patches(patches)
        target = batch["target"].to(z_audio.dtype)
        if self.variant == "cnn":
            logits = self.head(z_audio)
            loss = F.binary_cross_entropy_with_logits(logits, target)
            return {"loss": loss, "tag_prediction": loss.detach(), "logits": logits.detach()}
        z_tag = self.tag_encoder(target)
        parts = {
            "contrastive": contrastive_loss(
                self.head.project(z_audio),
                self.tag_projection(z_tag),
                self.temperature,
                self.contrastive,
            )
        }
        if self.variant == "ae_c":
            parts["audio_recon"] = generalized_kl(patches, self.audio_decoder(z_audio))
            parts["tag_recon"] = F.binary_cross_entropy_with_logits(self.tag_decoder(z_tag), target)
        out = {"loss": self.total(parts), **{k: v.detach() for k, v in parts.items()}}
        if self.training:
            self._stale = True
        else:
            if self._stale or not self.head.has_tag_embeddings:
                self.refresh_tag_embeddings()
            out["logits"] = self.head(z_audio).detach()
        return out

    # -- export
    def export_model(self, encoder: nn.Module | None) -> C.CoalaModel:
        """The encoder with the head (:class:`~musicrep.models.coala.CoalaModel`), the tag
        embeddings of the current tag encoder written into the head (AE-C, E-C)."""
        if encoder is None or not C.is_coala_encoder(encoder):
            raise ConfigError("the coala objective exports a COALA encoder with its head")
        self.refresh_tag_embeddings()
        config = C.coala_model_config(encoder.config or self.encoder_config, self.head_config)
        return C.CoalaModel(encoder, self.head, self.num_outputs, config)

    @classmethod
    def example_config(cls) -> dict[str, Any]:
        return {
            "model": {
                "name": "coala",
                "variant": "ae_c",
                "frontend_kwargs": {"n_mels": 32, "patch_frames": 32},
                "backend_kwargs": {"channels": 8},
            },
            "objective": {"tag_hidden": [16, 16], "clip_seconds": 1.0},
            "task": "multilabel",
        }


def _audio_decoder(encoder: nn.Module, dropout: float) -> C.CoalaAudioDecoder:
    """The audio decoder mirroring the COALA encoder (its last block's map -> one patch)."""
    backend = encoder.backend
    return C.CoalaAudioDecoder(
        backend.feature_shape,
        backend.patch_shape,
        num_blocks=len([m for m in backend.blocks if isinstance(m, nn.Conv2d)]),
        dropout=dropout,
    )


class _FrontendOnly(nn.Module):
    """A stand-in encoder holding only ``frontend`` (a copy on the preparation device)."""

    def __init__(self, frontend: nn.Module):
        super().__init__()
        self.frontend = frontend


__all__ = [
    "CLIP_SECONDS",
    "NOISE",
    "WEIGHTS",
    "CoalaObjective",
    "contrastive_loss",
    "generalized_kl",
]
