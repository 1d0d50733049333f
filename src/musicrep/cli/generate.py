"""``musicrep generate``: symbolic LSTM -> piano roll -> WaveNet -> audio."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  musicrep train --recipe configs/gen_lstm.yaml --out runs/gen_lstm
  musicrep train --recipe configs/gen_wavenet.yaml --out runs/gen_wavenet
  musicrep export runs/gen_lstm models/gen_lstm
  musicrep export runs/gen_wavenet models/gen_wavenet
  musicrep generate --lstm models/gen_lstm --wavenet models/gen_wavenet \\
      --style bach --seconds 8 --out piece.wav --midi-out piece.mid --seed 1
  musicrep generate --wavenet models/gen_wavenet --midi in.mid --out in.wav   (render a score)

The LSTM samples a play/articulate roll on its grid (16th notes by default) for --style at
--bpm; the roll is re-gridded to the WaveNet's frame rate (100/s) and rendered sample by sample
with cached dilated convolutions (a small WaveNet renders a few thousand samples per second on
one CPU core: 8 s of audio takes about a minute; see benchmarks/README.md). The small CPU
recipes give rough sound.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate music: LSTM score -> WaveNet audio (or render a MIDI file)",
        description="Sample a score in a style with a trained symbolic LSTM and render it with "
        "a roll-conditioned WaveNet (Manzelli et al. 2018), or render a given MIDI file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--lstm", metavar="DIR", help="exported gen_lstm model (musicrep export)")
    p.add_argument("--wavenet", metavar="DIR", required=True, help="exported gen_wavenet model")
    p.add_argument("--style", help="style to generate (one the LSTM was trained on, e.g. bach)")
    p.add_argument("--midi", metavar="MID", help="render this MIDI file instead of sampling")
    p.add_argument("--seconds", type=float, default=8.0, help="length (default 8)")
    p.add_argument(
        "--bpm", type=float, default=100.0, help="tempo of sampled scores (quarters/min)"
    )
    p.add_argument("--temperature", type=float, default=1.0, help="LSTM sampling temperature")
    p.add_argument("--audio-temperature", type=float, default=1.0, help="WaveNet temperature")
    p.add_argument("--seed", type=int, default=0, help="seed of both samplers (default 0)")
    p.add_argument("--out", required=True, metavar="WAV", help="output audio file")
    p.add_argument("--midi-out", metavar="MID", help="also write the score as MIDI")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from musicrep import io
    from musicrep.errors import ConfigError
    from musicrep.symbolic import notes_to_roll, read_midi, roll_to_notes, write_midi
    from musicrep.utils import atomic_path

    wavenet, wmeta = io.load(args.wavenet)
    if wmeta["kind"] != "wavenet":
        raise ConfigError(f"{args.wavenet} is a {wmeta['kind']!r} model, not a gen_wavenet one")
    cfg = wavenet.config
    sr = int(cfg.get("sample_rate", 16000))
    if args.midi:
        notes = read_midi(args.midi)
    else:
        if not args.lstm or not args.style:
            raise ConfigError("give --lstm MODEL and --style NAME (or --midi FILE to render)")
        lstm, lmeta = io.load(args.lstm)
        if lmeta["kind"] != "gen_lstm":
            raise ConfigError(f"{args.lstm} is a {lmeta['kind']!r} model, not a gen_lstm one")
        styles = lstm.config.get("styles") or []
        if args.style not in styles:
            raise ConfigError(f"unknown style {args.style!r}", f"valid: {', '.join(styles)}")
        fpq = int(lstm.config.get("frames_per_quarter", 4))
        frames = int(np.ceil(args.seconds * args.bpm / 60 * fpq)) + 1
        roll = lstm.sample(
            frames, styles.index(args.style), temperature=args.temperature, seed=args.seed
        )[0].numpy()
        notes = roll_to_notes(roll, fpq, lowest=lstm.config["lowest"]).scaled(60.0 / args.bpm)
        print(
            f"score: {len(notes.pitch)} notes in {args.seconds:g} s ({args.style}, "
            f"{args.bpm:g} bpm)"
        )
    if args.midi_out:
        write_midi(notes, args.midi_out, bpm=args.bpm)
        print(f"wrote {args.midi_out}")
    samples = int(round(args.seconds * sr))
    hop = int(cfg["hop"])
    cond = None
    if cfg["cond_channels"]:
        r = notes_to_roll(
            notes,
            sr / hop,
            samples // hop + 1,
            lowest=cfg.get("lowest", 21),
            highest=cfg.get("highest", 108),
        )
        cond = torch.from_numpy(r)[None]
    style = None
    if wavenet.style is not None:
        names = cfg.get("styles") or []
        style = names.index(args.style) if args.style in names else 0
    audio = wavenet.generate(
        samples, cond, style, temperature=args.audio_temperature, seed=args.seed, progress=True
    )[0].numpy()
    import soundfile as sf

    with atomic_path(args.out) as tmp:
        sf.write(str(tmp), audio.astype(np.float32), sr, format="WAV")
    print(f"wrote {args.out} ({args.seconds:g} s at {sr} Hz)")
    return 0
