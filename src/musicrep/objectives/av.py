"""Audio-visual speaker objectives (Sarı et al. 2021): ``av_shared`` and ``av_fusion``.

Both train on a manifest whose rows are utterances (``labels`` = the speaker) with a ``video``
column (a video file, a folder of face frames or a ``.npy`` array; see :mod:`musicrep.video`),
e.g. the built-in ``musicrep data av-speakers`` or a VoxCeleb copy
(``musicrep data prepare voxceleb``). A batch holds the audio crop ``wave`` and the face frames
``frames`` that show the same time span (a ``frames`` view following ``wave``), sampled at
``frames.fps`` (or ``frames.num_frames`` spread over the crop) and resized to
``frames.size``.

- ``av_shared`` (the paper's multi-view model): the recipe's ``model:`` is the audio encoder
  (any zoo front-end x back-end); the objective owns a small 2-D CNN over the face frames
  (pooled over time), projections of both embeddings to ``dim`` and ONE speaker classifier
  applied to both, with loss ``w_a CE(W e_a, y) + w_v CE(W e_v, y)``; ``margin`` (radians)
  switches to cosine logits with an additive angular margin (AAM-softmax; the paper's loss is
  not known, so this is an option, default off).
- ``av_fusion`` (baseline): audio and face embeddings concatenated, an MLP to ``dim``, one
  classifier on the fused embedding (cross-modal trials are impossible).

The final evaluation (test split) scores verification trials with cosine similarity of
L2-normalised utterance embeddings (mean over ``eval_chunks`` windows per utterance) and
reports EER and minDCF for every condition the model allows (see
:func:`musicrep.evaluate_av.evaluate_av`). The exported model (kind ``"av"``) reloads with
:func:`musicrep.io.load`; ``musicrep evaluate-av`` writes the AV table for one or more models.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.objectives.base import OBJECTIVES, Objective, View

_TINY_AUDIO = {
    "name": "shortchunk_cnn",
    "input_samples": 8000,
    "frontend_kwargs": {"n_mels": 16, "hop_length": 256},
    "backend_kwargs": {"channels": [4, 8]},
}


def _frame_view(frames: dict | None) -> View:
    from musicrep.training.data import frame_options

    view = View("frames", kind="frames", source="wave", options=dict(frames or {}))
    frame_options(view)  # unknown keys are an error now, not at the first batch
    return view


class _AVObjective(Objective):
    """Shared parts of the two AV objectives."""

    needs_labels = True
    task = "singlelabel"
    # verification of unseen speakers: the classifier's classes are the TRAIN speakers only
    open_set_labels = True
    head: nn.Module

    def _init_av(
        self, encoder, task, vocab, num_outputs, visual, frames, eval_chunks, trials
    ) -> nn.Module:
        if encoder is None:
            raise ConfigError(
                f"{type(self).__name__} needs an audio encoder",
                "set the recipe's model: section (see configs/av_shared.yaml)",
            )
        if task not in (None, "singlelabel"):
            raise ConfigError(
                f"AV speaker objectives classify speakers (one label per row); task is {task!r}",
                "give each manifest row exactly one label (its speaker), or data.task: singlelabel",
            )
        if not num_outputs:
            raise ConfigError("AV speaker objectives need speaker labels in the manifest")
        from musicrep.models.av import VisualEncoder

        self.vocab = list(vocab or [])
        self.num_outputs = int(num_outputs)
        self.views = (View("wave"), _frame_view(frames))
        self.frames = dict(frames or {})
        self.eval_chunks = int(eval_chunks)
        if self.eval_chunks < 1:
            raise ConfigError(f"eval_chunks must be >= 1; got {eval_chunks}")
        self.trials = trials
        return VisualEncoder(**dict(visual or {}))

    def forward(self, encoder, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.head.loss(
            encoder(batch["wave"]),
            batch["frames"],
            batch["target"],
            batch.get("frames_mask"),
            getattr(self, "weights", None),
        )

    def export_model(self, encoder):
        from musicrep.models.av import ConcatFusion, SharedClassifierAV

        cls = SharedClassifierAV if self.head.fusion == "shared" else ConcatFusion
        model = cls(encoder, head=self.head)
        model.frames = dict(self.frames)
        return model

    def export_info(self) -> dict[str, Any]:
        # no vocab/task: the exported model is a verification (embedding) model, not a
        # classifier of the training speakers (musicrep predict refuses it)
        return {}

    @torch.no_grad()
    def evaluate(self, encoder, data) -> dict | None:
        from musicrep.evaluate_av import default_trials, evaluate_av

        trials = self.trials or default_trials(getattr(data.manifest, "source", None))
        model = self.export_model(encoder).to(data.device).eval()
        return evaluate_av(
            model,
            data.manifest,
            trials=trials,
            split=data.split,
            chunks=self.eval_chunks,
            batch_size=max(1, data.batch_size // self.eval_chunks),
            device=data.device,
            show_progress=data.show_progress,
        )

    @classmethod
    def example_config(cls) -> dict[str, Any]:
        return {
            "model": dict(_TINY_AUDIO),
            "objective": {
                "visual": {"embed_dim": 8, "channels": 4, "blocks": 1},
                "frames": {"size": 16, "num_frames": 3},
                "dim": 8,
            },
            "task": "singlelabel",
            "video": True,
        }


@OBJECTIVES.register("av_shared")
class AVSharedClassifier(_AVObjective):
    """The multi-view AV speaker model with one classifier shared by audio and face.

    Parameters
    ----------
    visual : dict
        :class:`~musicrep.models.av.VisualEncoder` options (``embed_dim``, ``channels``,
        ``blocks``).
    frames : dict
        Frames view options: ``size`` (48), ``fps`` (25), ``num_frames`` (None: every frame of
        the crop), ``column`` (``video``), ``source_fps`` (rate of ``.npy``/image folders
        without ``fps.txt``; 25).
    dim : int
        Size of the common embedding space (128).
    margin : float, optional
        Additive angular margin in radians (e.g. 0.2); None: a plain linear softmax layer.
    scale : float
        Logit scale with a margin (30).
    weights : dict
        Per-modality loss weights ``{"audio": 1.0, "visual": 1.0}``.
    eval_chunks : int
        Windows per test utterance whose embeddings are averaged (2).
    trials : str, optional
        Trial list of the test evaluation (VoxCeleb ``1/0 enrol test`` text or a CSV); default
        ``trials_test.txt`` beside the manifest, else every pair of test rows.
    """

    def __init__(
        self,
        encoder: nn.Module | None = None,
        task: str | None = "singlelabel",
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        visual: dict | None = None,
        frames: dict | None = None,
        dim: int = 128,
        margin: float | None = None,
        scale: float = 30.0,
        weights: dict[str, float] | None = None,
        eval_chunks: int = 2,
        trials: str | None = None,
    ):
        super().__init__()
        from musicrep.models.av import SharedAVHead

        visual_encoder = self._init_av(
            encoder, task, vocab, num_outputs, visual, frames, eval_chunks, trials
        )
        weights = dict(weights or {})
        unknown = sorted(set(weights) - {"audio", "visual"})
        if unknown:
            raise ConfigError(f"weights for unknown modalities {unknown}; use audio, visual")
        self.weights = {"audio": 1.0, "visual": 1.0, **{k: float(v) for k, v in weights.items()}}
        self.head = SharedAVHead(
            encoder.embed_dim,
            visual_encoder,
            self.num_outputs,
            dim=int(dim),
            margin=None if margin is None else float(margin),
            scale=float(scale),
        )


@OBJECTIVES.register("av_fusion")
class AVConcatFusion(_AVObjective):
    """Concatenation fusion baseline (audio + face embeddings -> MLP -> speaker classifier).

    Parameters as :class:`AVSharedClassifier` (no ``margin``, ``scale``, ``weights``); ``dim``
    is the fused embedding's size.
    """

    def __init__(
        self,
        encoder: nn.Module | None = None,
        task: str | None = "singlelabel",
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        visual: dict | None = None,
        frames: dict | None = None,
        dim: int = 128,
        eval_chunks: int = 2,
        trials: str | None = None,
    ):
        super().__init__()
        from musicrep.models.av import ConcatAVHead

        visual_encoder = self._init_av(
            encoder, task, vocab, num_outputs, visual, frames, eval_chunks, trials
        )
        self.head = ConcatAVHead(encoder.embed_dim, visual_encoder, self.num_outputs, dim=int(dim))
