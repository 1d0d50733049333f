"""Piano rolls (note-on + sustain) and MIDI files.

A roll is a ``(2, pitches, frames)`` array on a fixed grid: channel :data:`PLAY` is 1 while a
note sounds, channel :data:`ARTICULATE` is 1 on the frame where it starts (Johnson's
play/articulate encoding, so repeated notes stay distinct). Pitches run from :data:`LOWEST` to
:data:`HIGHEST` (the 88 piano keys, A0..C8) unless given. The grid is either in seconds
(``fps`` frames per second, e.g. 100 Hz for conditioning audio) or in quarter lengths
(``frames_per_quarter``, e.g. 4 = sixteenth notes, for symbolic models); :func:`notes_to_roll`
takes times in whatever unit the grid's rate is per.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from musicrep.errors import ConfigError

PLAY, ARTICULATE = 0, 1
#: Default pitch range: the 88 piano keys (MIDI 21 = A0 .. 108 = C8).
LOWEST, HIGHEST = 21, 108


class Notes(NamedTuple):
    """Note events: MIDI ``pitch`` (int), ``onset`` and ``duration`` in one time unit (seconds
    or quarter lengths), ``velocity`` 0..1."""

    pitch: np.ndarray
    onset: np.ndarray
    duration: np.ndarray
    velocity: np.ndarray

    @classmethod
    def make(cls, pitch, onset, duration, velocity=None) -> Notes:
        pitch = np.asarray(pitch, dtype=np.int16).reshape(-1)
        onset = np.asarray(onset, dtype=np.float64).reshape(-1)
        duration = np.asarray(duration, dtype=np.float64).reshape(-1)
        if velocity is None:
            velocity = np.full(len(pitch), 0.8)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(-1)
        if not len(pitch) == len(onset) == len(duration) == len(velocity):
            raise ConfigError("pitch, onset, duration and velocity must have the same length")
        order = np.lexsort((pitch, onset))
        return cls(pitch[order], onset[order], duration[order], velocity[order])

    def scaled(self, factor: float) -> Notes:
        """The notes with times multiplied by ``factor`` (e.g. seconds per quarter)."""
        return Notes(self.pitch, self.onset * factor, self.duration * factor, self.velocity)


def piece_notes(piece) -> Notes:
    """All parts of a corpus :class:`~musicrep.data.corpus.Piece` merged, in quarter lengths."""
    parts = list(piece.parts)
    if not parts:
        return Notes.make([], [], [])
    return Notes.make(
        np.concatenate([p.pitch for p in parts]),
        np.concatenate([p.onset for p in parts]),
        np.concatenate([p.duration for p in parts]),
    )


def notes_to_roll(
    notes: Notes,
    rate: float,
    frames: int | None = None,
    *,
    lowest: int = LOWEST,
    highest: int = HIGHEST,
) -> np.ndarray:
    """The ``(2, highest - lowest + 1, frames)`` float32 play/articulate roll of ``notes``.

    A note covers frames ``round(onset * rate)`` to ``round((onset + duration) * rate) - 1``
    (at least one frame); its first frame is articulated. Pitches outside the range are moved by
    octaves into it. ``frames`` defaults to the end of the last note; notes past it are cut.
    """
    n_pitch = highest - lowest + 1
    if n_pitch < 12:
        raise ConfigError(f"pitch range {lowest}..{highest} is narrower than an octave")
    start = np.round(np.asarray(notes.onset) * rate).astype(np.int64)
    stop = np.maximum(np.round((notes.onset + notes.duration) * rate).astype(np.int64), start + 1)
    if frames is None:
        frames = int(stop.max()) if len(stop) else 0
    roll = np.zeros((2, n_pitch, frames), dtype=np.float32)
    pitch = np.asarray(notes.pitch, dtype=np.int64)
    while np.any(pitch < lowest):
        pitch = np.where(pitch < lowest, pitch + 12, pitch)
    while np.any(pitch > highest):
        pitch = np.where(pitch > highest, pitch - 12, pitch)
    for p, a, b in zip(pitch - lowest, start, stop):
        if a >= frames or b <= 0:
            continue
        roll[PLAY, p, max(a, 0) : min(b, frames)] = 1.0
    for p, a in zip(pitch - lowest, start):
        if 0 <= a < frames:
            roll[ARTICULATE, p, a] = 1.0
    return roll


def roll_to_notes(roll: np.ndarray, rate: float, *, lowest: int = LOWEST) -> Notes:
    """Note events of a play/articulate roll (inverse of :func:`notes_to_roll`, times in the
    grid's unit): a note starts where a pitch is articulated or starts playing and lasts while
    it plays without a new articulation. A 1-channel ``(pitches, frames)`` roll is read as
    play only."""
    roll = np.asarray(roll) > 0.5
    if roll.ndim == 2:
        play = roll
        art = play & ~np.pad(play, ((0, 0), (1, 0)))[:, :-1]
    else:
        play, art = roll[PLAY], roll[ARTICULATE] & roll[PLAY]
        art = art | (play & ~np.pad(play, ((0, 0), (1, 0)))[:, :-1])
    pitch, onset, dur = [], [], []
    for p in range(play.shape[0]):
        t, frames = 0, play.shape[1]
        while t < frames:
            if play[p, t] and (art[p, t] or t == 0):
                end = t + 1
                while end < frames and play[p, end] and not art[p, end]:
                    end += 1
                pitch.append(p + lowest)
                onset.append(t / rate)
                dur.append((end - t) / rate)
                t = end
            else:
                t += 1
    return Notes.make(pitch, onset, dur)


def read_midi(path: str | Path) -> Notes:
    """Notes of a MIDI file (all tracks and channels except drums, channel 10), in seconds
    (tempo changes applied by mido)."""
    import mido

    path = Path(path)
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError) as exc:
        raise ConfigError(
            f"cannot read MIDI file {path}: {exc}", "give a standard .mid file"
        ) from exc
    now, active = 0.0, {}
    pitch, onset, dur, vel = [], [], [], []
    for msg in midi:  # merged tracks, times in seconds
        now += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == 9:
            continue
        key = (msg.channel, msg.note)
        if key in active:  # a note-off, or a re-strike that ends the sounding note
            t0, v0 = active.pop(key)
            if now > t0:
                pitch.append(msg.note)
                onset.append(t0)
                dur.append(now - t0)
                vel.append(v0)
        if msg.type == "note_on" and msg.velocity > 0:
            active[key] = (now, msg.velocity / 127.0)
    for (_, note), (t0, v0) in active.items():
        if now > t0:
            pitch.append(note)
            onset.append(t0)
            dur.append(now - t0)
            vel.append(v0)
    if not pitch:
        raise ConfigError(f"MIDI file {path} has no notes")
    return Notes.make(pitch, onset, dur, vel)


def write_midi(notes: Notes, path: str | Path, *, bpm: float = 120.0, program: int = 0) -> Path:
    """Write notes (times in seconds) as a one-track MIDI file (atomic), at ``bpm`` with 480
    ticks per quarter and General MIDI ``program``."""
    import mido

    path = Path(path)
    tpq = 480
    ticks_per_s = tpq * bpm / 60.0
    events = []
    for p, o, d, v in zip(notes.pitch, notes.onset, notes.duration, notes.velocity):
        a = int(round(o * ticks_per_s))
        b = max(int(round((o + d) * ticks_per_s)), a + 1)
        vel = int(np.clip(round(v * 127), 1, 127))
        events.append((b, 0, int(p), 0))  # note-offs sort before note-ons at the same tick
        events.append((a, 1, int(p), vel))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    last = 0
    for tick, on, p, vel in events:
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=p, velocity=vel if on else 0, time=tick - last))
        last = tick
    midi = mido.MidiFile(ticks_per_beat=tpq)
    midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    midi.save(str(tmp))
    tmp.replace(path)
    return path
