"""Command-line options shared by several commands (one definition, the same help text)."""

from __future__ import annotations

import argparse

#: Choices of ``--nan-policy`` (the ``nan_policy`` of :mod:`musicrep.audio`).
NAN_POLICIES = ("raise", "zero")


def add_nan_policy(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--nan-policy {raise,zero}`` (default raise), as ``musicrep.audio`` reads files."""
    parser.add_argument(
        "--nan-policy",
        choices=NAN_POLICIES,
        default="raise",
        help="what to do with NaN/Inf samples in an audio file: raise (the file fails, "
        "default) or zero (replace them with 0 and warn)",
    )


def print_nan_hint(failed, stream) -> None:
    """``hint: ... --nan-policy zero`` when some failure reason is NaN/Inf samples."""
    from musicrep.embeddings.cache import nan_hint

    hint = nan_hint([(str(p), str(r)) for p, r in failed])
    if hint:
        print(f"musicrep: hint: {hint}", file=stream)
