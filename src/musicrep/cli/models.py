"""``musicrep models``: the model zoo (names, sizes, input specs), or one model in detail.

``print_model_table()`` is also what ``musicrep list models`` prints.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  musicrep models                      every model: parameters, input spec, front-end, embedding
  musicrep models shortchunk_resnet    one model: reference, input, front-end/back-end options
  musicrep models musicnn-mtt          a pretrained model: training data, source, its 50 tags

Pretrained models (shipped, trained weights) are used by name: --model musicnn-mtt. Zoo
architectures have random weights until trained: --model untrained:musicnn (a baseline), or
musicrep train --model musicnn (from scratch) / --init musicnn-mtt (fine-tune).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the model zoo, or show one model",
        description="The registered models (create_model names) with their parameter counts "
        "(50 outputs), input spec and embedding size.\n\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", nargs="?", help="show this model in detail")
    p.add_argument(
        "--num-outputs", type=int, default=50, help="head size used for the counts (default 50)"
    )
    p.set_defaults(func=run)


def print_model_table(num_outputs: int = 50) -> None:
    """Print one line per registered model (builds each model once, on the CPU)."""
    from musicrep.models import create_model, list_models, model_spec

    print(
        f"{'model':<18} {'params (M)':>10} {'ref (M)':>8} {'sr':>6} {'input s':>8}  "
        f"{'front-end':<16} {'back-end':<18} {'embed':>5}"
    )
    for name in list_models():
        spec = model_spec(name)
        model = create_model(name, num_outputs=num_outputs)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        ref = f"{spec.reference_params_m:.2f}" if spec.reference_params_m else "-"
        print(
            f"{name:<18} {params:>10.2f} {ref:>8} {spec.sample_rate:>6} "
            f"{spec.input_seconds:>8.2f}  {spec.frontend:<16} {spec.backend:<18} "
            f"{model.encoder.embed_dim:>5}"
        )


def print_pretrained_table() -> None:
    """One line per shipped pretrained model: architecture, training data, vocabulary."""
    from musicrep.io import read_config
    from musicrep.pretrained import PRETRAINED, list_pretrained, pretrained_folder

    print("pretrained models (trained weights shipped with musicrep; --model NAME):")
    print(f"{'name':<13} {'arch':<8} {'embed':>5}  {'trained on':<42} tags (first 6 of 50)")
    for name in list_pretrained():
        meta = read_config(pretrained_folder(name))
        _, arch, data = PRETRAINED[name]
        print(
            f"{name:<13} {arch:<8} {meta['embed_dim']:>5}  {data:<42} "
            f"{', '.join(meta['vocab'][:6])}, ..."
        )
    print()


def print_pretrained(name: str) -> None:
    """Training data, source, licence and the whole vocabulary of one pretrained model."""
    from musicrep.io import read_config
    from musicrep.pretrained import PRETRAINED, pretrained_folder

    meta = read_config(pretrained_folder(name))
    src = meta.get("source", {})
    print(f"{name}: pretrained {PRETRAINED[name][1]} tagger (kind {meta['kind']})")
    print(f"  trained on    {src.get('training_data')}")
    print(
        f"  source        {src.get('origin')}; {src.get('authors')}; licence "
        f"{src.get('licence')} (LICENSE in {pretrained_folder(name)})"
    )
    print(
        f"  input         {meta['sample_rate']} Hz, {meta['input_samples']} samples per "
        "patch (187 frames of 96-band log-mel)"
    )
    print(f"  embedding     {meta['embed_dim']} ({meta['model']['layer']})")
    print(f"  tags ({len(meta['vocab'])})     {', '.join(meta['vocab'])}")


def print_model(name: str, num_outputs: int = 50) -> None:
    """Print the spec of one model and the shapes its encoder produces."""
    from musicrep.models import create_model, model_spec

    spec = model_spec(name)
    model = create_model(name, num_outputs=num_outputs)
    enc = model.encoder
    params = sum(p.numel() for p in model.parameters())
    fe_shape = enc.frontend.output_shape(spec.input_samples)
    print(f"{name}: {spec.title}")
    print(f"  reference     {spec.reference}")
    print(
        f"  input         {spec.sample_rate} Hz, {spec.input_samples} samples "
        f"({spec.input_seconds:.2f} s)"
    )
    print(f"  front-end     {spec.frontend} {dict(spec.frontend_kwargs)} -> {fe_shape}")
    print(f"  back-end      {spec.backend} {dict(spec.backend_kwargs)}")
    seq = "none"
    if enc.supports_sequence:
        hop = enc.sequence_hop
        every = f", one per {hop:g} samples" if hop else ""
        seq = f"{enc.sequence_length(spec.input_samples)} x {enc.sequence_dim}{every}"
    print(f"  embedding     {enc.embed_dim} (sequence: {seq})")
    print(f"  head          {model.head.mlp}".replace("\n", "\n                "))
    ref = f" (reference {spec.reference_params_m} M)" if spec.reference_params_m else ""
    print(f"  parameters    {params:,} with {num_outputs} outputs{ref}")
    if spec.notes:
        print(f"  notes         {spec.notes}")


def run(args: argparse.Namespace) -> int:
    from musicrep.pretrained import PRETRAINED

    if args.name in PRETRAINED:
        print_pretrained(args.name)
    elif args.name:
        print_model(args.name.removeprefix("untrained:"), args.num_outputs)
    else:
        print_pretrained_table()
        print("zoo architectures (random weights until trained; --model untrained:NAME):")
        print_model_table(args.num_outputs)
    return 0
