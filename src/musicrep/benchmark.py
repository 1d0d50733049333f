"""Benchmark: several models on several downstream tasks, one report.

:func:`run_benchmark` embeds the audio of every task with every model (the union of the tasks'
files, decoded once per model, cached), scores each task with a probe protocol
(:mod:`musicrep.evaluate`: ``coala`` or ``hear``) and writes a report folder::

    report.md, report.html   results table (tasks x models, mean ± std), one bar chart per
                             task, commands, versions, timings, failures
    results.json             everything: settings, per-repeat scores, timings, environment
    <task>.png               bar chart of the task's headline metric (error bars: std)
    cca/                     with ``cca=True``: musicrep.analysis.cca_report's output

Tasks
-----
``corpus-style``, ``corpus-instrument``, ``corpus-tags``
    The built-in corpus dataset's ``style.csv``, ``instrument.csv``, ``tags.csv``
    (:func:`musicrep.data.corpus.build_corpus`), built into ``corpus_dir`` unless a build is
    already there.
``path/to/manifest.csv`` (or a trials file)
    Any manifest; the task is named after the file stem.
``name=path/to/manifest.csv``
    The same, named.

Models
------
Anything :class:`musicrep.embed.Embedder` takes: ``mfcc``, a zoo name (an *untrained*
encoder: the random-network baseline), an exported model folder or a training run folder;
``label=spec`` names a column (default label: the spec, or the folder's name).

Embedding cache
---------------
For each model the distinct audio files of all tasks are embedded once (scene embeddings,
:meth:`~musicrep.embed.Embedder.files`) into ``cache_dir/<model>-<hash>.npz``; the hash covers
the model (its name and seed, or for a folder the size and modification time of its weights and
config files), the sorted file list and the embedding settings. A later run with the same model
and files reuses the file without decoding any audio; a run that had failures retries only the
failed files. Timings of a reused cache are those of the run that computed it.

Scores
------
Each cell is the headline metric of the task (accuracy for single-label tasks, macro ROC-AUC for
tagging, EER for verification), as a percentage, mean ± std over the probe's repeated trainings
(``repeats``, seeds ``seed .. seed + repeats - 1``). For tasks evaluated by folds the std is that
of the fold-averaged score over repeats (``std_over_repeats``, what COALA reports for
UrbanSound8K); the std over folds is in ``results.json``.

COALA reproduction (``reference="coala"``)
------------------------------------------
Adds the paper's Table 1 (:data:`COALA_TABLE1`, downstream accuracies of AE-C, E-C, MFCC and
CNN on NSynth, US8K and GTZAN) beside the models labelled ``ae_c``, ``e_c``, ``mfcc``, ``cnn``
(``--models ae_c=RUN1,e_c=RUN2,cnn=RUN3,mfcc=mfcc``), the paper's Table 2
(:data:`COALA_TABLE2`) beside the correlation analysis when ``cca=True``, and a "Findings"
section: each claim of the paper is checked by a rule on the numbers (:func:`coala_findings`),
applied to our numbers and, as a check of the rule, to the paper's.

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

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.errors import ConfigError, MusicrepError

__all__ = [
    "COALA_TABLE1",
    "COALA_TABLE2",
    "CORPUS_TASKS",
    "BenchmarkResult",
    "Finding",
    "ModelSpec",
    "Score",
    "TaskSpec",
    "coala_findings",
    "compare",
    "format_results",
    "parse_models",
    "parse_tasks",
    "render_report",
    "run_benchmark",
]

# ============================================================================ reference numbers
# The numbers of COALA (Favory et al. 2020, arXiv:2006.08386) live here and nowhere else.

#: Paper model names, in the order of the paper's claim AE-C > E-C > MFCC > CNN.
COALA_MODELS: tuple[str, ...] = ("AE-C", "E-C", "MFCC", "CNN")
#: Downstream tasks of COALA's Table 1.
COALA_TASKS: tuple[str, ...] = ("NSynth", "US8K", "GTZAN")
#: COALA Table 1: accuracy (%) as (mean, std) over 10 runs of the MLP probe. Means and stds
#: computed from the public repository's ``results/performances.json`` (xavierfav/coala); the
#: paper prints the means rounded to one decimal (e.g. E-C on US8K: 72.5).
COALA_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "AE-C": {"NSynth": (73.13, 1.22), "US8K": (72.68, 0.22), "GTZAN": (60.73, 1.06)},
    "E-C": {"NSynth": (69.53, 1.18), "US8K": (72.55, 0.21), "GTZAN": (58.93, 1.44)},
    "MFCC": {"NSynth": (62.56, 1.07), "US8K": (65.83, 0.31), "GTZAN": (49.79, 1.15)},
    "CNN": {"NSynth": (56.41, 0.66), "US8K": (48.39, 0.38), "GTZAN": (46.96, 0.79)},
}
#: What each Table 1 task is (instrument family, urban sound events, music genre).
COALA_TASK_KIND = {
    "NSynth": "instrument family",
    "US8K": "urban sound events",
    "GTZAN": "music genre",
}
#: COALA Table 2: mean canonical correlation between the audio embedding and the frame
#: statistics (mean, variance, skewness) of librosa descriptors, on validation clips of the
#: pre-training set. The paper has no MFCC-baseline row.
COALA_TABLE2: dict[str, dict[str, dict[str, float]]] = {
    "AE-C": {
        "mfcc": {"mean": 0.84, "var": 0.51, "skew": 0.42},
        "chroma": {"mean": 0.48, "var": 0.37, "skew": 0.40},
        "spectral_centroid": {"mean": 0.97, "var": 0.87, "skew": 0.80},
        "spectral_bandwidth": {"mean": 0.96, "var": 0.86, "skew": 0.84},
    },
    "E-C": {
        "mfcc": {"mean": 0.58, "var": 0.49, "skew": 0.39},
        "chroma": {"mean": 0.38, "var": 0.36, "skew": 0.32},
        "spectral_centroid": {"mean": 0.93, "var": 0.82, "skew": 0.76},
        "spectral_bandwidth": {"mean": 0.92, "var": 0.82, "skew": 0.81},
    },
    "CNN": {
        "mfcc": {"mean": 0.73, "var": 0.43, "skew": 0.32},
        "chroma": {"mean": 0.59, "var": 0.33, "skew": 0.48},
        "spectral_centroid": {"mean": 0.95, "var": 0.76, "skew": 0.74},
        "spectral_bandwidth": {"mean": 0.91, "var": 0.72, "skew": 0.80},
    },
}
COALA_DESCRIPTORS: tuple[str, ...] = ("mfcc", "chroma", "spectral_centroid", "spectral_bandwidth")
COALA_STATS: tuple[str, ...] = ("mean", "var", "skew")
COALA_CITATION = (
    "X. Favory, K. Drossos, T. Virtanen, X. Serra. COALA: Co-aligned autoencoders for learning "
    "semantically enriched audio representations. ICML 2020 Workshop on Self-supervision in "
    "Audio and Speech (arXiv:2006.08386)"
)
REFERENCES = ("coala",)

# ============================================================================ tasks and models

#: Built-in tasks: name -> manifest file of the corpus dataset.
CORPUS_TASKS: dict[str, str] = {
    "corpus-style": "style.csv",
    "corpus-instrument": "instrument.csv",
    "corpus-tags": "tags.csv",
}
#: Corpus build used when ``corpus_dir`` holds none and no size is given.
DEFAULT_CORPUS_CLIPS = 400
DEFAULT_CORPUS_SECONDS = 6.0
#: Metrics where lower is better.
LOWER_IS_BETTER = frozenset({"eer", "min_dcf"})
#: Display names of the metrics.
METRIC_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "eer": "EER",
    "min_dcf": "minDCF",
}
#: Metrics shown as fractions rather than percentages.
_FRACTION_METRICS = frozenset({"min_dcf"})
#: Headline and second metric per task type (as :data:`musicrep.evaluate.METRICS`).
TASK_METRICS = {
    "singlelabel": ("accuracy", "macro_f1"),
    "multilabel": ("roc_auc", "pr_auc"),
    "verification": ("eer", "min_dcf"),
}
#: Our tasks that stand in for COALA's (by name; the corpus tasks by what they classify).
_PAPER_TASK_PATTERNS = (
    ("NSynth", re.compile(r"nsynth", re.I)),
    ("US8K", re.compile(r"us8k|urbansound|urban[-_ ]?sound", re.I)),
    ("GTZAN", re.compile(r"gtzan", re.I)),
)
_CORPUS_ANALOGUES = {"corpus-instrument": "NSynth", "corpus-style": "GTZAN"}


@dataclass(frozen=True)
class TaskSpec:
    """One downstream task: a name and its manifest (or trials file).

    ``corpus_file`` is set for the built-in corpus tasks (the manifest is then
    ``corpus_dir / corpus_file``, resolved by :func:`run_benchmark`).
    """

    name: str
    manifest: Path | None = None
    corpus_file: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A model column: its label and the spec :class:`~musicrep.embed.Embedder` resolves."""

    label: str
    spec: str


def _split_list(items: str | Sequence[str]) -> list[str]:
    parts = [items] if isinstance(items, str) else list(items)
    out = []
    for p in parts:
        out += [x.strip() for x in str(p).split(",") if x.strip()]
    return out


def _split_label(text: str) -> tuple[str, str]:
    """``label=spec`` -> (label, spec); ``spec`` -> ("", spec). A path with ``=`` in a folder
    name is not split (the label may not contain a path separator)."""
    label, sep, spec = text.partition("=")
    if not sep or not label.strip() or "/" in label or os.sep in label:
        return "", text
    return label.strip(), spec.strip()


def _check_unique(names: list[str], what: str, hint: str) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"two {what} share the name(s) {', '.join(dupes)}", hint)


def parse_tasks(items: str | Sequence[str]) -> list[TaskSpec]:
    """Parse task names: ``corpus-style``..., ``path.csv``, ``name=path.csv`` (comma-separated).

    Raises
    ------
    ConfigError
        Unknown ``corpus-*`` name, a manifest that does not exist, duplicate names.
    """
    tasks = []
    for text in _split_list(items):
        label, spec = _split_label(text)
        if spec in CORPUS_TASKS and not Path(spec).exists():
            tasks.append(TaskSpec(label or spec, None, CORPUS_TASKS[spec]))
            continue
        if spec.startswith("corpus-") and not Path(spec).exists():
            raise ConfigError(
                f"unknown built-in task {spec!r}",
                f"built-in tasks: {', '.join(CORPUS_TASKS)}; or give a manifest CSV path",
            )
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(
                f"task {text!r}: manifest {path} not found",
                f"give a manifest CSV (path,labels,split), or a built-in task: "
                f"{', '.join(CORPUS_TASKS)}",
            )
        tasks.append(TaskSpec(label or path.stem, path))
    if not tasks:
        raise ConfigError("no tasks given", f"e.g. --tasks {','.join(CORPUS_TASKS)}")
    _check_unique([t.name for t in tasks], "tasks", "name them: --tasks NAME=path.csv")
    return tasks


def parse_models(items: str | Sequence[str]) -> list[ModelSpec]:
    """Parse model specs: ``mfcc``, ``hcnn``, ``runs/x``, ``label=spec`` (comma-separated).

    The default label is the spec itself for names and the folder's name for paths.
    """
    models = []
    for text in _split_list(items):
        label, spec = _split_label(text)
        if not spec:
            raise ConfigError(f"empty model spec in {text!r}")
        if not label:
            p = Path(spec.rstrip("/\\"))
            label = p.name if (os.sep in spec or "/" in spec or p.exists()) else spec
        models.append(ModelSpec(label, spec))
    if not models:
        raise ConfigError("no models given", "e.g. --models mfcc,hcnn,runs/my-run")
    _check_unique(
        [m.label for m in models], "models", "name them: --models LABEL=SPEC,LABEL2=SPEC2"
    )
    return models


# ============================================================================ numbers and rules


@dataclass(frozen=True)
class Score:
    """A score as shown in the tables: mean and std (display units), and its direction."""

    mean: float
    std: float
    higher_is_better: bool = True


def compare(a: Score, b: Score) -> str:
    """Is ``a`` better than ``b``? One of ``">"``, ``">="``, ``"<="``, ``"<"``.

    ``">"``: ``a`` is better by more than the combined spread ``sqrt(std_a^2 + std_b^2)``;
    ``">="``: better mean, within that spread; ``"<="`` / ``"<"`` the same the other way ("better"
    follows the metric's direction). Equal means count as ``">="``.
    """
    sign = 1.0 if a.higher_is_better else -1.0
    diff = sign * (a.mean - b.mean)
    noise = math.hypot(a.std, b.std)
    if diff > noise:
        return ">"
    if diff >= 0:
        return ">="
    if -diff > noise:
        return "<"
    return "<="


@dataclass
class Finding:
    """One claim of the paper checked on numbers.

    Attributes
    ----------
    key : str
        Identifier (``table1.coala_beats_mfcc``, ...).
    claim : str
        The claim, as the paper makes it.
    rule : str
        How the verdict is computed.
    verdict : str
        ``"holds"``, ``"partly holds"``, ``"does not hold"`` or ``"not testable"``.
    evidence : list of str
        The comparisons behind the verdict.
    """

    key: str
    claim: str
    rule: str
    verdict: str
    evidence: list[str] = field(default_factory=list)


_NOT_TESTABLE = "not testable"


def _fmt_score(s: Score) -> str:
    return f"{s.mean:.2f} ± {s.std:.2f}"


def _verdict(outcomes: Sequence[str], accept: Sequence[str]) -> str:
    if not outcomes:
        return _NOT_TESTABLE
    good = sum(o in accept for o in outcomes)
    if good == len(outcomes):
        return "holds"
    return "partly holds" if good else "does not hold"


def _pairwise_finding(
    key: str,
    claim: str,
    table: Mapping[str, Mapping[str, Score]],
    pairs: Sequence[tuple[str, str]],
    strict: bool,
) -> Finding:
    accept = (">",) if strict else (">", ">=")
    rule = (
        "on every task, the first model's mean exceeds the second's by more than "
        "sqrt(std1^2 + std2^2)"
        if strict
        else "on every task, the first model's mean is at least the second's (a lower mean "
        "counts against the claim even within the spread)"
    )
    outcomes, evidence = [], []
    for a, b in pairs:
        if a not in table or b not in table:
            continue
        for task in table[a]:
            if task not in table[b]:
                continue
            sa, sb = table[a][task], table[b][task]
            o = compare(sa, sb)
            outcomes.append(o)
            evidence.append(f"{task}: {a} {_fmt_score(sa)} {o} {b} {_fmt_score(sb)}")
    return Finding(key, claim, rule, _verdict(outcomes, accept), evidence)


def _close_finding(table: Mapping[str, Mapping[str, Score]]) -> Finding:
    claim = (
        "E-C comes close to AE-C: the contrastive objective alone gives most of the gain; the "
        "reconstruction adds little (most on NSynth, least on US8K)"
    )
    rule = (
        "on every task, |AE-C - E-C| is within sqrt(std1^2 + std2^2), or at most half of "
        "|AE-C - MFCC| (E-C keeps at least half of AE-C's gain over MFCC)"
    )
    outcomes, evidence = [], []
    if "AE-C" in table and "E-C" in table:
        for task, sa in table["AE-C"].items():
            se = table["E-C"].get(task)
            if se is None:
                continue
            gap = abs(sa.mean - se.mean)
            noise = math.hypot(sa.std, se.std)
            sm = table.get("MFCC", {}).get(task)
            gain = abs(sa.mean - sm.mean) if sm is not None else None
            close = gap <= noise or (gain is not None and gap <= 0.5 * gain)
            outcomes.append("close" if close else "far")
            extra = f", |AE-C - MFCC| {gain:.2f}" if gain is not None else ""
            evidence.append(
                f"{task}: |AE-C - E-C| {gap:.2f} (spread {noise:.2f}{extra}): "
                + ("close" if close else "not close")
            )
    return Finding(
        "table1.e_c_close_to_ae_c", claim, rule, _verdict(outcomes, ("close",)), evidence
    )


def _order_finding(table: Mapping[str, Mapping[str, Score]]) -> Finding:
    claim = "The ranking AE-C > E-C > MFCC > CNN holds on every downstream task"
    rule = "on every task, the four means are in this order (all four models needed)"
    outcomes, evidence = [], []
    if all(m in table for m in COALA_MODELS):
        tasks = [t for t in table["AE-C"] if all(t in table[m] for m in COALA_MODELS)]
        for task in tasks:
            scores = [table[m][task] for m in COALA_MODELS]
            sign = 1.0 if scores[0].higher_is_better else -1.0
            ok = all(sign * (x.mean - y.mean) > 0 for x, y in zip(scores, scores[1:]))
            ranked = sorted(COALA_MODELS, key=lambda m: -sign * table[m][task].mean)
            outcomes.append("yes" if ok else "no")
            evidence.append(f"{task}: {' > '.join(ranked)}")
    return Finding("table1.ranking", claim, rule, _verdict(outcomes, ("yes",)), evidence)


def _cells(table2: Mapping[str, Mapping[str, Mapping[str, float | None]]], model: str):
    return {
        (d, s): v
        for d, stats in table2.get(model, {}).items()
        for s, v in stats.items()
        if s in COALA_STATS and v is not None
    }


def _table2_findings(
    table2: Mapping[str, Mapping[str, Mapping[str, float | None]]] | None,
) -> list[Finding]:
    t2 = table2 or {}
    ae = _cells(t2, "AE-C")
    out = []

    # 1. AE structure -> higher correlation with the descriptors
    claim = (
        "Embeddings of the model with the autoencoder structure (AE-C) correlate more with the "
        "acoustic descriptors than those without (E-C, CNN)"
    )
    rule = (
        "AE-C is higher in more than half of the descriptor x statistic cells than E-C, and "
        "than CNN (holds: against every model present; partly: against some)"
    )
    outcomes, evidence = [], []
    for other in ("E-C", "CNN"):
        oc = _cells(t2, other)
        common = [c for c in ae if c in oc]
        if not ae or not common:
            continue
        wins = sum(ae[c] > oc[c] for c in common)
        outcomes.append("yes" if wins * 2 > len(common) else "no")
        evidence.append(f"AE-C > {other} in {wins} of {len(common)} cells")
    out.append(
        Finding("table2.ae_correlates_more", claim, rule, _verdict(outcomes, ("yes",)), evidence)
    )

    # 2. largest gain on the MFCC means
    claim = (
        "The reconstruction objective increases the correlation most with the MFCC means (timbre)"
    )
    rule = "the largest AE-C - E-C difference over all cells is on (MFCCs, mean)"
    ec = _cells(t2, "E-C")
    common = [c for c in ae if c in ec]
    evidence, outcomes = [], []
    if common and ("mfcc", "mean") in common:
        gains = {c: ae[c] - ec[c] for c in common}
        best = max(gains, key=lambda c: gains[c])
        outcomes.append("yes" if best == ("mfcc", "mean") else "no")
        evidence.append(
            f"AE-C - E-C on (mfcc, mean): {gains[('mfcc', 'mean')]:+.2f}; largest: "
            f"{best[0]} {best[1]} {gains[best]:+.2f}"
        )
    out.append(
        Finding(
            "table2.largest_gain_mfcc_mean", claim, rule, _verdict(outcomes, ("yes",)), evidence
        )
    )

    # 3. variance / skewness gain little
    claim = (
        "Correlations with the variance and skewness of the descriptors (temporal cues) increase "
        "much less than with the means"
    )
    rule = (
        "the average AE-C - E-C difference over the var/skew cells is below half of that over "
        "the mean cells, and the latter is positive"
    )
    evidence, outcomes = [], []
    means = [ae[c] - ec[c] for c in common if c[1] == "mean"]
    others = [ae[c] - ec[c] for c in common if c[1] != "mean"]
    if means and others:
        gm, go = float(np.mean(means)), float(np.mean(others))
        outcomes.append("yes" if gm > 0 and go < 0.5 * gm else "no")
        evidence.append(f"average AE-C - E-C: means {gm:+.3f}, var/skew {go:+.3f}")
    out.append(
        Finding("table2.temporal_gain_small", claim, rule, _verdict(outcomes, ("yes",)), evidence)
    )
    return out


def coala_findings(
    table1: Mapping[str, Mapping[str, Score]],
    table2: Mapping[str, Mapping[str, Mapping[str, float | None]]] | None = None,
) -> list[Finding]:
    """Check COALA's claims on a table of numbers.

    Parameters
    ----------
    table1 : mapping
        ``{paper model ("AE-C", "E-C", "MFCC", "CNN"): {task: Score}}``: downstream scores in
        display units (any tasks; a claim about "every task" uses all tasks both models have).
    table2 : mapping, optional
        ``{paper model: {descriptor: {"mean"|"var"|"skew": similarity}}}``, descriptors as in
        :data:`COALA_TABLE2`.

    Returns
    -------
    list of Finding
        Table 1 claims (AE-C and E-C beat MFCC; CNN is the worst; AE-C >= E-C; E-C close to
        AE-C; the full ranking) then Table 2 claims (AE-C correlates more; the largest gain is on
        the MFCC means; var/skew gain less). A claim whose models are missing is
        ``"not testable"``.

    Examples
    --------
    >>> paper = {m: {t: Score(*v) for t, v in row.items()} for m, row in COALA_TABLE1.items()}
    >>> [f.verdict for f in coala_findings(paper, COALA_TABLE2)]
    ['holds', 'holds', 'holds', 'holds', 'holds', 'holds', 'holds', 'holds']
    """
    findings = [
        _pairwise_finding(
            "table1.coala_beats_mfcc",
            "AE-C and E-C embeddings beat the MFCC baseline on every task",
            table1,
            [("AE-C", "MFCC"), ("E-C", "MFCC")],
            strict=True,
        ),
        _pairwise_finding(
            "table1.cnn_worst",
            "The supervised tag-prediction CNN is the worst: it does not even reach the MFCCs",
            table1,
            [("MFCC", "CNN"), ("E-C", "CNN"), ("AE-C", "CNN")],
            strict=True,
        ),
        _pairwise_finding(
            "table1.ae_c_at_least_e_c",
            "AE-C (with reconstruction) consistently leads to better results than E-C",
            table1,
            [("AE-C", "E-C")],
            strict=False,
        ),
        _close_finding(table1),
        _order_finding(table1),
    ]
    return findings + _table2_findings(table2)


def paper_model(label: str) -> str | None:
    """The COALA model a label stands for (``ae_c``/``AE-C`` -> ``"AE-C"``...), or None."""
    key = re.sub(r"[^a-z0-9]", "", label.lower())
    return {"aec": "AE-C", "ec": "E-C", "cnn": "CNN", "mfcc": "MFCC", "mfccs": "MFCC"}.get(key)


def paper_task(name: str) -> str | None:
    """The COALA task (``NSynth``, ``US8K``, ``GTZAN``) a task name matches or stands in for."""
    if name in _CORPUS_ANALOGUES:
        return _CORPUS_ANALOGUES[name]
    for task, pattern in _PAPER_TASK_PATTERNS:
        if pattern.search(name):
            return task
    return None


# ============================================================================ running


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` did.

    Attributes
    ----------
    document : dict
        The content of ``results.json``.
    paths : dict of str to Path
        ``"md"``, ``"html"``, ``"json"`` and one PNG per task (key: the task name).
    ok : bool
        False if a model, a file, an evaluation or the correlation analysis failed.
    """

    document: dict[str, Any]
    paths: dict[str, Path]
    ok: bool


def _slug(text: str, n: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:n] or "x"


def _stamp(path: Path) -> list:
    """Size and mtime of the files that define a model folder (weights, configs)."""
    if path.is_file():
        files = [path]
    else:
        patterns = ("*.json", "*.yaml", "*.safetensors", "*.ckpt", "checkpoints/*.ckpt")
        files = sorted({f for pat in patterns for f in path.glob(pat) if f.is_file()})
    return [
        [
            f.relative_to(path).as_posix() if path.is_dir() else f.name,
            f.stat().st_size,
            f.stat().st_mtime_ns,
        ]
        for f in files
    ]


def embedding_cache_key(
    model: ModelSpec, files: Sequence[Path], *, seed: int, settings: Mapping[str, Any]
) -> str:
    """``<model name>-<hash>``: the cache entry of ``files`` embedded with ``model``.

    The hash covers the model (its spec and seed; for a folder or file its absolute path and the
    size and modification time of its weights and config files, so retraining or re-exporting
    makes a new entry), the sorted absolute file paths and ``settings`` (e.g. the device); not
    the label, so the same model under another label reuses the entry.
    """
    p = Path(model.spec)
    ident: Any = {"spec": model.spec, "seed": seed}
    if p.exists():
        ident = {"path": os.path.abspath(p), "files": _stamp(p)}
    payload = json.dumps(
        {
            "model": ident,
            "files": sorted(os.path.abspath(f) for f in files),
            "settings": dict(settings),
            "version": 1,
        },
        sort_keys=True,
        default=str,
    )
    name = p.resolve().name if p.exists() else model.spec
    return f"{_slug(name, 40)}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def _error_text(exc: BaseException) -> str:
    """One line: the message (and hint) of a musicrep error, else ``Type: message``."""
    text = str(exc) if isinstance(exc, MusicrepError) else f"{type(exc).__name__}: {exc}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _embed_model(
    model: ModelSpec,
    files: list[Path],
    cache_dir: Path,
    *,
    seed: int,
    batch_size: int,
    device: str,
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Embed ``files`` with ``model`` into the cache (or reuse it); a JSON-ready entry."""
    from musicrep.utils import write_json_atomic, write_text_atomic

    entry: dict[str, Any] = {"label": model.label, "spec": model.spec, "status": "ok"}
    key = embedding_cache_key(model, files, seed=seed, settings={"device": device})
    npz, meta_path = cache_dir / f"{key}.npz", cache_dir / f"{key}.json"
    failed_log = cache_dir / f"{key}.failed.txt"
    entry.update(cache_key=key, embeddings=str(npz))
    if npz.is_file() and meta_path.is_file() and not failed_log.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            meta = None
        if meta is not None:
            entry.update({k: meta[k] for k in meta if k not in ("label", "spec")})
            entry["cached"] = True
            log(f"{model.label}: reusing cached embeddings {npz}")
            return entry
    from musicrep.embed import Embedder

    t0 = time.perf_counter()
    try:
        embedder = Embedder(model.spec, batch_size=batch_size, seed=seed, device=device)
    except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the others
        entry.update(status="failed", error=_error_text(exc))
        if not isinstance(exc, MusicrepError):
            entry["traceback"] = traceback.format_exc(limit=8)
        log(f"{model.label}: cannot load {model.spec}: {entry['error']}")
        return entry
    load_seconds = time.perf_counter() - t0
    log(f"{model.label}: embedding {len(files)} file(s) with {embedder!r}")
    try:
        report = embedder.files(
            [str(f) for f in files], cache_dir / key, combine=npz, progress=progress
        )
    except Exception as exc:  # noqa: BLE001
        entry.update(status="failed", error=_error_text(exc))
        if not isinstance(exc, MusicrepError):
            entry["traceback"] = traceback.format_exc(limit=8)
        log(f"{model.label}: embedding failed: {entry['error']}")
        return entry
    failures = [(str(p), r) for p, r in report.failed]
    n_ok = len(report.outputs)
    meta = {
        "model_name": embedder.name,
        "embed_dim": embedder.embed_dim,
        "sample_rate": embedder.sample_rate,
        "window_seconds": embedder.window_seconds,
        "files": len(files),
        "embedded": n_ok,
        "load_seconds": load_seconds,
        "embed_seconds": report.elapsed,
        "audio_seconds": report.audio_seconds,
        "files_written": len(report.written),
        "files_reused": len(report.skipped),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    entry.update(meta, cached=False, failed_files=[{"path": p, "reason": r} for p, r in failures])
    if failures:
        write_text_atomic(failed_log, "".join(f"{p}\t{r}\n" for p, r in failures))
        entry["status"] = "partial" if n_ok else "failed"
        first = f"{failures[0][0]}: {failures[0][1]}"
        entry["error"] = (
            f"{len(failures)} of {len(files)} file(s) could not be embedded, e.g. {first}"
        )
        log(f"{model.label}: {entry['error']}")
    else:
        if failed_log.exists():
            failed_log.unlink()
        write_json_atomic(meta_path, meta)
    return entry


def _task_manifest(task: TaskSpec, corpus_dir: Path | None) -> Path:
    if task.corpus_file is not None:
        assert corpus_dir is not None
        return corpus_dir / task.corpus_file
    assert task.manifest is not None
    return task.manifest


def _prepare_corpus(
    corpus_dir: Path,
    clips: int | None,
    seconds: float | None,
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Reuse the corpus build in ``corpus_dir``, or build one."""
    meta_path = corpus_dir / "metadata.json"
    manifests = [corpus_dir / f for f in CORPUS_TASKS.values()]
    if meta_path.is_file() and all(m.is_file() for m in manifests):
        try:
            cfg = json.loads(meta_path.read_text(encoding="utf-8")).get("config", {})
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{meta_path} is unreadable ({exc})", "delete the folder") from None
        have = (cfg.get("clips"), cfg.get("seconds"))
        if None in have:
            raise ConfigError(
                f"{meta_path} does not say how the corpus was built (no config.clips/seconds)",
                "rebuild it: musicrep data corpus --out DIR, or pass another --corpus-dir",
            )
        want_clips = have[0] if clips is None else clips
        want_seconds = have[1] if seconds is None else seconds
        if have[0] != want_clips or not math.isclose(float(have[1]), float(want_seconds)):
            raise ConfigError(
                f"{corpus_dir} holds a corpus of {have[0]} clips x {have[1]} s, not "
                f"{want_clips} x {want_seconds} s",
                "pass another --corpus-dir for a new build (rebuilding in place would delete "
                "the clips other reports were made from), or drop --clips/--seconds to use it",
            )
        log(f"corpus: reusing {corpus_dir} ({have[0]} clips x {have[1]} s)")
        return {
            "dir": str(corpus_dir),
            "clips": have[0],
            "seconds": have[1],
            "built": False,
            "config": cfg,
        }
    from musicrep.data.corpus import build_corpus

    n = DEFAULT_CORPUS_CLIPS if clips is None else clips
    s = DEFAULT_CORPUS_SECONDS if seconds is None else seconds
    log(f"corpus: building {n} clips x {s:g} s in {corpus_dir}")
    summary = build_corpus(corpus_dir, clips=n, seconds=s, progress=progress, log=log)
    info = {
        "dir": str(corpus_dir),
        "clips": summary.clips,
        "seconds": summary.seconds,
        "built": True,
        "build_seconds": summary.elapsed,
    }
    if summary.failures:
        info["failures"] = [{"clip": i, "reason": r} for i, r in summary.failures]
    return info


def _cell_score(metric: Mapping[str, Any], name: str) -> Score:
    scale = 1.0 if name in _FRACTION_METRICS else 100.0
    std = metric.get("std_over_repeats", metric["std"])
    return Score(scale * metric["mean"], scale * std, name not in LOWER_IS_BETTER)


def _as_specs(items, cls, parse):
    """Strings parsed with ``parse``; ``cls`` instances kept; order kept."""
    if isinstance(items, str):
        return parse(items)
    out = []
    for item in items:
        out += [item] if isinstance(item, cls) else parse(item)
    if not out:
        parse([])  # raises the "nothing given" error
    return out


def run_benchmark(
    tasks: str | Sequence[str | TaskSpec],
    models: str | Sequence[str | ModelSpec],
    out: str | os.PathLike,
    *,
    protocol: str = "coala",
    repeats: int = 10,
    seed: int = 0,
    corpus_dir: str | os.PathLike = "data/corpus",
    clips: int | None = None,
    seconds: float | None = None,
    cache_dir: str | os.PathLike | None = None,
    reference: str | None = None,
    cca: bool = False,
    cca_task: str | None = None,
    cca_clips: int = 300,
    cca_method: str = "svcca",
    cca_split: str | None = "test",
    batch_size: int = 16,
    device: str = "cpu",
    grid: str = "default",
    title: str | None = None,
    command: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BenchmarkResult:
    """Embed, evaluate and report (see the module docstring).

    Parameters
    ----------
    tasks : str or sequence
        Task names (:func:`parse_tasks`) or :class:`TaskSpec`.
    models : str or sequence
        Model specs (:func:`parse_models`) or :class:`ModelSpec`.
    out : path
        Report folder (created; its files are replaced one by one, atomically).
    protocol : {"coala", "hear"}
        Probe protocol of :func:`musicrep.evaluate.evaluate_embeddings`.
    repeats, seed : int
        Probe trainings per partition and the first seed (also the seed of untrained zoo
        encoders and of the correlation analysis).
    corpus_dir : path
        Where the corpus tasks' dataset is (reused if present) or is built.
    clips, seconds : optional
        Size of a new corpus build (default 400 x 6 s); with an existing build, they must match
        it (ConfigError otherwise: rebuilding in place would delete its clips).
    cache_dir : path, optional
        Embedding cache (default: ``.musicrep-cache`` beside ``out``, as ``musicrep evaluate``).
    reference : {"coala"}, optional
        Add COALA's tables and the findings.
    cca : bool
        Run :func:`musicrep.analysis.cca_report.run_cca_report` on the test split of
        ``cca_task`` (default: the first task) with every embedded model, into ``out/cca``.
        The embeddings come from the cache (no audio is embedded again); the descriptors are
        computed from the audio.
    cca_clips, cca_method, cca_split
        Its ``max_clips``, ``method`` and ``split`` (``None``: every row of the manifest).
    batch_size, device
        Embedder settings.
    grid : str
        hear grid preset (``protocol="hear"`` only).
    title : str, optional
        Report title.
    command : str, optional
        The command line that ran this (recorded in the report).
    progress : bool
        Progress bars on stderr.
    log : callable, optional
        Receives status lines (default: stderr).

    Returns
    -------
    BenchmarkResult
    """
    from musicrep.data.manifest import Manifest
    from musicrep.evaluate import evaluate
    from musicrep.probes import PROTOCOLS, is_trials_file, read_trials
    from musicrep.utils import environment_info
    from musicrep.utils import progress as progress_bar

    t_start = time.perf_counter()
    log = log or (lambda msg: print(f"musicrep: {msg}", file=sys.stderr))
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}", f"use one of {', '.join(PROTOCOLS)}")
    if int(repeats) != repeats or repeats < 1:
        raise ConfigError(f"repeats must be a positive integer; got {repeats!r}")
    if reference is not None and reference not in REFERENCES:
        raise ConfigError(f"unknown reference {reference!r}", f"use one of {', '.join(REFERENCES)}")
    task_specs = _as_specs(tasks, TaskSpec, parse_tasks)
    model_specs = _as_specs(models, ModelSpec, parse_models)
    _check_unique([t.name for t in task_specs], "tasks", "name them: --tasks NAME=path.csv")
    _check_unique([m.label for m in model_specs], "models", "name them: --models LABEL=SPEC")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} exists and is not a folder")
    cache = Path(cache_dir) if cache_dir is not None else out_dir.parent / ".musicrep-cache"
    if cca and cca_task is not None and cca_task not in [t.name for t in task_specs]:
        raise ConfigError(
            f"--cca-task {cca_task!r} is not one of the tasks",
            f"tasks: {', '.join(t.name for t in task_specs)}",
        )

    # ---------------------------------------------------------------- data
    corpus_info = None
    cdir = Path(corpus_dir)
    if any(t.corpus_file for t in task_specs):
        corpus_info = _prepare_corpus(cdir, clips, seconds, progress, log)
    task_entries: list[dict[str, Any]] = []
    loaded: dict[str, Any] = {}
    for t in task_specs:
        path = _task_manifest(t, cdir)
        if is_trials_file(path):
            m = read_trials(path)
            files, ttype = m.files(), "verification"
        else:
            m = Manifest.read(path)
            if len(m) == 0:
                raise ConfigError(f"{path}: the manifest has no rows")
            files = list(dict.fromkeys(r.path for r in m))
            ttype = "multilabel" if m.is_multilabel else "singlelabel"
        loaded[t.name] = m
        task_entries.append(
            {
                "name": t.name,
                "manifest": str(path),
                "type": ttype,
                "rows": len(m),
                "files": len(files),
                "metrics": list(TASK_METRICS[ttype]),
                "builtin": t.corpus_file is not None,
                "_files": files,
            }
        )
    union = list(dict.fromkeys(f for e in task_entries for f in e.pop("_files")))
    log(
        f"{len(task_entries)} task(s), {len(union)} distinct audio file(s), "
        f"{len(model_specs)} model(s)"
    )

    # ---------------------------------------------------------------- embed
    model_entries = []
    for ms in model_specs:
        model_entries.append(
            _embed_model(
                ms,
                union,
                cache,
                seed=seed,
                batch_size=batch_size,
                device=device,
                progress=progress,
                log=log,
            )
        )

    # ---------------------------------------------------------------- evaluate
    from musicrep.embeddings import load_embeddings

    results: dict[str, dict[str, Any]] = {t["name"]: {} for t in task_entries}
    usable = [e for e in model_entries if e["status"] != "failed"]
    bar = progress_bar(
        total=len(task_entries) * len(usable),
        desc="evaluate",
        unit="cell",
        disable=None if progress else True,
    )
    with bar:
        for entry in model_entries:
            if entry["status"] == "failed":
                for t in task_entries:
                    results[t["name"]][entry["label"]] = {
                        "status": "failed",
                        "error": f"model failed: {entry.get('error')}",
                    }
                continue
            try:
                paths, X = load_embeddings(entry["embeddings"])
            except MusicrepError as exc:
                entry.update(status="failed", error=_error_text(exc))
                log(f"{entry['label']}: unusable embeddings: {entry['error']}")
                for t in task_entries:
                    results[t["name"]][entry["label"]] = {
                        "status": "failed",
                        "error": f"model failed: {entry['error']}",
                    }
                    bar.update(1)
                continue
            for t in task_entries:
                t0 = time.perf_counter()
                options: dict[str, Any] = {"grid": grid} if protocol == "hear" else {}
                try:
                    r = evaluate(
                        (paths, X),
                        loaded[t["name"]],
                        protocol=protocol,
                        repeats=repeats,
                        seed=seed,
                        progress=progress,
                        **options,
                    )
                except Exception as exc:  # noqa: BLE001 - a failed cell must not stop the rest
                    cell = {"status": "failed", "error": _error_text(exc)}
                    if not isinstance(exc, MusicrepError):
                        cell["traceback"] = traceback.format_exc(limit=8)
                    log(f"{entry['label']} on {t['name']}: evaluation failed: {cell['error']}")
                else:
                    cell = {"status": "ok", "result": r.to_dict()}
                    prim = r.primary
                    s = _cell_score(r.metrics[prim], prim)
                    log(f"{entry['label']} on {t['name']}: {METRIC_LABELS[prim]} {_fmt_score(s)}")
                cell["seconds"] = time.perf_counter() - t0
                results[t["name"]][entry["label"]] = cell
                bar.update(1)

    # ---------------------------------------------------------------- correlation analysis
    cca_doc = None
    if cca:
        cca_doc = _run_cca(
            task_entries,
            model_entries,
            cca_task,
            out_dir,
            cca_clips,
            cca_method,
            cca_split,
            seed,
            batch_size,
            device,
            progress,
            log,
        )

    document: dict[str, Any] = {
        "format": "musicrep.benchmark",
        "format_version": 1,
        "title": title or f"musicrep benchmark: {', '.join(t['name'] for t in task_entries)}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": command,
        "cwd": os.getcwd(),
        "out": str(out_dir),
        "settings": {
            "protocol": protocol,
            "repeats": repeats,
            "seed": seed,
            "grid": grid if protocol == "hear" else None,
            "batch_size": batch_size,
            "device": device,
            "cache_dir": str(cache),
            "corpus_dir": str(cdir) if corpus_info else None,
            "reference": reference,
            "cca": cca,
            "cca_clips": cca_clips if cca else None,
            "cca_method": cca_method if cca else None,
            "cca_split": cca_split if cca else None,
        },
        "environment": environment_info(),
        "corpus": corpus_info,
        "tasks": task_entries,
        "models": model_entries,
        "results": results,
        "cca": cca_doc,
    }
    if reference == "coala":
        document["reference"] = coala_reference(document)
    document["failures"] = _failures(document)
    document["wall_seconds"] = time.perf_counter() - t_start
    paths = render_report(document, out_dir)
    log(
        f"report: {paths['md']} ({paths['html'].name}, results.json, "
        f"{len(task_entries)} chart(s)) in {document['wall_seconds']:.1f} s"
    )
    return BenchmarkResult(document, paths, ok=not document["failures"])


def _run_cca(
    task_entries,
    model_entries,
    cca_task,
    out_dir,
    cca_clips,
    method,
    split,
    seed,
    batch_size,
    device,
    progress,
    log,
) -> dict[str, Any]:
    """The correlation analysis of every embedded model on one task (its ``split``)."""
    from musicrep.analysis.cca_report import EmbeddingSource, run_cca_report

    task = next((t for t in task_entries if t["name"] == cca_task), task_entries[0])
    doc: dict[str, Any] = {"task": task["name"], "manifest": task["manifest"], "split": split}
    sources = [
        EmbeddingSource(e["label"], "file", e["embeddings"])
        for e in model_entries
        if e["status"] != "failed"
    ]
    if task["type"] == "verification":
        doc.update(status="failed", error="the correlation analysis needs a manifest, not trials")
        return doc
    if not sources:
        doc.update(status="failed", error="no model produced embeddings")
        return doc
    log(f"correlation analysis on {task['name']} ({split or 'all'} split)")
    try:
        rep = run_cca_report(
            task["manifest"],
            embeddings=sources,
            out=out_dir / "cca",
            split=split,
            max_clips=cca_clips,
            method=method,
            seed=seed,
            batch_size=batch_size,
            device=device,
            show_progress=progress,
            log=log,
        )
    except Exception as exc:  # noqa: BLE001
        doc.update(status="failed", error=_error_text(exc))
        log(f"correlation analysis failed: {doc['error']}")
        return doc
    doc.update(
        status="ok" if not rep.failures else "partial",
        n_clips=rep.n_clips,
        method=rep.document["settings"]["method"],
        method_description=rep.document["settings"]["method_description"],
        results={
            label: {
                d: {g: v.get("similarity") for g, v in groups.items()}
                for d, groups in descs.items()
            }
            for label, descs in rep.results.items()
        },
        baselines={
            label: {
                d: {g: v.get("baseline_mean") for g, v in groups.items()}
                for d, groups in descs.items()
            }
            for label, descs in rep.results.items()
        },
        failures=rep.failures,
        files={k: str(Path(v).relative_to(out_dir)) for k, v in rep.paths.items()},
    )
    return doc


def coala_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    """The COALA comparison of a benchmark document: mapping, our tables, findings."""
    mapping = {e["label"]: paper_model(e["label"]) for e in document["models"]}
    mapping = {k: v for k, v in mapping.items() if v}
    ours: dict[str, dict[str, Score]] = {}
    for label, pm in mapping.items():
        for t in document["tasks"]:
            cell = document["results"][t["name"]].get(label, {})
            if cell.get("status") != "ok":
                continue
            prim = t["metrics"][0]
            m = cell["result"]["metrics"][prim]
            ours.setdefault(pm, {})[t["name"]] = _cell_score(m, prim)
    ours_t2 = None
    cca_doc = document.get("cca") or {}
    if cca_doc.get("results"):
        ours_t2 = {
            pm: cca_doc["results"][label]
            for label, pm in mapping.items()
            if label in cca_doc["results"]
        }
    paper_t1 = {m: {t: Score(*v) for t, v in row.items()} for m, row in COALA_TABLE1.items()}
    paper_findings = {f.key: f for f in coala_findings(paper_t1, COALA_TABLE2)}
    findings = []
    for f in coala_findings(ours, ours_t2):
        p = paper_findings[f.key]
        findings.append(
            {
                "key": f.key,
                "claim": f.claim,
                "rule": f.rule,
                "verdict": f.verdict,
                "evidence": f.evidence,
                "paper_verdict": p.verdict,
                "paper_evidence": p.evidence,
            }
        )
    return {
        "name": "coala",
        "citation": COALA_CITATION,
        "model_map": mapping,
        "task_map": {t["name"]: paper_task(t["name"]) for t in document["tasks"]},
        "table1": {m: {t: list(v) for t, v in row.items()} for m, row in COALA_TABLE1.items()},
        "table2": COALA_TABLE2,
        "ours_table1": {
            pm: {t: [s.mean, s.std] for t, s in row.items()} for pm, row in ours.items()
        },
        "findings": findings,
    }


def _failures(document: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for e in document["models"]:
        if e["status"] != "ok":
            out.append({"what": f"model {e['label']} ({e['spec']})", "error": e.get("error", "")})
    failed_models = {e["label"] for e in document["models"] if e["status"] == "failed"}
    for task, cells in document["results"].items():
        for label, cell in cells.items():
            if cell["status"] != "ok" and label not in failed_models:
                out.append({"what": f"{label} on {task}", "error": cell.get("error", "")})
    c = document.get("cca")
    if c and c.get("status") != "ok":
        err = c.get("error") or f"{len(c.get('failures', []))} clip(s) could not be analysed"
        out.append({"what": "correlation analysis", "error": err})
    if document.get("corpus") and document["corpus"].get("failures"):
        n = len(document["corpus"]["failures"])
        out.append({"what": "corpus build", "error": f"{n} clip(s) could not be rendered"})
    return out


# ============================================================================ report


def _metric_unit(name: str) -> str:
    return METRIC_LABELS[name] + ("" if name in _FRACTION_METRICS else " (%)")


def _plot_task(document: Mapping[str, Any], task: Mapping[str, Any], path: Path) -> None:
    """Bar chart of one task's headline metric per model, error bars = std."""
    from matplotlib.figure import Figure

    from musicrep.utils import atomic_path

    prim = task["metrics"][0]
    labels, means, stds, failed = [], [], [], []
    for e in document["models"]:
        cell = document["results"][task["name"]].get(e["label"], {})
        labels.append(e["label"])
        if cell.get("status") == "ok":
            s = _cell_score(cell["result"]["metrics"][prim], prim)
            means.append(s.mean)
            stds.append(s.std)
            failed.append(False)
        else:
            means.append(float("nan"))
            stds.append(float("nan"))
            failed.append(True)
    fig = Figure(figsize=(max(4.0, 1.1 * len(labels) + 1.5), 3.6))
    ax = fig.subplots()
    x = np.arange(len(labels))
    colors = [f"C{i % 10}" for i in range(len(labels))]
    bars = ax.bar(x, means, yerr=stds, capsize=4, color=colors, edgecolor="black", linewidth=0.5)
    tops = [m + s for m, s, f in zip(means, stds, failed) if not f]
    top = max(tops) if tops and max(tops) > 0 else (1.0 if prim in _FRACTION_METRICS else 100.0)
    for b, m, s, f in zip(bars, means, stds, failed):
        text = "failed" if f else f"{m:.1f}" if prim not in _FRACTION_METRICS else f"{m:.3f}"
        ax.text(
            b.get_x() + b.get_width() / 2,
            (0 if f else m + s) + 0.01 * top,
            text,
            ha="center",
            va="bottom",
            fontsize=8,
            color="crimson" if f else "black",
        )
    ax.set_xticks(x)
    ax.set_xticklabels(
        labels, rotation=20 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center"
    )
    chance = _chance_level(document, task)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", linewidth=1, zorder=0)
        ax.annotate(
            f"chance {chance:.1f}",
            (1.0, chance),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
            color="dimgray",
            zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    ax.set_ylabel(_metric_unit(prim))
    chance_top = 0.0 if chance is None else chance
    limit = 1.15 * max(top, chance_top)
    ax.set_ylim(0, limit if prim in _FRACTION_METRICS else min(100.0, limit))
    ax.set_title(
        f"{task['name']}: {METRIC_LABELS[prim]} "
        f"({'lower' if prim in LOWER_IS_BETTER else 'higher'} is better)",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)


def _chance_level(document: Mapping[str, Any], task: Mapping[str, Any]) -> float | None:
    """Score of guessing, in display units: 100 / classes (accuracy), 50 (ROC-AUC)."""
    prim = task["metrics"][0]
    if prim == "roc_auc":
        return 50.0
    if prim == "eer":
        return 50.0
    if prim != "accuracy":
        return None
    for cell in document["results"][task["name"]].values():
        classes = cell.get("result", {}).get("classes")
        if cell.get("status") == "ok" and classes:
            return 100.0 / len(classes)
    return None


def _best(scores: Mapping[str, Score]) -> set[str]:
    """Labels whose score is the best or within noise of it (``compare`` is not ``"<"``)."""
    if not scores:
        return set()
    top = max(scores, key=lambda k: scores[k].mean * (1 if scores[k].higher_is_better else -1))
    return {k for k, s in scores.items() if k == top or compare(s, scores[top]) != "<"}


def _command_lines(document: Mapping[str, Any]) -> list[str]:
    """Commands that redo each step on its own."""
    s = document["settings"]
    q = shlex.quote
    lines = []
    c = document.get("corpus")
    if c:
        lines += [
            "# the corpus dataset",
            f"musicrep data corpus --out {q(c['dir'])} --clips {c['clips']} "
            f"--seconds {c['seconds']:g}",
        ]
    probe = f"--protocol {s['protocol']} --repeats {s['repeats']} --seed {s['seed']}"
    if s["protocol"] == "hear":
        probe += f" --grid {s['grid']}"
    for e in document["models"]:
        lines.append(
            f"# {e['label']}: embed + evaluate each task (cached embeddings: {e['embeddings']})"
            if e["status"] != "failed"
            else f"# {e['label']}"
        )
        for t in document["tasks"]:
            lines.append(
                f"musicrep evaluate --model {q(e['spec'])} --manifest {q(t['manifest'])} {probe}"
                + ("" if s["device"] == "cpu" else f" --device {q(s['device'])}")
            )
    cd = document.get("cca")
    if cd and cd.get("manifest"):
        args = " ".join(
            f"--embeddings {q(e['label'] + '=' + e['embeddings'])}"
            for e in document["models"]
            if e["status"] != "failed"
        )
        lines += [
            "# correlation with descriptors",
            f"musicrep analyze cca {args} --manifest {q(cd['manifest'])} "
            + (f"--split {cd['split']} " if cd.get("split") else "")
            + f"--max-clips {s['cca_clips']} --method {s['cca_method']} --seed {s['seed']} "
            f"--out {q(str(Path(document['out']) / 'cca'))}",
        ]
    return lines


def format_results(document: Mapping[str, Any]) -> str:
    """The headline table as plain text (tasks x models, mean ± std), for a terminal."""
    labels = [m["label"] for m in document["models"]]
    rows = [["task", "metric", *labels]]
    for t in document["tasks"]:
        prim = t["metrics"][0]
        row = [t["name"], _metric_unit(prim)]
        for label in labels:
            cell = document["results"][t["name"]].get(label, {})
            if cell.get("status") == "ok":
                row.append(_fmt_score(_cell_score(cell["result"]["metrics"][prim], prim)))
            else:
                row.append("failed")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    )


def _fmt_seconds(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def render_report(document: Mapping[str, Any], out: str | os.PathLike) -> dict[str, Path]:
    """Write the charts, ``results.json``, ``report.md`` and ``report.html`` of a document.

    Every file is written atomically; the report can be re-rendered from ``results.json``
    (``render_report(json.load(...), folder)``).
    """
    from musicrep.report import Report
    from musicrep.utils import write_json_atomic

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    tasks, models = document["tasks"], document["models"]
    s = document["settings"]
    pngs = {}
    used_names: set[str] = set()
    for t in tasks:
        name = _slug(t["name"])
        while name in used_names or name in ("report", "results", "cca"):
            name += "_"
        used_names.add(name)
        pngs[t["name"]] = out_dir / f"{name}.png"
        _plot_task(document, t, pngs[t["name"]])
        paths[t["name"]] = pngs[t["name"]]
    write_json_atomic(out_dir / "results.json", document)
    paths["json"] = out_dir / "results.json"

    r = Report(document["title"])
    n_fail = len(document["failures"])
    r.add_paragraph(
        f"{len(tasks)} task(s) x {len(models)} model(s), **{s['protocol']}** probe protocol, "
        f"{s['repeats']} repeat(s) from seed {s['seed']}; created {document['created']}, "
        f"wall time {document['wall_seconds']:.1f} s."
        + (f" **{n_fail} failure(s)**: see the Failures section." if n_fail else "")
    )

    # ---------------------------------------------------------------- results
    r.add_heading("Results")
    protocol_text = (
        "StandardScaler + sklearn MLPClassifier(256) with sklearn defaults, trained on the train "
        "split, tested on the test split (COALA)"
        if s["protocol"] == "coala"
        else f"hear-eval-kit's MLP probe, '{s['grid']}' grid searched on the validation split"
    )
    r.add_paragraph(
        f"Headline metric of each task (percent), mean ± std over {s['repeats']} probe "
        f"training(s) ({protocol_text}); for fold tasks the std is over repeats of the "
        "fold-averaged score. **Bold**: the best, and every model within sqrt(std1² + std2²) "
        "of it."
    )
    header = ["task", "metric", *[m["label"] for m in models]]
    for k in (0, 1):
        rows = []
        for t in tasks:
            metric = t["metrics"][k]
            scores = {}
            for m in models:
                cell = document["results"][t["name"]].get(m["label"], {})
                if cell.get("status") == "ok":
                    scores[m["label"]] = _cell_score(cell["result"]["metrics"][metric], metric)
            best = _best(scores) if len(scores) > 1 else set()
            cells = []
            for m in models:
                if m["label"] not in scores:
                    cells.append("failed")
                    continue
                sc = scores[m["label"]]
                prec = 3 if metric in _FRACTION_METRICS else 2
                text = f"{sc.mean:.{prec}f} ± {sc.std:.{prec}f}"
                cells.append(f"**{text}**" if m["label"] in best else text)
            rows.append([t["name"], _metric_unit(metric), *cells])
        if k == 1:
            r.add_paragraph("Second metric of each task:")
        r.add_table(rows, header, align=["left", "left", *["right"] * len(models)])
    for t in tasks:
        r.add_figure(
            pngs[t["name"]],
            f"{t['name']}: {METRIC_LABELS[t['metrics'][0]]} per model (error bars: std)",
        )

    # ---------------------------------------------------------------- reference
    ref = document.get("reference")
    if ref:
        _reference_section(r, document, ref, out_dir)
    elif document.get("cca"):
        _cca_section(r, document, None, out_dir)

    # ---------------------------------------------------------------- tasks & models
    r.add_heading("Tasks")
    r.add_table(
        [[t["name"], f"`{t['manifest']}`", t["type"], t["rows"], t["files"]] for t in tasks],
        ["task", "manifest", "type", "rows", "files"],
        align=["left", "left", "left", "right", "right"],
    )
    if document.get("corpus"):
        c = document["corpus"]
        r.add_paragraph(
            f"Built-in corpus: `{c['dir']}`, {c['clips']} clips x {c['seconds']:g} s"
            + (" (built by this run)." if c.get("built") else " (an existing build, reused).")
        )
    r.add_heading("Models and timings")
    rows = []
    for e in models:
        rate = None
        if e.get("embed_seconds"):
            rate = e.get("audio_seconds", 0.0) / e["embed_seconds"]
        rows.append(
            [
                e["label"],
                f"`{e['spec']}`",
                e.get("model_name", "–"),
                e.get("embed_dim", "–"),
                e["status"] + (" (cached)" if e.get("cached") else ""),
                f"{e.get('embedded', 0)}/{e.get('files', '–')}",
                _fmt_seconds(e.get("load_seconds")),
                _fmt_seconds(e.get("embed_seconds")),
                _fmt_seconds(e.get("audio_seconds")),
                "–" if rate is None else f"{rate:.1f}",
            ]
        )
    r.add_table(
        rows,
        [
            "model",
            "spec",
            "identity",
            "dim",
            "status",
            "files",
            "load (s)",
            "embed (s)",
            "audio (s)",
            "audio s/s",
        ],
        align=["left"] * 5 + ["right"] * 5,
    )
    r.add_paragraph(
        "Embedding time covers decoding, resampling and the forward passes over the union of "
        "the tasks' files (each decoded once per model); a cached model shows the timing of the "
        f"run that computed it. Cache: `{s['cache_dir']}`."
    )
    eval_rows = [
        [
            t["name"],
            *[
                _fmt_seconds(document["results"][t["name"]].get(m["label"], {}).get("seconds"))
                for m in models
            ],
        ]
        for t in tasks
    ]
    r.add_paragraph("Probe training and scoring time (s):")
    r.add_table(
        eval_rows, ["task", *[m["label"] for m in models]], align=["left", *["right"] * len(models)]
    )
    notes = []
    for t in tasks:
        for m in models:
            cell = document["results"][t["name"]].get(m["label"], {})
            for n in cell.get("result", {}).get("notes", []):
                notes.append(f"{m['label']} on {t['name']}: {n}")
    if notes:
        r.add_paragraph("Notes from the evaluation:")
        r.add_list(sorted(set(notes))[:40])

    # ---------------------------------------------------------------- failures
    if document["failures"]:
        r.add_heading("Failures")
        r.add_list([f"**{f['what']}**: {f['error']}" for f in document["failures"]])

    # ---------------------------------------------------------------- commands & versions
    r.add_heading("Commands")
    if document.get("command"):
        r.add_paragraph(f"Run in `{document['cwd']}` as:")
        r.add_code(document["command"], "sh")
    r.add_paragraph("Each step on its own:")
    r.add_code("\n".join(_command_lines(document)), "sh")
    r.add_heading("Versions")
    r.add_table([[k, v] for k, v in document["environment"].items()], ["package", "version"])
    md, html_path = r.write(out_dir)
    paths["md"], paths["html"] = md, html_path
    return paths


def _reference_section(
    r, document: Mapping[str, Any], ref: Mapping[str, Any], out_dir: Path
) -> None:
    r.add_heading("COALA reproduction")
    r.add_paragraph(f"Reference: {ref['citation']}.")
    mapping = ref["model_map"]
    inverse = {pm: label for label, pm in mapping.items()}
    if not mapping:
        r.add_paragraph(
            "**No model is mapped to the paper's models**: label them "
            "`--models ae_c=RUN1,e_c=RUN2,cnn=RUN3,mfcc=mfcc`."
        )
    task_map = ref["task_map"]
    our_tasks = [t["name"] for t in document["tasks"]]
    r.add_heading("Table 1: downstream scores", level=3)
    r.add_paragraph(
        "Paper: accuracy (%) on NSynth (instrument family), US8K (urban sounds, 10 folds) and "
        "GTZAN (genre, fault-filtered split), mean ± std over 10 runs of the same MLP probe "
        "(xavierfav/coala `results/performances.json`). Ours: the headline metric of each task "
        "(the column names say which paper task it matches or stands in for: "
        "corpus-instrument ~ NSynth, corpus-style ~ GTZAN)."
    )
    ours = ref["ours_table1"]
    header = ["paper model", "our model"]
    header += [f"{t} (paper)" for t in COALA_TASKS]
    header += [f"{t} (ours{', ~' + task_map[t] if task_map.get(t) else ''})" for t in our_tasks]
    rows = []
    for pm in COALA_MODELS:
        row = [pm, inverse.get(pm, "–")]
        row += [f"{COALA_TABLE1[pm][t][0]:.2f} ± {COALA_TABLE1[pm][t][1]:.2f}" for t in COALA_TASKS]
        for t in our_tasks:
            v = ours.get(pm, {}).get(t)
            row.append("–" if v is None else f"{v[0]:.2f} ± {v[1]:.2f}")
        rows.append(row)
    r.add_table(rows, header, align=["left", "left", *["right"] * (len(header) - 2)])
    if document.get("cca"):
        _cca_section(r, document, ref, out_dir)
    r.add_heading("Findings", level=3)
    r.add_paragraph(
        "Each claim of the paper is checked by the rule given, on our numbers and, as a check of "
        "the rule, on the paper's own numbers. 'not testable': a model the claim needs is "
        "missing (or, for Table 2, no `--cca`)."
    )
    rows = []
    for f in ref["findings"]:
        rows.append(
            [
                f["claim"],
                f["rule"],
                f"**{f['verdict']}**",
                "; ".join(f["evidence"]) or "–",
                f["paper_verdict"],
            ]
        )
    r.add_table(rows, ["claim", "rule", "ours", "our evidence", "paper"])


def _cca_section(
    r, document: Mapping[str, Any], ref: Mapping[str, Any] | None, out_dir: Path
) -> None:
    c = document["cca"]
    r.add_heading("Correlation with descriptors" + (" (Table 2)" if ref else ""), level=3)
    if c.get("status") == "failed":
        r.add_paragraph(f"The correlation analysis failed: {c.get('error')}")
        return
    r.add_paragraph(
        f"{c['method_description']}, between each model's clip embeddings and the frame "
        f"statistics of librosa descriptors, on N = {c['n_clips']} "
        f"{c['split'] + ' ' if c.get('split') else ''}clips of "
        f"`{c['task']}` (full report: `{c['files']['md']}`). In parentheses: the permutation "
        "baseline (unrelated data)."
        + (
            " The paper: mean canonical correlation on validation clips of its pre-training "
            "set; values are comparable in trend, not in level."
            if ref
            else ""
        )
    )
    labels = list(c["results"])
    mapping = ref["model_map"] if ref else {}
    header = ["descriptor", "stat"]
    paper_models = [pm for pm in ("AE-C", "E-C", "CNN")] if ref else []
    header += [f"{pm} (paper)" for pm in paper_models]
    header += [f"{lab} ({mapping[lab]})" if lab in mapping else lab for lab in labels]
    rows = []
    for d in COALA_DESCRIPTORS:
        if not any(d in c["results"][lab] for lab in labels):
            continue
        for st in (*COALA_STATS, "all"):
            row = [d, st]
            for pm in paper_models:
                v = COALA_TABLE2[pm][d].get(st)
                row.append("–" if v is None else f"{v:.2f}")
            for lab in labels:
                v = c["results"][lab].get(d, {}).get(st)
                b = c["baselines"][lab].get(d, {}).get(st)
                row.append(
                    "n/a" if v is None else f"{v:.2f}" + ("" if b is None else f" ({b:.2f})")
                )
            rows.append(row)
    r.add_table(rows, header, align=["left", "left", *["right"] * (len(header) - 2)])
    png = c["files"].get("png")
    if png and (out_dir / png).is_file():
        r.add_figure(
            out_dir / png, "Similarity per descriptor statistic; black ticks: permutation baselines"
        )
