"""What every probe shares: the result type, the registry, task metrics and scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.metrics import classification_metrics, tagging_metrics
from musicrep.probes.partition import Partition
from musicrep.registry import Registry

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "PROBES",
    "TASKS",
    "TASK_LABELS",
    "ClassifierProbe",
    "EvalResult",
    "Probe",
    "classifier_probes",
]

TASKS = ("singlelabel", "multilabel", "verification")

#: Metrics reported per task, in display order (the first is the headline).
METRICS = {
    "singlelabel": ("accuracy", "macro_f1"),
    "multilabel": ("roc_auc", "pr_auc"),
    "verification": ("eer", "min_dcf"),
}
METRIC_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "F1 (macro)",
    "roc_auc": "ROC-AUC (macro)",
    "pr_auc": "PR-AUC (macro)",
    "eer": "EER",
    "min_dcf": "minDCF",
}
TASK_LABELS = {
    "singlelabel": "single-label classification",
    "multilabel": "multi-label tagging",
    "verification": "verification trials (cosine scoring)",
}


@dataclass
class EvalResult:
    """The outcome of a downstream evaluation (also readable as a dict: ``result["metrics"]``).

    Attributes
    ----------
    task_type : str
        ``"singlelabel"``, ``"multilabel"`` or ``"verification"``.
    protocol : str
        ``"coala"``, ``"hear"`` or ``"cosine"`` (verification).
    metrics : dict
        ``{name: {"mean", "std", "values", "over"}}``. With one partition (train/test splits)
        ``values`` are the per-repeat scores and ``over == "repeats"``; with folds ``values``
        are the per-fold means over repeats, ``over == "folds"``, and the entry also has
        ``repeat_means`` (the fold-averaged score of each repeat) and ``std_over_repeats``.
        Scores are fractions (accuracy 0.73, EER 0.05).
    per_fold : list of dict
        One entry per partition: ``name``, ``fold``, ``n_train``, ``n_valid``, ``n_test``,
        ``metrics`` (``{name: {"mean", "std", "values"}}`` over repeats), ``skipped_tags`` and,
        for ``hear``, ``epochs_run``/``best_epoch``/``valid_score`` per repeat.
    n_train, n_test : int
        Rows trained / tested on. With folds: ``n_test`` counts every tested row (the sum over
        folds) and ``n_train`` is the mean training-set size of a fold. For verification:
        ``n_train`` 0 and ``n_test`` the number of trials.
    skipped_tags : dict
        ``{tag: reason}``, tags left out of the multi-label averages (in some partition).
    config : dict
        Everything needed to rerun: protocol parameters, seeds, grid and selected point, the
        task and why it was chosen (``task_reason``), ...
    classes : list of str
        The label vocabulary (class or tag names).
    notes : list of str
        Things the user should know (unused splits, fits that did not converge, ...).
    """

    task_type: str
    protocol: str
    metrics: dict[str, dict[str, Any]]
    per_fold: list[dict[str, Any]] = field(default_factory=list)
    n_train: int = 0
    n_test: int = 0
    skipped_tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        """Name of the headline metric (accuracy, ROC-AUC or EER)."""
        return METRICS[self.task_type][0]

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def summary(self) -> dict[str, float]:
        """``{metric: mean}``."""
        return {name: m["mean"] for name, m in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numpy scalars converted)."""
        return jsonable(asdict(self))


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy arrays/scalars and paths turned into JSON types."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def stats(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std" (population), "values"}`` of a list of scores."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "values": [float(x) for x in v]}


def score(
    task: str, y_true: np.ndarray, scores: np.ndarray, vocab: list[str], train_pos: np.ndarray
) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics of one test prediction; tags without a training positive are skipped."""
    if task == "singlelabel":
        return classification_metrics(y_true, scores, vocab).summary(), {}
    keep = train_pos > 0
    skipped = {t: "no positive example in the training rows" for t, k in zip(vocab, keep) if not k}
    if not keep.any():
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}, skipped
    names = [t for t, k in zip(vocab, keep) if k]
    ts = tagging_metrics(y_true[:, keep], scores[:, keep], names)
    for tag, reason in ts.skipped.items():
        skipped[tag] = reason.replace("this split", "the test rows")
    return ts.summary(), skipped


def standardize(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """``X`` scaled with the mean and standard deviation of the training rows only."""
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(X[train]).transform(X)


def part_entry(p: Partition, values: dict[str, list[float]], skipped: dict[str, str]) -> dict:
    """The ``per_fold`` entry of one partition."""
    return {
        "name": p.name,
        "fold": p.fold,
        "n_train": int(len(p.train)),
        "n_valid": int(len(p.valid)),
        "n_test": int(len(p.test)),
        "metrics": {k: stats(v) for k, v in values.items()},
        "skipped_tags": dict(sorted(skipped.items())),
    }


def aggregate(per_fold: list[dict], task: str) -> dict[str, dict[str, Any]]:
    """Headline metrics: over repeats (one partition) or over folds (with repeat spreads)."""
    out = {}
    for name in METRICS[task]:
        if len(per_fold) == 1:
            out[name] = {**per_fold[0]["metrics"][name], "over": "repeats"}
            continue
        fold_means = [pf["metrics"][name]["mean"] for pf in per_fold]
        table = np.array([pf["metrics"][name]["values"] for pf in per_fold])  # (folds, repeats)
        repeat_means = table.mean(axis=0)
        out[name] = {
            **stats(fold_means),
            "over": "folds",
            "repeat_means": [float(v) for v in repeat_means],
            "std_over_repeats": float(repeat_means.std()),
        }
    return out


class Probe:
    """A way of scoring frozen embeddings, registered in :data:`PROBES` by name.

    ``kind`` says how it is driven: ``"classifier"`` probes (:class:`ClassifierProbe`) train on
    labelled rows split into partitions; ``"trials"`` probes score pairs of embeddings
    (:class:`musicrep.probes.verification.VerificationProbe`).
    """

    name = ""
    kind = ""
    #: Keyword arguments of the constructor (``evaluate`` passes those it is given).
    options: tuple[str, ...] = ()


class ClassifierProbe(Probe):
    """A classifier trained on frozen embeddings (the ``--protocol`` of ``musicrep evaluate``).

    Subclasses set the class attributes and implement :meth:`run`.

    Attributes
    ----------
    name : str
        Registry name (``--protocol``).
    needs_valid : bool
        The probe validates (early stopping, model selection): partitions get a valid set.
    standardize_default : bool
        Whether embeddings are standardised on the training rows unless the caller says.
    dtype : numpy dtype
        The embeddings are cast to it before training.
    unused_valid : str
        Why valid rows are ignored (``needs_valid`` False), shown in the notes.
    """

    kind = "classifier"
    needs_valid = False
    standardize_default = False
    dtype: type = np.float32
    unused_valid = "this probe does not validate"

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
        """Train and test on every partition and seed; one :func:`part_entry` per partition.

        ``X (rows, D)``; ``y`` class indices ``(rows,)`` or multi-hot ``(rows, classes)``.
        Settings worth recording go to ``config``, things the user should know to ``notes``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")


#: name -> probe class (``PROBES.create("coala", mlp_params=...)``).
PROBES: Registry[Probe] = Registry("probe")


def classifier_probes() -> list[str]:
    """Names of the registered classifier probes (the valid ``protocol`` values)."""
    return [n for n in PROBES.names() if PROBES.get(n).kind == "classifier"]
