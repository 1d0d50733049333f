"""``musicrep data tags``: COALA's tag processing of a manifest's free-form labels."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Build a tag vocabulary from a manifest's free-form labels as COALA does (Favory et al. 2020):
split labels into words, lower-case, keep alphabetic words, drop English stop words and
1-letter words, make plurals singular (inflect), de-duplicate; then drop tags on more than
--max-df of the clips and on fewer than --min-count clips, and keep the --max-tags most
frequent. The vocabulary is built from the training split only (--split) and printed with
its clip counts; --write-manifest writes the manifest with the processed tags (every split),
leaving out the clips left without a tag.

examples:
  musicrep data tags --manifest data/corpus/freetags.csv
  musicrep data tags --manifest m.csv --max-tags 1000 --max-df 0.7 --min-count 10 \\
      --out vocab.json --write-manifest m_tags.csv
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tags",
        help="build a COALA tag vocabulary from free-form labels",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--manifest", required=True, metavar="CSV", help="manifest with free tags")
    p.add_argument(
        "--split",
        default="train",
        help="split the vocabulary is built from, or 'all' (default train)",
    )
    p.add_argument(
        "--max-tags", type=int, default=1000, metavar="C", help="tags kept (default 1000)"
    )
    p.add_argument(
        "--max-df",
        type=float,
        default=0.7,
        metavar="F",
        help="drop tags on more than this fraction of the clips (default 0.7)",
    )
    p.add_argument(
        "--min-count",
        type=int,
        default=None,
        metavar="N",
        help="drop tags on fewer clips (default: min(10, max(2, ceil(1%% of the clips))))",
    )
    p.add_argument(
        "--whitespace-only",
        action="store_true",
        help="split labels on spaces only, dropping 'hip-hop' (COALA's code) instead of "
        "splitting it into 'hip', 'hop'",
    )
    p.add_argument("--top", type=int, default=30, metavar="N", help="tags shown (default 30)")
    p.add_argument("--out", metavar="JSON", help="write the vocabulary (tags, counts, settings)")
    p.add_argument(
        "--write-manifest", metavar="CSV", help="write the manifest with the processed tags"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.data.manifest import Manifest
    from musicrep.data.tags import apply_vocabulary, vocabulary_from_manifest

    manifest = Manifest.read(args.manifest)
    split = None if args.split == "all" else args.split
    vocab = vocabulary_from_manifest(
        manifest,
        split,
        max_tags=args.max_tags,
        max_df=args.max_df,
        min_count=args.min_count,
        split_punctuation=not args.whitespace_only,
    )
    print(f"{args.manifest} ({'all splits' if split is None else f'split {split!r}'})")
    print(vocab.table(top=max(0, args.top)))
    processed, dropped = apply_vocabulary(manifest, vocab)
    sizes = ", ".join(f"{s} {len(processed.split(s))}" for s in processed.splits())
    print(f"manifest with processed tags: {len(processed)} clips ({sizes}); "
          f"{len(dropped)} left without a tag in any split")  # fmt: skip
    if args.out:
        vocab.save(args.out)
        print(f"vocabulary written to {args.out}")
    if args.write_manifest:
        processed.write(args.write_manifest)
        print(f"manifest written to {args.write_manifest}")
    return 0
