"""Agreement of musicrep's converted musicnn/VGG taggers with the original TensorFlow graphs.

Two steps, two virtual environments (the original needs TensorFlow; musicrep does not):

    # 1. original side, in a venv with TensorFlow from PyPI and the musicnn wheel:
    python -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu tf-keras librosa 'numpy<2' soundfile
    /tmp/tfvenv/bin/pip install --no-deps musicnn-0.1.0-py3-none-any.whl
    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python benchmarks/pretrained_agreement.py original \
        --clips DIR --out /tmp/original.npz
    # 2. musicrep side, in musicrep's venv:
    python benchmarks/pretrained_agreement.py compare --clips DIR --original /tmp/original.npz

Step 1 builds the original graph (``musicnn.models.define_model``), restores the wheel's
checkpoint and runs *every* patch of each clip through it (not through ``extractor()``, whose
loop returns the first patch's penultimate/cnn features for all patches), feeding the
original preprocessing (``musicnn.extractor.batch_data``: librosa, float16 storage). It saves
the mel patches, the probabilities and every exposed layer.

Step 2 runs musicrep's models (a) on the original's own mel patches: the network alone, and
(b) end to end from the audio file (musicrep's decoding at 16 kHz, torch STFT, float16
rounding): network + preprocessing; and (c) musicrep's network in float64 on the same mel
patches, the reference that shows how far each float32 implementation (TF's and musicrep's)
is from the exact result. It prints the largest absolute difference per layer and, in
brackets, that difference divided by the layer's largest magnitude.
``clips`` makes the clip set: short renders of the built-in corpus plus synthetic signals
(``--make-clips DIR``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MODELS = {
    "MTT_musicnn": "musicnn-mtt",
    "MSD_musicnn": "musicnn-msd",
    "MTT_vgg": "vgg-mtt",
    "MSD_vgg": "vgg-msd",
}
MUSICNN_LAYERS = [
    "timbral",
    "temporal",
    "cnn1",
    "cnn2",
    "cnn3",
    "mean_pool",
    "max_pool",
    "penultimate",
]
VGG_LAYERS = ["pool1", "pool2", "pool3", "pool4", "pool5"]


def make_clips(out: Path, corpus_audio: str = "data/corpus/audio") -> None:
    """Eight clips: 4 synthetic (tone+noise, chirp, clicks, loud square wave: its mel exceeds
    float16's range) and 4 of the built-in corpus renders if available."""
    import soundfile as sf

    out.mkdir(parents=True, exist_ok=True)
    sr = 16000
    rng = np.random.default_rng(0)
    t = np.arange(int(sr * 7.3)) / sr
    sig = {
        "tone_noise": 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size),
        "chirp": 0.5 * np.sin(2 * np.pi * (100 + 400 * t) * t),
        "clicks": (np.arange(t.size) % 4000 < 40) * 0.8,
        "loud_square": 0.99 * np.sign(np.sin(2 * np.pi * 220 * t[: int(sr * 4)])),
    }
    for name, x in sig.items():
        sf.write(out / f"{name}.wav", x.astype(np.float32), sr)
    corpus_dir = Path(corpus_audio)
    corpus = sorted(corpus_dir.rglob("*.wav"))[:4] if corpus_dir.is_dir() else []
    for p in corpus:
        x, r = sf.read(p, dtype="float32")
        sf.write(out / f"corpus_{p.stem}.wav", x, r)


def original(clips: Path, out: Path, only: list[str] | None = None) -> None:
    import os

    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import extractor as ex
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    pkg = Path(models.__file__).parent
    res = {}
    files = sorted(clips.glob("*.wav"))
    for ck in only or MODELS:
        tf.compat.v1.reset_default_graph()
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outs = models.define_model(x, is_training, ck, 50)
        names = ["logits"] + (VGG_LAYERS if "vgg" in ck else MUSICNN_LAYERS)
        outs = outs[:1] + outs[1:] if "vgg" in ck else outs
        probs = tf.nn.sigmoid(outs[0])
        sess = tf.compat.v1.Session()
        tf.compat.v1.train.Saver().restore(sess, os.fspath(pkg / ck) + "/")
        for f in files:
            batch, _ = ex.batch_data(str(f), 187, 187)
            vals = sess.run([probs, *outs[1:]], {x: batch, is_training: False})
            res[f"{ck}/{f.name}/mel"] = batch.astype(np.float32)
            res[f"{ck}/{f.name}/probs"] = vals[0]
            for n, v in zip(names[1:], vals[1:]):
                res[f"{ck}/{f.name}/{n}"] = np.asarray(v, dtype=np.float32)
        sess.close()
    np.savez(out, **res)
    n = len(only or MODELS)
    print(f"wrote {out}: {len(files)} clips x {n} models", file=sys.stderr)


def compare(clips: Path, orig: Path, also: dict[str, Path] | None = None) -> None:
    """Print the agreement table (markdown).

    Network columns, on the original's own mel patches: TF float32 against musicrep float32
    (the agreement), and both against musicrep's network run in float64 (the same weights and
    operations with ~1e-16 rounding, so a reference for the exact result): when TF's own
    float32 error against it is as large as musicrep's, the TF/musicrep gap is float32
    rounding (different summation orders of the same sums), not a difference of the model.
    ``also``: other runs of the original step (e.g. TensorFlow with oneDNN off), each printed
    as one more "vs exact" column for the models it holds.
    """
    import copy

    import torch

    import musicrep
    from musicrep import audio
    from musicrep.models.musicnn_tf import N_FRAMES

    ref = np.load(orig)
    extra = {label: np.load(p) for label, p in (also or {}).items()}
    files = sorted(clips.glob("*.wav"))
    print(
        "| model | layer | scale | network: TF32 vs musicrep32 | TF32 vs exact | "
        "musicrep32 vs exact | end to end: TF32 vs musicrep32 |"
        + "".join(f" {label} vs exact |" for label in extra)
    )
    print("|---|---|---|---|---|---|---|" + "---|" * len(extra))
    for ck, name in MODELS.items():
        model, _ = musicrep.load(name)
        net64 = copy.deepcopy(model.encoder.net).double().eval()
        layers = ["probs"] + (VGG_LAYERS if "vgg" in ck else MUSICNN_LAYERS)
        # per layer: largest |value|; max abs diff of (tf-ours, tf-exact, ours-exact, e2e)
        scale = dict.fromkeys(["mel", *layers], 0.0)
        worst = {k: [0.0] * (4 + len(extra)) for k in ["mel", *layers]}
        for f in files:
            mel = torch.from_numpy(ref[f"{ck}/{f.name}/mel"])
            wave, _ = audio.load(f, sr=16000)
            n = mel.shape[0]
            with torch.no_grad():
                a = model.encoder.net.layers(mel)
                exact = net64.layers(mel.double())
                # end to end: the whole file's log-mel, cut in patches like the original
                full = model.encoder.mel(torch.from_numpy(wave)[None])[0]
                e2e = model.encoder.net.layers(
                    torch.stack([full[i * N_FRAMES : (i + 1) * N_FRAMES] for i in range(n)])
                )
            d = (full[: n * N_FRAMES].reshape(mel.shape) - mel).abs().max().item()
            worst["mel"][3] = max(worst["mel"][3], d)
            scale["mel"] = max(scale["mel"], mel.abs().max().item())
            outs = {}
            for key, out in (("ours", a), ("exact", exact), ("e2e", e2e)):
                out = dict(out)
                out["probs"] = torch.sigmoid(out["logits"])
                outs[key] = out
            for k in layers:
                ours = outs["ours"][k].numpy().astype(np.float64)
                ex64 = outs["exact"][k].numpy()
                e2e_k = outs["e2e"][k].numpy().astype(np.float64)
                theirs = ref[f"{ck}/{f.name}/{k}"].reshape(ours.shape).astype(np.float64)
                scale[k] = max(scale[k], float(np.abs(theirs).max()))
                for col, (x, y) in enumerate(
                    ((theirs, ours), (theirs, ex64), (ours, ex64), (theirs, e2e_k))
                ):
                    worst[k][col] = max(worst[k][col], float(np.abs(x - y).max()))
                for col, other in enumerate(extra.values(), start=4):
                    key = f"{ck}/{f.name}/{k}"
                    if key in other:
                        alt = other[key].reshape(ours.shape).astype(np.float64)
                        worst[k][col] = max(worst[k][col], float(np.abs(alt - ex64).max()))
                    else:
                        worst[k][col] = float("nan")

        for k in ["mel", *layers]:
            w = worst[k]
            cols = [f"{v:.1e} ({v / max(scale[k], 1e-12):.1e})" for v in w]
            cols = ["-" if np.isnan(v) else c for v, c in zip(w, cols)]
            if k == "mel":
                cols[:3] = ["0 (same input)", "-", "-"]
                cols[4:] = ["-"] * len(extra)
            print(f"| {name} | {k} | {scale[k]:.3g} | " + " | ".join(cols) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description="musicnn conversion agreement")
    ap.add_argument("step", choices=["make-clips", "original", "compare"])
    ap.add_argument("--clips", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--original", type=Path)
    ap.add_argument(
        "--models",
        help="original: comma-separated checkpoints to run (default all: " + ",".join(MODELS) + ")",
    )
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="LABEL=NPZ",
        help="compare: another original run (e.g. TF_ENABLE_ONEDNN_OPTS=0), one more column",
    )
    ap.add_argument(
        "--corpus", default="data/corpus/audio", help="corpus audio folder (make-clips)"
    )
    a = ap.parse_args()
    if a.step == "make-clips":
        make_clips(a.clips, a.corpus)
    elif a.step == "original":
        original(a.clips, a.out, a.models.split(",") if a.models else None)
    else:
        also = dict(item.split("=", 1) for item in a.also)
        compare(a.clips, a.original, {k: Path(v) for k, v in also.items()})


if __name__ == "__main__":
    main()
