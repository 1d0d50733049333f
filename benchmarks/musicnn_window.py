"""Per-window time of the ``musicnn-mtt`` network (log-mel in, every layer out), original vs
``musicrep.models.inference`` graph, one process, seconds apart.

    python benchmarks/musicnn_window.py [--chunk-mib 4] [--batch 1] [--threads 1]

Prints the 25th-percentile time per window of 40 calls for both, and their max relative
difference on the ``penultimate`` layer.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunk-mib", type=float, default=None, help="inference.CHUNK_BYTES in MiB")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import musicrep.models.inference as inference
    from musicrep.embed import resolve_model

    if args.chunk_mib is not None:
        inference.CHUNK_BYTES = int(args.chunk_mib * 2**20)
    enc = resolve_model("musicnn-mtt").encoder
    fast = inference.optimize_for_inference(enc)
    g = torch.Generator().manual_seed(0)
    wave = (torch.rand(args.batch, enc.input_samples, generator=g) * 2 - 1) * 0.5

    def per_window_ms(f, n: int = 40) -> float:
        f()
        f()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return sorted(ts)[n // 4] * 1000 / args.batch

    with torch.inference_mode():
        mel = enc.mel(wave)
        a = enc.net.layers(mel)["penultimate"]
        b = fast.net.layers(mel)["penultimate"]
        err = float((a - b).abs().max() / a.abs().max())
        t_fast = per_window_ms(lambda: fast.net.layers(mel))
        t_orig = per_window_ms(lambda: enc.net.layers(mel))
        t_mel = per_window_ms(lambda: enc.mel(wave))
    print(
        f"batch {args.batch}, {args.threads} thread(s), chunk {inference.CHUNK_BYTES / 2**20:g} "
        f"MiB: original {t_orig:.2f} ms/window, optimized {t_fast:.2f} ms/window "
        f"({t_orig / t_fast:.2f}x); log-mel {t_mel:.2f} ms/window; max rel diff {err:.1e}"
    )


if __name__ == "__main__":
    main()
