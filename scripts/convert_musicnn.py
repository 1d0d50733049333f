"""Convert the four TF1 checkpoints of the ``musicnn==0.1.0`` wheel into musicrep models.

    pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn
    python scripts/convert_musicnn.py /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl \
        --out src/musicrep/pretrained/models

No TensorFlow is needed: the checkpoints are read with
:mod:`musicrep.pretrained.tf_checkpoint` (SSTable index + raw data, CRCs checked). Each model
is written as an exported model folder (``config.json`` + ``model.safetensors``, kind
``musicnn_tf``) with the ISC licence notice of musicnn and its source named in ``source``.
Weights are stored as float32 (the checkpoints' dtype); the four models take ~ 11 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

from musicrep.pretrained import convert_checkpoint


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("wheel", type=Path, help="musicnn-0.1.0-py3-none-any.whl")
    ap.add_argument("--out", type=Path, required=True, help="folder for the four model folders")
    args = ap.parse_args(argv)
    if not args.wheel.is_file():
        print(
            f"error: {args.wheel} does not exist; get it with "
            "'pip download musicnn==0.1.0 --no-deps -d DIR'",
            file=sys.stderr,
        )
        return 2
    wheel_sha = hashlib.sha256(args.wheel.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.wheel) as zf:
        zf.extractall(tmp)
        licence = next(Path(tmp).glob("musicnn-*.dist-info/LICENSE*")).read_text()
        for name in ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"):
            out = convert_checkpoint(
                Path(tmp) / "musicnn" / name,
                name,
                args.out,
                licence=licence,
                wheel=args.wheel.name,
                wheel_sha256=wheel_sha,
            )
            print(f"{name} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
