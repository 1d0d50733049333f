"""``musicrep data manifest DIR --out M.csv``: a manifest for any folder of audio files."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Write a manifest (path,labels,split) for a folder of audio files (wav, flac, ogg, mp3, aiff),
with seeded train/valid(/test) splits. Labels are empty (unlabelled audio, e.g. for
self-supervised pre-training) unless --labels-from parent, which labels each file with the
name of the folder it is in (splits are then drawn per label). With --check-audio every file's
header is opened and unreadable files are skipped, listed on stderr and in
<manifest>.skipped.txt; the rest goes on. The manifest is written atomically, with paths
relative to its folder.

examples:
  musicrep data manifest recordings/ --out recordings.csv
  musicrep data manifest music/ --out music.csv --recursive --valid 0.1 --test 0.1 --seed 1
  musicrep data manifest samples/ --out samples.csv --recursive --labels-from parent --check-audio
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "manifest",
        help="write a manifest for a folder of audio (seeded splits, labels optional)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folder", metavar="DIR", help="folder of audio files")
    p.add_argument("--out", required=True, metavar="CSV", help="manifest to write")
    p.add_argument("--recursive", action="store_true", help="include sub-folders")
    p.add_argument(
        "--valid", type=float, default=0.1, metavar="F", help="fraction for valid (default 0.1)"
    )
    p.add_argument(
        "--test", type=float, default=0.0, metavar="F", help="fraction for test (default 0)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split assignment (0)")
    p.add_argument(
        "--labels-from",
        choices=("none", "parent"),
        default="none",
        help="labels: none (empty) or the parent folder's name (default none)",
    )
    p.add_argument(
        "--check-audio",
        action="store_true",
        help="open every file's header; skip and list those that fail",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.cli.data_prepare import print_notes_and_skipped
    from musicrep.data.folder import folder_manifest

    result = folder_manifest(
        args.folder,
        args.out,
        valid=args.valid,
        test=args.test,
        seed=args.seed,
        recursive=args.recursive,
        labels_from=args.labels_from,
        check_audio=args.check_audio,
        show_progress=True,
    )
    m = result.manifest
    sizes = ", ".join(f"{s} {sum(r.split == s for r in m)}" for s in m.splits())
    if m.vocabulary():
        print(result.table(), end="")
    print_notes_and_skipped(result)
    print(f"manifest: {result.manifest_path} ({len(m)} rows: {sizes})")
    return 0
