"""Generation benchmark: WaveNet speed on CPU, and agreement of generated audio with its
conditioning roll.

    PYTHONPATH=src python benchmarks/generation.py --lstm models/gen_lstm \
        --wavenet models/gen_wavenet --seconds 1.5 --out benchmarks/results/generation.json

Per style: sample a score with the LSTM (seed = style index), render it with the WaveNet, and
compute the chroma-roll agreement: the correlation between the audio's chroma (librosa
``chroma_stft``, 100 frames/s) and the roll's pitch-class profile, over frames with notes;
the same for the audio against the roll of *another* style's score (mismatched baseline).
Speed: samples/s of batched cached generation (batch 1 and 8), one thread.

    PYTHONPATH=src python benchmarks/generation.py --speed-only

measures only the speed of the gen_wavenet recipe's network (untrained weights: speed does not
depend on them): cached generation at batch 1 and 8 beside the naive method (a full forward
over the receptive field for every sample).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def chroma_agreement(audio, roll, sr, hop, lowest):
    import librosa

    chroma = librosa.feature.chroma_stft(y=audio, sr=sr, hop_length=hop, n_fft=2048)
    play = roll[0]
    pc = np.zeros((12, play.shape[1]))
    for p in range(play.shape[0]):
        pc[(p + lowest) % 12] += play[p]
    n = min(chroma.shape[1], pc.shape[1])
    chroma, pc = chroma[:, :n], pc[:, :n]
    keep = pc.sum(0) > 0
    if keep.sum() < 2:
        return float("nan")
    a = chroma[:, keep].ravel() - chroma[:, keep].mean()
    b = pc[:, keep].ravel() - pc[:, keep].mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


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


def main() -> None:
    from musicrep import io
    from musicrep.symbolic import notes_to_roll, roll_to_notes

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lstm")
    ap.add_argument("--wavenet")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--bpm", type=float, default=100.0)
    ap.add_argument("--styles", default="bach,folk,fiddle")
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    if args.speed_only:
        print(json.dumps(speed_only(), indent=2))
        return
    if not (args.lstm and args.wavenet and args.out):
        ap.error("give --lstm, --wavenet and --out (or --speed-only)")
    lstm, _ = io.load(args.lstm)
    wn, _ = io.load(args.wavenet)
    cfg = wn.config
    sr, hop = int(cfg.get("sample_rate", 16000)), int(cfg["hop"])
    samples = int(args.seconds * sr)
    fpq = int(lstm.config.get("frames_per_quarter", 4))
    styles = args.styles.split(",")
    rolls = []
    for s in styles:
        frames = int(np.ceil(args.seconds * args.bpm / 60 * fpq)) + 1
        r = lstm.sample(
            frames, lstm.config["styles"].index(s), seed=lstm.config["styles"].index(s)
        )[0]
        notes = roll_to_notes(r.numpy(), fpq, lowest=lstm.config["lowest"]).scaled(60 / args.bpm)
        rolls.append(
            notes_to_roll(
                notes, sr / hop, samples // hop + 1, lowest=cfg["lowest"], highest=cfg["highest"]
            )
        )
    cond = torch.from_numpy(np.stack(rolls))
    t0 = time.perf_counter()
    audio = wn.generate(samples, cond, None, seed=0).numpy()
    batched = len(styles) * samples / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    wn.generate(sr // 4, cond[:1], None, seed=0)
    single = (sr // 4) / (time.perf_counter() - t0)
    result = {
        "seconds": args.seconds,
        "styles": styles,
        "samples_per_s_batch1": single,
        f"samples_per_s_batch{len(styles)}": batched,
        "receptive_field": wn.receptive_field,
        "per_style": {},
    }
    for i, s in enumerate(styles):
        other = rolls[(i + 1) % len(styles)]
        result["per_style"][s] = {
            "notes_frames": int((rolls[i][0].sum(0) > 0).sum()),
            "chroma_roll_corr": chroma_agreement(audio[i], rolls[i], sr, hop, cfg["lowest"]),
            "chroma_roll_corr_mismatched": chroma_agreement(
                audio[i], other, sr, hop, cfg["lowest"]
            ),
        }
    vals = result["per_style"].values()
    result["chroma_roll_corr_mean"] = float(np.nanmean([v["chroma_roll_corr"] for v in vals]))
    result["chroma_roll_corr_mismatched_mean"] = float(
        np.nanmean([v["chroma_roll_corr_mismatched"] for v in vals])
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
