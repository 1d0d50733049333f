"""The demo: built-in data -> a zoo model trained on two tasks -> results beside a baseline.

``make demo`` (``musicrep demo``) runs, on the CPU, from nothing:

1. renders the built-in corpus dataset (music21 scores, our synthesizer) into ``OUT/corpus``;
2. trains one zoo model (default: a small short-chunk CNN, ``DEMO_MODEL``/``DEMO_MODEL_OPTIONS``
   in :mod:`musicrep.demo_settings`) on the ``tags`` task (multi-label: style, instrument,
   mode, tempo, meter and texture tags) into the run folder ``OUT/runs/<model>-tags`` that
   ``musicrep export``/``predict`` can reopen;
3. evaluates it track by track on the test split of the ``tags`` task and of the ``style`` task
   (single-label: the arg-max over the model's ``style:*`` outputs, so one model serves both
   tasks and the CPU budget goes into a single, longer training run), and prints a table beside
   a majority-class baseline (style: predict the most frequent training class; tags: score every
   tag by its training frequency, which gives a ROC-AUC of 0.5 and a PR-AUC equal to the
   prevalence);
4. runs a small ``musicrep benchmark`` of the trained encoder against the ``mfcc`` baseline and
   an untrained network of the same architecture (frozen embeddings + the COALA probe, 3
   repeats, on the ``style`` and ``tags`` tasks) into ``OUT/benchmark/report.{md,html}`` and
   prints by how many probe points the trained encoder beats each (:func:`benchmark_margins`);
5. writes ``OUT/results.md`` and ``OUT/results.json``.

Every step resumes: an existing corpus clip or finished run is reused, so running the demo again
only prints the table.

Short-run choices (documented here, in :mod:`musicrep.demo_settings` and in the README; the zoo
recipes keep the papers' setups): the settings' learning rate, schedule and epoch budget rather
than Won et al.'s 200-epoch Adam->SGD schedule, ``DEMO_VALID_CHUNKS`` validation chunks per
track instead of 16, 8 test chunks per track, early stopping after ``DEMO_PATIENCE`` epochs
without a lower validation loss.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musicrep.demo_settings import (
    DEMO_CLIPS,
    DEMO_EPOCHS,
    DEMO_LR,
    DEMO_MODEL,
    DEMO_MODEL_OPTIONS,
    DEMO_PATIENCE,
    DEMO_SCHEDULE,
    DEMO_SECONDS,
    DEMO_VALID_CHUNKS,
)
from musicrep.errors import ConfigError
from musicrep.utils import write_json_atomic, write_text_atomic

DEMO_TASKS = ("tags", "style")


class FacetHead(nn.Module):
    """The logits of the tags ``facet:*`` of a tag model, as a single-label classifier.

    ``FacetHead(model, vocab, "style")`` turns a model trained on the corpus ``tags`` task into a
    style classifier over ``[t.split(":", 1)[1] for t in vocab if t.startswith("style:")]``.
    """

    def __init__(self, model: nn.Module, vocab: list[str], facet: str):
        super().__init__()
        prefix = f"{facet}:"
        index = [i for i, t in enumerate(vocab) if t.startswith(prefix)]
        if not index:
            raise ConfigError(f"no '{prefix}*' tags in the model's vocabulary")
        self.model = model
        self.classes = [vocab[i][len(prefix) :] for i in index]
        self.register_buffer("index", torch.tensor(index), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave).index_select(1, self.index)


@dataclass
class DemoResult:
    """Rows of the demo table: ``(task, metric, model score, baseline score)``."""

    rows: list[tuple[str, str, float, float]] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    benchmark: str | None = None
    benchmark_table: str | None = None
    margins: list[str] = field(default_factory=list)

    def table(self, model: str) -> str:
        head = f"| task | metric | {model} | majority baseline |\n|---|---|---:|---:|\n"
        body = "".join(f"| {t} | {m} | {s:.3f} | {b:.3f} |\n" for t, m, s, b in self.rows)
        return head + body


def majority_baseline(manifest_path: str | Path, task: str) -> dict[str, float]:
    """Test-split scores of the majority-class baseline fitted on the training split.

    ``task="style"`` (single-label): predict the most frequent training class.
    ``task="tags"`` (multi-label): score each tag by its training frequency (the same score for
    every track), scored with the same macro ROC-AUC / PR-AUC as the model.
    """
    from musicrep.data.manifest import Manifest
    from musicrep.metrics import classification_metrics, tagging_metrics

    m = Manifest.read(manifest_path)
    vocab = m.vocabulary()
    train, test = m.split("train"), m.split("test")
    if m.is_multilabel:
        prior = train.multi_hot(vocab).mean(axis=0)
        y = test.multi_hot(vocab)
        scores = np.tile(prior, (len(test), 1))
        s = tagging_metrics(y, scores, vocab)
        return {"roc_auc": s.roc_auc, "pr_auc": s.pr_auc}
    counts = np.bincount(train.label_indices(vocab), minlength=len(vocab))
    y = test.label_indices(vocab)
    pred = np.full(len(y), int(np.argmax(counts)))
    s = classification_metrics(y, pred, vocab)
    return {"accuracy": s.accuracy, "macro_f1": s.macro_f1}


def _facet_scores(run_dir: Path, manifest_path: Path, facet: str, chunks: int) -> dict[str, float]:
    """Track-level single-label scores of the tag model's ``facet:*`` outputs on a test split."""
    from musicrep.data.dataset import TrackDataset
    from musicrep.data.manifest import Manifest
    from musicrep.evaluate_tracks import evaluate_tracks
    from musicrep.training import load_checkpoint_model

    tag_model, meta = load_checkpoint_model(run_dir)
    head = FacetHead(tag_model, meta["vocab"], facet)
    manifest = Manifest.read(manifest_path)
    missing = sorted(set(manifest.vocabulary()) - set(head.classes))
    if missing:
        raise ConfigError(f"{manifest_path}: classes {missing} have no '{facet}:' tag in the model")
    dataset = TrackDataset(
        manifest,
        "test",
        head.classes,
        meta["sample_rate"],
        meta["input_samples"],
        "singlelabel",
        n_chunks=chunks,
    )
    with torch.inference_mode():
        return evaluate_tracks(head, dataset, show_progress=False)["metrics"]


def demo_model_options(model: str, model_options: dict | None) -> dict:
    """The options the demo trains ``model`` with: ``DEMO_MODEL_OPTIONS`` for the default model."""
    if model_options is not None:
        return dict(model_options)
    return dict(DEMO_MODEL_OPTIONS) if model == DEMO_MODEL else {}


def _train_step(
    model: str,
    model_options: dict,
    corpus_dir: Path,
    run_dir: Path,
    training: dict,
    valid_chunks: int,
    test_chunks: int,
) -> None:
    """Train ``model`` on the corpus ``tags`` task into ``run_dir`` (resuming a killed run)."""
    from musicrep.training import train

    if (run_dir / "results.json").is_file():
        print("      finished run found: reusing it")
        return
    resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
    config = {
        "model": {"name": model, **model_options},
        "data": {"manifest": str(corpus_dir / "tags.csv"), "valid_chunks": valid_chunks},
        "training": {"log_every_n_steps": 5, **training},
        "evaluation": {"chunks": test_chunks},
    }
    train(config, out=run_dir, resume=resume, command=["musicrep", "demo"])


def _evaluate_step(
    run_dir: Path, corpus_dir: Path, tasks: tuple[str, ...], test_chunks: int
) -> list[tuple[str, str, float, float]]:
    """Test-split rows ``(task, metric, model, majority baseline)`` of the trained run."""
    results_file = run_dir / "results.json"
    if not results_file.is_file():
        raise ConfigError(
            f"{run_dir} has no test results (the corpus has no 'test' clips)",
            "use more clips (--clips 100 or more) so every split gets pieces",
        )
    scores = {"tags": json.loads(results_file.read_text(encoding="utf-8"))["metrics"]}
    if "style" in tasks:
        scores["style"] = _facet_scores(run_dir, corpus_dir / "style.csv", "style", test_chunks)
    rows = []
    for task in tasks:
        base = majority_baseline(corpus_dir / f"{task}.csv", task)
        for metric in base:
            rows.append((task, metric, float(scores[task][metric]), float(base[metric])))
    return rows


def benchmark_margins(document: dict, trained: str) -> list[str]:
    """One line per task: the trained model's probe score minus each other model's, in points.

    ``document`` is a ``musicrep.benchmark`` results document; ``trained`` the trained model's
    label in it. A margin is ``mean(trained) - mean(other)`` of the task's primary metric
    (percent), followed by the larger of the two repeat standard deviations as its noise scale.
    """
    lines = []
    for task in document["tasks"]:
        cells = document["results"][task["name"]]
        metric = task["metrics"][0]
        if cells.get(trained, {}).get("status", "ok") != "ok" or trained not in cells:
            continue
        mine = cells[trained]["result"]["metrics"][metric]
        parts = []
        for label, cell in cells.items():
            if label == trained or "result" not in cell:
                continue
            other = cell["result"]["metrics"][metric]
            gap = 100 * (mine["mean"] - other["mean"])
            noise = 100 * max(mine.get("std", 0.0), other.get("std", 0.0))
            parts.append(f"{gap:+.1f} vs {label} (std {noise:.1f})")
        lines.append(
            f"{task['name']} {metric}: trained {100 * mine['mean']:.1f}; " + ", ".join(parts)
        )
    return lines


def _benchmark_step(
    model: str, run_dir: Path, out: Path, tasks, repeats: int, seed: int, clips: int, seconds: float
):
    """Frozen embeddings + probe: the trained encoder vs the same network untrained vs MFCC."""
    from musicrep.benchmark import format_results, run_benchmark

    print(f"[4/4] benchmark: {model} (trained) vs untrained {model} vs mfcc -> {out / 'benchmark'}")
    bench = run_benchmark(
        [f"corpus-{t}" for t in tasks],
        [f"{model}-trained={run_dir}", f"{model}-untrained=untrained:{run_dir}", "mfcc"],
        out / "benchmark",
        repeats=repeats,
        seed=seed,
        corpus_dir=out / "corpus",
        clips=clips,
        seconds=seconds,
        title=f"musicrep demo: {model} on the built-in corpus dataset",
        command="musicrep demo",
        progress=False,
    )
    return (
        bench,
        format_results(bench.document),
        benchmark_margins(bench.document, f"{model}-trained"),
    )


def _write_results(out: Path, model: str, clips: int, seconds: float, result: DemoResult) -> str:
    """``OUT/results.md`` and ``OUT/results.json`` (atomic); returns the markdown text."""
    text = (
        f"# musicrep demo\n\n{model} trained on the built-in corpus dataset ({clips} clips x "
        f"{seconds:g} s), track-level scores on the test split:\n\n{result.table(model)}\n"
        f"Run folders: {', '.join(result.runs.values())}\n\n"
    )
    if result.benchmark_table:
        text += (
            "Frozen embeddings + probe (mean ± std over repeats; full report: "
            f"{result.benchmark}):\n\n```\n{result.benchmark_table}\n```\n\n"
            "Trained minus the others (probe points):\n\n"
            + "".join(f"- {line}\n" for line in result.margins)
            + "\n"
        )
    text += f"Total time: {result.elapsed:.0f} s\n"
    write_text_atomic(out / "results.md", text)
    write_json_atomic(
        out / "results.json",
        {
            "model": model,
            "rows": [
                {"task": t, "metric": m, "model": s, "baseline": b} for t, m, s, b in result.rows
            ],
            "runs": result.runs,
            "benchmark_report": result.benchmark,
            "benchmark_margins": result.margins,
            "elapsed_s": result.elapsed,
        },
    )
    return text


def run_demo(
    out: str | Path = "demo",
    *,
    clips: int = DEMO_CLIPS,
    seconds: float = DEMO_SECONDS,
    model: str = DEMO_MODEL,
    model_options: dict | None = None,
    epochs: int = DEMO_EPOCHS,
    seed: int = 0,
    batch_size: int = 16,
    lr: float = DEMO_LR,
    patience: int = DEMO_PATIENCE,
    schedule: str = DEMO_SCHEDULE,
    valid_chunks: int = DEMO_VALID_CHUNKS,
    test_chunks: int = 8,
    benchmark: bool = True,
    benchmark_repeats: int = 3,
    tasks: tuple[str, ...] = DEMO_TASKS,
) -> DemoResult:
    """Run the demo into ``out`` (see the module docstring); returns the table rows.

    ``model_options`` (``None``: :data:`DEMO_MODEL_OPTIONS` for the default model, the published
    configuration for any other zoo name) are ``model:`` entries of a training config.
    """
    from musicrep.data.corpus import build_corpus

    t0 = time.perf_counter()
    out, tasks = Path(out), tuple(tasks)
    corpus_dir = out / "corpus"
    print(f"[1/4] built-in corpus dataset: {clips} clips x {seconds:g} s -> {corpus_dir}")
    summary = build_corpus(corpus_dir, clips=clips, seconds=seconds, seed=seed)
    print(
        f"      {summary.rendered} rendered, {summary.reused} reused "
        f"({time.perf_counter() - t0:.0f} s so far)"
    )
    result = DemoResult()
    run_dir = out / "runs" / f"{model}-tags"
    print(f"[2/4] train {model} on the 'tags' task -> {run_dir}")
    training = {
        "max_epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "early_stopping_patience": patience,
        "schedule": schedule,
        "seed": seed,
    }
    options = demo_model_options(model, model_options)
    _train_step(model, options, corpus_dir, run_dir, training, valid_chunks, test_chunks)
    print(f"      done ({time.perf_counter() - t0:.0f} s so far)")
    result.runs["tags"] = str(run_dir)

    print(f"[3/4] evaluate on the test split of {', '.join(tasks)}")
    result.rows = _evaluate_step(run_dir, corpus_dir, tasks, test_chunks)
    print()
    print(result.table(model))
    if benchmark:
        bench, result.benchmark_table, result.margins = _benchmark_step(
            model, run_dir, out, tasks, benchmark_repeats, seed, clips, seconds
        )
        result.benchmark = str(bench.paths["md"])
        print(result.benchmark_table)
        print("\n".join(result.margins))
        print(f"      done ({time.perf_counter() - t0:.0f} s so far)")

    result.elapsed = time.perf_counter() - t0
    text = _write_results(out, model, clips, seconds, result)
    print()
    print(text)
    print(f"results: {out / 'results.md'}; total {result.elapsed:.0f} s")
    return result
