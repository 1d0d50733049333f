"""The HEAR probe (hear-eval-kit, ``heareval/predictions/task_predictions.py``).

A torch MLP ``[Linear -> BatchNorm1d -> Dropout -> ReLU] x hidden_layers -> Linear`` (weights
Xavier-initialised with the ReLU/linear gain, biases at torch defaults), Adam without weight
decay, softmax + cross-entropy (single-label) or sigmoid + binary cross-entropy (multi-label).
Hyper-parameters come from :data:`HEAR_GRIDS` (hear-eval-kit's ``default``/``fast``/``faster``
grids, or a dict of lists): the grid is shuffled with ``seed`` and its first ``grid_points`` (8)
points are trained on the FIRST partition; the point with the best validation score is then
trained on every partition and tested.

Training checks the validation score every ``check_val_every_n_epoch`` (3) epochs, keeps the
best weights, and stops after ``patience`` (20) checks without a strict improvement or after
``max_epochs`` (500). The validation score is the task's primary score: accuracy
(single-label) or macro average precision, HEAR's ``mAP`` (multi-label). As in hear-eval-kit
the embeddings are NOT standardised by default (``standardize=True`` turns the training-set
``StandardScaler`` on).

Deviations: training batches are shuffled (with the run's seed; hear-eval-kit reads them in
order), a last batch of a single row is dropped (BatchNorm cannot train on it), and the
selected point is retrained ``repeats`` times with seeds ``seed, seed + 1, ...`` instead of
once with seed 42.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from musicrep.errors import ConfigError
from musicrep.metrics import tagging_metrics
from musicrep.probes.base import METRICS, PROBES, ClassifierProbe, part_entry, score, standardize
from musicrep.probes.partition import VALID_FRACTION, Partition
from musicrep.utils import progress as progress_bar

__all__ = ["HEAR_GRIDS", "HEAR_GRID_POINTS", "HEAR_MONITOR", "HEAR_PARAM_GRID", "HearProbe"]

#: hear-eval-kit's default predictor grid (16 points; the first 8 after shuffling are tried).
HEAR_PARAM_GRID: dict[str, list] = {
    "hidden_layers": [1, 2],
    "hidden_dim": [1024],
    "dropout": [0.1],
    "lr": [3.2e-3, 1e-3, 3.2e-4, 1e-4],
    "patience": [20],
    "max_epochs": [500],
    "check_val_every_n_epoch": [3],
    "batch_size": [1024],
    "initialization": ["xavier_uniform", "xavier_normal"],
}
#: hear-eval-kit's ``--grid`` presets.
HEAR_GRIDS: dict[str, dict[str, list]] = {
    "default": HEAR_PARAM_GRID,
    "fast": {**HEAR_PARAM_GRID, "max_epochs": [10, 50], "check_val_every_n_epoch": [3, 10]},
    "faster": {
        **HEAR_PARAM_GRID,
        "hidden_layers": [0, 1],
        "hidden_dim": [64, 128],
        "patience": [1, 3],
        "max_epochs": [10],
        "check_val_every_n_epoch": [1],
    },
}
#: Grid points tried by hear-eval-kit (``--grid-points``).
HEAR_GRID_POINTS = 8
#: Validation score monitored by early stopping and model selection (hear: the task's first
#: metric; accuracy for classification, mAP for tagging).
HEAR_MONITOR = {"singlelabel": "accuracy", "multilabel": "pr_auc"}


@dataclass
class HearFit:
    """One trained predictor: the model with its best weights, and how training went."""

    model: Any
    valid_score: float
    best_epoch: int
    epochs_run: int


def hear_grid(grid: str | Mapping[str, Sequence], grid_points: int, seed: int) -> list[dict]:
    """The grid points tried: the preset or overrides, shuffled with ``seed``, the first few."""
    from sklearn.model_selection import ParameterGrid

    if isinstance(grid, str):
        if grid not in HEAR_GRIDS:
            raise ConfigError(f"unknown grid {grid!r}", f"use one of {', '.join(HEAR_GRIDS)}")
        spec = HEAR_GRIDS[grid]
    else:
        spec = {**HEAR_PARAM_GRID, **{k: list(v) for k, v in grid.items()}}
        unknown = sorted(set(spec) - set(HEAR_PARAM_GRID))
        if unknown:
            raise ConfigError(
                f"unknown hear grid key(s) {', '.join(unknown)}",
                f"keys: {', '.join(HEAR_PARAM_GRID)}",
            )
    bad_init = set(spec["initialization"]) - {"xavier_uniform", "xavier_normal"}
    if bad_init:
        raise ConfigError(f"unknown initialization {sorted(bad_init)[0]!r}")
    if grid_points < 1:
        raise ConfigError(f"grid_points must be >= 1; got {grid_points}")
    confs = [dict(c) for c in ParameterGrid(spec)]
    random.Random(seed).shuffle(confs)
    return confs[:grid_points]


def hear_model(n_in: int, n_out: int, conf: Mapping[str, Any]):
    """hear-eval-kit's predictor for one grid point (a ``torch.nn.Sequential``)."""
    import torch
    from torch import nn

    init = {"xavier_uniform": nn.init.xavier_uniform_, "xavier_normal": nn.init.xavier_normal_}[
        conf["initialization"]
    ]
    layers: list[nn.Module] = []
    dim, last = n_in, "linear"
    for _ in range(int(conf["hidden_layers"])):
        linear = nn.Linear(dim, int(conf["hidden_dim"]))
        init(linear.weight, gain=nn.init.calculate_gain(last))
        layers += [
            linear,
            nn.BatchNorm1d(int(conf["hidden_dim"])),
            nn.Dropout(float(conf["dropout"])),
            nn.ReLU(),
        ]
        dim, last = int(conf["hidden_dim"]), "relu"
    projection = nn.Linear(dim, n_out)
    init(projection.weight, gain=nn.init.calculate_gain(last))
    return torch.nn.Sequential(*layers, projection)


def hear_predict(model, X, task: str) -> np.ndarray:
    """Probabilities ``(rows, classes)``: sigmoid (multi-label) or softmax."""
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(X)
        probs = torch.sigmoid(logits) if task == "multilabel" else torch.softmax(logits, dim=-1)
    return probs.double().cpu().numpy()


def _monitor(task: str, y: np.ndarray, probs: np.ndarray) -> float:
    if task == "singlelabel":
        return float(np.mean(probs.argmax(axis=1) == y))
    value = tagging_metrics(y, probs).pr_auc
    return -math.inf if math.isnan(value) else float(value)


def _epoch(model, opt, loss_fn, xt, yt, order, bs: int, has_bn: bool) -> None:
    model.train()
    for start in range(0, xt.shape[0], bs):
        idx = order[start : start + bs]
        if has_bn and len(idx) < 2:
            continue
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()


def train_hear(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    task: str,
    n_out: int,
    conf: Mapping[str, Any],
    seed: int,
    device: str,
) -> HearFit:
    """Train one hear predictor with early stopping on the validation score."""
    import torch
    from torch import nn

    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = hear_model(X_train.shape[1], n_out, conf).to(dev)
        xt = torch.as_tensor(X_train, dtype=torch.float32, device=dev)
        xv = torch.as_tensor(X_valid, dtype=torch.float32, device=dev)
        if task == "multilabel":
            yt = torch.as_tensor(y_train, dtype=torch.float32, device=dev)
            loss_fn: nn.Module = nn.BCEWithLogitsLoss()
        else:
            yt = torch.as_tensor(y_train, dtype=torch.int64, device=dev)
            loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=float(conf["lr"]))
        has_bn = int(conf["hidden_layers"]) > 0
        bs, every = int(conf["batch_size"]), int(conf["check_val_every_n_epoch"])
        patience, max_epochs = int(conf["patience"]), int(conf["max_epochs"])
        best, best_epoch, best_state, bad, epoch = -math.inf, 0, None, 0, 0
        for epoch in range(1, max_epochs + 1):
            order = torch.randperm(xt.shape[0], generator=gen).to(dev)
            _epoch(model, opt, loss_fn, xt, yt, order, bs, has_bn)
            # validate every `every` epochs (and at the end if that never happened)
            if epoch % every and not (epoch == max_epochs and best_state is None):
                continue
            value = _monitor(task, y_valid, hear_predict(model, xv, task))
            if value > best or best_state is None:
                best, best_epoch, bad = value, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
        model.load_state_dict(best_state)
    return HearFit(model, best, best_epoch, epoch)


@PROBES.register("hear")
class HearProbe(ClassifierProbe):
    """hear-eval-kit's grid-searched MLP with early stopping on the valid split.

    Parameters
    ----------
    grid : str or mapping
        Preset (``default``, ``fast``, ``faster``) or a dict of lists overriding
        :data:`HEAR_PARAM_GRID` keys.
    grid_points : int
        Grid points tried (after shuffling with the first seed).
    valid_fraction : float
        Training fraction held out for validation when the manifest has none.
    device : str
        Torch device of the predictor.
    """

    name = "hear"
    options = ("grid", "grid_points", "valid_fraction", "device")
    needs_valid = True
    standardize_default = False
    dtype = np.float32

    def __init__(
        self,
        grid: str | Mapping[str, Sequence] = "default",
        grid_points: int = HEAR_GRID_POINTS,
        valid_fraction: float = VALID_FRACTION,
        device: str = "cpu",
    ):
        self.grid, self.grid_points = grid, grid_points
        self.valid_fraction, self.device = valid_fraction, device

    def run(
        self,
        X: np.ndarray,
        y: np.ndarray,
        parts: list[Partition],
        *,
        task: str,
        vocab: list[str],
        seeds: list[int],
        standardize: bool,
        config: dict[str, Any],
        notes: list[str],
        progress: bool,
    ) -> list[dict]:
        """Grid search on the first partition, then the selected point on every partition."""
        confs = hear_grid(self.grid, self.grid_points, seeds[0])
        if task == "multilabel":
            _check_valid_tags(y, parts)
        per_fold = []
        bar = progress_bar(
            total=len(confs) + len(parts) * len(seeds) - 1,
            desc="hear probe",
            unit="fit",
            disable=None if progress else True,
        )
        with bar:
            best_fit, best_conf = None, confs[0]
            for i, p in enumerate(parts):
                Xs = standardize_rows(X, p, standardize)
                if i == 0:  # model selection on the first partition (as hear-eval-kit)
                    best_fit, best_conf, results = self._select(
                        Xs, y, p, task, len(vocab), confs, seeds[0], bar
                    )
                    self._record(config, confs, results, best_conf)
                fit0 = best_fit if i == 0 else None
                per_fold.append(self._partition(Xs, y, p, task, vocab, seeds, best_conf, fit0, bar))
        return per_fold

    def _fit(self, Xs, y, p, task, n_out, conf, seed) -> HearFit:
        return train_hear(
            Xs[p.train], y[p.train], Xs[p.valid], y[p.valid], task, n_out, conf, seed, self.device
        )

    def _select(self, Xs, y, p, task, n_out, confs, seed, bar) -> tuple[HearFit, dict, list]:
        """Train every grid point: the best fit by validation score, its point, every result."""
        results: list[dict] = []
        best_fit, best_conf = None, confs[0]
        for conf in confs:
            fit = self._fit(Xs, y, p, task, n_out, conf, seed)
            results.append({**conf, "valid_score": fit.valid_score, "best_epoch": fit.best_epoch})
            if best_fit is None or fit.valid_score > best_fit.valid_score:
                best_fit, best_conf = fit, conf
            bar.update(1)
        assert best_fit is not None
        return best_fit, best_conf, results

    def _record(self, config: dict[str, Any], confs: list[dict], results, best_conf) -> None:
        g = self.grid
        config["grid"] = g if isinstance(g, str) else {k: list(v) for k, v in g.items()}
        config["grid_points"] = len(confs)
        config["grid_results"] = results
        config["selected"] = dict(best_conf)
        config["monitor"] = f"valid {HEAR_MONITOR[config['task']]}"
        config["valid_fraction"] = self.valid_fraction

    def _partition(self, Xs, y, p, task, vocab, seeds, conf, fit0, bar) -> dict:
        """The selected point trained with every seed on one partition, tested."""
        import torch

        values: dict[str, list[float]] = {m: [] for m in METRICS[task]}
        skipped: dict[str, str] = {}
        extra: dict[str, list] = {"valid_score": [], "best_epoch": [], "epochs_run": []}
        train_pos = y[p.train].sum(axis=0) if task == "multilabel" else None
        x_test = torch.as_tensor(Xs[p.test], dtype=torch.float32, device=torch.device(self.device))
        for r, s in enumerate(seeds):
            if fit0 is not None and r == 0:
                fit = fit0  # the selection run is the first repeat of partition 0
            else:
                fit = self._fit(Xs, y, p, task, len(vocab), conf, s)
                bar.update(1)
            m, sk = score(task, y[p.test], hear_predict(fit.model, x_test, task), vocab, train_pos)
            skipped.update(sk)
            for k in values:
                values[k].append(m[k])
            extra["valid_score"].append(fit.valid_score)
            extra["best_epoch"].append(fit.best_epoch)
            extra["epochs_run"].append(fit.epochs_run)
        return {**part_entry(p, values, skipped), **extra}


def standardize_rows(X: np.ndarray, p: Partition, on: bool) -> np.ndarray:
    """``X`` standardised on ``p``'s training rows when ``on``."""
    return standardize(X, p.train) if on else X


def _check_valid_tags(y: np.ndarray, parts: list[Partition]) -> None:
    for p in parts:
        pos = y[p.valid].sum(axis=0)
        if not ((pos > 0) & (pos < len(p.valid))).any():
            raise ConfigError(
                f"{p.name}: no tag has both positive and negative validation rows",
                "hear monitors validation mAP; give the valid split (or fold) more rows",
            )
