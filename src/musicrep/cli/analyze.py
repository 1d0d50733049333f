"""``musicrep analyze ...``: what a representation captures (``cca``: COALA's Table 2)."""

from __future__ import annotations

import argparse
import sys

GROUP_DESCRIPTION = """\
Analyse representations.

examples:
  musicrep analyze cca --model mfcc --model models/musicnn --manifest data/corpus/tags.csv \\
      --split test --out reports/cca
                   correlate two models' embeddings with MFCC/chroma/centroid/bandwidth stats
  musicrep analyze cca --embeddings emb/coala.npz --manifest data/corpus/tags.csv --method cka
                   the same from precomputed embeddings, with linear CKA
  musicrep analyze similarity --model hcnn --model trained=runs/hcnn --reference scattering,mfcc \\
      --manifest data/corpus/style.csv --method cka --out reports/sim
                   layer x feature-set and layer x layer CKA, probes per layer
  musicrep analyze filters runs/hcnn --out reports/filters
                   learned front-end filters (harmonic Q, sinc edges, first conv), initial | trained
  musicrep analyze attention runs/attention song.wav --out reports/att
                   the self-attention back-end's [CLS] attention over a clip, with its tags
  musicrep analyze saliency runs/musicnn song.wav --method occlusion --out reports/sal
                   which time-frequency regions drive the predicted tags (any tagging model)
  musicrep analyze robustness --model runs/hcnn --model runs/musicnn \\
      --manifest data/corpus/tags.csv --perturb noise:white --perturb pitch --out reports/rob
                   track-level metric against noise SNR / stretch / pitch / compression / band limit
  musicrep analyze cca --help
"""

FILTERS_DESCRIPTION = """\
Draw the frequency responses of what a model learned at its input, initial beside trained.

Learned filterbanks: harmonic filters (Harmonic CNN: Q, alpha, beta, f0), sinc band-passes
(SincNet/PASE/SincModNet: band edges f1..f2, also the modulation filters at the envelope rate),
ModNet's free FIR acoustic and modulation kernels, and -- for raw-waveform models (samplecnn,
samplecnn_se) -- the first convolution's kernels as FIR filters. Fixed front-ends (mel, CQT) have
nothing to draw (an error says so). Initial weights: the architecture rebuilt with the run's
training seed, which is the run's state before its first step (musicrep train builds the
encoder first after seeding). Writes report.md/.html, one PNG per bank and filters.json.

examples:
  musicrep analyze filters runs/hcnn --out reports/filters-hcnn
  musicrep analyze filters runs/samplecnn --out reports/filters-samplecnn
  musicrep analyze filters untrained:sincmodnet --out reports/filters-sincmodnet
"""

ATTENTION_DESCRIPTION = """\
Show where a self-attention tagger looks (Won, Chun & Serra 2019).

The clip is covered by the model's windows; in each, every Transformer layer's [CLS] row (how
much the clip summary, read by the tag head, attends to each moment) is placed on the clip's
time axis under its spectrogram, per layer (mean over heads) and per head (last layer), above
the probabilities of the top tags per window. tokens.png has the token-to-token maps of the
first window. Needs a tagging model with the attention back-end (zoo name 'attention').

examples:
  musicrep analyze attention runs/attention data/corpus/audio/00000_*.wav --out reports/att
  musicrep analyze attention models/attention song.wav --tags style:bach mode:minor
"""

SALIENCY_DESCRIPTION = """\
Which time-frequency regions drive a tag, for any tagging/classification model.

The model hears istft(mask * stft(x)); --method gradient maps the derivative of each tag's logit
with respect to the mask (one backward pass per tag; red = energy there supports the tag);
--method occlusion zeroes one patch at a time (--bands log-spaced bands x --segments time
segments per model window) and maps the drop of the tag's probability. Tags: --tags, else the
--top most probable. Writes saliency.png, saliency.npz and report.md/.html.

examples:
  musicrep analyze saliency runs/shortchunk_cnn clip.wav --out reports/sal
  musicrep analyze saliency runs/hcnn clip.wav --method occlusion --bands 12 --segments 6
  musicrep analyze saliency musicnn-mtt song.mp3 --tags guitar piano
"""

ROBUSTNESS_DESCRIPTION = """\
Score trained taggers on a manifest split, clean and under perturbations (Won et al. 2020).

Every track is decoded whole, perturbed with the musicrep.augment transform at each strength
(seeded: every model hears the same audio), cut into --chunks equally spaced chunks and scored
track by track (ROC-AUC for tags, accuracy for classes; --metric). Writes robustness.json,
curves.png and report.md/.html: the metric per strength and model, the mean drop from clean per
perturbation, and the measured SNR of every noise condition.

perturbations (--perturb, repeat; strengths after '=', e.g. pitch=-1,1):
  noise:white|pink|brown|FOLDER  additive noise at each --snr (dB; FOLDER: noise recordings)
  stretch                        tempo rate (default 0.71,0.84,1.19,1.41; pitch kept)
  pitch                          semitones (default -2,-1,1,2; duration kept)
  compress[:RATIO]               compressor threshold in dB re. the peak level, ratio 4
                                 (default -10,-20,-30,-40)
  bandlimit                      low-pass cut-off in Hz, MP3-like band limits
                                 (default 6000,4000,3000,2000,1000)

examples:
  musicrep analyze robustness --model runs/hcnn --model runs/shortchunk_cnn \\
      --manifest data/corpus/tags.csv --perturb noise:white --perturb noise:pink \\
      --snr 40,30,20,10,5,0 --out reports/robustness
  musicrep analyze robustness --model hcnn=runs/hcnn --manifest m.csv --perturb stretch \\
      --perturb pitch=-1,1 --perturb compress --perturb bandlimit=4000,2000
"""

SIMILARITY_DESCRIPTION = """\
Compare every block of every model with hand-crafted feature sets and with each other.

For up to --max-clips clips, the time-pooled output of each block of each model (frontend and
numbered blocks, then the encoder output) is compared with each --reference feature set
(registered features pooled per 1 s window into frame mean and std) and with every block of
every other model, by one similarity measure, each cell beside its permutation baseline (clips
shuffled). A probe (the coala MLP on the manifest's splits) is trained on every layer and
every feature set. Writes similarity.json, report.md, report.html and one heatmap PNG per
matrix to --out.

Label models by what they were trained on to read trained / other task / untrained together;
--untrained adds a seeded untrained copy of every model (same architecture).

examples:
  musicrep analyze similarity --model trained=runs/hcnn --untrained \\
      --reference scattering,mfcc,chroma --manifest data/corpus/style.csv --out reports/sim
  musicrep analyze similarity --model musicnn --model shortchunk_cnn --reference scattering \\
      --manifest data/corpus/style.csv --method kernel-cka --no-probe
  musicrep analyze similarity --model hcnn --layers backend.blocks.0,backend.blocks.6 \\
      --reference mfcc --manifest m.csv --method pwcca --permutations 0
"""

CCA_DESCRIPTION = """\
Correlate embeddings with hand-crafted descriptors (COALA, Table 2).

For up to --max-clips clips of the manifest, each model's clip embedding is compared with the
mean, variance and skewness over frames of librosa descriptors (MFCCs, chromagram, spectral
centroid, spectral bandwidth), next to a permutation baseline (clips shuffled). Writes
cca.json, cca.md/cca.html (a table: rows = descriptor statistics, columns = models) and cca.png
to --out.

CCA overfits when the views have many dimensions relative to the number of clips N (with as many
dimensions as clips every correlation is 1). The default method, svcca, therefore reduces each
view by SVD (99 % of the variance, at most N/10 directions); the table states N and the
dimensions used, and the baseline in parentheses is the value for unrelated data.

examples:
  musicrep analyze cca --model mfcc --manifest data/corpus/tags.csv --split test
  musicrep analyze cca --model fcn --model trained=models/fcn --manifest data/corpus/tags.csv \\
      --split valid --max-clips 300 --out reports/fcn-cca
                   an untrained zoo encoder vs the trained one
  musicrep analyze cca --embeddings coala=emb/coala.npz --embeddings emb/mfcc.npz \\
      --manifest data/corpus/tags.csv --method cca
                   precomputed embeddings (paths joined to the manifest), COALA's plain CCA
  musicrep analyze cca --model mfcc --manifest m.csv --descriptors mfcc spectral_rolloff \\
      --region max-energy --method kernel-cka

Clips that cannot be read are reported and left out; the exit status is then 1.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="analyse representations: similarity, filters, attention, saliency, robustness",
        description=GROUP_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(_group_parser=p)
    group = p.add_subparsers(dest="analyze_command", metavar="<analysis>")
    c = group.add_parser(
        "cca",
        help="similarity of embeddings with MFCC/chroma/centroid/bandwidth statistics",
        description=CCA_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = c.add_argument_group("embeddings (at least one; repeat to compare models)")
    src.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[LABEL=]NAME|DIR|mfcc",
        help="pretrained name (musicnn-mtt...), untrained:ZOO_NAME, exported model folder, or mfcc",
    )
    src.add_argument(
        "--embeddings",
        action="append",
        default=[],
        metavar="[LABEL=]FILE.npz",
        help="precomputed embeddings (arrays paths, embeddings), joined to the manifest by path",
    )
    c.add_argument("--manifest", required=True, metavar="CSV", help="manifest of the clips")
    c.add_argument("--split", choices=["train", "valid", "test"], help="use only this split")
    c.add_argument(
        "--max-clips",
        type=int,
        default=300,
        metavar="N",
        help="at most N clips, a seeded random subset (default 300; 0 = all)",
    )
    c.add_argument(
        "--method",
        choices=["svcca", "cca", "pwcca", "cka", "kernel-cka"],
        default="svcca",
        help="similarity measure (default svcca)",
    )
    c.add_argument("--out", default="reports/cca", metavar="DIR", help="report folder")
    c.add_argument(
        "--permutations",
        type=int,
        default=20,
        metavar="K",
        help="shufflings for the baseline (default 20; 0 = none)",
    )
    c.add_argument(
        "--keep-variance",
        type=float,
        default=0.99,
        metavar="F",
        help="svcca: share of variance kept per view (default 0.99)",
    )
    c.add_argument(
        "--max-dims",
        default="auto",
        metavar="K|auto|none",
        help="svcca: directions kept per view at most (default auto = N/10)",
    )
    c.add_argument(
        "--reg",
        type=float,
        default=None,
        metavar="R",
        help="relative ridge added to the CCA covariances (default 0: plain CCA)",
    )
    c.add_argument(
        "--sigma",
        type=float,
        default=1.0,
        help="kernel-cka: RBF bandwidth in median distances (default 1)",
    )
    c.add_argument(
        "--descriptors",
        nargs="+",
        metavar="NAME",
        help="mfcc chroma spectral_centroid spectral_bandwidth (default) spectral_rolloff",
    )
    c.add_argument(
        "--region",
        choices=["clip", "max-energy"],
        default="clip",
        help="descriptors on the whole clip (default) or COALA's max-energy 96-frame patch",
    )
    c.add_argument(
        "--sr", type=int, default=22050, help="descriptor sample rate in Hz (default 22050)"
    )
    c.add_argument("--seed", type=int, default=0, help="seed of the subset and permutations")
    c.add_argument("--batch-size", type=int, default=16, help="embedding batch size")
    c.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    c.set_defaults(func=run_cca)

    from musicrep.analysis.similarity import MEASURES

    m = group.add_parser(
        "similarity",
        help="layer x feature-set and layer x layer similarity matrices, probes per layer",
        description=SIMILARITY_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="[LABEL=]NAME|DIR",
        help="pretrained name (musicnn-mtt...), untrained:ZOO_NAME (seeded), run or exported "
        "folder; repeat to compare",
    )
    m.add_argument(
        "--reference",
        default="scattering,mfcc,chroma",
        metavar="NAME[,NAME...]",
        help="registered features to compare with (default scattering,mfcc,chroma; "
        "see musicrep.features.list_features)",
    )
    m.add_argument("--manifest", required=True, metavar="CSV", help="manifest of the clips")
    m.add_argument(
        "--method", choices=list(MEASURES), default="cka", help="similarity measure (default cka)"
    )
    m.add_argument("--layers", metavar="L1,L2", help="layer names (default: every block)")
    m.add_argument(
        "--untrained", action="store_true", help="also a seeded untrained copy of every model"
    )
    m.add_argument("--split", choices=["train", "valid", "test"], help="use only this split")
    m.add_argument("--max-clips", type=int, default=200, metavar="N", help="default 200; 0 = all")
    m.add_argument(
        "--permutations", type=int, default=10, metavar="K", help="baseline shufflings (10)"
    )
    m.add_argument("--no-probe", action="store_true", help="skip the probes per layer")
    m.add_argument("--probe-repeats", type=int, default=1, metavar="R", help="default 1")
    m.add_argument("--sigma", type=float, default=1.0, help="kernel-cka bandwidth (x median)")
    m.add_argument("--seed", type=int, default=0, help="subset, permutations, weights, probes")
    m.add_argument("--batch-size", type=int, default=16, help="embedding batch size")
    m.add_argument("--device", default="cpu", help="cpu, cuda, ... (cpu)")
    m.add_argument("--out", default="reports/similarity", metavar="DIR", help="report folder")
    m.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    m.set_defaults(func=run_similarity)

    f = group.add_parser(
        "filters",
        help="learned front-end filters (harmonic, sinc, modulation, first conv), initial | trained",
        description=FILTERS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("model", metavar="MODEL", help="run folder, exported folder, untrained:NAME")
    f.add_argument("--seed", type=int, default=None, help="initial weights' seed (run's seed)")
    f.add_argument("--out", default="reports/filters", metavar="DIR", help="report folder")
    f.set_defaults(func=run_filters)

    a = group.add_parser(
        "attention",
        help="self-attention maps over a clip, aligned with its spectrogram and tags",
        description=ATTENTION_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("model", metavar="MODEL", help="trained attention tagger (run or export)")
    a.add_argument("file", metavar="FILE", help="audio file")
    a.add_argument("--tags", nargs="+", metavar="TAG", help="tags to show (default: top 5)")
    a.add_argument("--top", type=int, default=5, metavar="K", help="most probable tags shown")
    a.add_argument("--device", default="cpu", help="cpu, cuda, ... (cpu)")
    a.add_argument("--out", default="reports/attention", metavar="DIR", help="report folder")
    a.set_defaults(func=run_attention)

    s = group.add_parser(
        "saliency",
        help="time-frequency saliency / occlusion maps of a tag, any model",
        description=SALIENCY_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("model", metavar="MODEL", help="tagging model: run, export or pretrained name")
    s.add_argument("file", metavar="FILE", help="audio file")
    s.add_argument("--method", choices=["gradient", "occlusion"], default="gradient")
    s.add_argument("--tags", nargs="+", metavar="TAG", help="tags to explain (default: top 3)")
    s.add_argument("--top", type=int, default=3, metavar="K", help="most probable tags explained")
    s.add_argument("--bands", type=int, default=16, help="occlusion: frequency bands (16)")
    s.add_argument("--segments", type=int, default=8, help="occlusion: segments per window (8)")
    s.add_argument("--device", default="cpu", help="cpu, cuda, ... (cpu)")
    s.add_argument("--out", default="reports/saliency", metavar="DIR", help="report folder")
    s.set_defaults(func=run_saliency)

    r = group.add_parser(
        "robustness",
        help="track-level metric against noise SNR, stretch, pitch, compression, band limits",
        description=ROBUSTNESS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="[LABEL=]MODEL",
        help="trained tagger (run, export, pretrained); repeat to compare",
    )
    r.add_argument("--manifest", required=True, metavar="CSV", help="manifest of the tracks")
    r.add_argument(
        "--perturb",
        action="append",
        required=True,
        metavar="SPEC",
        help="noise:white|pink|brown|FOLDER, stretch, pitch, compress[:R], bandlimit [=S1,S2]",
    )
    r.add_argument(
        "--snr",
        default="40,30,20,10,5,0",
        metavar="DB,DB,...",
        help="noise SNRs in dB (default 40,30,20,10,5,0)",
    )
    r.add_argument("--split", default="test", help="manifest split scored (test)")
    r.add_argument("--metric", default=None, help="roc_auc/pr_auc (tags), accuracy/macro_f1")
    r.add_argument("--chunks", type=int, default=4, metavar="N", help="chunks per track (4)")
    r.add_argument("--max-tracks", type=int, default=0, metavar="N", help="seeded subset; 0 = all")
    r.add_argument("--seed", type=int, default=0, help="seed of the perturbations")
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--device", default="cpu", help="cpu, cuda, ... (cpu)")
    r.add_argument("--out", default="reports/robustness", metavar="DIR", help="report folder")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.set_defaults(func=run_robustness)


def _max_dims(value: str):
    from musicrep.errors import ConfigError

    v = value.strip().lower()
    if v == "auto":
        return "auto"
    if v in ("none", "0"):
        return None
    try:
        k = int(v)
    except ValueError:
        k = 0
    if k < 1:
        raise ConfigError(f"--max-dims must be a positive integer, auto or none; got {value!r}")
    return k


def run_cca(args: argparse.Namespace) -> int:
    from musicrep.analysis.cca_report import run_cca_report
    from musicrep.analysis.descriptors import DEFAULT_DESCRIPTORS, DescriptorConfig
    from musicrep.analysis.similarity import DEFAULT_RIDGE

    device = args.device
    if device is None and args.model:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"

    config = DescriptorConfig(
        sr=args.sr,
        descriptors=tuple(args.descriptors or DEFAULT_DESCRIPTORS),
        region=args.region.replace("-", "_"),
    )
    report = run_cca_report(
        args.manifest,
        models=args.model,
        embeddings=args.embeddings,
        out=args.out,
        split=args.split,
        max_clips=args.max_clips,
        method=args.method,
        descriptor_config=config,
        keep_variance=args.keep_variance,
        max_dims=_max_dims(args.max_dims),
        reg=DEFAULT_RIDGE if args.reg is None else args.reg,
        sigma=args.sigma,
        permutations=args.permutations,
        seed=args.seed,
        batch_size=args.batch_size,
        device=device,
        show_progress=not args.no_progress,
    )
    print(report.paths["md"].read_text(encoding="utf-8"))
    print(f"report: {', '.join(str(p) for p in report.paths.values())}")
    if report.failures:
        print(
            f"musicrep: {len(report.failures)} clip(s) could not be used (listed in the report)",
            file=sys.stderr,
        )
        return 1
    return 0


def run_similarity(args: argparse.Namespace) -> int:
    from musicrep.analysis.layer_report import run_layer_report

    refs = [x.strip() for x in args.reference.split(",") if x.strip()]
    layers = [x.strip() for x in args.layers.split(",")] if args.layers else None
    report = run_layer_report(
        args.manifest,
        models=args.model,
        references=refs,
        out=args.out,
        method=args.method,
        layers=layers,
        untrained=args.untrained,
        split=args.split,
        max_clips=args.max_clips,
        permutations=args.permutations,
        probe=not args.no_probe,
        probe_repeats=args.probe_repeats,
        sigma=args.sigma,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        show_progress=not args.no_progress,
    )
    print(f"report: {report.paths['md']}  ({report.paths['html']}, {report.paths['json']})")
    return 1 if report.document["failures"] else 0


def run_filters(args: argparse.Namespace) -> int:
    from musicrep.analysis.filters import run_filters_report

    report = run_filters_report(args.model, args.out, seed=args.seed)
    for _, trained in report.banks:
        print(f"{trained.name}: {trained.kind}, {trained.n_filters} filters")
    print(f"report: {report.paths['md']}  ({report.paths['html']}, {report.paths['json']})")
    return 0


def run_attention(args: argparse.Namespace) -> int:
    from musicrep.analysis.attention import run_attention_report

    _, paths = run_attention_report(
        args.model, args.file, args.out, tags=args.tags, top=args.top, device=args.device
    )
    print(f"report: {paths['md']}  ({paths['html']}, {paths['png']})")
    return 0


def run_saliency(args: argparse.Namespace) -> int:
    from musicrep.analysis.saliency import run_saliency_report

    sal, paths = run_saliency_report(
        args.model,
        args.file,
        args.out,
        tags=args.tags,
        top=args.top,
        method=args.method,
        bands=args.bands,
        segments=args.segments,
        device=args.device,
    )
    for tag, p in zip(sal.tags, sal.probs):
        print(f"{tag}: p = {p:.4f}")
    print(f"report: {paths['md']}  ({paths['html']}, {paths['png']})")
    return 0


def run_robustness(args: argparse.Namespace) -> int:
    from musicrep.analysis.robustness import parse_perturbations, parse_strengths, run_robustness

    perturbations = parse_perturbations(args.perturb, snr=parse_strengths(args.snr, "--snr"))
    result = run_robustness(
        args.model,
        args.manifest,
        perturbations,
        args.out,
        split=args.split,
        metric=args.metric,
        n_chunks=args.chunks,
        max_tracks=args.max_tracks,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        show_progress=not args.no_progress,
    )
    print(result.paths["md"].read_text(encoding="utf-8"))
    print(f"report: {result.paths['md']}  ({result.paths['html']}, {result.paths['json']})")
    return 0
