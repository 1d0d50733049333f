"""Generation benchmark: WaveNet speed on CPU, agreement of rendered audio with its
conditioning roll, and the style check of generated music.

    PYTHONPATH=src python benchmarks/generation.py --lstm models/gen_lstm \
        --wavenet models/gen_wavenet --classifier models/style \
        --clips-per-style 4 --seconds 3 --out benchmarks/results/generation.json

(``bash benchmarks/generation.sh`` trains the three models and runs this.) Four sources of
clips of ``--seconds`` at ``--bpm``, ``--clips-per-style`` per style:

- ``lstm->wavenet``: scores sampled by the LSTM for each style (seed = style index, temperature
  ``--temperature``), rendered by the WaveNet: the whole pipeline (``musicrep generate``);
- ``real->wavenet``: held-out test-split corpus segments of the same length and grid, rendered
  by the WaveNet (is a failure the LSTM's or the WaveNet's?);
- ``lstm->synth`` / ``real->synth``: the same scores rendered by the built-in synthesizer with
  the WaveNet's training instrument (piano): the faithful renders, i.e. the ceilings.

Agreement of each clip's audio with its roll (:mod:`musicrep.generate.agreement`): chroma-roll
correlation, onset F-measure (librosa onset_detect, 50 ms) and pYIN pitch agreement, each also
against a mismatched roll (the same clip index of the next style), the chance level.

Style check (``--classifier``: a single-label model trained on the corpus ``style`` task with
``musicrep train``, ideally on a piano-only corpus so timbre cannot give the style away): each
clip is scored with ``musicrep.io.predict_file``; reported per source: the share classified as
the style it was generated in (or taken from) against chance (1 / styles), a one-sided binomial
p-value, and the distribution of predicted styles.

Speed: samples/s of cached generation at batch 1 and of the batched render.

    PYTHONPATH=src python benchmarks/generation.py --speed-only

measures only the speed of the gen_wavenet recipe's network (untrained weights: speed does not
depend on them): cached generation at batch 1 and 8 beside the naive method (a full forward
over the receptive field for every sample).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def speed_only() -> dict:
    import yaml

    from musicrep.generate.wavenet import WaveNet

    recipe = yaml.safe_load(Path("configs/gen_wavenet.yaml").read_text())["objective"]
    cond = 2 * (recipe["highest"] - recipe["lowest"] + 1)
    torch.manual_seed(0)
    net = WaveNet(cond_channels=cond, hop=recipe["hop"], **recipe["network"]).eval()
    out = {
        "network": recipe["network"],
        "parameters": sum(p.numel() for p in net.parameters()),
        "receptive_field": net.receptive_field,
    }
    n = 4000
    for b in (1, 8):
        t0 = time.perf_counter()
        net.generate(n, torch.zeros(b, cond, n // recipe["hop"] + 1), seed=0)
        out[f"cached_samples_per_s_batch{b}"] = b * n / (time.perf_counter() - t0)
    q = torch.randint(0, 256, (1, net.receptive_field))
    r = torch.zeros(1, cond, net.receptive_field)
    t0 = time.perf_counter()
    for _ in range(200):
        net(q, r)
    out["naive_samples_per_s_batch1"] = 200 / (time.perf_counter() - t0)
    return out


def real_segments(lstm, styles, frames, per_style):
    """``per_style`` test-split roll segments of ``frames`` frames per style (evenly spaced
    over that style's segments that hold notes), on the LSTM's grid and pitch range."""
    from musicrep.generate.data import RollSegments

    ds = RollSegments(
        "test",
        styles=styles,
        frames=frames,
        frames_per_quarter=int(lstm.config.get("frames_per_quarter", 4)),
        lowest=lstm.config["lowest"],
        highest=lstm.config["lowest"] + lstm.config["pitches"] - 1,
    )
    out = []
    for s in range(len(styles)):
        items = [ds[i] for i in range(len(ds)) if ds.style_index[ds.items[i][0]] == s]
        items = [it["roll"].numpy() for it in items if it["roll"][1].sum() > 0]
        pick = np.linspace(0, len(items) - 1, per_style).round().astype(int)
        out += [items[i] for i in pick]
    return out


def style_check(classifier, wavs, targets, styles):
    """Score the WAV files with the classifier ``(model, meta, name)`` (:func:`load_model`);
    accuracy against the target styles."""
    from scipy.stats import binomtest

    from musicrep.io import predict_file

    model, meta, classifier = classifier
    vocab = list(meta.get("vocab") or [])
    missing = sorted(set(styles) - set(vocab))
    if missing or meta.get("task") != "singlelabel":
        raise SystemExit(
            f"{classifier} must be a single-label style classifier with classes {styles}; "
            f"it has task {meta.get('task')!r}, classes {vocab} (missing {missing})"
        )
    probs = np.stack([predict_file(model, meta, w) for w in wavs])
    probs = probs[:, [vocab.index(s) for s in styles]]  # restricted to the generated styles
    pred = probs.argmax(1)
    hits = int((pred == np.asarray(targets)).sum())
    n, chance = len(targets), 1.0 / len(styles)
    return {
        "accuracy": hits / n,
        "hits": hits,
        "clips": n,
        "chance": chance,
        "p_value_binomial_greater": float(binomtest(hits, n, chance, "greater").pvalue),
        "mean_prob_of_target": float(probs[np.arange(n), targets].mean()),
        "per_style_hits": {
            s: int(((pred == i) & (np.asarray(targets) == i)).sum()) for i, s in enumerate(styles)
        },
        "predicted": {s: int((pred == i).sum()) for i, s in enumerate(styles)},
    }


def main() -> None:
    import soundfile as sf

    from musicrep import io
    from musicrep.generate.agreement import audio_roll_agreement
    from musicrep.generate.data import render_notes
    from musicrep.symbolic import roll_to_notes

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lstm", help="exported gen_lstm model")
    ap.add_argument("--wavenet", help="exported gen_wavenet model")
    ap.add_argument("--classifier", help="style classifier (musicrep train on corpus style.csv)")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--bpm", type=float, default=100.0)
    ap.add_argument("--clips-per-style", type=int, default=4)
    ap.add_argument("--styles", help="comma-separated (default: every style of the LSTM)")
    ap.add_argument("--temperature", type=float, default=1.0, help="LSTM sampling temperature")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument(
        "--synth-only",
        action="store_true",
        help="skip the WaveNet renders (e.g. to compare LSTM temperatures quickly)",
    )
    ap.add_argument("--wav-dir", help="keep the clips here (default: a temporary folder)")
    ap.add_argument("--out", help="results JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    if args.speed_only:
        print(json.dumps(speed_only(), indent=2))
        return
    if not (args.lstm and args.wavenet and args.out):
        ap.error("give --lstm, --wavenet and --out (or --speed-only)")
    t_start = time.perf_counter()
    lstm, _ = io.load(args.lstm)
    wn, _ = io.load(args.wavenet)
    cfg = wn.config
    sr, hop = int(cfg.get("sample_rate", 16000)), int(cfg["hop"])
    low, high = int(cfg["lowest"]), int(cfg["highest"])
    instrument = cfg.get("instrument", "piano")
    samples = int(round(args.seconds * sr))
    fpq = int(lstm.config.get("frames_per_quarter", 4))
    all_styles = list(lstm.config["styles"])
    styles = args.styles.split(",") if args.styles else all_styles
    n = args.clips_per_style
    frames = int(np.ceil(args.seconds * args.bpm / 60 * fpq)) + 1

    # scores on the LSTM's grid: sampled, and real test segments; targets = style indices
    scores = {"lstm": [], "real": real_segments(lstm, styles, frames, n)}
    for s in styles:
        k = all_styles.index(s)
        rolls = lstm.sample(frames, k, batch=n, temperature=args.temperature, seed=k)
        scores["lstm"] += list(rolls.numpy())
    targets = [i for i in range(len(styles)) for _ in range(n)]

    # synthesizer renders (faithful) and the aligned conditioning rolls
    audio, cond = {}, {}
    for src, rolls in scores.items():
        rendered = [
            render_notes(
                roll_to_notes(r, fpq, lowest=lstm.config["lowest"]).scaled(60 / args.bpm),
                args.seconds,
                instrument=instrument,
                sr=sr,
                hop=hop,
                lowest=low,
                highest=high,
                seed=i,
            )
            for i, r in enumerate(rolls)
        ]
        audio[f"{src}->synth"] = [a for a, _ in rendered]
        cond[src] = np.stack([r for _, r in rendered])
    result = {
        "seconds": args.seconds,
        "bpm": args.bpm,
        "styles": styles,
        "clips_per_style": n,
        "temperature": args.temperature,
        "threads": args.threads,
        "receptive_field": wn.receptive_field,
        "agreement": {},
    }
    if not args.synth_only:
        t_wn = time.perf_counter()
        both = np.concatenate([cond["lstm"], cond["real"]])
        wav = wn.generate(
            samples,
            torch.from_numpy(both) if cfg["cond_channels"] else None,
            targets + targets if wn.style is not None else None,  # global style, if any
            batch=len(both),
            seed=0,
        ).numpy()
        result[f"samples_per_s_batch{len(both)}"] = (
            len(both) * samples / (time.perf_counter() - t_wn)
        )
        audio["lstm->wavenet"] = list(wav[: len(targets)])
        audio["real->wavenet"] = list(wav[len(targets) :])
        t0 = time.perf_counter()
        first = torch.from_numpy(cond["lstm"][:1]) if cfg["cond_channels"] else None
        wn.generate(sr // 4, first, 0 if wn.style is not None else None, seed=0)
        result["samples_per_s_batch1"] = (sr // 4) / (time.perf_counter() - t0)
    # agreement with the own roll vs a mismatched one (same index, next style)
    keys = ("chroma_corr", "onset_f", "pyin_voiced", "pyin_pitch", "pyin_pitch_class")
    for name, clips in audio.items():
        rolls = cond[name.split("->")[0]]
        rows = [
            audio_roll_agreement(a, [rolls[i], rolls[(i + n) % len(rolls)]], sr, hop, low)
            for i, a in enumerate(clips)
        ]
        result["agreement"][name] = {
            **{k: float(np.nanmean([r[0][k] for r in rows])) for k in keys},
            **{f"{k}_mismatched": float(np.nanmean([r[1][k] for r in rows])) for k in keys},
        }
    # style check
    if args.classifier:
        folder = Path(args.wav_dir or tempfile.mkdtemp(prefix="musicrep-gen-"))
        folder.mkdir(parents=True, exist_ok=True)
        from musicrep.io import load_model

        classifier = load_model(args.classifier, untrained_ok=False)
        result["style_check"] = {"classifier": str(args.classifier)}
        for name, clips in audio.items():
            wavs = []
            for i, a in enumerate(clips):
                path = folder / f"{name.replace('->', '_')}_{styles[targets[i]]}_{i % n}.wav"
                sf.write(str(path), np.asarray(a, dtype=np.float32), sr)
                wavs.append(path)
            result["style_check"][name] = style_check(classifier, wavs, targets, styles)
    result["wall_seconds"] = time.perf_counter() - t_start
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
