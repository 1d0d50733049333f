"""``musicrep data ...``: build and prepare datasets (the built-in corpus dataset first)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="build the built-in corpus dataset; write manifests (public datasets, any folder)",
        description="Datasets: the built-in corpus dataset and manifests.",
    )
    p.set_defaults(_group_parser=p)
    group = p.add_subparsers(dest="data_command", metavar="<data-command>")
    from musicrep.cli import data_av, data_corpus, data_manifest, data_prepare, data_tags

    data_corpus.register(group)
    data_av.register(group)
    data_manifest.register(group)
    data_prepare.register(group)
    data_tags.register(group)
