"""``musicrep benchmark``: several models x several tasks -> one report (Markdown, HTML, JSON)."""

from __future__ import annotations

import argparse
import shlex
import sys

from musicrep.cli._options import add_nan_policy

EPILOG = """\
examples:
  musicrep benchmark --tasks corpus-style,corpus-instrument,corpus-tags \\
      --models mfcc,hcnn,runs/my-run --out reports/first
                   the MFCC baseline, an untrained hcnn and a trained run on the corpus tasks
  musicrep benchmark --tasks corpus-style --models mfcc,musicnn --clips 240 --seconds 6 \\
      --corpus-dir data/corpus-240 --out reports/small --repeats 3
  musicrep benchmark --tasks gtzan=splits/gtzan.csv,us8k.csv --models mfcc,models/hcnn \\
      --protocol hear --out reports/hear
  musicrep benchmark --tasks corpus-instrument,corpus-style \\
      --models ae_c=runs/coala-ae-c,e_c=runs/coala-e-c,cnn=runs/coala-cnn,mfcc=mfcc \\
      --reference coala --cca --out reports/coala
                   COALA reproduction: the paper's tables beside ours, and its claims checked

tasks (--tasks, comma-separated or repeated):
  corpus-style, corpus-instrument, corpus-tags
                   the built-in corpus dataset's style.csv / instrument.csv / tags.csv, built in
                   --corpus-dir (default data/corpus) unless a build is there already
  gtzan:ROOT, us8k:ROOT, nsynth:ROOT, esc50:ROOT, mtat:ROOT, gsc:ROOT
                   a public dataset in its official layout (`musicrep data prepare --help`):
                   ROOT/musicrep_<name>.csv if it exists, else one prepared into OUT/manifests/
  path/to/manifest.csv, name=path/to/manifest.csv
                   any manifest (path,labels,split[,fold]) or trials file; named by its stem

models (--models, comma-separated or repeated; label=spec names a column):
  mfcc             MFCC statistics baseline (120-d)
  musicnn-mtt      a pretrained model shipped with musicrep (musicnn-mtt, musicnn-msd,
                   vgg-mtt, vgg-msd; see musicrep models)
  untrained:hcnn   a zoo architecture with random weights drawn with --seed (a bare zoo
                   name, hcnn, means the same but warns)
  models/x         an exported model folder (musicrep export)
  runs/x           a training run folder (musicrep train; its best/last checkpoint)
  A folder is labelled with its name; when that clashes with another column (mfcc,musicnn,
  runs/musicnn: the untrained zoo musicnn and a trained run) it becomes "musicnn (runs/musicnn)".
  Name columns yourself with LABEL=SPEC: --models mfcc,random=musicnn,trained=runs/musicnn

For each model the distinct files of all tasks are decoded and embedded once, and cached in
--cache (default: .musicrep-cache beside --out; the same cache `musicrep evaluate --model` uses);
a second run reuses it. Each task is
scored with the probe protocol (mean ± std over --repeats trainings). --out gets report.md,
report.html (self-contained), results.json and one <task>.png bar chart per task.

--reference coala adds COALA's Table 1 (AE-C / E-C / MFCC / CNN on NSynth, US8K, GTZAN) beside
the models labelled ae_c, e_c, mfcc, cnn, and a Findings section checking each of the paper's
claims with a stated rule on our numbers (and on the paper's). --cca also correlates each
model's embeddings with MFCC / chroma / centroid / bandwidth statistics on the test split of
--cca-task (--cca-split; the paper's Table 2 beside ours; output in OUT/cca/).

A model that fails (e.g. a bad run folder), files that cannot be decoded and evaluations that
fail are reported and the rest goes on; the exit status is then 1 (2: a usage/data error).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="evaluate several models on several tasks; Markdown/HTML/JSON report with plots",
        description="Embed every task's audio with every model (once, cached), score each task "
        "with a downstream probe, and write a report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--tasks",
        action="append",
        required=True,
        metavar="TASK[,TASK...]",
        help="corpus-style, corpus-instrument, corpus-tags, or [NAME=]manifest.csv",
    )
    p.add_argument(
        "--models",
        action="append",
        required=True,
        metavar="[LABEL=]SPEC[,...]",
        help="mfcc, a pretrained name (musicnn-mtt...), untrained:ZOO_NAME, an exported model "
        "folder or a run folder",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="report folder")
    p.add_argument("--protocol", default="coala", choices=["coala", "hear"], help="probe (coala)")
    p.add_argument(
        "--repeats", type=int, default=10, metavar="N", help="probe trainings per task (10)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="first probe seed; also the seed of untrained zoo encoders (0)",
    )
    p.add_argument(
        "--grid",
        default="default",
        choices=["default", "fast", "faster"],
        help="hear protocol: hear-eval-kit grid preset",
    )
    data = p.add_argument_group("built-in corpus")
    data.add_argument(
        "--corpus-dir",
        default="data/corpus",
        metavar="DIR",
        help="where the corpus is, or is built (data/corpus)",
    )
    data.add_argument(
        "--clips", type=int, metavar="N", help="clips of a new build (400; must match a reused one)"
    )
    data.add_argument(
        "--seconds", type=float, metavar="S", help="clip length of a new build (6; must match)"
    )
    emb = p.add_argument_group("embedding")
    emb.add_argument(
        "--cache", metavar="DIR", help="embedding cache (default: .musicrep-cache beside --out)"
    )
    emb.add_argument("--batch-size", type=int, default=16, metavar="N", help="windows per pass")
    emb.add_argument("--device", default="cpu", help="cpu, cuda, ... (cpu)")
    add_nan_policy(emb)
    ref = p.add_argument_group("COALA reproduction")
    ref.add_argument(
        "--reference",
        choices=["coala"],
        help="add the paper's tables and check its claims (label models ae_c, e_c, cnn, mfcc)",
    )
    ref.add_argument(
        "--cca", action="store_true", help="correlate embeddings with descriptors (Table 2)"
    )
    ref.add_argument(
        "--cca-task", metavar="TASK", help="task whose test split is analysed (the first task)"
    )
    ref.add_argument(
        "--cca-split",
        default="test",
        choices=["train", "valid", "test", "all"],
        help="rows of --cca-task analysed (test)",
    )
    ref.add_argument(
        "--cca-clips", type=int, default=300, metavar="N", help="clips analysed at most (300)"
    )
    ref.add_argument(
        "--cca-method",
        default="svcca",
        choices=["svcca", "cca", "pwcca", "cka", "kernel-cka"],
        help="similarity measure (svcca)",
    )
    p.add_argument("--title", help="report title")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or status lines")
    p.set_defaults(func=run)


def _command(args: argparse.Namespace) -> str:
    """The command line with every option explicit (what reruns this benchmark)."""
    parts = ["musicrep", "benchmark", "--tasks", ",".join(args.tasks)]
    parts += ["--models", ",".join(args.models), "--out", args.out]
    parts += ["--protocol", args.protocol, "--repeats", str(args.repeats), "--seed", str(args.seed)]
    if args.protocol == "hear":
        parts += ["--grid", args.grid]
    parts += ["--corpus-dir", args.corpus_dir]
    if args.clips is not None:
        parts += ["--clips", str(args.clips)]
    if args.seconds is not None:
        parts += ["--seconds", f"{args.seconds:g}"]
    if args.cache:
        parts += ["--cache", args.cache]
    parts += ["--batch-size", str(args.batch_size), "--device", args.device]
    if args.nan_policy != "raise":
        parts += ["--nan-policy", args.nan_policy]
    if args.reference:
        parts += ["--reference", args.reference]
    if args.cca:
        parts += ["--cca", "--cca-split", args.cca_split, "--cca-clips", str(args.cca_clips)]
        parts += ["--cca-method", args.cca_method]
        if args.cca_task:
            parts += ["--cca-task", args.cca_task]
    if args.title:
        parts += ["--title", args.title]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from musicrep.benchmark import format_results, run_benchmark

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"musicrep: {msg}", file=sys.stderr)

    result = run_benchmark(
        args.tasks,
        args.models,
        args.out,
        protocol=args.protocol,
        repeats=args.repeats,
        seed=args.seed,
        corpus_dir=args.corpus_dir,
        clips=args.clips,
        seconds=args.seconds,
        cache_dir=args.cache,
        reference=args.reference,
        cca=args.cca,
        cca_task=args.cca_task,
        cca_clips=args.cca_clips,
        cca_method=args.cca_method,
        cca_split=None if args.cca_split == "all" else args.cca_split,
        batch_size=args.batch_size,
        device=args.device,
        nan_policy=args.nan_policy,
        grid=args.grid,
        title=args.title,
        command=_command(args),
        progress=not args.quiet,
        log=log,
    )
    doc = result.document
    print(format_results(doc))
    print(f"report: {result.paths['md']}  ({result.paths['html']}, {result.paths['json']})")
    for f in doc["failures"]:
        print(f"  failed: {f['what']}: {f['error']}", file=sys.stderr)
    return 0 if result.ok else 1
