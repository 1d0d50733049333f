"""``musicrep data prepare NAME --root DIR``: a public dataset's local copy -> a manifest."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Write the manifest of a public dataset from your local copy in its official layout (nothing is
downloaded). The manifest (path,labels,split[,fold],...) goes to ROOT/musicrep_<name>.csv or
--out FILE, with paths relative to its folder; a per-split per-class count table is printed.
Files that are missing, or unreadable with --check-audio, are skipped, listed on stderr and in
<manifest>.skipped.txt, and the rest goes on.

examples:
  musicrep data prepare esc50 --root data/ESC-50-master
  musicrep data prepare gtzan --root data/gtzan --split-lists splits/gtzan --check-audio
  musicrep data prepare nsynth --root data/nsynth --balanced 2000 --splits train test
  musicrep data prepare mtat --root data/mtat --split-lists split/mtat --out mtat.csv
  musicrep data prepare speechcommands --root data/speech_commands_v0.02 --keywords 12
  musicrep data prepare NAME --help    the layout NAME expects, and its options
"""

#: Skipped files printed on stderr before "... and N more".
MAX_LISTED = 20


def register(sub: argparse._SubParsersAction) -> None:
    from musicrep.data.adapters import ADAPTERS, list_adapters

    p = sub.add_parser(
        "prepare",
        help="write the manifest of a public dataset (GTZAN, US8K, NSynth, MTAT, ...)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(_group_parser=p)
    datasets = p.add_subparsers(dest="dataset", metavar="<dataset>")
    for name in list_adapters():
        cls = ADAPTERS.get(name)
        aliases = f" (aliases: {', '.join(cls.aliases)})" if cls.aliases else ""
        q = datasets.add_parser(
            name,
            aliases=list(cls.aliases),
            help=cls.summary,
            description=f"{cls.summary}{aliases}\n\n{cls.details}\n\nexpected layout:\n"
            f"{cls.layout}\n\nThe manifest goes to ROOT/musicrep_{name}.csv unless --out.",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        q.add_argument(
            "--root", required=True, metavar="DIR", help="the dataset folder (or its parent)"
        )
        q.add_argument(
            "--out", metavar="FILE", help=f"manifest to write (default ROOT/musicrep_{name}.csv)"
        )
        q.add_argument(
            "--check-audio",
            action="store_true",
            help="open every audio file's header; skip and list those that fail",
        )
        cls.add_arguments(q)
        q.set_defaults(func=run, _adapter=name)


def run(args: argparse.Namespace) -> int:
    from musicrep.data.adapters import adapter_class, prepare

    cls = adapter_class(args._adapter)
    options = {k: getattr(args, k) for k in cls.option_names() if hasattr(args, k)}
    result = prepare(
        cls.name, args.root, args.out, check_audio=args.check_audio, show_progress=True, **options
    )
    print(result.table(), end="")
    print_notes_and_skipped(result)
    print(f"manifest: {result.manifest_path} ({len(result.manifest)} rows)")
    return 0


def print_notes_and_skipped(result) -> None:
    """Print a :class:`PreparedDataset`'s notes and skipped files on stderr."""
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.skipped:
        print(f"{len(result.skipped)} file(s) skipped:", file=sys.stderr)
        for s in result.skipped[:MAX_LISTED]:
            print(f"  {s}", file=sys.stderr)
        if len(result.skipped) > MAX_LISTED:
            print(f"  ... and {len(result.skipped) - MAX_LISTED} more", file=sys.stderr)
        print(f"  full list: {result.skipped_path}", file=sys.stderr)
