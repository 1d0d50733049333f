"""Multi-view classification with adaptive gradient blending (Phan et al., ICASSP 2021).

The encoder is a :class:`~musicrep.models.multiview.MultiViewEncoder` (``model: {name:
multiview}``). The objective owns a joint head on the concatenated embedding and one head per
view on that view's embedding, and optimises ``sum_k w_k * loss_k`` over the branches
``joint, <view 1>, ..., <view V>`` (cross-entropy for single-label tasks, binary cross-entropy
for tags). The weights come from a loss-weighting scheme of
:mod:`musicrep.objectives.weighting` (the interface of the multi-task weightings): with
``weighting: gblend`` they are re-estimated online every ``update_every`` epochs from each
branch's mean train loss over the epoch and its loss on the held-out (valid) split, with the
G-Blend rule of :mod:`musicrep.objectives.gblend` (``max(dG, 0) / dO**2``, normalised;
``smoothing``; ``floor``). The test split is never used.

Baselines from the same objective: ``weighting: uniform`` (fixed equal weights 1/K on every
branch), ``weighting: joint`` (the concatenation network: the joint head alone), or a fixed
``weights: {branch: w}`` (``weighting: fixed``). Any other registered scheme works too
(``weighting: dwa`` or ``{name: uncertainty}``...). Single-view nets and late fusion are
recipes around the ``supervised`` objective (``configs/multiview_*.yaml``; ``musicrep
evaluate --ensemble`` scores late fusion).

The weights in use after every epoch are logged (``gblend/w_<branch>``), written to
``gblend_weights.csv`` in the run folder and plotted to ``gblend_weights.png``. The scheme's
state and the history are part of the objective's state, so checkpoints resume them. The
exported model is the encoder with the joint head (a :class:`~musicrep.models.TaggingModel`),
evaluated like any supervised model.
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
from musicrep.objectives.tagging import TaggingObjective
from musicrep.objectives.weighting import WEIGHTINGS, create_weighting

#: weighting names the objective maps onto the ``equal`` scheme (weights summing to 1)
FIXED_WEIGHTINGS = ("uniform", "joint", "fixed")

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
    weighting : str or dict
        ``gblend`` (online re-weighting), ``uniform`` (1/K each), ``joint`` (concatenation
        baseline: the joint head alone) or ``fixed`` (``weights`` given, normalised to sum 1);
        or any scheme of :data:`musicrep.objectives.weighting.WEIGHTINGS` by name or as
        ``{name: ..., **options}`` (e.g. ``{name: gblend, floor: 0}``; not ``gradnorm``: the
        views share no parameters).
    weights : dict, optional
        ``fixed``: the weights; ``gblend``: the weights before the first re-estimation
        (default uniform); other schemes: their ``weights`` option.
    update_every, smoothing, floor : int, float, float
        Options of the ``gblend`` scheme when ``weighting`` is the plain name: epochs between
        checkpoints ([open] 1), ``beta`` of ``beta * w_prev + (1 - beta) * w_new`` ([open]
        0.5), minimum weight of any branch ([open] 0.02; 0 lets a branch whose held-out loss
        stopped dropping get weight 0). See
        :class:`~musicrep.objectives.weighting.GradientBlendingWeighting`.
    dropout : float
        Dropout before every head (0.5).
    """

    model_options = ("dropout",)
    #: the best checkpoint is chosen by the valid loss of the joint head (the exported model):
    #: the weighted total ``val/loss`` is not comparable across epochs once the weights change
    monitor = ("val/loss_joint", "min")

    def __init__(
        self,
        encoder: nn.Module | None = None,
        task: str = "singlelabel",
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        weighting: str | dict[str, Any] = "gblend",
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
        self.weighting = create_weighting(
            self._weighting_spec(weighting, weights, update_every, smoothing, floor),
            self.branches,
        )
        self.weighting_name = weighting if isinstance(weighting, str) else weighting.get("name")
        self.dropout = p
        #: (epoch, weights) after every training epoch: the CSV/plot (resumed with checkpoints)
        self.history: list[tuple[int, dict[str, float]]] = []
        self._sums = {
            "train": torch.zeros(len(self.branches), dtype=torch.float64),
            "valid": torch.zeros(len(self.branches), dtype=torch.float64),
        }
        self._counts = {"train": 0, "valid": 0}

    def _weighting_spec(self, weighting, weights, update_every, smoothing, floor) -> dict:
        """The scheme for ``weighting``: a registered name or spec; ``uniform``/``joint``/
        ``fixed`` are the ``equal`` scheme with weights summing to 1."""
        k = len(self.branches)
        if weights is not None:
            unknown = sorted(set(weights) - set(self.branches))
            if unknown:
                raise ConfigError(
                    f"weights for unknown branches {unknown}; branches: {self.branches}"
                )
        if isinstance(weighting, str) and weighting in FIXED_WEIGHTINGS:
            if weighting == "joint":
                w = {b: float(b == "joint") for b in self.branches}
            elif weighting == "uniform":
                w = {b: 1.0 / k for b in self.branches}
            elif weights is None:
                raise ConfigError(
                    "weighting: fixed needs weights: {branch: w}", f"branches: {self.branches}"
                )
            else:
                w = {b: float(weights.get(b, 0.0)) for b in self.branches}
            total = sum(w.values())
            if total <= 0:
                raise ConfigError(f"weights must have a positive sum; got {w}")
            return {"name": "equal", "weights": {b: v / total for b, v in w.items()}}
        spec = {"name": weighting} if isinstance(weighting, str) else dict(weighting)
        name = spec.get("name")
        if name not in WEIGHTINGS.names():
            valid = [*FIXED_WEIGHTINGS, *WEIGHTINGS.names()]
            raise ConfigError(f"unknown weighting {name!r}", f"valid: {', '.join(valid)}")
        if name == "gradnorm":
            raise ConfigError(
                "weighting gradnorm needs parameters shared by the branches; the views of a "
                "multi-view encoder share none",
                "use gblend, uniform, joint, fixed, dwa or uncertainty",
            )
        if name == "gblend":
            spec.setdefault("update_every", update_every)
            spec.setdefault("smoothing", smoothing)
            spec.setdefault("floor", floor)
            if weights is not None:
                spec.setdefault("initial", {b: float(weights.get(b, 0.0)) for b in self.branches})
        elif weights is not None:
            spec.setdefault("weights", dict(weights))
        return spec

    def branch_weights(self) -> dict[str, float]:
        """The weights in use, by branch."""
        return self.weighting.weights()

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
        out["loss"] = self.weighting.combine(dict(zip(self.branches, losses)))
        split = "train" if self.training else "valid"
        n = int(batch["wave"].shape[0])
        self._sums[split] = self._sums[split] + torch.stack(losses).detach().double().cpu() * n
        self._counts[split] += n
        return out

    def param_groups(self, encoder):
        learned = {id(q) for g in self.weighting.param_groups() for q in g["params"]}
        params = list(encoder.parameters()) if encoder is not None else []
        params += [q for q in self.parameters() if id(q) not in learned]
        return [
            {"params": [q for q in params if q.requires_grad]},
            *self.weighting.param_groups(),
        ]

    def callbacks(self):
        import lightning as L

        scheme = self.weighting

        class _StepEnd(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                scheme.step_end()

        return [_StepEnd()]

    # -- the online update
    def on_train_epoch_start(self, module: Any) -> None:
        for split in ("train", "valid"):
            self._sums[split] = torch.zeros(len(self.branches))
            self._counts[split] = 0

    def _epoch_means(self, split: str, trainer: Any) -> dict[str, float] | None:
        """Mean per-branch loss over the examples of ``split`` seen this epoch (summed over
        devices when training on several)."""
        sums = torch.cat([self._sums[split], torch.tensor([float(self._counts[split])])])
        if trainer is not None and getattr(trainer, "world_size", 1) > 1:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                device = trainer.strategy.root_device
                sums = sums.to(device)
                dist.all_reduce(sums)
                sums = sums.cpu()
        if sums[-1] <= 0:
            return None
        return dict(zip(self.branches, (sums[:-1] / sums[-1]).tolist()))

    def on_train_epoch_end(self, module: Any) -> None:
        trainer = getattr(module, "trainer", None)
        epoch = int(getattr(trainer, "current_epoch", len(self.history)))
        train = self._epoch_means("train", trainer)
        if train is not None:
            valid = self._epoch_means("valid", trainer)
            if valid is None and self.weighting_name == "gblend":
                raise ConfigError(
                    "gradient blending needs valid losses every epoch but no validation ran",
                    "give the manifest a valid split and keep validation every epoch",
                )
            self.weighting.epoch_end(train, valid=valid)
        weights = self.weighting.weights()
        self.history.append((epoch, weights))
        if hasattr(module, "log"):
            for k, v in weights.items():
                module.log(f"gblend/w_{k}", float(v), on_step=False, on_epoch=True)
        root = getattr(trainer, "default_root_dir", None)
        if root and getattr(trainer, "is_global_zero", True):
            write_weights(Path(root), self.branches, self.history)

    # -- state (the weight history resumes with the checkpoint; the scheme's own state is
    # in its buffers)
    def get_extra_state(self) -> dict:
        return {"history": [[int(e), dict(w)] for e, w in self.history]}

    def set_extra_state(self, state: dict) -> None:
        if state and "history" in state:
            self.history = [
                (int(e), {k: float(v) for k, v in w.items()}) for e, w in state["history"]
            ]

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
