"""Self-attention maps of a clip, aligned with its spectrogram and tags (Won et al. 2019).

For a model whose back-end returns attention probabilities (the ``attention`` zoo model,
CNNSA), the clip is covered by consecutive model windows (as
:func:`musicrep.analysis.saliency.window_starts`); in every window each Transformer layer gives
``(heads, 1 + T', 1 + T')`` probabilities, token 0 being ``[CLS]``. The ``[CLS]`` row over the
``T'`` frame tokens -- how much the clip summary, hence the tags, reads from each moment -- is
placed on the clip's time axis (token ``t`` of a window starting at ``s`` centred at
``s + (t + 0.5) * hop``, ``hop`` = the encoder's ``sequence_hop``), per layer averaged over
heads and per head for the last layer; the tag probabilities of every window are shown below.
The token-to-token map of every layer for the first window is drawn too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from musicrep.errors import ConfigError

__all__ = ["ClipAttention", "clip_attention", "run_attention_report"]


@dataclass
class ClipAttention:
    """Attention of ``[CLS]`` over a clip.

    Attributes
    ----------
    times : (N,) token centres in seconds (all windows concatenated, in time order)
    cls : (layers, heads, N) ``[CLS]`` probabilities per token
    window : (N,) window index of every token
    maps : list per window of ``(layers, heads, 1 + T', 1 + T')`` arrays
    starts : window starts in samples; window_probs : (windows, C) tag probabilities
    probs : (C,) clip probabilities (mean over windows)
    """

    times: np.ndarray
    cls: np.ndarray
    window: np.ndarray
    maps: list[np.ndarray]
    starts: list[int]
    window_probs: np.ndarray
    probs: np.ndarray
    sample_rate: int
    window_samples: int


@torch.no_grad()
def clip_attention(model: torch.nn.Module, wave: np.ndarray, task: str, device: str = "cpu"):
    """:class:`ClipAttention` of a tagging model with an attention back-end on ``wave``."""
    from musicrep.analysis.saliency import window_starts
    from musicrep.evaluate_tracks import activation_for

    enc = getattr(model, "encoder", model)
    if not getattr(enc, "supports_attention", False):
        name = getattr(getattr(enc, "backend", None), "name", type(enc).__name__)
        raise ConfigError(
            f"back-end {name!r} returns no attention maps",
            "use a model with the self-attention back-end (zoo name 'attention')",
        )
    head = getattr(model, "head", None)
    if head is None:
        raise ConfigError("an encoder without a head has no tags to align with the attention")
    sr, window = int(enc.sample_rate), int(enc.input_samples)
    model = model.to(device).eval()
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32), device=device)
    n = max(len(x), window)
    x = torch.nn.functional.pad(x, (0, n - len(x)))
    starts = window_starts(n, window)
    hop = float(enc.sequence_hop)
    act = activation_for(task)
    maps, probs, times, cls, which = [], [], [], [], []
    for w, s in enumerate(starts):
        emb, layers = enc(x[s : s + window][None], return_attention=True)
        probs.append(act(head(emb).float())[0].cpu().numpy())
        att = torch.stack([a[0] for a in layers]).float().cpu().numpy()  # (L, H, 1+T', 1+T')
        maps.append(att)
        steps = att.shape[-1] - 1
        times.append((s + (np.arange(steps) + 0.5) * hop) / sr)
        cls.append(att[:, :, 0, 1:])
        which.append(np.full(steps, w))
    window_probs = np.stack(probs)
    return ClipAttention(
        np.concatenate(times),
        np.concatenate(cls, axis=-1),
        np.concatenate(which),
        maps,
        starts,
        window_probs,
        window_probs.mean(0),
        sr,
        window,
    )


def plot_attention(
    att: ClipAttention,
    wave: np.ndarray,
    vocab: list[str],
    tags: list[int],
    path: Path,
    title: str,
) -> Path:
    """Spectrogram | [CLS] attention per layer | per head (last layer) | tag probabilities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicrep.utils import atomic_path

    n_layers, n_heads, _ = att.cls.shape
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(11, 9.5),
        sharex=True,
        gridspec_kw={"height_ratios": [1.3, 1, 1, 0.25 * max(len(tags), 2) + 0.3]},
    )
    n_fft, hop = 1024, 256
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    spec = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
    db = 10 * np.log10(np.maximum(spec.abs().square().numpy(), 1e-10))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / att.sample_rate)
    t = np.arange(db.shape[1]) * hop / att.sample_rate
    axes[0].pcolormesh(
        t, np.maximum(freqs, freqs[1] / 2), db, shading="nearest", cmap="magma", vmin=db.max() - 80
    )
    axes[0].set_yscale("log")
    axes[0].set_ylim(30, freqs[-1])
    axes[0].set_ylabel("Hz")
    axes[0].set_title("spectrogram (dB)")
    for layer in range(n_layers):
        for w in range(len(att.starts)):
            sel = att.window == w
            axes[1].plot(
                att.times[sel],
                att.cls[layer][:, sel].mean(0),
                color=f"C{layer}",
                label=f"layer {layer + 1}" if w == 0 else None,
            )
    axes[1].set_ylabel("[CLS] attention")
    axes[1].set_title("[CLS] → frame attention, mean over heads")
    axes[1].legend(fontsize=8)
    last = att.cls[-1]
    for w in range(len(att.starts)):  # windows overlap: one mesh each, in order
        sel = att.window == w
        axes[2].pcolormesh(
            att.times[sel],
            np.arange(1, n_heads + 1),
            last[:, sel],
            cmap="viridis",
            shading="nearest",
            vmin=0,
            vmax=float(last.max()),
        )
    axes[2].set_yticks(range(1, n_heads + 1))
    axes[2].set_ylabel("head")
    axes[2].set_title(f"layer {n_layers}: [CLS] attention per head")
    bounds = [s / att.sample_rate for s in att.starts] + [
        (att.starts[-1] + att.window_samples) / att.sample_rate
    ]
    probs = att.window_probs[:, tags].T  # (K, windows)
    for w in range(len(att.starts)):
        lo, hi = bounds[w], bounds[w + 1] if w + 1 < len(att.starts) else bounds[-1]
        axes[3].imshow(
            probs[:, w : w + 1],
            extent=(lo, hi, len(tags) - 0.5, -0.5),
            aspect="auto",
            vmin=0,
            vmax=1,
            cmap="Greens",
        )
    axes[3].set_yticks(range(len(tags)))
    axes[3].set_yticklabels([f"{vocab[k]} ({att.probs[k]:.2f})" for k in tags], fontsize=8)
    axes[3].set_ylim(len(tags) - 0.5, -0.5)
    axes[3].set_title("tag probability per window (clip mean in brackets)")
    axes[3].set_xlabel("time (s)")
    axes[3].set_xlim(0, max(t[-1], bounds[-1]))
    for ax in axes:
        for s in att.starts[1:]:
            ax.axvline(s / att.sample_rate, color="0.5", lw=0.6, ls="--")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_token_maps(att: ClipAttention, path: Path, title: str) -> Path:
    """Token-to-token attention (mean over heads) of every layer, first window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicrep.utils import atomic_path

    maps = att.maps[0].mean(1)  # (L, 1+T', 1+T')
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4), squeeze=False)
    for i, (ax, m) in enumerate(zip(axes[0], maps)):
        im = ax.imshow(m, cmap="viridis", origin="upper")
        ax.set_title(f"layer {i + 1}")
        ax.set_xlabel("key token (0 = [CLS])")
        ax.set_ylabel("query token")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def run_attention_report(
    model: str | os.PathLike,
    file: str | os.PathLike,
    out: str | os.PathLike,
    *,
    tags: list[str] | None = None,
    top: int = 5,
    device: str = "cpu",
) -> tuple[ClipAttention, dict[str, Path]]:
    """Write ``attention.png``, ``tokens.png``, ``attention.npz`` and ``report.md``/``.html``."""
    from musicrep.analysis.saliency import load_clip
    from musicrep.io import load_model
    from musicrep.report import Report
    from musicrep.utils import atomic_path

    net, meta, where = load_model(str(model), device=device, untrained_ok=False)
    vocab = list(meta.get("vocab") or [])
    if not vocab:
        raise ConfigError(
            f"{model} has no labels",
            "pass a trained attention tagger (a run or export of the 'attention' model)",
        )
    enc = getattr(net, "encoder", net)
    wave = load_clip(file, int(enc.sample_rate))
    att = clip_attention(net, wave, str(meta["task"]), device=device)
    if tags:
        unknown = [t for t in tags if t not in vocab]
        if unknown:
            raise ConfigError(
                f"unknown tag(s) {unknown}", f"the model's labels: {', '.join(vocab)}"
            )
        idx = [vocab.index(t) for t in tags]
    else:
        idx = list(np.argsort(-att.probs)[: max(1, int(top))])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = Path(file).name
    paths = {
        "png": plot_attention(att, wave, vocab, idx, out / "attention.png", f"{name}: attention"),
        "tokens": plot_token_maps(att, out / "tokens.png", f"{name}: window 1, mean over heads"),
    }
    with atomic_path(out / "attention.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                times=att.times,
                cls=att.cls,
                window=att.window,
                window_probs=att.window_probs,
                probs=att.probs,
                vocab=np.asarray(vocab),
            )
    paths["npz"] = out / "attention.npz"
    n_layers, n_heads, _ = att.cls.shape
    rep = Report(f"Self-attention over {name}")
    rep.add_paragraph(
        f"Model `{where}`: {n_layers} Transformer layers x {n_heads} heads, "
        f"{len(att.starts)} window(s) of {att.window_samples / att.sample_rate:.2f} s, one token "
        f"per {float(enc.sequence_hop) / att.sample_rate * 1000:.0f} ms. The curves show how "
        "much the [CLS] token (which the tags are read from) attends to each moment."
    )
    rep.add_table(
        [[vocab[k], f"{att.probs[k]:.4f}"] for k in idx],
        header=["tag", "clip probability"],
        align=["left", "right"],
    )
    rep.add_figure(paths["png"], "spectrogram, [CLS] attention per layer and head, tags")
    rep.add_figure(paths["tokens"], "token-to-token attention of the first window")
    paths["md"], paths["html"] = rep.write(out)
    return att, paths
