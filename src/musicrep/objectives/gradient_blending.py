"""Multi-view classification with adaptive gradient blending (Phan et al., ICASSP 2021).

The encoder is a :class:`~musicrep.models.multiview.MultiViewEncoder` (``model: {name:
multiview}``). The objective owns a joint head on the concatenated embedding and one head per
view on that view's embedding, and optimises ``sum_k w_k * loss_k`` over the branches
``joint, <view 1>, ..., <view V>`` (cross-entropy for single-label tasks, binary cross-entropy
for tags). With ``weighting: gblend`` the weights are re-estimated online every
``update_every`` epochs from each branch's mean train loss over the epoch and its loss on the
held-out (valid) split, with the G-Blend rule of :mod:`musicrep.objectives.gblend`
(``max(dG, 0) / dO**2``, normalised; ``smoothing``; ``floor``). The test split is never used.

Baselines from the same objective: ``weighting: uniform`` (fixed equal weights on every
branch), ``weighting: joint`` (the concatenation network: the joint head alone), or a fixed
``weights: {branch: w}``. Single-view nets and late fusion are recipes around the
``supervised`` objective (``configs/multiview_*.yaml``).

Every update is logged (``gblend/w_<branch>``), appended to ``gblend_weights.csv`` in the run
folder and plotted to ``gblend_weights.png``. The weights and their history are part of the
objective's state, so checkpoints resume them. The exported model is the encoder with the joint
head (a :class:`~musicrep.models.TaggingModel`), evaluated like any supervised model.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.objectives.base import OBJECTIVES
from musicrep.objectives.gblend import OnlineGradientBlending
from musicrep.objectives.tagging import TaggingObjective

WEIGHTINGS = ("gblend", "uniform", "joint", "fixed")

_TINY_MULTIVIEW = {
    "name": "multiview",
    "input_samples": 8000,
    "backend_kwargs": {
        "views": [
            {
                "name": "mel",
                "frontend_kwargs": {"n_mels": 16, "hop_length": 256},
                "backend_kwargs": {"channels": [4, 8]},
            },
            {
                "name": "wave",
                "backend_kwargs": {"channels": [4, 4, 8], "last_channels": 8},
            },
        ]
    },
}


@OBJECTIVES.register("gradient_blending")
class GradientBlending(TaggingObjective):
    """Joint + per-view heads with online gradient-blending weights (see the module docstring).

    Parameters
    ----------
    weighting : str
        ``gblend`` (online re-weighting), ``uniform``, ``joint`` (concatenation baseline) or
        ``fixed`` (``weights`` given).
    weights : dict, optional
        Initial weights per branch (``fixed``: the weights); default uniform (``joint``: 1 on
        ``joint``, 0 elsewhere).
    update_every : int
        Epochs between weight updates ([open] the paper's period is unknown; 1).
    smoothing : float
        ``beta`` of ``beta * w_prev + (1 - beta) * w_new`` ([open]; 0.5).
    floor : float
        Minimum weight of any branch, so no branch stops learning entirely ([open]; 0.02; 0
        lets a branch whose held-out loss stopped dropping get weight 0).
    dropout : float
        Dropout before every head (0.5).
    """

    model_options = ("dropout",)

    def __init__(
        self,
        encoder: nn.Module | None = None,
        task: str = "singlelabel",
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        weighting: str = "gblend",
        weights: dict[str, float] | None = None,
        update_every: int = 1,
        smoothing: float = 0.5,
        floor: float = 0.02,
        dropout: float | None = None,
        model_config: dict[str, Any] | None = None,
    ):
        super().__init__()
        self._init_tagging(task, vocab, num_outputs)
        names = getattr(encoder, "branch_names", None)
        if encoder is None or names is None:
            raise ConfigError(
                "gradient_blending needs a multi-view encoder",
                "set model: {name: multiview} in the recipe (see configs/multiview_gblend.yaml)",
            )
        if weighting not in WEIGHTINGS:
            raise ConfigError(f"unknown weighting {weighting!r}; valid: {', '.join(WEIGHTINGS)}")
        if int(update_every) < 1:
            raise ConfigError(f"update_every must be >= 1; got {update_every}")
        cfg = dict(model_config or {})
        p = float(dropout if dropout is not None else cfg.get("dropout", 0.5))
        self.branches = ["joint", *names]
        dims = [int(encoder.embed_dim), *[int(d) for d in encoder.branch_dims]]
        from musicrep.models import create_head

        self.heads = nn.ModuleDict(
            {
                k: create_head(None, d, self.num_outputs, dropout=p, head_hidden=None)[0]
                for k, d in zip(self.branches, dims)
            }
        )
        self.weighting, self.update_every = weighting, int(update_every)
        if weighting == "joint":
            init = {k: float(k == "joint") for k in self.branches}
        elif weights is not None:
            unknown = sorted(set(weights) - set(self.branches))
            if unknown:
                raise ConfigError(
                    f"weights for unknown branches {unknown}; branches: {self.branches}"
                )
            init = {k: float(weights.get(k, 0.0)) for k in self.branches}
        elif weighting == "fixed":
            raise ConfigError("weighting: fixed needs weights: {branch: w}")
        else:
            init = {k: 1.0 for k in self.branches}
        total = sum(init.values())
        if total <= 0:
            raise ConfigError(f"weights must have a positive sum; got {init}")
        init = {k: v / total for k, v in init.items()}
        self.blender = OnlineGradientBlending(
            self.branches,
            smoothing=smoothing,
            floor=floor if weighting == "gblend" else 0.0,
            initial=init,
        )
        if weighting == "gblend":
            # the floor applies from the start
            init = self.blender.weights
        self.register_buffer("branch_weights", torch.tensor([init[k] for k in self.branches]))
        self.dropout = p
        self._sums = {
            "train": torch.zeros(len(self.branches)),
            "valid": torch.zeros(len(self.branches)),
        }
        self._counts = {"train": 0, "valid": 0}

    # -- loss
    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task == "singlelabel":
            return F.cross_entropy(logits, target.long())
        return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]) -> dict:
        per_view = encoder.forward_branches(batch["wave"])
        embeddings = {"joint": torch.cat(list(per_view.values()), dim=1), **per_view}
        target = batch["target"]
        out: dict[str, torch.Tensor] = {}
        losses = []
        for k in self.branches:
            logits = self.heads[k](embeddings[k])
            loss_k = self._loss(logits, target)
            losses.append(loss_k)
            out[f"loss_{k}"] = loss_k.detach()
            if k == "joint":
                out["logits"] = logits.detach()
                if self.task == "singlelabel":
                    out["accuracy"] = (logits.argmax(1) == target.long()).float().mean()
        stacked = torch.stack(losses)
        out["loss"] = (self.branch_weights.to(stacked.dtype) * stacked).sum()
        split = "train" if self.training else "valid"
        n = int(batch["wave"].shape[0])
        self._sums[split] = self._sums[split] + stacked.detach().float().cpu() * n
        self._counts[split] += n
        return out

    # -- the online update
    def on_train_epoch_start(self, module: Any) -> None:
        for split in ("train", "valid"):
            self._sums[split] = torch.zeros(len(self.branches))
            self._counts[split] = 0

    def on_train_epoch_end(self, module: Any) -> None:
        trainer = getattr(module, "trainer", None)
        epoch = int(getattr(trainer, "current_epoch", 0))
        if self._counts["train"] and self._counts["valid"] and self.weighting == "gblend":
            if epoch % self.update_every == 0 or not self.blender.history:
                train = (self._sums["train"] / self._counts["train"]).tolist()
                valid = (self._sums["valid"] / self._counts["valid"]).tolist()
                w = self.blender.update(
                    dict(zip(self.branches, train)), dict(zip(self.branches, valid)), step=epoch
                )
                self.branch_weights.copy_(torch.tensor([w[k] for k in self.branches]))
        elif self.weighting != "gblend":
            self.blender.history.append(
                (epoch, dict(zip(self.branches, self.branch_weights.tolist())))
            )
        if hasattr(module, "log"):
            for k, v in zip(self.branches, self.branch_weights.tolist()):
                module.log(f"gblend/w_{k}", float(v), on_step=False, on_epoch=True)
        root = getattr(trainer, "default_root_dir", None)
        if root and getattr(trainer, "is_global_zero", True):
            write_weights(Path(root), self.branches, self.blender.history)

    # -- state (weights history resumes with the checkpoint)
    def get_extra_state(self) -> dict:
        return {"blender": self.blender.state_dict()}

    def set_extra_state(self, state: dict) -> None:
        if state and "blender" in state:
            self.blender.load_state_dict(state["blender"])

    # -- export
    def export_model(self, encoder: nn.Module | None) -> nn.Module:
        """The encoder with the joint head."""
        from musicrep.models import TaggingModel
        from musicrep.models.factory import model_config

        head_config = {
            "num_outputs": self.num_outputs,
            "dropout": self.dropout,
            "head_hidden": None,
        }
        config = model_config(encoder.config, head_config)
        return TaggingModel(encoder, self.heads["joint"], self.num_outputs, config)

    @classmethod
    def example_config(cls) -> dict[str, Any]:
        return {"model": dict(_TINY_MULTIVIEW), "objective": {}, "task": "singlelabel"}


def write_weights(folder: Path, branches: list[str], history: list) -> None:
    """``gblend_weights.csv`` (epoch, one column per branch) and ``gblend_weights.png`` in
    ``folder``, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gblend_weights.csv"
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", *branches])
        for step, weights in history:
            w.writerow([step, *[f"{weights[k]:.6f}" for k in branches]])
    os.replace(tmp, path)
    if not history:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is optional; the CSV holds the numbers
        return
    fig, ax = plt.subplots(figsize=(5, 3))
    steps = [s for s, _ in history]
    for k in branches:
        ax.plot(steps, [h[k] for _, h in history], marker="o", label=k)
    ax.set_xlabel("epoch")
    ax.set_ylabel("branch weight")
    ax.legend(fontsize=7)
    fig.tight_layout()
    png = folder / "gblend_weights.png"
    tmp_png = folder / "gblend_weights.tmp.png"
    fig.savefig(tmp_png, dpi=100)
    plt.close(fig)
    os.replace(tmp_png, png)
