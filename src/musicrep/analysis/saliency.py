"""Which time-frequency regions drive a tag: gradient saliency and occlusion, for any model.

Both methods act on the STFT of the waveform (Hann window ``n_fft``, hop ``n_fft // 4``), so
they work whatever the model's front-end (mel, harmonic, sinc, raw waveform): the model hears
``istft(mask * stft(x))``, which is ``x`` itself when the mask is all ones.

* ``gradient``: the derivative of the tag's logit with respect to the mask at ``mask = 1``
  (one backward pass per tag). It is the first-order change of the logit when a bin is scaled,
  so positive values mark energy that supports the tag (gradient x input, with the mask as
  input).
* ``occlusion`` (Zeiler & Fergus 2014): the mask is zeroed over one patch at a time -- ``bands``
  log-spaced frequency bands x ``segments`` time segments per model window -- and the map holds
  the drop of the tag's probability, ``p(clean) - p(occluded)``: positive where removing the
  region lowers the tag.

A clip longer than the model's window is covered by consecutive windows (the last one aligned
with the clip's end; overlapping frames are averaged); a shorter one is zero-padded to one
window. Tags default to the clip's most probable ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musicrep.errors import ConfigError

__all__ = ["METHODS", "TFSaliency", "run_saliency_report", "tf_saliency", "window_starts"]

METHODS = ("gradient", "occlusion")


def window_starts(n: int, window: int) -> list[int]:
    """Starts of consecutive windows covering ``n`` samples, the last one ending at ``n``."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, window))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


@dataclass
class TFSaliency:
    """A saliency map per tag on the STFT grid of a whole clip.

    Attributes
    ----------
    freqs : (F,) Hz; times : (T,) frame centres in seconds
    spec_db : (F, T) the clip's power spectrogram in dB
    maps : (K, F, T) one map per tag (see the module docstring for the sign)
    tags : K tag names; probs : (K,) clip probabilities (mean over windows)
    all_probs : (C,) clip probability of every label
    """

    method: str
    freqs: np.ndarray
    times: np.ndarray
    spec_db: np.ndarray
    maps: np.ndarray
    tags: list[str]
    probs: np.ndarray
    all_probs: np.ndarray
    window_starts: list[int] = field(default_factory=list)


def _activation(task: str):
    from musicrep.evaluate_tracks import activation_for

    return activation_for(task)


def _band_edges(n_freq: int, bands: int) -> np.ndarray:
    """``bands + 1`` STFT bin edges, log-spaced from bin 1 (bin 0 joins the first band)."""
    edges = np.unique(np.round(np.geomspace(1, n_freq, bands + 1)).astype(int))
    edges[0] = 0
    edges[-1] = n_freq
    return edges


def tf_saliency(
    model: nn.Module,
    wave: np.ndarray,
    vocab: list[str],
    task: str,
    *,
    tags: list[str] | None = None,
    top: int = 3,
    method: str = "gradient",
    n_fft: int = 1024,
    bands: int = 16,
    segments: int = 8,
    batch_size: int = 16,
    device: str = "cpu",
) -> TFSaliency:
    """Saliency maps of ``model`` (logits over ``vocab``) for one clip ``wave`` (model rate)."""
    if method not in METHODS:
        raise ConfigError(f"unknown saliency method {method!r}", f"use {', '.join(METHODS)}")
    enc = getattr(model, "encoder", model)
    sr, window = int(enc.sample_rate), int(enc.input_samples)
    act = _activation(task)
    model = model.to(device).eval()
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32), device=device)
    n = max(len(x), window)
    x = torch.nn.functional.pad(x, (0, n - len(x)))
    starts = window_starts(n, window)
    hop = n_fft // 4
    win = torch.hann_window(n_fft, device=device)

    def stft(w):
        return torch.stft(w, n_fft, hop, window=win, return_complex=True)

    def istft(s):
        return torch.istft(s, n_fft, hop, window=win, length=window)

    chunks = torch.stack([x[s : s + window] for s in starts])
    with torch.no_grad():
        probs = act(model(chunks).float()).mean(0).cpu().numpy()
    if tags:
        unknown = [t for t in tags if t not in vocab]
        if unknown:
            raise ConfigError(
                f"unknown tag(s) {unknown}", f"the model's labels: {', '.join(vocab)}"
            )
        idx = [vocab.index(t) for t in tags]
    else:
        idx = list(np.argsort(-probs)[: max(1, int(top))])
    full = stft(x)  # (F, frames) of the whole clip
    n_freq, n_frames = full.shape
    acc = np.zeros((len(idx), n_freq, n_frames))
    count = np.zeros(n_frames)
    for s in starts:
        spec = stft(x[s : s + window])  # (F, Tc)
        tc = spec.shape[1]
        if method == "gradient":
            mask = torch.ones(spec.shape, device=device, requires_grad=True)
            logits = model(istft(spec * mask)[None])[0]
            grads = [
                torch.autograd.grad(logits[k], mask, retain_graph=i < len(idx) - 1)[0]
                for i, k in enumerate(idx)
            ]
            m = torch.stack(grads).detach().cpu().numpy()
        else:
            edges = _band_edges(n_freq, bands)
            tedges = np.linspace(0, tc, segments + 1).round().astype(int)
            patches = [
                (edges[b], edges[b + 1], tedges[t], tedges[t + 1])
                for b in range(len(edges) - 1)
                for t in range(segments)
                if tedges[t + 1] > tedges[t]
            ]
            with torch.no_grad():
                clean = act(model(istft(spec)[None]).float())[0, idx].cpu().numpy()
                m = np.zeros((len(idx), n_freq, tc))
                for i in range(0, len(patches), batch_size):
                    group = patches[i : i + batch_size]
                    masks = torch.ones((len(group), n_freq, tc), device=device)
                    for j, (f0, f1, t0, t1) in enumerate(group):
                        masks[j, f0:f1, t0:t1] = 0
                    p = act(model(istft(spec[None] * masks)).float())[:, idx].cpu().numpy()
                    for j, (f0, f1, t0, t1) in enumerate(group):
                        m[:, f0:f1, t0:t1] = (clean - p[j])[:, None, None]
        f0 = s // hop  # frame of the chunk's first STFT frame in the clip's grid
        width = min(tc, n_frames - f0)
        acc[:, :, f0 : f0 + width] += m[:, :, :width]
        count[f0 : f0 + width] += 1
    maps = acc / np.maximum(count, 1)[None, None]
    power = full.abs().square().cpu().numpy()
    spec_db = 10 * np.log10(np.maximum(power, 1e-10 * max(power.max(), 1e-30)))
    return TFSaliency(
        method,
        np.fft.rfftfreq(n_fft, 1.0 / sr),
        np.arange(n_frames) * hop / sr,
        spec_db,
        maps,
        [vocab[k] for k in idx],
        probs[idx],
        probs,
        starts,
    )


def plot_saliency(sal: TFSaliency, path: Path, title: str) -> Path:
    """The clip's spectrogram, then one map per tag (diverging colours, symmetric range)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicrep.utils import atomic_path

    k = len(sal.tags)
    fig, axes = plt.subplots(k + 1, 1, figsize=(10, 2.4 * (k + 1)), sharex=True)
    f = np.maximum(sal.freqs, sal.freqs[1] / 2)  # log axis: bin 0 drawn at half a bin
    im = axes[0].pcolormesh(
        sal.times, f, sal.spec_db, shading="nearest", cmap="magma", vmin=sal.spec_db.max() - 80
    )
    axes[0].set_title("spectrogram (dB)")
    fig.colorbar(im, ax=axes[0], pad=0.01)
    for i, ax in enumerate(axes[1:]):
        m = sal.maps[i]
        lim = max(float(np.abs(m).max()), 1e-12)
        im = ax.pcolormesh(sal.times, f, m, shading="nearest", cmap="RdBu_r", vmin=-lim, vmax=lim)
        what = "d logit / d mask" if sal.method == "gradient" else "p(clean) − p(occluded)"
        ax.set_title(f"{sal.tags[i]} (p = {sal.probs[i]:.3f}): {what}")
        fig.colorbar(im, ax=ax, pad=0.01)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylim(30, sal.freqs[-1])
        ax.set_ylabel("Hz")
        for s in sal.window_starts[1:]:
            ax.axvline(s / (sal.freqs[-1] * 2), color="w", lw=0.6, ls="--")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def load_clip(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    from musicrep.audio import load

    wave, _ = load(path, sr=sample_rate)
    if not len(wave):
        raise ConfigError(f"{path}: no audio samples")
    return wave


def run_saliency_report(
    model: str | os.PathLike,
    file: str | os.PathLike,
    out: str | os.PathLike,
    *,
    tags: list[str] | None = None,
    top: int = 3,
    method: str = "gradient",
    bands: int = 16,
    segments: int = 8,
    device: str = "cpu",
) -> tuple[TFSaliency, dict[str, Path]]:
    """Write ``saliency.png``, ``saliency.npz`` and ``report.md``/``report.html`` to ``out``."""
    from musicrep.io import load_model
    from musicrep.report import Report

    net, meta, where = load_model(str(model), device=device, untrained_ok=False)
    if not meta.get("vocab"):
        raise ConfigError(
            f"{model} has no labels: saliency needs a tagging/classification model",
            "pass a training run, an exported tagging model or a pretrained tagger",
        )
    enc = getattr(net, "encoder", net)
    wave = load_clip(file, int(enc.sample_rate))
    sal = tf_saliency(
        net,
        wave,
        list(meta["vocab"]),
        str(meta["task"]),
        tags=tags,
        top=top,
        method=method,
        bands=bands,
        segments=segments,
        device=device,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"png": plot_saliency(sal, out / "saliency.png", f"{Path(file).name}: {method}")}
    from musicrep.utils import atomic_path

    with atomic_path(out / "saliency.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                maps=sal.maps,
                freqs=sal.freqs,
                times=sal.times,
                spec_db=sal.spec_db,
                tags=np.asarray(sal.tags),
                probs=sal.probs,
            )
    paths["npz"] = out / "saliency.npz"
    rep = Report(f"Saliency of {Path(file).name}")
    rep.add_paragraph(
        f"Model `{where}`, method **{method}** on the STFT (1024-point Hann, hop 256) of the "
        f"clip; {len(sal.window_starts)} model window(s). "
        + (
            "Red: a positive derivative of the tag's logit with respect to the energy there."
            if method == "gradient"
            else f"Red: occluding that region ({bands} bands x {segments} segments per window) "
            "lowers the tag's probability."
        )
    )
    rep.add_table(
        [[t, f"{p:.4f}"] for t, p in zip(sal.tags, sal.probs)],
        header=["tag", "clip probability"],
        align=["left", "right"],
    )
    rep.add_figure(paths["png"], f"{method} saliency per tag")
    paths["md"], paths["html"] = rep.write(out)
    return sal, paths
