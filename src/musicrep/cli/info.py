"""``musicrep list``: what the toolkit offers (front-ends, ...)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list front-ends or models",
        description="List what can be named in recipes and commands.\n\n"
        "examples:\n  musicrep list frontends\n  musicrep list frontends --seconds 5\n  musicrep list models",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("what", choices=["frontends", "models", "objectives"], help="what to list")
    p.add_argument(
        "--seconds", type=float, default=1.0, help="input length for the shapes shown (default 1)"
    )
    p.set_defaults(func=run)


def _print_objectives() -> None:
    from musicrep.objectives import OBJECTIVES

    print(f"{'objective':<24} {'labels':<7} description")
    for name in OBJECTIVES.names():
        factory = OBJECTIVES.get(name)
        labels = "yes" if getattr(factory, "needs_labels", True) else "no"
        doc = (factory.__doc__ or "").strip().splitlines()
        print(f"{name:<24} {labels:<7} {doc[0].replace('``', '') if doc else ''}")


#: ``list frontends`` searches for the shortest input that fits up to this length.
_LONGEST_TRY_S = 600.0


def _shape(fe, n: int, error: type[Exception]) -> tuple[int, ...] | None:
    """The front-end's output shape for ``n`` samples, or ``None`` when not one frame fits."""
    try:
        shape = tuple(fe.output_shape(n))
    except error:
        return None
    return shape if all(shape) else None


def _shortest_input(fe, n: int, error: type[Exception]) -> int | None:
    """The fewest samples (> ``n``) for which ``fe`` gives a non-empty output, or ``None``."""
    lo, hi = max(n, 0), max(n, 1) * 2
    limit = int(_LONGEST_TRY_S * fe.sample_rate)
    while _shape(fe, hi, error) is None:
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    while hi - lo > 1:  # output_shape is monotone in the input length
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _shape(fe, mid, error) is not None else (mid, hi)
    return hi


def run(args: argparse.Namespace) -> int:
    if args.what == "objectives":
        _print_objectives()
        return 0
    if args.what == "models":
        from musicrep.cli.models import print_model_table

        print_model_table()
        return 0
    import musicrep.models  # noqa: F401  (registers model-specific front-ends, e.g. coala_logmel)
    from musicrep.errors import MusicrepError
    from musicrep.frontends import create_frontend, list_frontends

    print(f"{'front-end':<18} {'sr':>6}  {'kind':<5} output shape for {args.seconds:g} s")
    for name in list_frontends():
        fe = create_frontend(name)
        n = int(round(args.seconds * fe.sample_rate))
        shape = _shape(fe, n, MusicrepError)
        if shape is not None:
            shape_text = str(shape)
        else:
            # too short for one frame/patch: show the shortest input that fits and its shape
            shortest = _shortest_input(fe, n, MusicrepError)
            if shortest is None:
                shape_text = f"input too short (needs more than {_LONGEST_TRY_S:g} s)"
            else:
                shape_text = (
                    f"{_shape(fe, shortest, MusicrepError)} for {shortest / fe.sample_rate:.3g} s, "
                    f"its shortest input ({args.seconds:g} s is shorter than one frame/patch)"
                )
        print(f"{name:<18} {fe.sample_rate:>6}  {fe.kind:<5} {shape_text}")
    return 0
