"""The COALA probe (Favory et al. 2020, ``xavierfav/coala`` ``eval.py``).

``StandardScaler`` fit on the training rows, then
``sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(256,))`` with every other argument at
the scikit-learn default (ReLU, Adam, learning rate 1e-3, ``alpha`` 1e-4,
``batch_size=min(200, n)``, ``max_iter`` 200, no early stopping). No validation set and no
hyper-parameter search: the ``valid`` split, if any, is left unused, as COALA trains on its
``train`` list only. The whole evaluation is repeated ``repeats`` (10) times with
``random_state`` ``seed, seed + 1, ...``; the mean and standard deviation are reported.
Multi-label data uses ``MLPClassifier``'s own multi-label mode (one sigmoid output per tag,
binary cross-entropy) and ``predict_proba``.

*Convergence policy*: 200 Adam epochs often stop before scikit-learn's tolerance is met; the
``ConvergenceWarning`` is silenced (COALA ran with the defaults too) and the number of fits that
hit ``max_iter`` is reported in the notes and ``config["not_converged"]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from musicrep.errors import ConfigError
from musicrep.probes.base import METRICS, PROBES, ClassifierProbe, part_entry, score, standardize
from musicrep.probes.partition import Partition
from musicrep.utils import progress as progress_bar

__all__ = ["COALA_MLP_PARAMS", "DEFAULT_REPEATS", "CoalaProbe"]

#: COALA's probe: MLPClassifier(hidden_layer_sizes=(256,)); every other argument is the
#: scikit-learn default (activation relu, solver adam, alpha 1e-4, learning_rate_init 1e-3,
#: batch_size min(200, n), max_iter 200).
COALA_MLP_PARAMS: dict[str, Any] = {"hidden_layer_sizes": (256,)}
#: COALA repeats the whole evaluation 10 times (``for run_idx in range(10)``).
DEFAULT_REPEATS = 10


def fit_coala(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    task: str,
    n_classes: int,
    seed: int,
    params: Mapping[str, Any],
) -> tuple[np.ndarray, bool]:
    """Train COALA's MLP and return test scores ``(n_test, n_classes)`` and convergence."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(**{**COALA_MLP_PARAMS, **params, "random_state": seed})
    y = y_train
    if task == "multilabel" and n_classes == 1:
        y = y_train[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y)
    converged = clf.n_iter_ < clf.max_iter
    proba = clf.predict_proba(X_test)
    if task == "multilabel":
        if n_classes == 1:
            pos = np.flatnonzero(clf.classes_ == 1)
            proba = proba[:, pos] if len(pos) else np.zeros((len(X_test), 1))
        return proba, converged
    scores = np.zeros((len(X_test), n_classes))
    scores[:, clf.classes_.astype(np.int64)] = proba
    return scores, converged


@PROBES.register("coala")
class CoalaProbe(ClassifierProbe):
    """StandardScaler + MLPClassifier(256) with sklearn defaults, ``repeats`` seeds.

    Parameters
    ----------
    mlp_params : mapping, optional
        Overrides of the ``MLPClassifier`` arguments (e.g. ``{"max_iter": 50}``); not
        ``random_state`` (set by the seeds).
    """

    name = "coala"
    options = ("mlp_params",)
    needs_valid = False
    standardize_default = True
    dtype = np.float64
    unused_valid = "COALA trains on train only"

    def __init__(self, mlp_params: Mapping[str, Any] | None = None):
        self.params = dict(mlp_params or {})
        if "random_state" in self.params:
            raise ConfigError("set the seed with seed=..., not mlp_params['random_state']")

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
        """One MLPClassifier per (partition, seed), tested on the partition's test rows."""
        config["mlp"] = {**COALA_MLP_PARAMS, **self.params}
        config["mlp"]["hidden_layer_sizes"] = list(config["mlp"]["hidden_layer_sizes"])
        per_fold = []
        not_converged = 0
        bar = progress_bar(
            total=len(parts) * len(seeds),
            desc="coala probe",
            unit="fit",
            disable=None if progress else True,
        )
        with bar:
            for p in parts:
                entry, misses = self._partition(X, y, p, task, vocab, seeds, standardize, bar)
                per_fold.append(entry)
                not_converged += misses
        config["not_converged"] = not_converged
        if not_converged:
            notes.append(
                f"{not_converged} of {len(parts) * len(seeds)} MLP fits stopped at max_iter="
                f"{config['mlp'].get('max_iter', 200)} before converging (as in COALA; "
                "ConvergenceWarning silenced)"
            )
        return per_fold

    def _partition(self, X, y, p, task, vocab, seeds, scale, bar) -> tuple[dict, int]:
        Xs = standardize(X, p.train) if scale else X
        values: dict[str, list[float]] = {m: [] for m in METRICS[task]}
        skipped: dict[str, str] = {}
        train_pos = y[p.train].sum(axis=0) if task == "multilabel" else None
        misses = 0
        for s in seeds:
            scores, ok = fit_coala(
                Xs[p.train], y[p.train], Xs[p.test], task, len(vocab), s, self.params
            )
            misses += not ok
            m, sk = score(task, y[p.test], scores, vocab, train_pos)
            skipped.update(sk)
            for k in values:
                values[k].append(m[k])
            bar.update(1)
        return part_entry(p, values, skipped), misses
