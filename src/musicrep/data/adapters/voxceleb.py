"""VoxCeleb1/2 (Nagrani et al. 2017, Chung et al. 2018): speaker verification, audio + faces.

Expected layout (a local copy; audio as WAV, as VoxCeleb1 ships it, in ``wav/`` with VoxCeleb1
dev and test merged; VoxCeleb2's ``.m4a`` files must be converted to WAV first, e.g. with
ffmpeg, keeping the folder layout; videos are VoxCeleb2's ``mp4`` release, face crops extracted
by any tool go in a frames folder, one sub-folder of images (optional ``fps.txt``, default 25)
or one uint8 ``(time, H, W, 3)`` ``.npy`` per utterance)::

    ROOT/wav/<speaker id>/<youtube id>/<utt>.wav          audio
    ROOT/mp4/<speaker id>/<youtube id>/<utt>.mp4          videos, or
    ROOT/frames/<speaker id>/<youtube id>/<utt>/*.jpg     face frames (or <utt>.npy)
    ROOT/veri_test2.txt                                   Vox1-O trials (optional)

The video folder is ``--video-dir`` (default: the first of ``mp4``, ``video``, ``frames``,
``faces`` under ROOT); an utterance without its video is kept with an empty ``video`` cell
unless ``--require-video`` (audio-visual training needs it: the AV objectives skip such rows
as unreadable).

Labels: the speaker id. Splits: the speakers of the trial list (``--trials``, default the
first of ``veri_test2.txt``, ``veri_test.txt``, ``List of trial pairs - VoxCeleb1
(cleaned).txt``, ``List of trial pairs - VoxCeleb1.txt`` in ROOT: the official Vox1-O list,
lines ``1/0 enrol_path test_path`` with paths relative to the wav folder) are ``test``; every
other speaker trains, with its last ``--valid-per-speaker`` utterances (in path order) as
``valid`` (closed-set validation of the speaker classifier). Without a trial list every speaker
trains. ``musicrep evaluate-av --trials ROOT/veri_test2.txt`` scores the official list as
published: trial paths match manifest rows by their trailing components.

Extra columns: ``video`` (absolute path), ``youtube`` (the video id).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, ClassVar

from musicrep.data.adapters.base import Collected, DatasetAdapter, SkippedFile
from musicrep.errors import ConfigError, ManifestError

TRIAL_NAMES = (
    "veri_test2.txt",
    "veri_test.txt",
    "List of trial pairs - VoxCeleb1 (cleaned).txt",
    "List of trial pairs - VoxCeleb1.txt",
)
VIDEO_DIRS = ("mp4", "video", "frames", "faces")
AUDIO_DIRS = ("wav", "vox1_dev_wav/wav", "vox1_test_wav/wav", "dev/wav", "test/wav")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".npy")

LAYOUT = """\
    ROOT/wav/<speaker id>/<youtube id>/<utt>.wav          audio
    ROOT/mp4/<speaker id>/<youtube id>/<utt>.mp4          videos, or
    ROOT/frames/<speaker id>/<youtube id>/<utt>/*.jpg     face frames (or <utt>.npy)
    ROOT/veri_test2.txt                                   Vox1-O trials (optional)"""


def read_trial_speakers(path: Path) -> set[str]:
    """Speaker ids (first path component) of a VoxCeleb trial list ``1/0 enrol test``."""
    speakers: set[str] = set()
    with open(path, encoding="utf-8-sig") as fh:
        for line, text in enumerate(fh, start=1):
            fields = text.split()
            if not fields:
                continue
            if len(fields) != 3 or fields[0] not in ("0", "1"):
                raise ManifestError(path, line, "expected '1/0 enrol_path test_path'")
            for p in fields[1:]:
                speakers.add(p.replace("\\", "/").split("/")[0])
    if not speakers:
        raise ManifestError(path, None, "no trials")
    return speakers


class VoxCeleb(DatasetAdapter):
    """VoxCeleb1/2 audio + face video/frames; see the module docstring for layout and splits.

    Parameters
    ----------
    trials : path-like, optional
        A VoxCeleb trial list whose speakers form the test split (default: found in ROOT).
    video_dir : str, optional
        Folder of videos/frames under ROOT (default: the first of mp4, video, frames, faces).
    valid_per_speaker : int
        Utterances per training speaker held out as ``valid`` (1).
    require_video : bool
        Leave out utterances without a video/frames source.
    """

    name: ClassVar[str] = "voxceleb"
    aliases: ClassVar[tuple[str, ...]] = ("vox", "voxceleb1", "voxceleb2")
    title: ClassVar[str] = "VoxCeleb"
    summary: ClassVar[str] = "VoxCeleb1/2 speaker verification: audio + face videos/frames"
    layout: ClassVar[str] = LAYOUT
    details: ClassVar[str] = """\
labels: the speaker id (id10001, ...)
splits: speakers of the trial list (Vox1-O veri_test2.txt) -> test; the other speakers train,
        their last --valid-per-speaker utterances -> valid
video:  column 'video': ROOT/<video dir>/<spk>/<yt>/<utt>.mp4, a frames folder <utt>/ or
        <utt>.npy (see musicrep.video); score with musicrep evaluate-av --trials ROOT/veri_test2.txt"""

    def __init__(
        self,
        *,
        trials: str | Path | None = None,
        video_dir: str | None = None,
        valid_per_speaker: int = 1,
        require_video: bool = False,
    ):
        self.trials = None if trials is None else Path(trials).expanduser()
        if self.trials is not None and not self.trials.is_file():
            raise ConfigError(f"trial list not found: {self.trials}")
        self.video_dir = video_dir
        self.valid_per_speaker = int(valid_per_speaker)
        if self.valid_per_speaker < 0:
            raise ConfigError(f"valid_per_speaker must be >= 0; got {valid_per_speaker}")
        self.require_video = bool(require_video)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--trials", metavar="FILE", help="trial list whose speakers are the test split"
        )
        parser.add_argument(
            "--video-dir", metavar="NAME", help="video/frames folder under ROOT (default: auto)"
        )
        parser.add_argument(
            "--valid-per-speaker",
            type=int,
            default=1,
            metavar="N",
            help="utterances per training speaker in the valid split (default 1)",
        )
        parser.add_argument(
            "--require-video",
            action="store_true",
            help="leave out utterances without a video or frames",
        )

    def _video(self, base: Path | None, rel: Path) -> Path | None:
        if base is None:
            return None
        stem = base / rel.with_suffix("")
        if stem.is_dir():
            return stem
        for suffix in VIDEO_SUFFIXES:
            p = stem.with_suffix(suffix)
            if p.is_file():
                return p
        return None

    def collect(self, root: Path) -> Collected:
        audio_dirs = [root / d for d in AUDIO_DIRS if (root / d).is_dir()]
        if not audio_dirs:
            raise self.layout_error("the audio folder wav/", [root / d for d in AUDIO_DIRS])
        if self.video_dir is not None:
            video_base: Path | None = root / self.video_dir
            if not video_base.is_dir():
                raise self.layout_error(f"video folder {self.video_dir}", [video_base])
        else:
            video_base = next((root / d for d in VIDEO_DIRS if (root / d).is_dir()), None)
        trials = self.trials or next((root / n for n in TRIAL_NAMES if (root / n).is_file()), None)
        test_speakers = read_trial_speakers(trials) if trials is not None else set()

        result = Collected()
        if video_base is None:
            result.notes.append(
                f"no video folder ({', '.join(VIDEO_DIRS)}) under {root}: audio only"
            )
        if trials is None:
            result.notes.append("no trial list found: every speaker is in train/valid")
        else:
            result.notes.append(
                f"test speakers: the {len(test_speakers)} speakers of {trials}; score with "
                f"musicrep evaluate-av --trials '{trials}'"
            )
        by_speaker: dict[str, list[tuple[Path, Path]]] = {}
        for base in audio_dirs:
            for path in sorted(base.glob("*/*/*.wav")):
                rel = path.relative_to(base)
                by_speaker.setdefault(rel.parts[0], []).append((path, rel))
        if not by_speaker:
            raise self.layout_error("<speaker>/<youtube>/<utt>.wav files", audio_dirs)
        no_video = 0
        for speaker in sorted(by_speaker):
            utts = by_speaker[speaker]
            n_valid = 0 if speaker in test_speakers else min(self.valid_per_speaker, len(utts) - 1)
            for j, (path, rel) in enumerate(utts):
                video = self._video(video_base, rel)
                if video is None:
                    no_video += 1
                    if self.require_video:
                        result.skipped.append(SkippedFile(path, "no video or frames"))
                        continue
                if speaker in test_speakers:
                    split = "test"
                else:
                    split = "valid" if j >= len(utts) - n_valid else "train"
                row: dict[str, Any] = {
                    "path": str(path),
                    "labels": [speaker],
                    "split": split,
                    "video": str(video) if video is not None else "",
                    "youtube": rel.parts[1],
                }
                result.rows.append(row)
        missing = test_speakers - set(by_speaker)
        if missing:
            result.notes.append(
                f"{len(missing)} speaker(s) of the trial list have no audio here "
                f"(e.g. {sorted(missing)[0]}): their trials cannot be scored"
            )
        if no_video and video_base is not None:
            result.notes.append(
                f"{no_video} utterance(s) have no video/frames under {video_base}"
                + (" (left out)" if self.require_video else "")
            )
        return result
