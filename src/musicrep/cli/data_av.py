"""``musicrep data av-speakers``: build the built-in audio-visual speaker dataset."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Build the built-in audio-visual speaker dataset (no download): each identity is an espeak-ng
voice (accent + variant) with its own pitch and speed, and a synthetic face (head shape, eye
spacing, mouth width, skin/eye/hair colours). Each utterance is a random sentence at 16 kHz
with a 25 frames/s video of the face under a per-utterance pose, lighting, background and
noise, its mouth opening driven by the speech envelope. Train/valid speakers and test speakers
are disjoint; trials_test.txt lists every pair of test utterances (VoxCeleb format).
--coupling (default 0.7) links each face to its voice through shared latent identity factors
(sex, size, age), our synthetic stand-in for the real face-voice correlation that cross-modal
verification of unseen speakers relies on; --coupling 0 draws faces and voices independently
(the dataset of earlier versions, on which cross-modal EER stays near chance).
Needs espeak-ng (apt-get install -y espeak-ng). The same --seed gives the same dataset.

writes:
  OUT/manifest.csv        path,labels,split,video (labels = speaker)
  OUT/trials_test.txt     LABEL ENROLL TEST (1 = same speaker)
  OUT/audio/, OUT/video/  WAV files and uint8 (frames, H, W, 3) .npy videos
  OUT/av_speakers.json    settings, espeak-ng version and identities

examples:
  musicrep data av-speakers --out data/av-speakers
                        16 train + 8 test speakers x 8 utterances (about a minute on 2 cores)
  musicrep data av-speakers --out data/av-big --train-speakers 48 --test-speakers 16 \\
      --utterances 12 --size 64
"""


def register(sub: argparse._SubParsersAction) -> None:
    from musicrep.data.av_speakers import AVSpeakersConfig

    d = AVSpeakersConfig()
    p = sub.add_parser(
        "av-speakers",
        help="build the built-in audio-visual speaker dataset (espeak-ng voices, faces)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist)")
    p.add_argument(
        "--train-speakers",
        type=int,
        default=d.n_train_speakers,
        metavar="N",
        help=f"training speakers (default {d.n_train_speakers})",
    )
    p.add_argument(
        "--test-speakers",
        type=int,
        default=d.n_test_speakers,
        metavar="N",
        help=f"unseen test speakers for the trials (default {d.n_test_speakers})",
    )
    p.add_argument(
        "--utterances",
        type=int,
        default=d.utterances_per_speaker,
        metavar="N",
        help=f"utterances per speaker (default {d.utterances_per_speaker})",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=d.max_seconds,
        metavar="S",
        help=f"longest utterance in seconds (default {d.max_seconds:g})",
    )
    p.add_argument(
        "--size",
        type=int,
        default=d.size,
        metavar="PX",
        help=f"video frame side in pixels (default {d.size})",
    )
    p.add_argument(
        "--coupling",
        type=float,
        default=d.coupling,
        metavar="C",
        help=f"share of each face/voice trait's variance that comes from latent identity "
        f"factors common to face and voice, 0..1 (default {d.coupling:g}; 0: independent)",
    )
    p.add_argument("--seed", type=int, default=d.seed, help="seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.data.av_speakers import AVSpeakersConfig, build_av_speakers

    cfg = AVSpeakersConfig(
        n_train_speakers=args.train_speakers,
        n_test_speakers=args.test_speakers,
        utterances_per_speaker=args.utterances,
        max_seconds=args.max_seconds,
        size=args.size,
        seed=args.seed,
        coupling=args.coupling,
    )
    manifest = build_av_speakers(args.out, cfg, show_progress=not args.no_progress)
    print(f"wrote {manifest} and {manifest.parent / 'trials_test.txt'}")
    return 0
