"""Robustness of trained taggers to noise and other perturbations (Won et al. 2020, §1.7).

Every track of a manifest split is decoded whole, perturbed, cut into equally spaced chunks
and scored track by track (the protocol of :mod:`musicrep.evaluate_tracks`), for every
perturbation at every strength and for every model. The perturbations are the transforms of
:mod:`musicrep.augment` at fixed strengths; each (perturbation, strength) is drawn once per
track from a seeded generator, so all models hear the same perturbed audio.

==================== ============================== ================================ ==========
spec                 transform                      strength                         default
==================== ============================== ================================ ==========
``noise:white``      AddNoise (``pink``, ``brown``;  SNR in dB                        --snr
                     a folder: recorded noise)
``stretch``          TimeStretch                    tempo rate                       0.71, 0.84, 1.19, 1.41
``pitch``            PitchShift                     semitones                        -2, -1, 1, 2
``compress[:R]``     Compressor (ratio R, 4)        threshold, dB re. peak level     -10, -20, -30, -40
``bandlimit``        Downsample (ideal low-pass,    cut-off in Hz                    6000, 4000, 3000, 2000, 1000
                     as MP3 encoders' band limits)
==================== ============================== ================================ ==========

Strengths are given after ``=``: ``stretch=0.8,1.25``, ``noise:pink=20,10``. The Won et al.
experiment: time stretch in ``[2^-0.5, 2^0.5]``, pitch shift in ``[-1, 1]`` semitones, sox
``compand`` presets, white noise mixed as ``(1 - r) x + r n`` (here: at an exact SNR instead).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musicrep.errors import AudioError, ConfigError

__all__ = [
    "KINDS",
    "Perturbation",
    "RobustnessResult",
    "measured_snr_db",
    "parse_perturbations",
    "parse_strengths",
    "run_robustness",
]


@dataclass(frozen=True)
class _Kind:
    strength: str  # name of the strength axis, with its unit
    defaults: tuple[float, ...]
    variants: tuple[str, ...] = ()  # valid ":variant" values ("" = none); noise takes a folder too


KINDS: dict[str, _Kind] = {
    "noise": _Kind("SNR (dB)", (40, 30, 20, 10, 5, 0), ("white", "pink", "brown")),
    "stretch": _Kind("tempo rate", (2**-0.5, 2**-0.25, 2**0.25, 2**0.5)),
    "pitch": _Kind("pitch shift (semitones)", (-2, -1, 1, 2)),
    "compress": _Kind("threshold (dB re. peak)", (-10, -20, -30, -40)),
    "bandlimit": _Kind("low-pass cut-off (Hz)", (6000, 4000, 3000, 2000, 1000)),
}


@dataclass(frozen=True)
class Perturbation:
    """One perturbation family: ``kind`` (see :data:`KINDS`), ``variant`` and its strengths."""

    kind: str
    variant: str = ""
    strengths: tuple[float, ...] = ()

    @property
    def name(self) -> str:
        """``noise:white``, ``compress:4``, ``stretch``."""
        if self.kind == "noise" and self.variant not in KINDS["noise"].variants:
            return f"noise:{Path(self.variant).name or self.variant}"
        return f"{self.kind}:{self.variant}" if self.variant else self.kind

    @property
    def axis(self) -> str:
        return KINDS[self.kind].strength

    def transform(self, strength: float, sample_rate: int, seed: int):
        """The :mod:`musicrep.augment` transform at ``strength`` (fixed), seeded."""
        from musicrep import augment

        s = float(strength)
        if self.kind == "noise":
            if self.variant in KINDS["noise"].variants:
                return augment.AddNoise(sample_rate, snr_db=s, color=self.variant, seed=seed)
            return augment.AddNoise(sample_rate, snr_db=s, noise_dir=self.variant, seed=seed)
        if self.kind == "stretch":
            return augment.TimeStretch(sample_rate, rate=s, seed=seed)
        if self.kind == "pitch":
            return augment.PitchShift(sample_rate, semitones=s, seed=seed)
        if self.kind == "compress":
            ratio = float(self.variant) if self.variant else 4.0
            return augment.Compressor(sample_rate, threshold_db=s, ratio=ratio, seed=seed)
        if self.kind == "bandlimit":
            return augment.Downsample(
                sample_rate, rate=min(2 * s, sample_rate), preserve_energy=False, seed=seed
            )
        raise ConfigError(f"unknown perturbation {self.kind!r}")  # pragma: no cover


def parse_strengths(text: str, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(
            f"{what}: strengths must be numbers separated by commas; got {text!r}"
        ) from None
    if not values:
        raise ConfigError(f"{what}: no strength given")
    return values


def parse_perturbations(
    specs: Sequence[str], snr: Sequence[float] | None = None
) -> list[Perturbation]:
    """``["noise:white", "stretch=0.8,1.25", "compress:8"]`` -> perturbations.

    Noise without ``=`` takes ``snr`` (default 40, 30, 20, 10, 5, 0 dB); other kinds their
    defaults (:data:`KINDS`). A noise variant that is not a colour must be a folder of noise
    recordings.
    """
    out = []
    for spec in specs:
        head, _, values = str(spec).partition("=")
        kind, _, variant = head.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in KINDS:
            raise ConfigError(
                f"unknown perturbation {spec!r}",
                "use noise:white|pink|brown|FOLDER, stretch, pitch, compress[:RATIO], bandlimit "
                "(strengths after =, e.g. pitch=-1,1)",
            )
        if kind == "noise":
            if not variant:
                raise ConfigError(f"{spec!r}: say which noise", "noise:white, noise:pink, ...")
            if variant not in KINDS["noise"].variants and not Path(variant).is_dir():
                raise ConfigError(
                    f"{spec!r}: {variant!r} is neither a noise colour nor a folder",
                    "use white, pink, brown or a folder of noise recordings",
                )
        elif kind == "compress" and variant:
            if parse_strengths(variant, spec)[0] < 1:
                raise ConfigError(f"{spec!r}: the compression ratio must be >= 1")
        elif variant:
            raise ConfigError(f"{spec!r}: {kind} takes no ':' option")
        if values:
            strengths = parse_strengths(values, spec)
        elif kind == "noise" and snr is not None:
            strengths = tuple(float(s) for s in snr)
        else:
            strengths = KINDS[kind].defaults
        out.append(Perturbation(kind, variant, tuple(strengths)))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"a perturbation is given twice: {names}")
    return out


def measured_snr_db(clean: torch.Tensor, noisy: torch.Tensor) -> float:
    """``10 log10(P_clean / P_(noisy - clean))`` over the whole signal."""
    p_x = float(clean.double().square().mean())
    p_n = float((noisy.double() - clean.double()).square().mean())
    return float("inf") if p_n == 0 else 10 * np.log10(max(p_x, 1e-300) / p_n)


@dataclass
class _Model:
    label: str
    spec: str
    net: torch.nn.Module
    vocab: list[str]
    task: str
    sample_rate: int
    input_samples: int


@dataclass
class RobustnessResult:
    """Scores per model, perturbation and strength, plus where the report went."""

    metric: str
    models: list[str]
    clean: dict[str, float]
    curves: dict[str, dict[str, list[tuple[float, float]]]]  # perturbation -> model -> points
    snr_check: list[dict] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)
    document: dict = field(default_factory=dict)

    def mean_drop(self, perturbation: str, model: str, strengths=None) -> float:
        """Mean of ``clean - score`` over the perturbation's strengths (or ``strengths``)."""
        pts = self.curves[perturbation][model]
        vals = [self.clean[model] - v for s, v in pts if strengths is None or s in strengths]
        return float(np.mean(vals)) if vals else float("nan")


def _load_models(models: Sequence[str], device: str) -> list[_Model]:
    from musicrep.io import load_model

    out, seen = [], set()
    for text in models:
        label, sep, spec = str(text).partition("=")
        if not sep or Path(text).exists():
            label, spec = Path(str(text).rstrip("/")).name or str(text), str(text)
        if label in seen:
            raise ConfigError(f"two models are labelled {label!r}", "label them: --model A=PATH")
        seen.add(label)
        net, meta, _ = load_model(spec, device=device, untrained_ok=False)
        if not meta.get("vocab") or not meta.get("task"):
            raise ConfigError(
                f"{spec} has no labels (an embedding model)",
                "robustness scores tagging/classification models: a training run or export",
            )
        enc = getattr(net, "encoder", net)
        out.append(
            _Model(
                label,
                spec,
                net.eval(),
                list(meta["vocab"]),
                str(meta["task"]),
                int(enc.sample_rate),
                int(enc.input_samples),
            )
        )
    first = out[0]
    for m in out[1:]:
        if m.vocab != first.vocab or m.task != first.task:
            raise ConfigError(
                f"{m.spec} and {first.spec} predict different labels",
                "compare models trained on the same manifest",
            )
    return out


def _default_metric(task: str) -> str:
    return "roc_auc" if task == "multilabel" else "accuracy"


@torch.no_grad()
def _score(model: _Model, waves, targets, n_chunks: int, batch_size: int, device: str) -> dict:
    """Track-level metrics of ``model`` on ``waves`` (one array per track)."""
    from musicrep.audio import equally_spaced_chunks
    from musicrep.evaluate_tracks import (
        TrackPredictions,
        activation_for,
        average_chunks,
        score_predictions,
    )

    act = activation_for(model.task)
    chunks = np.concatenate(
        [equally_spaced_chunks(w, model.input_samples, n_chunks, endpoint=False) for w in waves]
    )
    probs = []
    for i in range(0, len(chunks), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(chunks[i : i + batch_size], dtype=np.float32))
        probs.append(act(model.net(x.to(device)).float()).cpu())
    scores = average_chunks(torch.cat(probs), n_chunks).numpy()
    preds = TrackPredictions(scores, np.asarray(targets), np.arange(len(waves)))
    return score_predictions(preds, model.vocab, model.task)


def run_robustness(
    models: Sequence[str],
    manifest: str | os.PathLike,
    perturbations: Sequence[Perturbation],
    out: str | os.PathLike,
    *,
    split: str = "test",
    metric: str | None = None,
    n_chunks: int = 4,
    max_tracks: int = 0,
    seed: int = 0,
    batch_size: int = 16,
    device: str = "cpu",
    show_progress: bool = True,
) -> RobustnessResult:
    """Score ``models`` on ``split`` of ``manifest`` clean and under every perturbation.

    Writes ``robustness.json``, ``report.md``/``report.html`` (a table of scores per strength,
    the mean drop per perturbation, the measured SNRs of the noise conditions) and one curve
    plot per perturbation (``curves.png``) to ``out``.
    """
    from musicrep.data.dataset import TrackDataset
    from musicrep.data.manifest import Manifest
    from musicrep.utils import progress

    if not models:
        raise ConfigError("no model given", "pass --model RUN_OR_EXPORT (repeat to compare)")
    if not perturbations:
        raise ConfigError("no perturbation given", "pass --perturb noise:white (repeat)")
    loaded = _load_models(models, device)
    task, vocab = loaded[0].task, loaded[0].vocab
    metric = metric or _default_metric(task)
    rows = Manifest.read(manifest)
    rates = sorted({m.sample_rate for m in loaded})
    clean: dict[int, list[np.ndarray]] = {}
    targets, skipped = None, []
    for sr in rates:
        ds = TrackDataset(rows, split, vocab, sr, loaded[0].input_samples, task, n_chunks=n_chunks)
        if not len(ds):
            raise ConfigError(f"{manifest}: no usable track in split {split!r}")
        index = list(range(len(ds)))
        if max_tracks and len(index) > max_tracks:
            index = sorted(np.random.default_rng(seed).choice(len(ds), max_tracks, replace=False))
        waves, keep = [], []
        for i in index:
            try:
                waves.append(ds.load_wave(i))
                keep.append(i)
            except AudioError as exc:
                skipped.append(f"{ds.items[i].path}: {exc.reason}")
        clean[sr] = waves
        t = [ds.items[i].target for i in keep]
        targets = np.stack(t) if task == "multilabel" else np.asarray(t)
    # conditions: (perturbation name, strength); clean first
    conditions: list[tuple[Perturbation | None, float | None]] = [(None, None)]
    conditions += [(p, s) for p in perturbations for s in p.strengths]
    scores: dict[tuple[str, float | None], dict[str, float]] = {}
    snr_check: list[dict] = []
    bar = progress(conditions, desc="perturbations", unit="condition", disable=not show_progress)
    for k, (pert, strength) in enumerate(bar):
        key = ("clean", None) if pert is None else (pert.name, float(strength))
        scores[key] = {}
        for sr in rates:
            if pert is None:
                waves = clean[sr]
            else:
                t = pert.transform(strength, sr, seed=seed + 1000 * k)
                waves = []
                for w in clean[sr]:
                    x = torch.from_numpy(np.asarray(w, dtype=np.float32))[None]
                    waves.append(t(x)[0].numpy())
                if pert.kind == "noise":
                    measured = [
                        measured_snr_db(torch.from_numpy(c), torch.from_numpy(n))
                        for c, n in zip(clean[sr], waves)
                    ]
                    finite = [m for m in measured if np.isfinite(m)]
                    snr_check.append(
                        {
                            "perturbation": pert.name,
                            "target_db": float(strength),
                            "sample_rate": sr,
                            "mean_db": float(np.mean(finite)) if finite else None,
                            "max_abs_error_db": float(np.max(np.abs(np.asarray(finite) - strength)))
                            if finite
                            else None,
                        }
                    )
            for m in loaded:
                if m.sample_rate != sr:
                    continue
                res = _score(m, waves, targets, n_chunks, batch_size, device)
                if metric not in res["metrics"]:
                    raise ConfigError(
                        f"metric {metric!r} not available for a {task} task",
                        f"use one of {', '.join(res['metrics'])}",
                    )
                scores[key][m.label] = float(res["metrics"][metric])
    labels = [m.label for m in loaded]
    clean_scores = scores[("clean", None)]
    curves = {
        p.name: {
            lab: [(float(s), scores[(p.name, float(s))][lab]) for s in p.strengths]
            for lab in labels
        }
        for p in perturbations
    }
    result = RobustnessResult(metric, labels, clean_scores, curves, snr_check)
    result.document = {
        "manifest": str(manifest),
        "split": split,
        "tracks": len(targets),
        "chunks_per_track": n_chunks,
        "metric": metric,
        "seed": seed,
        "models": {m.label: m.spec for m in loaded},
        "clean": clean_scores,
        "perturbations": [
            {
                "name": p.name,
                "kind": p.kind,
                "variant": p.variant,
                "axis": p.axis,
                "strengths": list(p.strengths),
                "scores": curves[p.name],
            }
            for p in perturbations
        ],
        "snr_check": snr_check,
        "skipped": skipped,
    }
    _write_report(result, perturbations, Path(out))
    return result


#: Strength at which a perturbation does nothing (plotted with the clean score).
_IDENTITY = {"stretch": 1.0, "pitch": 0.0}


def _fmt(v: float) -> str:
    return f"{v:.4f}"


def plot_curves(result: RobustnessResult, perturbations: Sequence[Perturbation], path: Path):
    """One panel per perturbation: the metric against the strength, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicrep.utils import atomic_path

    n = len(perturbations)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, p in zip(axes.flat, perturbations):
        identity = _IDENTITY.get(p.kind)
        for i, lab in enumerate(result.models):
            pts = list(result.curves[p.name][lab])
            if identity is not None:  # the clean score sits at the identity strength
                pts.append((identity, result.clean[lab]))
            pts.sort()
            c = f"C{i % 10}"
            ax.plot([s for s, _ in pts], [v for _, v in pts], "o-", color=c, label=lab, ms=3)
            ax.axhline(result.clean[lab], color=c, ls=":", lw=0.8)
        ax.set_title(p.name)
        ax.set_xlabel(p.axis)
        ax.set_ylabel(result.metric)
        if p.kind in ("noise", "compress", "bandlimit"):
            ax.invert_xaxis()  # stronger perturbation to the right
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{result.metric} under perturbations (dotted: clean)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def _write_report(result: RobustnessResult, perturbations, out: Path) -> None:
    from musicrep.report import Report
    from musicrep.utils import write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    doc = result.document
    rep = Report("Robustness to perturbations")
    rep.add_paragraph(
        f"Manifest `{doc['manifest']}`, split `{doc['split']}`: {doc['tracks']} tracks, "
        f"{doc['chunks_per_track']} equally spaced chunks per track, track-level "
        f"**{result.metric}**. Every perturbation is applied to the whole track "
        f"(`musicrep.augment`, seed {doc['seed']}); all models hear the same perturbed audio."
    )
    rep.add_table(
        [[lab, f"`{spec}`", _fmt(result.clean[lab])] for lab, spec in doc["models"].items()],
        header=["model", "source", f"clean {result.metric}"],
        align=["left", "left", "right"],
    )
    result.paths["curves"] = plot_curves(result, perturbations, out / "curves.png")
    rep.add_figure(result.paths["curves"], f"{result.metric} against perturbation strength")
    rep.add_heading("Mean drop from clean (over all strengths; smaller is more robust)")
    body = []
    for p in perturbations:
        drops = {lab: result.mean_drop(p.name, lab) for lab in result.models}
        best = min(drops.values())
        body.append([p.name] + [f"**{_fmt(d)}**" if d == best else _fmt(d) for d in drops.values()])
    rep.add_table(
        body,
        header=["perturbation", *result.models],
        align=["left"] + ["right"] * len(result.models),
    )
    for p in perturbations:
        rep.add_heading(f"{p.name}: {result.metric} by {p.axis}", level=3)
        rows = [
            [f"{s:g}"] + [_fmt(dict(result.curves[p.name][lab])[float(s)]) for lab in result.models]
            for s in p.strengths
        ]
        rows.insert(0, ["clean"] + [_fmt(result.clean[lab]) for lab in result.models])
        rep.add_table(
            rows, header=[p.axis, *result.models], align=["left"] + ["right"] * len(result.models)
        )
    if result.snr_check:
        rep.add_heading("Measured SNR of the noise conditions")
        rep.add_table(
            [
                [
                    c["perturbation"],
                    f"{c['target_db']:g}",
                    f"{c['mean_db']:.3f}",
                    f"{c['max_abs_error_db']:.2e}",
                ]
                for c in result.snr_check
                if c["mean_db"] is not None
            ],
            header=["noise", "target (dB)", "mean measured (dB)", "max |error| (dB)"],
            align=["left", "right", "right", "right"],
        )
    if doc["skipped"]:
        rep.add_heading("Tracks left out")
        rep.add_list(doc["skipped"])
    result.paths["json"] = out / "robustness.json"
    write_json_atomic(result.paths["json"], doc)
    result.paths["md"], result.paths["html"] = rep.write(out)
