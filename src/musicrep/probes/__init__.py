"""Downstream probes: how well does a small model trained on frozen embeddings do?

Probes are registered by name in :data:`PROBES` (``musicrep.registry.Registry``):

``"coala"`` (:mod:`musicrep.probes.coala`)
    Favory et al. 2020: ``StandardScaler`` + ``MLPClassifier(hidden_layer_sizes=(256,))`` with
    scikit-learn defaults, trained on ``train``, tested on ``test``, 10 repeats.
``"hear"`` (:mod:`musicrep.probes.hear`)
    hear-eval-kit: a grid of torch MLPs selected on the validation split, early stopping.
``"verification"`` (:mod:`musicrep.probes.verification`)
    Trials scored by cosine similarity: EER and minDCF.

The rows are split by :mod:`musicrep.probes.partition` (train/valid/test splits, or
leave-one-fold-out when every row has a fold) and scored with :mod:`musicrep.metrics`.
:func:`evaluate_embeddings` runs a probe on embeddings aligned with manifest rows;
:func:`musicrep.evaluate.evaluate` reads an embeddings file, joins it to a manifest
(:mod:`musicrep.embeddings`) and calls it.

Tasks and metrics
-----------------
- ``"singlelabel"`` (every row has exactly one label): accuracy and macro F1.
- ``"multilabel"``: macro ROC-AUC and macro PR-AUC. Tags with a single class in the test rows,
  or without a positive training example, are left out of the averages and listed in
  :attr:`EvalResult.skipped_tags` with the reason.
- ``"verification"``: EER and minDCF (``p_target`` 0.01, ``C_miss = C_fa = 1``), fractions.

The task is read from the manifest unless given (:func:`detect_task`); the result says which
task was used and why (``config["task_reason"]``, the ``task:`` line of :func:`format_table`).

With folds, each fold's metric is the mean over repeats; the headline ``mean``/``std`` are over
the folds' means, and ``std_over_repeats`` is the spread of the fold-averaged score across
repeats (the number COALA reports for US8K). Standard deviations are population standard
deviations (``numpy.std``, ``ddof=0``).

Examples
--------
>>> from musicrep.probes import PROBES, evaluate_embeddings
>>> PROBES.names()
['coala', 'hear', 'verification']
>>> result = evaluate_embeddings(X, manifest, protocol="coala")   # doctest: +SKIP
>>> print(format_table(result))                                  # doctest: +SKIP
"""

from musicrep.probes.base import (
    METRIC_LABELS,
    METRICS,
    PROBES,
    TASK_LABELS,
    TASKS,
    ClassifierProbe,
    EvalResult,
    Probe,
    classifier_probes,
)
from musicrep.probes.coala import COALA_MLP_PARAMS, DEFAULT_REPEATS, CoalaProbe
from musicrep.probes.hear import HEAR_GRID_POINTS, HEAR_GRIDS, HEAR_PARAM_GRID, HearProbe
from musicrep.probes.partition import VALID_FRACTION, Partition, partitions
from musicrep.probes.report import format_table
from musicrep.probes.run import detect_task, evaluate_embeddings
from musicrep.probes.verification import (
    Trials,
    VerificationProbe,
    cosine_scores,
    evaluate_verification,
    is_trials_file,
    read_trials,
)

#: The classifier probes (``--protocol`` values), in registry order.
PROTOCOLS: tuple[str, ...] = tuple(classifier_probes())

__all__ = [
    "COALA_MLP_PARAMS",
    "DEFAULT_REPEATS",
    "HEAR_GRIDS",
    "HEAR_GRID_POINTS",
    "HEAR_PARAM_GRID",
    "METRICS",
    "METRIC_LABELS",
    "PROBES",
    "PROTOCOLS",
    "TASKS",
    "TASK_LABELS",
    "VALID_FRACTION",
    "ClassifierProbe",
    "CoalaProbe",
    "EvalResult",
    "HearProbe",
    "Partition",
    "Probe",
    "Trials",
    "VerificationProbe",
    "classifier_probes",
    "cosine_scores",
    "detect_task",
    "evaluate_embeddings",
    "evaluate_verification",
    "format_table",
    "is_trials_file",
    "partitions",
    "read_trials",
]
