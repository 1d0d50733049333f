"""Correlation of embeddings with hand-crafted descriptors: COALA's Table 2 for any model.

For the clips of a manifest, :func:`run_cca_report` computes (1) one embedding per clip for each
model -- a :class:`musicrep.embed.Embedder` scene embedding, or a row of an embeddings ``.npz``
made earlier -- (2) the frame statistics of librosa descriptors
(:mod:`musicrep.analysis.descriptors`) and (3) the similarity of the embeddings with each
descriptor statistic (``mean``, ``var``, ``skew`` of each descriptor, and the three together,
``all``), next to a permutation baseline (the same similarity with the clips shuffled). It
writes to the report folder:

* ``cca.json`` -- every number, the settings, the clips used and any clip that failed;
* ``cca.md``, ``cca.html`` -- a table like COALA's Table 2 (rows: descriptor statistics;
  columns: models), with the number of clips and the dimensions of each view, rendered by the
  shared :class:`musicrep.report.Report` (the HTML self-contained);
* ``cca.png``  -- a bar plot of the same numbers, with the permutation baselines marked.

Methods
-------
``svcca`` (default)
    SVCCA (Raghu et al. 2017): each view reduced by SVD to the directions explaining 99 % of its
    variance, at most ``max_dims`` of them (default ``N // 10`` so that N stays >= 10x the
    dimensions of each view), then the mean canonical correlation.
``cca``
    The mean of all canonical correlations without reduction: COALA's measure (svcca's
    ``cca_core``, computed on ~19k clips and a 1152-d embedding). With few clips it overfits: once
    the embedding has as many dimensions as there are clips every correlation is 1.
``cka``
    Linear CKA (Kornblith et al. 2019).
``kernel-cka``
    CKA with RBF kernels, bandwidth ``sigma`` times the median distance between clips.

Preprocessing (choices, the papers are silent): descriptor columns are standardised
(zero mean, unit variance; constant columns dropped) because a descriptor group mixes units
(e.g. Hz and Hz^2 in ``all``) and the SVD step and CKA depend on the scale of the columns.
Embeddings are only centered, as in SVCCA. Every model is compared on the same clips and with
the same permutations.

Examples
--------
>>> report = run_cca_report(                                   # doctest: +SKIP
...     "data/corpus/tags.csv", models=["mfcc", "models/musicnn"], out="reports/cca",
...     split="test", max_clips=300)
>>> report.results["musicnn"]["mfcc"]["mean"]["similarity"]   # doctest: +SKIP
0.71
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
from musicrep.analysis.descriptors import (
    DESCRIPTOR_LABELS,
    STATS,
    DescriptorConfig,
    clip_descriptors,
    split_stats,
)
from musicrep.errors import ConfigError, MusicrepError

__all__ = [
    "GROUPS",
    "METHODS",
    "CCAReport",
    "EmbeddingSource",
    "parse_source",
    "run_cca_report",
]

#: Similarity methods of the report, with the description written into it.
METHODS: dict[str, str] = {
    "svcca": "SVCCA: mean canonical correlation after reducing each view by SVD to the "
    "directions explaining {keep:.0%} of its variance (at most {max_dims} per view)",
    "cca": "mean canonical correlation (all coefficients, no reduction; the measure of COALA, "
    "Table 2, via svcca's cca_core)",
    "pwcca": "PWCCA: canonical correlations weighted by how much of the embedding lies along "
    "each direction (Morcos et al. 2018)",
    "cka": "linear CKA",
    "kernel-cka": "CKA with RBF kernels (bandwidth {sigma:g} x the median distance)",
}
#: Descriptor statistics compared with the embedding: each statistic, then all three together.
GROUPS: tuple[str, ...] = (*STATS, "all")
#: Default number of clips (N) and of permutations of the baseline.
DEFAULT_MAX_CLIPS = 300
DEFAULT_PERMUTATIONS = 20
#: ``max_dims="auto"`` keeps at most N // AUTO_DIMS_RATIO directions per view for SVCCA.
AUTO_DIMS_RATIO = 10


@dataclass(frozen=True)
class EmbeddingSource:
    """Where a model's embeddings come from.

    Attributes
    ----------
    label : str
        Column name in the report.
    kind : {"model", "file"}
        An :class:`~musicrep.embed.Embedder` model spec, or an embeddings ``.npz``.
    spec : str
        The model spec (zoo name, exported folder, ``"mfcc"``) or the ``.npz`` path.
    """

    label: str
    kind: str
    spec: str


def parse_source(text: str, kind: str) -> EmbeddingSource:
    """Parse ``[LABEL=]SPEC`` into an :class:`EmbeddingSource`.

    Without a label, the label is the folder or file name (``models/coala`` -> ``coala``,
    ``emb/coala.npz`` -> ``coala``).
    """
    if kind not in ("model", "file"):
        raise ConfigError(f"unknown embedding source kind {kind!r}")
    label, sep, spec = text.partition("=")
    if not sep or not label or os.path.sep in label:
        label, spec = "", text
    if not spec:
        raise ConfigError(f"empty model/embeddings spec in {text!r}")
    if not label:
        p = Path(spec.rstrip("/\\"))
        label = (p.stem if kind == "file" else p.name) or spec
    return EmbeddingSource(label=label, kind=kind, spec=spec)


@dataclass
class CCAReport:
    """What :func:`run_cca_report` computed and wrote.

    Attributes
    ----------
    results : dict
        ``results[model_label][descriptor][group]`` -> dict with ``similarity``,
        ``baseline_mean``, ``baseline_std``, ``x_dims`` / ``y_dims`` (dimensions of the embedding
        and descriptor views that entered the measure) and, for CCA methods, ``correlations``.
    n_clips : int
        Clips used (N).
    failures : list of dict
        ``{"path", "reason"}`` of clips left out.
    document : dict
        The content of ``cca.json``.
    paths : dict of str to Path
        ``"json"``, ``"md"``, ``"png"``.
    """

    results: dict[str, Any]
    n_clips: int
    failures: list[dict[str, str]]
    document: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------- inputs


def _select_rows(manifest_path: str | os.PathLike, split: str | None, max_clips: int, seed: int):
    from musicrep.data.manifest import Manifest

    manifest = Manifest.read(manifest_path)
    if split is not None:
        sub = manifest.split(split)
        if len(sub) == 0:
            raise ConfigError(
                f"{manifest_path}: no rows in split {split!r}",
                f"splits present: {', '.join(manifest.splits()) or 'none'}",
            )
        manifest = sub
    rows = list(manifest)
    if not rows:
        raise ConfigError(f"{manifest_path}: the manifest has no rows")
    if max_clips and len(rows) > max_clips:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_clips, replace=False))
        rows = [rows[i] for i in keep]
    return rows


def _path_key(path: str | os.PathLike) -> str:
    return os.path.normcase(os.path.realpath(path))


def _file_vectors(
    spec: str, rows: list, manifest_path: Path
) -> tuple[list[np.ndarray | None], str]:
    """Each row's vector (``None`` without one) from an embeddings file, and the model name it
    records: :func:`musicrep.embeddings.load`, joined by :func:`musicrep.embeddings.join`."""
    from musicrep import embeddings
    from musicrep.data.manifest import Manifest

    e = embeddings.load(spec)
    root = Path(os.path.abspath(manifest_path.parent))
    joined = e.join(Manifest(rows, root, source=str(manifest_path)))
    vecs: list[np.ndarray | None] = [None] * len(rows)
    for pos, vec in zip(joined.positions, joined.X.astype(np.float64)):
        vecs[int(pos)] = vec
    return vecs, e.model


def _standardize(Y: np.ndarray) -> np.ndarray | None:
    """Z-score columns; drop constant ones. ``None`` if every column is constant."""
    std = Y.std(axis=0)
    scale = np.maximum(np.abs(Y).max(axis=0), 1e-300)
    keep = std > 1e-10 * scale
    if not np.any(keep):
        return None
    Y = Y[:, keep]
    return (Y - Y.mean(axis=0)) / std[keep]


class _Scorer:
    """One method's similarity between a prepared embedding and prepared descriptor views.

    ``score(perm)`` is the similarity with the descriptor rows permuted by ``perm`` (``None`` =
    unpermuted). Everything that does not depend on the permutation is computed once, which
    makes the permutation baseline cheap; each score equals the public function of
    :mod:`~musicrep.analysis.similarity` on the same (prepared) views:

    * ``svcca`` / ``cca``: mean of the singular values of ``Wx^T Wy[perm]`` with ``W`` the
      :func:`~.similarity.whitened_basis` of each view (= :func:`~.similarity.cca`);
    * ``cka``: ``||Yc[perm]^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` (=
      :func:`~.similarity.linear_cka`);
    * ``kernel-cka``: centered RBF Gram matrices, the descriptor one permuted on both axes (=
      :func:`~.similarity.kernel_cka`).
    """

    def __init__(self, method: str, E: np.ndarray, Y: np.ndarray, reg: float, sigma: float):
        self.method = method
        self.dims = {"x_dims": int(E.shape[1]), "y_dims": int(Y.shape[1])}
        if method in ("svcca", "cca"):
            self.a = sim.whitened_basis(E, reg)
            self.b = sim.whitened_basis(Y, reg)
        elif method == "pwcca":
            # the weights depend on the embedding's own columns: nothing to precompute
            self.a, self.b, self.reg = E, Y, reg
        elif method == "cka":
            self.a = E - E.mean(axis=0)
            self.b = Y - Y.mean(axis=0)
            self.norm = np.linalg.norm(self.a.T @ self.a) * np.linalg.norm(self.b.T @ self.b)
        elif method == "kernel-cka":
            self.a = sim.center_gram(sim.gram_rbf(E, sigma))
            self.b = sim.center_gram(sim.gram_rbf(Y, sigma))
            self.norm = np.linalg.norm(self.a) * np.linalg.norm(self.b)
        else:
            raise ConfigError(
                f"unknown similarity method {method!r}", f"use one of {', '.join(METHODS)}"
            )

    def correlations(self, perm: np.ndarray | None = None) -> np.ndarray:
        b = self.b if perm is None else self.b[perm]
        return np.clip(np.linalg.svd(self.a.T @ b, compute_uv=False), 0.0, 1.0)

    def score(self, perm: np.ndarray | None = None) -> float:
        if self.method in ("svcca", "cca"):
            return float(np.mean(self.correlations(perm)))
        if self.method == "pwcca":
            b = self.b if perm is None else self.b[perm]
            return sim.pwcca(self.a, b, reg=self.reg).similarity
        if self.method == "cka":
            b = self.b if perm is None else self.b[perm]
            return float(np.sum((b.T @ self.a) ** 2) / self.norm)
        b = self.b if perm is None else self.b[np.ix_(perm, perm)]
        return float(np.sum(self.a * b) / self.norm)


def _prepare(A: np.ndarray, method: str, keep_variance: float, cap: int | None) -> np.ndarray:
    """A view in the basis of its principal directions: ``(n, k)``.

    For ``svcca`` this is the SVD step (``keep_variance``, at most ``cap`` directions). For the
    other methods every non-null direction is kept: a rotation, which leaves CCA, linear CKA and
    RBF distances unchanged but makes each measure (and each of its permutations) cost ``O(n k^2)``
    instead of ``O(n D^2)`` for a ``D``-dimensional embedding. Permuting the rows of a view
    permutes the rows of its reduction, so the reduction is done once, not per permutation.
    """
    if method == "svcca":
        return sim.svd_reduce(A, keep_variance, cap)
    if method == "pwcca":
        return A  # PWCCA's weights are not rotation invariant: keep the view's own columns
    return sim.svd_reduce(A, 1.0)


# --------------------------------------------------------------------------- main entry


def run_cca_report(
    manifest: str | os.PathLike,
    *,
    models: Sequence[str | EmbeddingSource] = (),
    embeddings: Sequence[str | EmbeddingSource] = (),
    out: str | os.PathLike,
    split: str | None = None,
    max_clips: int = DEFAULT_MAX_CLIPS,
    method: str = "svcca",
    descriptor_config: DescriptorConfig | None = None,
    keep_variance: float = sim.DEFAULT_KEEP_VARIANCE,
    max_dims: int | str | None = "auto",
    reg: float = sim.DEFAULT_RIDGE,
    sigma: float = 1.0,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    batch_size: int = 16,
    device: str | None = None,
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> CCAReport:
    """Compute and write the embedding/descriptor correlation report.

    Parameters
    ----------
    manifest : path
        Manifest CSV of the clips (``path``, ``labels``, ``split``; ``start``/``duration``
        segments are honoured for ``models``).
    models : sequence of str or EmbeddingSource
        ``[LABEL=]SPEC`` of models embedded on the fly with :class:`musicrep.embed.Embedder`
        (a zoo name -- an untrained encoder --, an exported model folder, or ``"mfcc"``).
    embeddings : sequence of str or EmbeddingSource
        ``[LABEL=]FILE.npz`` of precomputed embeddings (``paths``, ``embeddings``), joined to
        the manifest by file path.
    out : path
        Report folder (created); ``cca.json``, ``cca.md``, ``cca.html`` and ``cca.png`` are
        written atomically.
    split : {"train", "valid", "test"}, optional
        Use only this split (default: every row).
    max_clips : int
        Use at most this many clips (a seeded random subset, in manifest order); 0 = all.
    method : {"svcca", "cca", "pwcca", "cka", "kernel-cka"}
        Similarity measure (see the module docstring).
    descriptor_config : DescriptorConfig, optional
        Descriptor settings (default: MFCC, chroma, centroid, bandwidth on the whole clip at
        22,050 Hz).
    keep_variance : float
        SVCCA: variance kept per view.
    max_dims : int, "auto" or None
        SVCCA: cap on the directions kept per view; ``"auto"`` = ``N // 10``; ``None`` = no cap.
    reg : float
        Relative ridge of the CCA (``svcca``, ``cca``), see :func:`~.similarity.cca_fit`.
    sigma : float
        ``kernel-cka``: RBF bandwidth as a multiple of the median distance.
    permutations : int
        Permutations of the baseline (0 = no baseline).
    seed : int
        Seed of the clip subset and of the permutations (the same for every model).
    batch_size : int
        Windows per forward pass of the :class:`~musicrep.embed.Embedder` (``models``).
    device : str, optional
        Device of the embedders (default ``"cpu"``).
    show_progress : bool
        Progress bar on stderr.
    log : callable, optional
        Receives progress messages (default: stderr).

    Returns
    -------
    CCAReport

    Raises
    ------
    ConfigError
        No model/embeddings, unknown method or split, duplicate labels, bad files, fewer than 3
        usable clips.
    """
    from musicrep.audio import load
    from musicrep.utils import environment_info, progress

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if method not in METHODS:
        raise ConfigError(
            f"unknown similarity method {method!r}", f"use one of {', '.join(METHODS)}"
        )
    if permutations < 0:
        raise ConfigError(f"permutations must be >= 0; got {permutations}")
    if max_clips < 0:
        raise ConfigError(f"max_clips must be >= 0 (0 = all); got {max_clips}")
    if not 0.0 < keep_variance <= 1.0:
        raise ConfigError(f"keep_variance must be in (0, 1]; got {keep_variance}")
    if isinstance(max_dims, str) and max_dims != "auto":
        raise ConfigError(f"max_dims must be a positive integer, 'auto' or None; got {max_dims!r}")
    if isinstance(max_dims, int) and max_dims < 1:
        raise ConfigError(f"max_dims must be >= 1; got {max_dims}")
    sources = [s if isinstance(s, EmbeddingSource) else parse_source(s, "model") for s in models]
    sources += [
        s if isinstance(s, EmbeddingSource) else parse_source(s, "file") for s in embeddings
    ]
    if not sources:
        raise ConfigError(
            "nothing to analyse: give at least one model or embeddings file",
            "use --model NAME|DIR|mfcc or --embeddings FILE.npz",
        )
    labels = [s.label for s in sources]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(
            f"two models share the label(s) {', '.join(dupes)}",
            "name them: --model LABEL=SPEC / --embeddings LABEL=FILE.npz",
        )
    config = descriptor_config or DescriptorConfig()
    manifest_path = Path(manifest)
    rows = _select_rows(manifest_path, split, max_clips, seed)

    failures: list[dict[str, str]] = []
    failed: set[int] = set()

    def fail(i: int, reason: str) -> None:
        if i not in failed:
            failed.add(i)
            failures.append({"path": str(rows[i].path), "reason": reason})

    # precomputed embeddings: join by path
    file_vectors: dict[str, list[np.ndarray | None]] = {}
    model_names: dict[str, str] = {}
    file_sources = [s for s in sources if s.kind == "file"]
    if file_sources:
        keys = [_path_key(r.path) for r in rows]
        if len(set(keys)) != len(keys):
            raise ConfigError(
                f"{manifest_path}: several selected rows are segments of the same file; an "
                "embeddings file has one vector per file and cannot be joined to them",
                "use --model to embed each segment, or a manifest with one row per file",
            )
        for s in file_sources:
            vecs, model_names[s.label] = _file_vectors(s.spec, rows, manifest_path)
            missing = [i for i, v in enumerate(vecs) if v is None]
            for i in missing:
                fail(i, f"no embedding in {s.spec}")
            if missing:
                log(f"{s.spec}: {len(missing)} of {len(rows)} clips have no embedding; left out")
            file_vectors[s.label] = vecs

    # models: embed on the fly, in the same pass as the descriptors (audio decoded once)
    embedders = {}
    for s in sources:
        if s.kind == "model":
            from musicrep.embed import Embedder

            emb = Embedder(s.spec, device=device or "cpu", batch_size=batch_size, seed=seed)
            embedders[s.label] = emb
            model_names[s.label] = emb.name

    descs: list[dict[str, np.ndarray] | None] = [None] * len(rows)
    model_vectors: dict[str, list[np.ndarray | None]] = {k: [None] * len(rows) for k in embedders}
    bar = progress(
        range(len(rows)), desc="clips", unit="clip", disable=None if show_progress else True
    )
    for i in bar:
        if i in failed:
            continue
        row = rows[i]
        try:
            wave, sr = load(row.path, sr=None, offset=row.start or 0.0, duration=row.duration)
            descs[i] = clip_descriptors(wave, sr, config)
            for label, emb in embedders.items():
                vec = np.asarray(emb.scene(wave, sr), dtype=np.float64).reshape(-1)
                model_vectors[label][i] = vec
        except MusicrepError as exc:
            fail(i, getattr(exc, "reason", None) or exc.message)
            log(f"musicrep: {row.path}: {getattr(exc, 'reason', None) or exc.message}")
    used = [i for i in range(len(rows)) if i not in failed]
    n = len(used)
    if n < 3:
        raise ConfigError(
            f"only {n} usable clip(s) ({len(failures)} failed); at least 3 are needed",
            "check the manifest and the failures printed above",
        )

    vectors = {**model_vectors, **file_vectors}
    emb_matrices: dict[str, np.ndarray] = {}
    for s in sources:
        vecs = [vectors[s.label][i] for i in used]
        dims = {v.shape[0] for v in vecs}
        if len(dims) != 1:
            raise ConfigError(f"{s.spec}: embeddings of different sizes {sorted(dims)}")
        E = np.stack(vecs)
        if not np.all(np.isfinite(E)):
            raise ConfigError(f"{s.spec}: the embeddings contain NaN/Inf values")
        emb_matrices[s.label] = E
    desc_tables = {name: np.stack([descs[i][name] for i in used]) for name in config.descriptors}

    cap = None
    if method == "svcca":
        cap = max(1, n // AUTO_DIMS_RATIO) if max_dims == "auto" else max_dims
    prepared_desc: dict[tuple[str, str], tuple[int, np.ndarray | str]] = {}
    for name, table in desc_tables.items():
        groups = {**split_stats(table), "all": table}
        for group in GROUPS:
            Y = _standardize(groups[group])
            prepared = (
                _prepare(Y, method, keep_variance, cap)
                if Y is not None
                else "constant over the clips"
            )
            prepared_desc[name, group] = (int(groups[group].shape[1]), prepared)
    results: dict[str, Any] = {}
    for s in sources:
        try:
            E: np.ndarray | None = _prepare(emb_matrices[s.label], method, keep_variance, cap)
            why = ""
        except sim.SimilarityError as exc:
            E, why = None, f"embedding: {exc.message}"
        results[s.label] = {name: {} for name in desc_tables}
        for (name, group), (dims, Y) in prepared_desc.items():
            entry: dict[str, Any] = {"descriptor_dims": dims}
            if E is None or isinstance(Y, str):
                entry.update(similarity=None, note=why or Y)
                results[s.label][name][group] = entry
                continue
            try:
                scorer = _Scorer(method, E, Y, reg, sigma)
            except sim.SimilarityError as exc:
                entry.update(similarity=None, note=exc.message)
                results[s.label][name][group] = entry
                continue
            entry["similarity"] = scorer.score()
            entry.update(scorer.dims)
            if method in ("svcca", "cca"):
                entry["correlations"] = scorer.correlations().tolist()
            if permutations:
                base = sim.permuted_scores(scorer.score, n, n=permutations, seed=seed)
                entry["baseline_mean"] = base.mean
                entry["baseline_std"] = base.std
            results[s.label][name][group] = entry

    settings = {
        "method": method,
        "method_description": METHODS[method].format(
            keep=keep_variance, max_dims=cap if cap is not None else "no cap", sigma=sigma
        ),
        "keep_variance": keep_variance if method == "svcca" else None,
        "max_dims": cap,
        "reg": reg if method in ("svcca", "cca", "pwcca") else None,
        "sigma": sigma if method == "kernel-cka" else None,
        "permutations": permutations,
        "seed": seed,
        "descriptor_standardization": "z-score per column, constant columns dropped",
        "descriptors": {
            "sr": config.sr,
            "n_fft": config.n_fft,
            "hop_length": config.hop_length,
            "n_mfcc": config.n_mfcc,
            "n_mels": config.n_mels,
            "region": config.region,
            "patch_frames": config.patch_frames if config.region == "max_energy" else None,
            "patch_hop": config.patch_hop if config.region == "max_energy" else None,
            "names": list(config.descriptors),
            "stats": list(STATS),
        },
    }
    document = {
        "format": "musicrep.cca_report",
        "format_version": 1,
        "manifest": str(manifest_path),
        "split": split,
        "n_clips": n,
        "settings": settings,
        "models": [
            {
                "label": s.label,
                "source": s.kind,
                "spec": s.spec,
                "model_name": model_names.get(s.label, ""),
                "embed_dim": int(emb_matrices[s.label].shape[1]),
            }
            for s in sources
        ],
        "results": results,
        "clips": [str(rows[i].path) for i in used],
        "failures": failures,
        "environment": environment_info(),
    }
    out_dir = Path(out)
    paths = _write_outputs(out_dir, document)
    return CCAReport(results=results, n_clips=n, failures=failures, document=document, paths=paths)


# --------------------------------------------------------------------------- outputs


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _row_names(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, g) for name in document["settings"]["descriptors"]["names"] for g in GROUPS]


def build_report(document: dict[str, Any], figure: str | os.PathLike | None = None):
    """The :class:`musicrep.report.Report` of a report document (the content of ``cca.json``),
    with ``figure`` (the bar plot) when given."""
    from musicrep.report import Report

    s = document["settings"]
    n = document["n_clips"]
    models = document["models"]
    method = s["method"]
    rep = Report("Embeddings vs hand-crafted descriptors")
    rep.add_paragraph(
        f"Similarity: **{s['method_description']}**, between each model's clip embeddings and "
        f"the frame statistics (mean, variance, skewness; `all` = the three together) of librosa "
        f"descriptors, on **N = {n} clips** of `{document['manifest']}`"
        + (f" (split `{document['split']}`)" if document["split"] else "")
        + "."
    )
    if s["permutations"]:
        rep.add_paragraph(
            f"In parentheses: the permutation baseline, the mean over {s['permutations']} "
            "shufflings of the clips (the value for unrelated embeddings and descriptors). "
            "Read each similarity against it."
        )
    if method in ("svcca", "cca"):
        rep.add_paragraph(
            "In brackets: the dimensions of the embedding x descriptor views that entered the "
            "CCA. CCA fits the best linear projections of the data it is given, so it overfits "
            "when the dimensions are not much smaller than N (every correlation is 1 once a "
            "view has N dimensions); N should be at least ~10x the dimensions"
            + (
                f". SVCCA keeps at most {s['max_dims']} directions per view here."
                if method == "svcca" and s["max_dims"]
                else "."
            )
        )
    results = document["results"]
    rows = []
    for name, group in _row_names(document):
        first = results[models[0]["label"]][name][group]
        cells = [DESCRIPTOR_LABELS.get(name, name), group, str(first["descriptor_dims"])]
        for m in models:
            e = results[m["label"]][name][group]
            cell = _fmt(e.get("similarity"))
            if e.get("similarity") is not None and "baseline_mean" in e:
                cell += f" ({_fmt(e['baseline_mean'])})"
            if e.get("similarity") is not None and method in ("svcca", "cca"):
                cell += f" [{e['x_dims']}x{e['y_dims']}]"
            cells.append(cell)
        rows.append(cells)
    rep.add_table(
        rows,
        header=["descriptor", "stat", "dims"] + [m["label"] for m in models],
        align=["left", "left", "left"] + ["right"] * len(models),
    )
    if figure is not None:
        rep.add_figure(figure, "similarity per descriptor statistic (bars: permutation baseline)")
    rep.add_table(
        [[m["label"], f"{m['source']}: `{m['spec']}`", str(m["embed_dim"])] for m in models],
        header=["model", "source", "embedding dim"],
        align=["left", "left", "right"],
    )
    d = s["descriptors"]
    region = (
        "the whole clip"
        if d["region"] == "clip"
        else f"the maximum-energy patch of {d['patch_frames']} frames"
    )
    rep.add_paragraph(
        f"Descriptors: librosa at {d['sr']} Hz, n_fft {d['n_fft']}, hop {d['hop_length']}, "
        f"{d['n_mfcc']} MFCCs from {d['n_mels']} mel bands, computed on {region}; descriptor "
        f"columns standardised. Seed {s['seed']}."
    )
    if document["failures"]:
        rep.add_paragraph(f"{len(document['failures'])} clip(s) left out:")
        items = [f"`{f['path']}`: {f['reason']}" for f in document["failures"][:50]]
        if len(document["failures"]) > 50:
            items.append(f"... ({len(document['failures']) - 50} more in cca.json)")
        rep.add_list(items)
    return rep


def render_markdown(document: dict[str, Any]) -> str:
    """The ``cca.md`` text of a report document, without the figure."""
    return build_report(document).to_markdown()


_AXIS_LABELS = {
    "svcca": "SVCCA (mean canonical corr.)",
    "cca": "mean canonical correlation",
    "pwcca": "PWCCA (weighted canonical corr.)",
    "cka": "linear CKA",
    "kernel-cka": "RBF-kernel CKA",
}


def render_plot(document: dict[str, Any], path: str | os.PathLike) -> None:
    """Bar plot of a report document to a PNG file (matplotlib, no display needed)."""
    from matplotlib.figure import Figure

    models = [m["label"] for m in document["models"]]
    rows = _row_names(document)
    results = document["results"]
    width = 0.8 / len(models)
    fig = Figure(figsize=(max(6.0, 0.3 * len(rows) * (1 + 0.25 * len(models)) + 2.5), 4.5))
    ax = fig.subplots()
    x = np.arange(len(rows))
    for j, label in enumerate(models):
        vals = [results[label][n][g].get("similarity") for n, g in rows]
        base = [results[label][n][g].get("baseline_mean") for n, g in rows]
        pos = x - 0.4 + width * (j + 0.5)
        ax.bar(pos, [np.nan if v is None else v for v in vals], width * 0.95, label=label)
        bx = [p for p, b in zip(pos, base) if b is not None]
        by = [b for b in base if b is not None]
        if by:
            ax.hlines(
                by,
                np.array(bx) - width * 0.45,
                np.array(bx) + width * 0.45,
                colors="black",
                linewidth=1.5,
                label="permutation baseline" if j == 0 else None,
            )
    ax.set_xticks(x)
    ax.set_xticklabels(
        [f"{DESCRIPTOR_LABELS.get(n, n)} {g}" for n, g in rows], rotation=60, ha="right"
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(_AXIS_LABELS[document["settings"]["method"]])
    ax.set_title(f"Embeddings vs descriptors, N = {document['n_clips']} clips")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")


def _write_outputs(out_dir: Path, document: dict[str, Any]) -> dict[str, Path]:
    from musicrep.utils import atomic_path, write_json_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "cca.json", "png": out_dir / "cca.png"}
    write_json_atomic(paths["json"], document)
    with atomic_path(paths["png"]) as tmp:
        render_plot(document, tmp)
    paths["md"], paths["html"] = build_report(document, paths["png"]).write(out_dir, "cca")
    return paths
