"""Layer-by-layer similarity and probing (``musicrep analyze similarity``).

For every model, the clip vectors of each of its blocks (:mod:`musicrep.analysis.layers`,
time-pooled: the mean over the model's windows of each layer's pooled output) are compared

* with every reference feature set (``--reference scattering,mfcc,chroma``: registered
  :mod:`musicrep.features` extractors, pooled per 1 s window into frame mean and std, then over
  windows: ``musicrep embed --model feature:NAME``), a *layer x feature-set* matrix per model;
* with every block of every other model, a *layer x layer* matrix per pair of models,

by one measure of the registry :data:`musicrep.analysis.similarity.MEASURES` (``cka``,
``kernel-cka``, ``svcca``, ``cca``, ``pwcca``), each cell beside its permutation baseline (the
same measure with the clips of the second view shuffled; mean over ``permutations``). A probe
(:mod:`musicrep.probes`, the ``coala`` MLP on the manifest's splits) is trained on each layer
and each feature set, giving a table of the headline metric per layer: label the models by what
they were trained on (``--model this-task=runs/a --model other-task=runs/b --model
untrained=hcnn``) to read "trained on this task / another task / untrained" side by side.

Preprocessing (choices): feature sets are z-scored per column (they mix units), constant
columns dropped; layer activations are only centered (as in CKA and SVCCA). For the CCA family
(``cca``, ``svcca``, ``pwcca``) each view is reduced by SVD to at most ``N // 10`` principal
directions (``max_dims``) because CCA overfits when the dimensions approach the number of clips;
PWCCA then weights by those principal directions.

Outputs (atomic): ``similarity.json`` (every number), ``report.md`` / ``report.html`` (one
:class:`musicrep.report.Report`) and one heatmap PNG per matrix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.analysis import similarity as sim
from musicrep.errors import ConfigError, MusicrepError

__all__ = ["DEFAULT_REFERENCES", "LayerReport", "run_layer_report"]

DEFAULT_REFERENCES = ("scattering", "mfcc", "chroma")
AUTO_DIMS_RATIO = 10
_CCA_FAMILY = ("cca", "svcca", "pwcca")


@dataclass
class LayerReport:
    """What :func:`run_layer_report` computed and wrote (``document`` is ``similarity.json``)."""

    document: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)


def _parse(text: str) -> tuple[str, str]:
    label, sep, spec = text.partition("=")
    if not sep or not label or os.path.sep in label:
        p = Path(text.rstrip("/\\"))
        return p.name or text, text
    return label, spec


def _view(A: np.ndarray, method: str, cap: int, zscore: bool) -> np.ndarray | None:
    """Constant columns dropped, z-scored if asked, SVD-capped for the CCA family."""
    A = np.asarray(A, dtype=np.float64)
    std = A.std(axis=0)
    keep = std > 1e-10 * np.maximum(np.abs(A).max(axis=0), 1e-300)
    if not np.any(keep):
        return None
    A = A[:, keep]
    if zscore:
        A = (A - A.mean(axis=0)) / std[keep]
    if method in _CCA_FAMILY and A.shape[1] > cap:
        A = sim.svd_reduce(A, 1.0, cap)
    return A


def _cell(measure, X, Y, permutations: int, seed: int, options: dict) -> dict[str, Any]:
    if X is None or Y is None:
        return {"similarity": None, "note": "constant over the clips"}
    try:
        value = measure(X, Y, **options)
        entry: dict[str, Any] = {"similarity": value}
        if permutations:
            base = sim.permuted_scores(
                lambda perm: measure(X, Y[perm], **options), len(Y), n=permutations, seed=seed
            )
            entry.update(baseline_mean=base.mean, baseline_std=base.std)
        return entry
    except sim.SimilarityError as exc:
        return {"similarity": None, "note": exc.message}


def _probe(X: np.ndarray, rows, root: Path, source: str, repeats: int, seed: int) -> dict:
    from musicrep.data.manifest import Manifest
    from musicrep.probes import evaluate_embeddings

    try:
        res = evaluate_embeddings(
            X.astype(np.float32),
            Manifest(rows, root, source=source),
            protocol="coala",
            repeats=repeats,
            seed=seed,
            progress=False,
        )
    except MusicrepError as exc:
        return {"value": None, "note": exc.message}
    m = res.metrics[res.primary]
    return {"metric": res.primary, "value": float(m["mean"]), "std": float(m["std"])}


def run_layer_report(
    manifest: str | os.PathLike,
    *,
    models: Sequence[str],
    references: Sequence[str] = DEFAULT_REFERENCES,
    out: str | os.PathLike,
    method: str = "cka",
    layers: Sequence[str] | None = None,
    untrained: bool = False,
    split: str | None = None,
    max_clips: int = 200,
    permutations: int = 10,
    probe: bool = True,
    probe_repeats: int = 1,
    sigma: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> LayerReport:
    """Compute and write the layer similarity and probing report.

    Parameters
    ----------
    manifest : path
        Manifest CSV (``path``, ``labels``, ``split``); segments are honoured.
    models : sequence of str
        ``[LABEL=]SPEC``: zoo names (untrained, seeded), run folders or exported folders.
    references : sequence of str
        Registered feature names (``musicrep.features.list_features()``).
    out : path
        Report folder.
    method : str
        A name of :data:`musicrep.analysis.similarity.MEASURES`.
    layers : sequence of str, optional
        Layer names for every model (default: each model's blocks).
    untrained : bool
        Also analyse a seeded untrained copy of every model (same architecture).
    split : str, optional
        Use only this split's rows for the similarities (the probe always uses all splits).
    max_clips : int
        At most this many clips (seeded subset; 0 = all).
    permutations : int
        Shufflings per cell for the baseline (0 = none).
    probe : bool
        Train the probe on every layer and feature set.
    probe_repeats : int
        Probe trainings per layer.
    sigma : float
        RBF bandwidth (x median distance) of ``kernel-cka``.
    seed : int
        Clip subset, permutations, untrained weights and probes.
    """
    from musicrep.analysis.cca_report import _select_rows
    from musicrep.analysis.layers import layer_activations
    from musicrep.audio import load
    from musicrep.embed import Embedder, FeatureEmbedding
    from musicrep.utils import environment_info, progress

    log = log or (lambda msg: print(msg, file=sys.stderr))
    measure = sim.get_measure(method)
    options = {"sigma": sigma} if method == "kernel-cka" else {}
    if not models:
        raise ConfigError("nothing to analyse: give at least one --model")
    sources = [_parse(m) for m in models]
    labels = [x for x, _ in sources]
    if len(set(labels)) != len(labels):
        raise ConfigError(
            "two models share a label", "name them: --model LABEL=SPEC (e.g. trained=runs/a)"
        )
    manifest_path = Path(manifest)
    rows = _select_rows(manifest_path, split, max_clips, seed)

    acts = {}
    for label, spec in sources:
        acts[label] = layer_activations(spec, layers, seed=seed, device=device)
        if untrained:
            acts[f"{label} (untrained)"] = layer_activations(
                spec, layers, seed=seed, untrained=True, device=device
            )
    embedders = {k: Embedder(a, device=device, batch_size=batch_size) for k, a in acts.items()}
    ref_embedders = {r: Embedder(FeatureEmbedding(r), device=device) for r in references}

    vectors: dict[str, list[np.ndarray]] = {k: [] for k in [*embedders, *ref_embedders]}
    used, failures = [], []
    bar = progress(rows, desc="clips", unit="clip", disable=None if show_progress else True)
    for row in bar:
        try:
            wave, sr = load(row.path, sr=None, offset=row.start or 0.0, duration=row.duration)
            vecs = {k: e.scene(wave, sr) for k, e in {**embedders, **ref_embedders}.items()}
        except MusicrepError as exc:
            failures.append({"path": str(row.path), "reason": exc.message})
            log(f"musicrep: {row.path}: {exc.message}")
            continue
        used.append(row)
        for k, v in vecs.items():
            vectors[k].append(np.asarray(v, dtype=np.float64))
    n = len(used)
    if n < 3:
        raise ConfigError(f"only {n} usable clip(s); at least 3 are needed", "check the manifest")
    cap = max(1, n // AUTO_DIMS_RATIO)
    per_layer = {k: acts[k].split(np.stack(vectors[k])) for k in acts}
    ref_views = {r: _view(np.stack(vectors[r]), method, cap, True) for r in references}
    layer_views = {
        k: {x: _view(A, method, cap, False) for x, A in d.items()} for k, d in per_layer.items()
    }

    layer_vs_ref: dict[str, dict[str, dict[str, Any]]] = {}
    for k, views in layer_views.items():
        layer_vs_ref[k] = {
            x: {r: _cell(measure, V, ref_views[r], permutations, seed, options) for r in references}
            for x, V in views.items()
        }
    pairs: dict[str, dict[str, Any]] = {}
    keys = list(layer_views)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            pairs[f"{a} | {b}"] = {
                "a": a,
                "b": b,
                "cells": {
                    x: {
                        y: _cell(measure, Va, Vb, permutations, seed, options)
                        for y, Vb in layer_views[b].items()
                    }
                    for x, Va in layer_views[a].items()
                },
            }
    probes: dict[str, dict[str, Any]] = {}
    if probe:
        root = Path(os.path.abspath(manifest_path.parent))
        for k, d in per_layer.items():
            probes[k] = {
                x: _probe(A, used, root, str(manifest_path), probe_repeats, seed)
                for x, A in d.items()
            }
        probes["features"] = {
            r: _probe(np.stack(vectors[r]), used, root, str(manifest_path), probe_repeats, seed)
            for r in references
        }

    document = {
        "manifest": str(manifest_path),
        "n_clips": n,
        "failures": failures,
        "settings": {
            "method": method,
            "method_description": measure.description,
            "max_dims": cap if method in _CCA_FAMILY else None,
            "sigma": sigma if method == "kernel-cka" else None,
            "permutations": permutations,
            "seed": seed,
            "split": split,
            "probe": "coala" if probe else None,
            "probe_repeats": probe_repeats,
        },
        "models": {
            k: {"name": a.name, "layers": a.layers, "dims": a.dims} for k, a in acts.items()
        },
        "references": list(references),
        "layer_vs_reference": layer_vs_ref,
        "layer_vs_layer": pairs,
        "probes": probes,
        "environment": environment_info(),
    }
    paths = _write(Path(out), document)
    return LayerReport(document=document, paths=paths)


# --------------------------------------------------------------------------- rendering


def _fmt(entry: dict[str, Any]) -> str:
    v = entry.get("similarity")
    if v is None:
        return "n/a"
    b = entry.get("baseline_mean")
    return f"{v:.3f}" + (f" ({b:.3f})" if b is not None else "")


def _heatmap(matrix, row_names, col_names, title, xlabel, ylabel, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    M = np.array([[np.nan if v is None else v for v in r] for r in matrix], dtype=float)
    fig, ax = plt.subplots(
        figsize=(1.2 + 0.55 * max(3, len(col_names)), 1.0 + 0.38 * max(3, len(row_names)))
    )
    im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(col_names)))
    ax.set_xticklabels(col_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_names)))
    ax.set_yticklabels(row_names, fontsize=8)
    if M.size <= 400:
        for (i, j), v in np.ndenumerate(M):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if v < 0.6 else "black",
                )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.savefig(path, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _write(out: Path, document: dict[str, Any]) -> dict[str, Path]:
    from musicrep.report import Report
    from musicrep.utils import atomic_path, write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    s = document["settings"]
    paths: dict[str, Path] = {"json": out / "similarity.json"}
    write_json_atomic(paths["json"], document)
    r = Report("Layer-wise similarity and probing")
    r.add_paragraph(
        f"{document['n_clips']} clips of `{document['manifest']}`; measure: "
        f"**{s['method_description']}** (`{s['method']}`); cells `value (permutation "
        f"baseline, mean of {s['permutations']})`. Read every value against its baseline."
    )
    refs = document["references"]
    for k, cells in document["layer_vs_reference"].items():
        r.add_heading(f"{k}: layers x feature sets", 2)
        names = list(cells)
        r.add_table(
            [[x, *[_fmt(cells[x][f]) for f in refs]] for x in names], header=["layer", *refs]
        )
        png = out / f"layers_{_safe(k)}_vs_features.png"
        with atomic_path(png) as tmp:
            _heatmap(
                [[cells[x][f].get("similarity") for f in refs] for x in names],
                names,
                refs,
                f"{k} vs features ({s['method']})",
                "feature set",
                "layer",
                tmp,
            )
        paths[png.stem] = png
        r.add_figure(png, f"{k}: {s['method']} of each layer with each feature set")
    for key, pair in document["layer_vs_layer"].items():
        r.add_heading(f"{pair['a']} x {pair['b']}: layer x layer", 2)
        cells = pair["cells"]
        ra, rb = list(cells), list(next(iter(cells.values())))
        r.add_table([[x, *[_fmt(cells[x][y]) for y in rb]] for x in ra], header=["layer", *rb])
        png = out / f"layers_{_safe(key)}.png"
        with atomic_path(png) as tmp:
            _heatmap(
                [[cells[x][y].get("similarity") for y in rb] for x in ra],
                ra,
                rb,
                f"{pair['a']} x {pair['b']} ({s['method']})",
                pair["b"],
                pair["a"],
                tmp,
            )
        paths[png.stem] = png
        r.add_figure(png, f"{s['method']} between the layers of {pair['a']} and {pair['b']}")
    if document["probes"]:
        r.add_heading("Probe per layer and per feature set", 2)
        rows = []
        for k, d in document["probes"].items():
            for x, e in d.items():
                val = (
                    "n/a"
                    if e.get("value") is None
                    else f"{100 * e['value']:.1f} ± {100 * e['std']:.1f}"
                )
                rows.append([k, x, e.get("metric", ""), val])
        r.add_table(rows, header=["model", "layer / feature", "metric", "value (%)"])
    if document["failures"]:
        r.add_heading("Clips left out", 2)
        r.add_list([f"`{f['path']}`: {f['reason']}" for f in document["failures"]])
    md, html = r.write(out, "report")
    paths.update(md=md, html=html)
    return paths
