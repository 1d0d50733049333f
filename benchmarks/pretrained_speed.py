"""End-to-end speed: musicrep's pretrained musicnn vs the original ``musicnn`` extractor.

Both tag the same files, each from the file path to taggram + features, side by side in one
run. The original needs TensorFlow, so it runs in its own virtual environment (see
``benchmarks/pretrained_agreement.py`` for how it is made); this script starts it as a
subprocess with ``--tf-python``:

    python benchmarks/pretrained_speed.py --clips DIR --tf-python /tmp/tfvenv/bin/python

Timing: each side loads its model once (not timed), then every file is processed ``--repeats``
times and the median per pass is reported; CPU threads are what each framework picks on this
machine (``torch.get_num_threads()`` is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ORIGINAL = r"""
import json, sys, time, statistics, io, contextlib
from musicnn.extractor import extractor
files, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
with contextlib.redirect_stdout(io.StringIO()):
    extractor(files[0], model="MTT_musicnn")  # warm-up (graph build, checkpoint restore)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for f in files:
            extractor(f, model="MTT_musicnn")
        times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, required=True)
    ap.add_argument("--tf-python", required=True, help="python of the TensorFlow venv")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import torch

    from musicrep.pretrained import extract

    files = sorted(str(p) for p in a.clips.glob("*.wav"))
    import soundfile as sf

    seconds = sum(sf.info(f).duration for f in files)
    extract("musicnn-mtt", files[0])  # warm-up
    ours = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        for f in files:
            extract("musicnn-mtt", f)
        ours.append(time.perf_counter() - t)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [a.tf_python, "-c", ORIGINAL, json.dumps(files), str(a.repeats)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"{len(files)} files, {seconds:.1f} s of audio, {a.repeats} passes, median per pass; "
        f"torch threads {torch.get_num_threads()}"
    )
    print("| extractor | s per pass | x real time |")
    print("|---|---|---|")
    for name, ts in (
        ("musicrep extract('musicnn-mtt')", ours),
        ("musicnn 0.1.0 extractor('MTT_musicnn'), TF " + "CPU", theirs),
    ):
        m = statistics.median(ts)
        print(f"| {name} | {m:.2f} | {seconds / m:.0f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
