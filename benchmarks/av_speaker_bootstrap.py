"""95 % bootstrap intervals over TEST SPEAKERS for the AV verification EERs.

The built-in AV data has few test speakers (10 in benchmarks/README.md), so the EER of one
trial list is noisy; this resamples the speakers (with replacement, ``--n`` times), re-weights
the trials accordingly and reports the percentile interval of the EER per condition.

A bootstrap sample draws each test speaker ``m_s`` times; a target trial of speaker ``s`` gets
weight ``m_s`` (its trials, once per copy), a non-target trial of speakers ``s != t`` gets
``m_s * m_t``. The point estimate is the plain EER of the full list (weights 1), which matches
``musicrep evaluate-av`` up to how the EER is interpolated.

    python benchmarks/av_speaker_bootstrap.py --model shared=runs/av_shared \\
        --model fusion=runs/av_fusion --manifest data/av-speakers/manifest.csv --n 1000
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def weighted_eer(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """EER (%) with trial weights: the point where the weighted false-reject rate of targets
    (score below the threshold) meets the weighted false-accept rate of non-targets (score at
    or above it); the mean of the two rates where their difference is smallest."""
    order = np.argsort(scores, kind="mergesort")
    s, y, w = scores[order], labels[order].astype(bool), weights[order].astype(np.float64)
    wt, wn = w * y, w * ~y
    tot_t, tot_n = wt.sum(), wn.sum()
    if tot_t <= 0 or tot_n <= 0:
        return float("nan")
    # threshold just above each distinct score k: FRR = targets <= s_k, FAR = non-targets > s_k
    frr = np.concatenate([[0.0], np.cumsum(wt)]) / tot_t
    far = 1.0 - np.concatenate([[0.0], np.cumsum(wn)]) / tot_n
    last = np.concatenate([s[1:] != s[:-1], [True]])  # only between distinct scores
    keep = np.concatenate([[True], last])
    frr, far = frr[keep], far[keep]
    k = int(np.argmin(np.abs(far - frr)))
    return float(100.0 * (far[k] + frr[k]) / 2.0)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(1)


def bootstrap(
    emb: dict[str, np.ndarray],
    speakers: list[str],
    enroll: np.ndarray,
    test: np.ndarray,
    target: np.ndarray,
    conditions: list[str],
    n: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Point EER and 95 % percentile interval per condition over resampled speakers."""
    names = sorted(set(speakers))
    spk = np.array([names.index(s) for s in speakers])
    se, st = spk[enroll], spk[test]
    scores = {}
    for cond in conditions:
        a, b = cond.split("->") if "->" in cond else (cond, cond)
        scores[cond] = cosine(emb[a][enroll], emb[b][test])
    rng = np.random.default_rng(seed)
    draws = {c: [] for c in conditions}
    for _ in range(n):
        m = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        w = np.where(se == st, m[se], m[se] * m[st]).astype(np.float64)
        for c in conditions:
            draws[c].append(weighted_eer(scores[c], target, w))
    out = {}
    for c in conditions:
        d = np.asarray(draws[c])
        d = d[np.isfinite(d)]
        out[c] = {
            "eer": weighted_eer(scores[c], target, np.ones(len(target))),
            "ci_low": float(np.percentile(d, 2.5)),
            "ci_high": float(np.percentile(d, 97.5)),
            "resamples": int(len(d)),
            "speakers": len(names),
            "trials": int(len(target)),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    from musicrep.data.manifest import Manifest
    from musicrep.evaluate_av import default_trials, embed_av, trial_rows
    from musicrep.io import load_model
    from musicrep.models.av import AV_CONDITIONS, CROSS_MODAL

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, metavar="[NAME=]DIR")
    p.add_argument("--manifest", required=True)
    p.add_argument("--trials", default=None, help="default: trials_test.txt beside the manifest")
    p.add_argument("--split", default="test")
    p.add_argument("--chunks", type=int, default=2)
    p.add_argument("--n", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    manifest = Manifest.read(args.manifest)
    trials = args.trials or default_trials(args.manifest)
    results = {}
    print("| model | condition | EER % | 95 % interval (speaker bootstrap) |")
    print("|---|---|---|---|")
    for spec in args.model:
        name, _, path = spec.rpartition("=")
        name = name or path
        model, _, _ = load_model(path, untrained_ok=False)  # run folder or exported
        paths, labels, emb = embed_av(model, manifest, args.split, chunks=args.chunks)
        enroll, test, target, _ = trial_rows(trials, paths, labels)
        cross = bool(getattr(model, "cross_modal", False))
        conds = [c for c in AV_CONDITIONS if cross or c not in CROSS_MODAL]
        res = bootstrap(emb, labels, enroll, test, target, conds, args.n, args.seed)
        results[name] = res
        for c, r in res.items():
            print(f"| {name} | {c} | {r['eer']:.1f} | {r['ci_low']:.1f} - {r['ci_high']:.1f} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
