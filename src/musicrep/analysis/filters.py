"""Frequency responses of what a model learned at its input: front-end filters and first convs.

:func:`filter_banks` finds, in an encoder, every filterbank that works on the waveform (or on
an envelope) and returns its magnitude responses on a frequency grid, with the parameters
that define it:

=================== ======================================================================
kind                where / what
=================== ======================================================================
``harmonic``        :class:`~musicrep.frontends.harmonic.HarmonicFilterbank` (Harmonic CNN):
                    triangular filters at ``h * f0``, bandwidth ``(alpha f_c + beta) / Q``;
                    parameters Q, alpha, beta and the fundamentals f0
``sinc``            every :class:`~musicrep.frontends.sinc.SincConv1d` (SincNet, PASE,
                    SincModNet's acoustic and modulation banks): band edges ``f1``, ``f2``
``fir``             ModNet's free acoustic and modulation kernels (``nn.Conv1d``)
``conv``            the first convolution applied to the raw waveform by a model whose
                    front-end is ``waveform`` (sample-level CNN): its kernels as FIR filters
=================== ======================================================================

Responses are ``|FFT|`` of the kernels zero-padded to at least 1024 points (the harmonic
filters are already defined on the STFT grid), at the rate the kernels run at (the audio rate;
the envelope rate for modulation filters). Fixed front-ends (mel, CQT...) have nothing learned
and give no bank.

:func:`run_filters_report` draws each bank of a model beside the same bank of its *initial*
weights -- the seeded rebuild of the architecture (:func:`musicrep.analysis.layers.untrained_copy`)
with the training run's seed. ``musicrep train`` builds the encoder first after seeding, so for
a run the rebuild is the run's actual initial state; for other models it is a draw of the same
initialisation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musicrep.errors import ConfigError

__all__ = ["FilterBank", "filter_banks", "fir_responses", "run_filters_report"]

#: Smallest FFT size of the kernel responses.
MIN_FFT = 1024


@dataclass
class FilterBank:
    """One learned filterbank of a model.

    Attributes
    ----------
    name : str
        Module path in the encoder (``frontend``, ``frontend.acoustic``, ``backend.blocks.0.conv``).
    kind : str
        ``harmonic``, ``sinc``, ``fir`` or ``conv``.
    sample_rate : float
        Rate the kernels run at, Hz.
    freqs : np.ndarray, (n_freqs,)
        Frequency grid of the responses, Hz.
    responses : np.ndarray, (n_filters, n_freqs)
        Magnitude responses (linear).
    centers : np.ndarray, (n_filters,)
        Centre frequency of every filter, Hz (for ``fir``/``conv``: the centroid of the power
        response).
    low, high : np.ndarray or None
        Band edges in Hz (``sinc``: ``f1``, ``f2``; ``harmonic``: ``f_c -+ BW / 2``).
    params : dict
        Scalars that define the bank (``Q``, ``alpha``, ``beta`` for harmonic filters).
    f0 : np.ndarray or None
        ``harmonic``: the fundamentals, Hz; ``responses`` rows are harmonic-major
        (row ``h * n_pitch + k`` is harmonic ``h + 1`` of pitch ``k``).
    kernels : np.ndarray or None
        ``fir``/``conv``: the kernels ``(n_filters, taps)``.
    """

    name: str
    kind: str
    sample_rate: float
    freqs: np.ndarray
    responses: np.ndarray
    centers: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    f0: np.ndarray | None = None
    kernels: np.ndarray | None = None

    @property
    def n_filters(self) -> int:
        return int(self.responses.shape[0])

    @property
    def peaks(self) -> np.ndarray:
        """Frequency of the largest response of every filter, Hz."""
        return self.freqs[np.argmax(self.responses, axis=1)]

    def summary(self) -> dict:
        """JSON-ready description (scalars and per-filter centres/edges)."""
        out = {
            "name": self.name,
            "kind": self.kind,
            "sample_rate": float(self.sample_rate),
            "n_filters": self.n_filters,
            "params": {k: float(v) for k, v in self.params.items()},
            "centers_hz": np.round(self.centers, 3).tolist(),
            "peaks_hz": np.round(self.peaks, 3).tolist(),
        }
        if self.low is not None and self.high is not None:
            out["low_hz"] = np.round(self.low, 3).tolist()
            out["high_hz"] = np.round(self.high, 3).tolist()
        return out


def fir_responses(
    kernels: torch.Tensor, sample_rate: float, n_fft: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude responses of FIR kernels ``(n_filters, taps)`` (real or complex).

    Returns ``(freqs, responses)``: ``freqs`` from 0 to ``sample_rate / 2`` (``n_fft // 2 + 1``
    points), ``responses`` ``(n_filters, n_freqs)``. A complex kernel (an analytic filter,
    in-phase + j quadrature) is evaluated at the positive frequencies of its full FFT.
    """
    k = kernels.detach().cpu()
    taps = k.shape[-1]
    if n_fft is None:
        n_fft = max(MIN_FFT, 1 << int(np.ceil(np.log2(max(taps, 2)))))
    if torch.is_complex(k):
        spec = torch.fft.fft(k.to(torch.complex128), n=n_fft)[..., : n_fft // 2 + 1]
    else:
        spec = torch.fft.rfft(k.double(), n=n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / float(sample_rate))
    return freqs, spec.abs().numpy()


def _centroid(freqs: np.ndarray, responses: np.ndarray) -> np.ndarray:
    power = responses**2
    return (power * freqs[None]).sum(1) / np.maximum(power.sum(1), 1e-30)


def _fir_bank(name: str, kind: str, kernels: torch.Tensor, rate: float) -> FilterBank:
    freqs, resp = fir_responses(kernels, rate)
    bank = FilterBank(name, kind, float(rate), freqs, resp, _centroid(freqs, resp))
    bank.kernels = kernels.detach().cpu().numpy()
    return bank


def _sinc_bank(name: str, module, rate: float, analytic: bool = False) -> FilterBank:
    with torch.no_grad():
        kernels = module.filters()[:, 0]
        if analytic:
            kernels = torch.complex(
                kernels.double(), module.filters(quadrature=True)[:, 0].double()
            )
        freqs, resp = fir_responses(kernels, rate)
        return FilterBank(
            name,
            "sinc",
            float(rate),
            freqs,
            resp,
            module.center_hz.detach().double().numpy(),
            low=module.low_hz.detach().double().numpy(),
            high=module.high_hz.detach().double().numpy(),
            params={"min_low_hz": module.min_low_hz, "min_band_hz": module.min_band_hz},
        )


def _harmonic_bank(name: str, fe) -> FilterBank:
    with torch.no_grad():
        fb = fe.filterbank().double()  # (H, P, F)
        fc = fe.center_frequencies().double().reshape(-1)
        bw = fe.bandwidths().double().reshape(-1)
    h, p, f = fb.shape
    return FilterBank(
        name,
        "harmonic",
        float(fe.sample_rate),
        fe.fft_freqs.double().numpy(),
        fb.reshape(h * p, f).numpy(),
        fc.numpy(),
        low=(fc - bw / 2).numpy(),
        high=(fc + bw / 2).numpy(),
        params={
            "Q": float(fe.bw_Q.detach()),
            "alpha": float(fe.bw_alpha.detach()),
            "beta": float(fe.bw_beta.detach()),
            "n_harmonic": h,
            "n_pitch": p,
        },
        f0=fe.f0.detach().double().numpy(),
    )


def _first_wave_conv(encoder: nn.Module, frontend: nn.Module) -> tuple[str, torch.Tensor] | None:
    """The first ``Conv1d`` that reads the raw waveform, as ``(name, kernels (C, taps))``.

    Either a one-channel convolution (``Conv1d(1, C, K)``), or -- after a framing front-end
    with ``frame_length=L`` -- a kernel-1 convolution over the ``L`` samples of a frame.
    """
    frame = getattr(frontend, "frame_length", None)
    for name, mod in encoder.named_modules():
        if not isinstance(mod, nn.Conv1d) or name.startswith("frontend"):
            continue
        w = mod.weight.detach()
        if mod.in_channels == 1:
            return name, w[:, 0]
        if frame and mod.in_channels == frame and mod.kernel_size[0] == 1:
            return name, w[:, :, 0]
        return None  # the first convolution does not see the waveform directly
    return None


def filter_banks(model: nn.Module) -> list[FilterBank]:
    """Every learned input filterbank of ``model`` (a tagging model or an encoder).

    Returns an empty list when the front-end is fixed (mel, CQT...) and the model does not read
    the raw waveform.
    """
    from musicrep.frontends.harmonic import HarmonicFilterbank
    from musicrep.frontends.modulation import ModulationFrontend
    from musicrep.frontends.sinc import SincConv1d

    encoder = getattr(model, "encoder", model)
    banks: list[FilterBank] = []
    done: set[str] = set()
    for name, mod in encoder.named_modules():
        if any(name == d or name.startswith(d + ".") for d in done):
            continue
        if isinstance(mod, HarmonicFilterbank):
            banks.append(_harmonic_bank(name, mod))
            done.add(name)
        elif isinstance(mod, ModulationFrontend):
            acoustic, modulation = f"{name}.acoustic", f"{name}.modulation"
            if isinstance(mod.acoustic, SincConv1d):
                banks.append(_sinc_bank(acoustic, mod.acoustic, mod.sample_rate))
            else:
                banks.append(_fir_bank(acoustic, "fir", mod.acoustic.weight[:, 0], mod.sample_rate))
            if isinstance(mod.modulation, SincConv1d):
                banks.append(
                    _sinc_bank(modulation, mod.modulation, mod.envelope_rate, mod.analytic)
                )
            else:
                w = mod.modulation.weight.detach()[:, 0]
                if mod.analytic:
                    m = mod.n_modulation
                    w = torch.complex(w[:m].double(), w[m:].double())
                banks.append(_fir_bank(modulation, "fir", w, mod.envelope_rate))
            done.add(name)
        elif isinstance(mod, SincConv1d):
            banks.append(_sinc_bank(name, mod, mod.sample_rate))
            done.add(name)
    frontend = getattr(encoder, "frontend", None)
    if not banks and frontend is not None and getattr(frontend, "kind", None) == "wave":
        found = _first_wave_conv(encoder, frontend)
        if found is not None:
            conv_name, kernels = found
            banks.append(_fir_bank(conv_name, "conv", kernels, frontend.sample_rate))
    return banks


# ============================================================================ pictures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _db(x: np.ndarray, floor: float = -60.0) -> np.ndarray:
    ref = max(float(np.max(x)), 1e-30)
    return np.maximum(20 * np.log10(np.maximum(x / ref, 1e-30)), floor)


def _sort_key(bank: FilterBank) -> np.ndarray:
    return np.argsort(bank.centers if bank.kind in ("harmonic", "sinc") else bank.peaks)


def _save(fig, path: Path) -> Path:
    from musicrep.utils import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    _plt().close(fig)
    return path


def plot_responses(initial: FilterBank, trained: FilterBank, path: Path, title: str) -> Path:
    """Responses as images (filters sorted by centre, dB) initial | trained, and the sorted
    centre (peak) frequencies of both."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    nyq = trained.sample_rate / 2
    for ax, bank, label in ((axes[0], initial, "initial"), (axes[1], trained, "trained")):
        order = _sort_key(bank)
        im = ax.imshow(
            _db(bank.responses[order]),
            aspect="auto",
            origin="lower",
            extent=(0, nyq, 0, bank.n_filters),
            cmap="magma",
            vmin=-60,
            vmax=0,
        )
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("filter (sorted by centre)")
        ax.set_title(f"{label}")
    fig.colorbar(im, ax=axes[1], label="dB re. max")
    use_centers = trained.kind in ("harmonic", "sinc")
    for bank, label, style in ((initial, "initial", "--"), (trained, "trained", "-")):
        values = np.sort(bank.centers if use_centers else bank.peaks)
        axes[2].plot(values, style, label=label)
    axes[2].set_xlabel("filter rank")
    axes[2].set_ylabel("centre frequency (Hz)" if use_centers else "peak frequency (Hz)")
    axes[2].set_yscale("symlog", linthresh=max(1.0, nyq / 1000))
    axes[2].legend()
    axes[2].set_title("sorted " + ("centres" if use_centers else "peaks"))
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_harmonic(initial: FilterBank, trained: FilterBank, path: Path, title: str) -> Path:
    """Harmonic filters: responses of a few pitches for every harmonic (initial dashed), and
    bandwidth against centre frequency."""
    plt = _plt()
    h, p = int(trained.params["n_harmonic"]), int(trained.params["n_pitch"])
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    pitches = np.linspace(0, p - 1, 5).round().astype(int)
    for hi in range(h):
        for k in pitches:
            row = hi * p + k
            c = colors[hi % len(colors)]
            axes[0].plot(initial.freqs, initial.responses[row], "--", color=c, lw=0.8, alpha=0.6)
            axes[0].plot(
                trained.freqs,
                trained.responses[row],
                "-",
                color=c,
                lw=1.0,
                label=f"h={hi + 1}" if k == pitches[0] else None,
            )
    axes[0].set_xscale("symlog", linthresh=100)
    axes[0].set_xlabel("frequency (Hz)")
    axes[0].set_ylabel("weight")
    axes[0].set_title("5 pitches per harmonic (dashed: initial)")
    axes[0].legend(ncol=3, fontsize=8)
    for bank, label, style in ((initial, "initial", "--"), (trained, "trained", "-")):
        order = np.argsort(bank.centers)
        q = bank.params["Q"]
        axes[1].plot(
            bank.centers[order], (bank.high - bank.low)[order], style, label=f"{label} (Q={q:.3f})"
        )
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("centre frequency h·f0 (Hz)")
    axes[1].set_ylabel("bandwidth (Hz)")
    axes[1].set_title("bandwidth (alpha f_c + beta) / Q")
    axes[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_edges(initial: FilterBank, trained: FilterBank, path: Path, title: str) -> Path:
    """Sinc band edges: one vertical bar ``[f1, f2]`` per filter, initial beside trained."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4.2))
    order = np.argsort(initial.centers)
    x = np.arange(len(order))
    ax.vlines(x - 0.18, initial.low[order], initial.high[order], color="0.6", lw=2, label="initial")
    ax.vlines(x + 0.18, trained.low[order], trained.high[order], color="C0", lw=2, label="trained")
    ax.set_yscale("log")
    ax.set_xlabel("filter (sorted by initial centre)")
    ax.set_ylabel("band edges f1..f2 (Hz)")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


# ============================================================================ report


@dataclass
class FiltersReport:
    banks: list[tuple[FilterBank, FilterBank]]
    paths: dict[str, Path]
    document: dict


def _change_row(a: FilterBank, b: FilterBank) -> list[str]:
    """A table row: what moved between the initial and the trained bank."""
    if a.kind == "harmonic":
        what = (
            f"Q {a.params['Q']:.4f} → {b.params['Q']:.4f}; alpha {a.params['alpha']:.4f} → "
            f"{b.params['alpha']:.4f}; beta {a.params['beta']:.2f} → {b.params['beta']:.2f} Hz; "
            f"f0 moved at most {np.max(np.abs(b.f0 - a.f0)):.2f} Hz"
        )
    elif a.kind == "sinc":
        d_lo = np.median(np.abs(b.low - a.low))
        d_hi = np.median(np.abs(b.high - a.high))
        what = f"median |Δf1| {d_lo:.1f} Hz, median |Δf2| {d_hi:.1f} Hz"
    else:
        rel = np.median(np.abs(np.log2(np.maximum(b.peaks, 1e-9) / np.maximum(a.peaks, 1e-9))))
        change = np.linalg.norm(b.kernels - a.kernels) / max(np.linalg.norm(a.kernels), 1e-30)
        what = (
            f"median peak {np.median(a.peaks):.0f} → {np.median(b.peaks):.0f} Hz; "
            f"median |Δpeak| {rel:.2f} octaves; kernels moved {100 * change:.1f} % "
            "(‖W − W0‖ / ‖W0‖)"
        )
    return [f"`{b.name}`", b.kind, str(b.n_filters), f"{b.sample_rate:g}", what]


def _run_seed(model: str | os.PathLike, meta: dict) -> int | None:
    """The training seed of a run folder (its config.json), else one recorded in ``meta``."""
    config = Path(model) / "config.json"
    if Path(model).is_dir() and config.is_file():
        import json

        try:
            seed = json.loads(config.read_text(encoding="utf-8")).get("seed")
        except (OSError, ValueError):
            seed = None
        if isinstance(seed, int):
            return seed
    for keys in (("training", "seed"), ("source", "seed"), ("seed",)):
        node = meta
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, int):
            return node
    return None


def run_filters_report(
    model: str | os.PathLike,
    out: str | os.PathLike,
    *,
    seed: int | None = None,
    device: str = "cpu",
) -> FiltersReport:
    """Write ``report.md``/``report.html``, one PNG per bank and ``filters.json`` to ``out``.

    Parameters
    ----------
    model : str or path
        Anything :func:`musicrep.io.load_model` takes (run folder, exported folder, pretrained
        name, ``untrained:NAME``).
    seed : int, optional
        Seed of the initial weights (default: the run's training seed when the model records
        one, else 0).
    """
    from musicrep.analysis.layers import untrained_copy
    from musicrep.io import load_model
    from musicrep.report import Report
    from musicrep.utils import write_json_atomic

    net, meta, where = load_model(str(model), device=device)
    encoder = getattr(net, "encoder", net)
    trained = filter_banks(encoder)
    if not trained:
        fe = getattr(encoder, "frontend", None)
        raise ConfigError(
            f"{model}: no learned input filters (front-end {type(fe).__name__}, fixed)",
            "filters are drawn for harmonic, sinc, modulation/sinc_modulation front-ends and "
            "for raw-waveform models (samplecnn, samplecnn_se)",
        )
    run_seed = _run_seed(model, meta)
    seed = (run_seed if run_seed is not None else 0) if seed is None else int(seed)
    untrained = meta.get("kind") == "untrained"
    initial = filter_banks(untrained_copy(encoder, seed=seed)) if not untrained else trained
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    label = str(model)
    rep = Report(f"Learned filters of {label}")
    rep.add_paragraph(
        f"Model `{where}`. Initial weights: the seeded rebuild of the architecture (seed {seed}"
        + (", the run's training seed" if run_seed is not None and seed == run_seed else "")
        + "); `musicrep train` builds the encoder first after seeding, so for a training run "
        "this is its state before the first step."
        + (" This network is untrained: initial and trained are the same." if untrained else "")
    )
    rep.add_table(
        [_change_row(a, b) for a, b in zip(initial, trained)],
        header=["bank", "kind", "filters", "rate (Hz)", "initial → trained"],
        align=["left", "left", "right", "right", "left"],
    )
    paths: dict[str, Path] = {}
    for a, b in zip(initial, trained):
        slug = b.name.replace(".", "_") or "model"
        title = f"{label}: {b.name} ({b.kind})"
        rep.add_heading(f"{b.name} ({b.kind}, {b.n_filters} filters)")
        if b.kind == "harmonic":
            paths[f"{slug}_harmonic"] = plot_harmonic(a, b, out / f"{slug}_harmonic.png", title)
            rep.add_figure(paths[f"{slug}_harmonic"], f"{title}: responses and bandwidths")
        if b.kind == "sinc":
            paths[f"{slug}_edges"] = plot_edges(a, b, out / f"{slug}_edges.png", title)
            rep.add_figure(paths[f"{slug}_edges"], f"{title}: band edges, initial vs trained")
        paths[f"{slug}_responses"] = plot_responses(a, b, out / f"{slug}_responses.png", title)
        rep.add_figure(
            paths[f"{slug}_responses"], f"{title}: magnitude responses, initial | trained"
        )
    document = {
        "model": where,
        "seed": seed,
        "banks": [
            {"initial": a.summary(), "trained": b.summary()} for a, b in zip(initial, trained)
        ],
    }
    paths["json"] = out / "filters.json"
    write_json_atomic(paths["json"], document)
    paths["md"], paths["html"] = rep.write(out)
    return FiltersReport(list(zip(initial, trained)), paths, document)
