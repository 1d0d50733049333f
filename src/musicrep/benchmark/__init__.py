"""Benchmark: several models on several downstream tasks, one report.

:func:`run_benchmark` embeds the audio of every task with every model (the union of the tasks'
files, decoded once per model, cached), scores each task with a probe
(:data:`musicrep.probes.PROBES`: ``coala`` or ``hear``) and writes a report folder::

    report.md, report.html   results table (tasks x models, mean ± std), one bar chart per
                             task, commands, versions, timings, failures
    results.json             everything: settings, per-repeat scores, timings, environment
    <task>.png               bar chart of the task's headline metric (error bars: std)
    cca/                     with ``cca=True``: musicrep.analysis.cca_report's output

Tasks (:mod:`musicrep.benchmark.tasks`)
---------------------------------------
``corpus-style``, ``corpus-instrument``, ``corpus-tags`` (the built-in corpus dataset, built
into ``corpus_dir`` unless a build is there), ``ADAPTER:ROOT`` (a public dataset in its official
layout, e.g. ``gtzan:data/gtzan``, through :mod:`musicrep.data.adapters`), any manifest or trials
file (named after its stem), and ``name=...`` for any of them.

Models
------
Anything :class:`musicrep.embed.Embedder` takes: ``mfcc``, a zoo name (an *untrained*
encoder: the random-network baseline), an exported model folder or a training run folder;
``label=spec`` names a column (default label: the spec, or the folder's name; a folder name that
clashes with another column becomes ``NAME (PATH)``, e.g. ``musicnn (runs/musicnn)`` beside the
untrained zoo ``musicnn``).

Embedding cache
---------------
For each model the distinct audio files of all tasks are embedded once (scene embeddings,
:meth:`~musicrep.embed.Embedder.files`) into the shared cache of :mod:`musicrep.embeddings`
(``cache_dir/<model>-<hash>.npz``, the same entries ``musicrep evaluate --model`` uses); the hash
covers the model (its name and seed, or for a folder the size and modification time of its
weights and config files), the sorted file list and the device. A later run with the same model
and files reuses the file without decoding any audio; a run that had failures retries only the
failed files. Timings of a reused cache are those of the run that computed it.

Scores
------
Each cell is the headline metric of the task (accuracy for single-label tasks, macro ROC-AUC for
tagging, EER for verification), as a percentage, mean ± std over the probe's repeated trainings
(``repeats``, seeds ``seed .. seed + repeats - 1``). For tasks evaluated by folds the std is that
of the fold-averaged score over repeats (``std_over_repeats``, what COALA reports for
UrbanSound8K); the std over folds is in ``results.json``.

Reproductions (``reference="coala"``)
-------------------------------------
:data:`~musicrep.benchmark.reproductions.REPRODUCTIONS`: a paper's tables beside ours and its
claims checked by stated rules (:mod:`musicrep.benchmark.reproductions.coala`: COALA's Tables 1
and 2, the models labelled ``ae_c``, ``e_c``, ``mfcc``, ``cnn``).

Modules
-------
:mod:`~musicrep.benchmark.tasks` (task registry, corpus and datasets),
:mod:`~musicrep.benchmark.models` (model columns), :mod:`~musicrep.benchmark.runner` (embed,
probe, correlate), :mod:`~musicrep.benchmark.report` and :mod:`~musicrep.benchmark.plot`
(report folder), :mod:`~musicrep.benchmark.scores` (display units and comparisons),
:mod:`~musicrep.benchmark.reproductions`.

Failures
--------
A model that cannot be loaded or embeds nothing, files that cannot be decoded, an evaluation or
the correlation analysis that fails: each is recorded in the report and ``results.json``, and the
rest goes on. :attr:`BenchmarkResult.ok` is False if anything failed (the CLI exits with 1).

Examples
--------
>>> result = run_benchmark(                                             # doctest: +SKIP
...     ["corpus-style", "corpus-tags"], ["mfcc", "rand=musicnn", "runs/hcnn"],
...     out="reports/bench", repeats=10)
>>> result.document["results"]["corpus-style"]["mfcc"]["result"]["metrics"]["accuracy"]["mean"]
"""

from musicrep.benchmark.models import ModelSpec, parse_models
from musicrep.benchmark.report import format_results, render_report
from musicrep.benchmark.reproductions import REPRODUCTIONS
from musicrep.benchmark.reproductions.coala import (
    COALA_TABLE1,
    COALA_TABLE2,
    Finding,
    coala_findings,
    coala_reference,
)
from musicrep.benchmark.runner import BenchmarkResult, run_benchmark
from musicrep.benchmark.scores import Score, compare
from musicrep.benchmark.tasks import CORPUS_TASKS, TASKS, TaskSpec, parse_tasks

__all__ = [
    "COALA_TABLE1",
    "COALA_TABLE2",
    "CORPUS_TASKS",
    "REPRODUCTIONS",
    "TASKS",
    "BenchmarkResult",
    "Finding",
    "ModelSpec",
    "Score",
    "TaskSpec",
    "coala_findings",
    "coala_reference",
    "compare",
    "format_results",
    "parse_models",
    "parse_tasks",
    "render_report",
    "run_benchmark",
]
