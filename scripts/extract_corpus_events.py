"""Regenerate the built-in corpus asset ``src/musicrep/data/assets/corpus_events.npz``.

Parses a balanced selection of music21 corpus scores (see ``musicrep.data.corpus``) and saves
their note events. Takes a few minutes (music21's parsers); deterministic for a given music21
version and ``--seed``.

    python scripts/extract_corpus_events.py                      # the shipped asset
    python scripts/extract_corpus_events.py --out /tmp/events.npz --per-style 40
"""

from __future__ import annotations

import argparse

from musicrep.data.corpus import ASSET_PATH, STYLES, extract_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ASSET_PATH), help="output .npz (default: the asset)")
    parser.add_argument("--per-style", type=int, default=120, help="pieces per style")
    parser.add_argument(
        "--max-quarters", type=float, default=96.0, help="excerpt length in quarter notes"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the selection")
    parser.add_argument("--styles", nargs="+", choices=STYLES, help="styles (default all)")
    args = parser.parse_args()
    report = extract_corpus(
        args.out,
        per_style=args.per_style,
        max_quarters=args.max_quarters,
        seed=args.seed,
        styles=args.styles,
    )
    print(report)
    for source, reason in report.failures:
        print(f"  skipped {source}: {reason}")


if __name__ == "__main__":
    main()
