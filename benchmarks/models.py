"""Size, counted FLOPs and CPU speed of every model of the zoo.

For each registered model (``musicrep.models.list_models()``, 50 outputs, native input length):

* parameters;
* forward FLOPs per chunk, counted by ``torch.utils.flop_counter.FlopCounterMode`` (one chunk,
  eval mode). It counts convolutions, matrix products and attention (2 FLOPs per
  multiply-add); FFTs (the STFT of the spectral front-ends), poolings, normalisations and
  element-wise operations are not counted;
* inference: chunks per second and seconds of audio per second, eval mode under
  ``torch.inference_mode``, batches of ``--batch`` chunks;
* training: samples per second for forward + backward (BCE with logits against random tags) +
  Adam step, train mode, batches of ``--batch`` chunks;
* achieved FLOP/s of inference and training (counted FLOPs / time; training counts the FLOPs
  of forward + backward) as a fraction of the fp32 matmul peak measured in the same run (a
  large square ``torch.mm``, best of several runs at the start and at the end).

Every case runs one untimed warm-up, then ``--repeats`` timed runs interleaved across models (so
the load of a shared machine hits all rows alike); the table gives medians.

Run from the repository root::

    python benchmarks/models.py                          # all models, batch 8, 2 threads
    python benchmarks/models.py --models fcn hcnn --repeats 2 --no-write

The table is printed and, unless ``--no-write``, stored in the "Models" section of
``benchmarks/README.md`` with the command, date, versions and CPU (other sections are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import cpu_model, update_section

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Models"


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """fp32 FLOP/s of an ``n x n`` matrix product (best of ``repeats`` after a warm-up)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def count_flops(fn) -> int:
    """FLOPs counted while running ``fn()``."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


@dataclass
class Case:
    """One model: its measurements so far."""

    name: str
    params: int = 0
    sample_rate: int = 0
    input_samples: int = 0
    fwd_flops: int = 0
    train_flops: int = 0
    infer_times: list[float] = field(default_factory=list)
    train_times: list[float] = field(default_factory=list)
    error: str | None = None


def setup(name: str, batch: int):
    """Build model ``name`` and the closures timed for inference and training."""
    from musicrep.models import create_model

    torch.manual_seed(0)
    model = create_model(name, num_outputs=50)
    n = model.input_samples
    gen = torch.Generator().manual_seed(0)
    wave = torch.randn(batch, n, generator=gen) * 0.1
    target = (torch.rand(batch, 50, generator=gen) < 0.1).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def infer() -> None:
        model.eval()
        with torch.inference_mode():
            model(wave)

    def train_step() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(wave), target).backward()
        opt.step()

    def forward_one() -> None:
        model.eval()
        with torch.no_grad():
            model(wave[:1])

    def forward_backward_one() -> None:
        # batch 2: BatchNorm1d in train mode needs more than one value per channel
        model.train()
        model.zero_grad(set_to_none=True)
        loss_fn(model(wave[:2]), target[:2]).backward()

    return model, infer, train_step, forward_one, forward_backward_one


def run_benchmark(args: argparse.Namespace) -> tuple[list[Case], float]:
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    cases, runners = [], {}
    for name in args.models:
        case = Case(name)
        cases.append(case)
        try:
            model, infer, train_step, fwd1, fwdbwd2 = setup(name, args.batch)
            case.params = sum(p.numel() for p in model.parameters())
            case.sample_rate, case.input_samples = model.sample_rate, model.input_samples
            case.fwd_flops = count_flops(fwd1)
            case.train_flops = count_flops(fwdbwd2) // 2  # per sample
            infer()  # warm-up
            train_step()
            runners[name] = (infer, train_step)
        except Exception as exc:  # report in the table, go on with the others
            case.error = f"{type(exc).__name__}: {exc}"
        print(f"set up {name}", file=sys.stderr)
    for r in range(args.repeats):
        for case in cases:
            if case.name not in runners:
                continue
            infer, train_step = runners[case.name]
            t0 = time.perf_counter()
            infer()
            case.infer_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            train_step()
            case.train_times.append(time.perf_counter() - t0)
        print(f"round {r + 1}/{args.repeats} done", file=sys.stderr)
    return cases, max(peak, matmul_peak())


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def markdown_table(cases: list[Case], batch: int, peak: float) -> str:
    head = (
        "| model | params (M) | input (s) | GFLOP / chunk | inference chunks/s | "
        "audio s / s | % of peak (inference) | training samples/s | % of peak (training) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for c in cases:
        if c.error:
            rows.append(f"| `{c.name}` | failed: {c.error} |||||||| ")
            continue
        t_inf = statistics.median(c.infer_times)
        t_train = statistics.median(c.train_times)
        chunks_s = batch / t_inf
        secs = c.input_samples / c.sample_rate
        train_s = batch / t_train
        rows.append(
            f"| `{c.name}` | {c.params / 1e6:.2f} | {secs:.2f} | {c.fwd_flops / 1e9:.2f} | "
            f"{_fmt(chunks_s)} | {_fmt(chunks_s * secs, 0)} | "
            f"{100 * c.fwd_flops * chunks_s / peak:.0f} % | {_fmt(train_s)} | "
            f"{100 * c.train_flops * train_s / peak:.0f} % |"
        )
    return "\n".join(rows)


def section_text(args: argparse.Namespace, table: str, peak: float, command: str) -> str:
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            SECTION,
            "",
            "Every model of the zoo (`musicrep.models`, 50 outputs, native input length, random "
            "noise) on the CPU. GFLOP / chunk: forward FLOPs of one chunk counted by "
            "`torch.utils.flop_counter.FlopCounterMode` (convolutions, matrix products, "
            "attention; the STFT and element-wise operations are not counted). Inference: eval "
            "mode under `torch.inference_mode`; training: forward + backward (BCE with logits) "
            "+ Adam step in train mode; both in batches, one warm-up, then the median of the "
            "timed runs, interleaved across models. % of peak: counted FLOP/s (training: "
            "forward + backward FLOPs) over the fp32 matmul peak measured in the same run.",
            "",
            f"- command: `{command}`",
            f"- date: {date}",
            f"- batch {args.batch}, {args.threads} threads, {args.repeats} timed runs; fp32 "
            f"matmul peak (2048 x 2048 `torch.mm`): {peak / 1e9:.1f} GFLOP/s",
            f"- torch {torch.__version__}, Python {platform.python_version()}; CPU: "
            f"{cpu_model()}; the machine is shared with other jobs, so rates are indicative",
            "",
            table,
            "",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from musicrep.models import list_models

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list_models(), help="default: all")
    p.add_argument("--batch", type=int, default=8, help="chunks per batch (default 8)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per case (default 3)")
    p.add_argument("--readme", type=Path, default=README, help="file to write the section to")
    p.add_argument("--no-write", action="store_true", help="only print the table")
    args = p.parse_args(argv)
    if args.batch < 2 or min(args.threads, args.repeats) < 1:
        p.error("--batch must be >= 2 (BatchNorm in training), --threads/--repeats >= 1")
    unknown = sorted(set(args.models) - set(list_models()))
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; valid: {', '.join(list_models())}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/models.py" + (" " + shlex.join(given) if given else "")
    cases, peak = run_benchmark(args)
    table = markdown_table(cases, args.batch, peak)
    print(table)
    if not args.no_write:
        update_section(args.readme, SECTION, section_text(args, table, peak, command))
        print(f"wrote the '{SECTION[3:]}' section of {args.readme}", file=sys.stderr)
    return 1 if any(c.error for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
