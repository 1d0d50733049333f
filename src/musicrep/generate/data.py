"""Training data for generation, made from the built-in corpus (or a user's MusicNet copy).

- :class:`RollSegments`: piano-roll segments of corpus pieces on a quarter-length grid
  (``frames_per_quarter``, default 4 = sixteenth notes) with their style, for the symbolic LSTM;
- :class:`RenderedClips`: corpus excerpts rendered by the built-in synthesizer
  (:func:`musicrep.data.synth.render`) together with the piano roll of exactly the notes that
  were rendered, on a grid of ``hop`` samples (default 160 = 100 frames/s at 16 kHz), for the
  conditioned WaveNet. The synthesizer's humanisation moves onsets by at most a few ms
  (:data:`~musicrep.data.synth.TIMING_JITTER`, 6 ms s.d.), under one 10-ms frame;
- :func:`musicnet_clips`: the same ``(audio, roll)`` pairs from a MusicNet folder
  (``train_data/*.wav`` + ``train_labels/*.csv``, Thickstun et al. 2017), resampled to 16 kHz.

Every dataset is a pure function of its arguments and ``seed`` (and the epoch set with
``set_epoch``, which moves the crops), so runs are reproducible.
"""

from __future__ import annotations

import csv
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from musicrep.errors import ConfigError
from musicrep.symbolic.roll import HIGHEST, LOWEST, Notes, notes_to_roll, piece_notes

SPLITS = ("train", "valid", "test")


def corpus_pieces(split: str, styles=None, seed: int = 0):
    """Corpus pieces of ``split`` (the corpus's own group-wise split, :func:`assign_splits`)."""
    from musicrep.data.corpus import assign_splits, load_pieces

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}", f"valid: {', '.join(SPLITS)}")
    pieces = load_pieces(styles=styles)
    splits = assign_splits(pieces, seed=seed)
    return [p for p in pieces if splits[p.id] == split]


def style_names(styles=None) -> list[str]:
    from musicrep.data.corpus import STYLES

    return list(styles) if styles else list(STYLES)


class RollSegments(Dataset):
    """Segments of ``frames`` frames of corpus piano rolls.

    Each piece gives ``ceil(length / frames)`` segments (a piece shorter than a segment is
    repeated, as the corpus repeats short excerpts). In the training split the segment start is
    shifted by a seeded per-epoch offset and the roll optionally transposed by up to
    ``transpose`` semitones; other splits use fixed segments.
    Items: ``{"roll": (2, pitches, frames) float, "style": long}``.
    """

    def __init__(
        self,
        split: str = "train",
        *,
        styles=None,
        frames: int = 64,
        frames_per_quarter: int = 4,
        lowest: int = LOWEST,
        highest: int = HIGHEST,
        transpose: int = 0,
        seed: int = 0,
    ):
        self.split, self.frames, self.seed = split, int(frames), int(seed)
        self.transpose = int(transpose) if split == "train" else 0
        self.styles = style_names(styles)
        self.lowest, self.highest = lowest, highest
        pieces = corpus_pieces(split, self.styles)
        if not pieces:
            raise ConfigError(f"no corpus pieces of styles {self.styles} in split {split!r}")
        self.rolls, self.style_index, self.items = [], [], []
        for piece in pieces:
            roll = notes_to_roll(
                piece_notes(piece),
                frames_per_quarter,
                int(np.ceil(piece.length_ql * frames_per_quarter)),
                lowest=lowest,
                highest=highest,
            )
            k = len(self.rolls)
            self.rolls.append(roll)
            self.style_index.append(self.styles.index(piece.style))
            n = max(1, int(np.ceil(roll.shape[-1] / self.frames)))
            self.items += [(k, i) for i in range(n)]
        self.epoch = 0
        self.skipped: list = []
        self.sample_rate = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        k, i = self.items[index]
        roll = self.rolls[k]
        t = roll.shape[-1]
        start = i * self.frames
        shift = 0
        if self.split == "train":
            rng = np.random.default_rng([self.seed, self.epoch, index])
            start += int(rng.integers(0, self.frames))
            if self.transpose:
                shift = int(rng.integers(-self.transpose, self.transpose + 1))
        reps = int(np.ceil((start % t + self.frames) / t)) + 1
        seg = np.tile(roll, (1, 1, reps))[..., start % t : start % t + self.frames]
        if shift:
            seg = np.roll(seg, shift, axis=1)
            if shift > 0:
                seg[:, :shift] = 0
            else:
                seg[:, shift:] = 0
        return {
            "roll": torch.from_numpy(np.ascontiguousarray(seg)),
            "style": torch.tensor(self.style_index[k]),
        }


def render_notes(
    notes: Notes,
    seconds: float,
    *,
    instrument: str = "piano",
    sr: int = 16000,
    hop: int = 160,
    reverb: float = 0.1,
    seed: int = 0,
    lowest: int = LOWEST,
    highest: int = HIGHEST,
    velocity: float = 0.7,
):
    """Render ``notes`` (times in seconds) with the built-in synthesizer and return
    ``(audio (samples,) float32, roll (2, pitches, frames))``, the roll on the ``hop`` grid
    holding exactly the notes rendered: notes starting inside ``[0, seconds)``, cut at the end,
    moved by whole octaves into the instrument's range as the synthesizer plays them
    (:func:`musicrep.data.synth.fit_range`), all at ``velocity``. Frame ``j`` covers samples
    ``j*hop .. (j+1)*hop - 1``; the synthesizer's onset jitter (6 ms s.d.) stays under a frame.
    The corpus renders of :class:`RenderedClips` and the benchmark's references come from here.
    """
    from musicrep.data import synth

    keep = (notes.onset >= 0) & (notes.onset < seconds)
    pitch = np.array([synth.fit_range(instrument, p) for p in notes.pitch[keep]], dtype=np.float64)
    clip = Notes.make(
        pitch.astype(np.int16),
        notes.onset[keep],
        np.minimum(notes.duration[keep], seconds - notes.onset[keep]),
        np.full(int(keep.sum()), velocity),
    )
    part = synth.Part(
        instrument, clip.pitch.astype(np.float64), clip.onset, clip.duration, clip.velocity
    )
    audio = synth.render(
        [part], sr, seconds, reverb=reverb, rng=np.random.default_rng([seed, 7]), peak_db=-1.0
    )
    frames = int(np.ceil(len(audio) / hop))
    roll = notes_to_roll(clip, sr / hop, frames, lowest=lowest, highest=highest)
    return audio.astype(np.float32), roll


@lru_cache(maxsize=4096)
def _render(
    piece_id: str,
    split: str,
    styles: tuple,
    seconds: float,
    instrument: str,
    sr: int,
    hop: int,
    reverb: float,
    seed: int,
    lowest: int,
    highest: int,
):
    """Render one corpus excerpt and its aligned roll (cached per process)."""
    from musicrep.data.corpus import load_pieces

    piece = next(p for p in load_pieces() if p.id == piece_id)
    rng = np.random.default_rng([seed, zlib.crc32(piece_id.encode())])
    bpm = piece.quarter_bpm or float(rng.uniform(70, 120))
    sec_per_ql = 60.0 / bpm
    notes = piece_notes(piece).scaled(sec_per_ql)
    length = piece.length_ql * sec_per_ql
    start = float(rng.uniform(0, max(0.0, length - seconds)))
    shifted = Notes.make(notes.pitch, notes.onset - start, notes.duration, notes.velocity)
    return render_notes(
        shifted,
        seconds,
        instrument=instrument,
        sr=sr,
        hop=hop,
        reverb=reverb,
        seed=seed,
        lowest=lowest,
        highest=highest,
    )


class RenderedClips(Dataset):
    """Corpus excerpts rendered with aligned rolls; training items are crops of ``crop``
    samples starting on a frame boundary.

    Items: ``{"audio": (crop,) float, "roll": (2, pitches, crop // hop) float, "style": long}``
    (frame ``j`` covers samples ``j*hop .. (j+1)*hop - 1``). Clips are rendered on first use
    and cached in memory (``clips`` of them, cycling through the split's pieces).
    """

    def __init__(
        self,
        split: str = "train",
        *,
        styles=None,
        clips: int = 64,
        seconds: float = 2.0,
        crop: int = 4000,
        instrument: str = "piano",
        sample_rate: int = 16000,
        hop: int = 160,
        reverb: float = 0.1,
        lowest: int = LOWEST,
        highest: int = HIGHEST,
        seed: int = 0,
    ):
        if crop % hop:
            raise ConfigError(f"crop ({crop}) must be a multiple of hop ({hop})")
        self.split, self.seed, self.crop, self.hop = split, int(seed), int(crop), int(hop)
        self.styles = style_names(styles)
        pieces = corpus_pieces(split, self.styles)
        if not pieces:
            raise ConfigError(f"no corpus pieces of styles {self.styles} in split {split!r}")
        order = np.random.default_rng([seed, 11]).permutation(len(pieces))
        self.pieces = [pieces[i] for i in order[:clips]]
        self.options = (
            tuple(self.styles),
            float(seconds),
            instrument,
            int(sample_rate),
            self.hop,
            float(reverb),
            self.seed,
            lowest,
            highest,
        )
        self.sample_rate = int(sample_rate)
        self.epoch = 0
        self.skipped: list = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.pieces)

    def clip(self, index: int):
        """``(audio, roll, style index)`` of the whole clip ``index``."""
        piece = self.pieces[index]
        audio, roll = _render(piece.id, self.split, *self.options)
        return audio, roll, self.styles.index(piece.style)

    def __getitem__(self, index: int) -> dict:
        audio, roll, style = self.clip(index)
        frames = len(audio) // self.hop
        n = self.crop // self.hop
        if self.split == "train":
            rng = np.random.default_rng([self.seed, self.epoch, index])
            f0 = int(rng.integers(0, max(1, frames - n + 1)))
        else:
            f0 = max(0, (frames - n) // 2)
        a = audio[f0 * self.hop : f0 * self.hop + self.crop]
        r = roll[..., f0 : f0 + n]
        a = np.pad(a, (0, self.crop - len(a)))
        r = np.pad(r, ((0, 0), (0, 0), (0, n - r.shape[-1])))
        return {
            "audio": torch.from_numpy(a.copy()),
            "roll": torch.from_numpy(r.copy()),
            "style": torch.tensor(style),
        }


def musicnet_clips(
    root: str | Path,
    split: str = "train",
    *,
    sample_rate: int = 16000,
    hop: int = 160,
    lowest: int = LOWEST,
    highest: int = HIGHEST,
    limit=None,
):
    """``(id, audio, roll)`` of the recordings of a MusicNet copy (the 2017 release layout:
    ``{train,test}_data/ID.wav`` at 44.1 kHz and ``{train,test}_labels/ID.csv`` with
    ``start_time,end_time,instrument,note,...`` in samples), resampled to ``sample_rate`` with
    soxr, rolls on the ``hop`` grid. MusicNet is not shipped: give your own copy."""
    import soundfile as sf
    import soxr

    root = Path(root)
    part = "test" if split == "test" else "train"
    data, labels = root / f"{part}_data", root / f"{part}_labels"
    if not data.is_dir() or not labels.is_dir():
        raise ConfigError(
            f"{root} is not a MusicNet folder (no {part}_data/ and {part}_labels/)",
            "download MusicNet yourself and pass the folder holding train_data/ etc.",
        )
    files = sorted(data.glob("*.wav"))[:limit]
    for wav in files:
        table = labels / (wav.stem + ".csv")
        if not table.is_file():
            continue
        audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
        audio = soxr.resample(audio.mean(1), sr, sample_rate)
        with open(table, newline="") as fh:
            rows = list(csv.DictReader(fh))
        notes = Notes.make(
            [int(r["note"]) for r in rows],
            [int(r["start_time"]) / sr for r in rows],
            [(int(r["end_time"]) - int(r["start_time"])) / sr for r in rows],
        )
        frames = int(np.ceil(len(audio) / hop))
        yield (
            wav.stem,
            audio,
            notes_to_roll(notes, sample_rate / hop, frames, lowest=lowest, highest=highest),
        )


class MusicNetCrops(Dataset):
    """Crops of a MusicNet copy's recordings with aligned rolls (items as
    :class:`RenderedClips`; style index 0). The ``valid`` split is every tenth training
    recording, ``train`` the others, ``test`` MusicNet's test set. Loads the recordings into
    memory (``limit`` of them)."""

    def __init__(
        self,
        root,
        split="train",
        *,
        crop=4000,
        sample_rate=16000,
        hop=160,
        lowest=LOWEST,
        highest=HIGHEST,
        seed=0,
        limit=None,
    ):
        clips = list(
            musicnet_clips(
                root,
                split,
                sample_rate=sample_rate,
                hop=hop,
                lowest=lowest,
                highest=highest,
                limit=limit,
            )
        )
        if split != "test":
            clips = [c for i, c in enumerate(clips) if (i % 10 == 9) == (split == "valid")]
        if not clips:
            raise ConfigError(f"no MusicNet recordings with labels for split {split!r} in {root}")
        self.clips, self.crop, self.hop, self.split, self.seed = clips, crop, hop, split, seed
        self.sample_rate, self.epoch, self.skipped = sample_rate, 0, []
        self.per_clip = 8  # crops per recording per epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips) * self.per_clip

    def __getitem__(self, index: int) -> dict:
        _, audio, roll = self.clips[index // self.per_clip]
        n = self.crop // self.hop
        frames = len(audio) // self.hop
        epoch = self.epoch if self.split == "train" else 0
        rng = np.random.default_rng([self.seed, epoch, index])
        f0 = int(rng.integers(0, max(1, frames - n + 1)))
        a = np.pad(audio[f0 * self.hop : f0 * self.hop + self.crop], (0, 0))
        r = roll[..., f0 : f0 + n]
        a = np.pad(a, (0, self.crop - len(a))).astype(np.float32)
        r = np.pad(r, ((0, 0), (0, 0), (0, n - r.shape[-1])))
        return {"audio": torch.from_numpy(a), "roll": torch.from_numpy(r), "style": torch.tensor(0)}
