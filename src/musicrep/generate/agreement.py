"""Agreement of audio with the piano roll that conditioned it (Manzelli et al. 2018 judge their
conditioned WaveNet by whether its audio follows the roll). Three transcription-style checks,
each comparing ``audio`` with a ``(2, pitches, frames)`` play/articulate roll on the grid of
``hop`` samples (frame ``j`` covers samples ``j*hop .. (j+1)*hop - 1``):

- :func:`chroma_agreement`: correlation of the audio's chroma (librosa ``chroma_stft``) with
  the roll's pitch-class profile over the frames with notes;
- :func:`onset_agreement`: precision/recall/F-measure of librosa's onset detector against the
  roll's note onsets, within a tolerance (50 ms, the MIREX onset window);
- :func:`pitch_agreement`: librosa's pYIN f0 track (a monophonic transcriber: on a polyphonic
  roll it follows one predominant voice) against the notes sounding in the roll.

Each is meaningful only beside references: the same audio against a mismatched roll (chance
level) and a faithful render of the roll, e.g. the built-in synthesizer's
(:func:`musicrep.generate.data.render_notes`), for the ceiling.
"""

from __future__ import annotations

import numpy as np

from musicrep.symbolic.roll import ARTICULATE, PLAY

#: Onset tolerance (seconds), the MIREX onset-detection window.
ONSET_TOLERANCE = 0.05


def chroma_agreement(audio, roll, sr: int, hop: int, lowest: int) -> float:
    """Pearson correlation between the audio's chroma and the roll's pitch-class profile over
    the frames where the roll has notes (``nan`` with fewer than two such frames)."""
    import librosa

    chroma = librosa.feature.chroma_stft(
        y=np.asarray(audio, dtype=np.float32), sr=sr, hop_length=hop, n_fft=2048
    )
    play = np.asarray(roll)[PLAY]
    pc = np.zeros((12, play.shape[1]))
    for p in range(play.shape[0]):
        pc[(p + lowest) % 12] += play[p]
    n = min(chroma.shape[1], pc.shape[1])
    chroma, pc = chroma[:, :n], pc[:, :n]
    keep = pc.sum(0) > 0
    if keep.sum() < 2:
        return float("nan")
    a = chroma[:, keep].ravel() - chroma[:, keep].mean()
    b = pc[:, keep].ravel() - pc[:, keep].mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def roll_onsets(roll, sr: int, hop: int) -> np.ndarray:
    """Times (s) of the frames where at least one note starts (a chord is one onset)."""
    roll = np.asarray(roll) > 0.5
    frames = np.flatnonzero((roll[ARTICULATE] & roll[PLAY]).any(0))
    return frames * hop / sr


def match_onsets(reference, estimated, tolerance: float = ONSET_TOLERANCE) -> int:
    """Size of the largest one-to-one matching of ``estimated`` to ``reference`` onsets with
    ``|difference| <= tolerance``. On a line, matching greedily in time order is maximal."""
    ref, est = np.sort(np.asarray(reference)), np.sort(np.asarray(estimated))
    i = j = hits = 0
    while i < len(ref) and j < len(est):
        if abs(ref[i] - est[j]) <= tolerance:
            hits, i, j = hits + 1, i + 1, j + 1
        elif est[j] < ref[i]:
            j += 1
        else:
            i += 1
    return hits


def detect_onsets(audio, sr: int, hop: int) -> np.ndarray:
    """Onset times (s) from ``librosa.onset.onset_detect`` (spectral flux, ``hop`` frames)."""
    import librosa

    return librosa.onset.onset_detect(
        y=np.asarray(audio, dtype=np.float32), sr=sr, hop_length=hop, units="time"
    )


def onset_agreement(
    audio, roll, sr: int, hop: int, tolerance: float = ONSET_TOLERANCE, *, detected=None
) -> dict:
    """Onsets found in the audio (:func:`detect_onsets`, or ``detected`` times given) against
    the roll's onsets: ``precision``, ``recall``, ``f`` (``nan`` where undefined) and the
    counts."""
    est = detect_onsets(audio, sr, hop) if detected is None else np.asarray(detected)
    ref = roll_onsets(roll, sr, hop)
    hits = match_onsets(ref, est, tolerance)
    p = hits / len(est) if len(est) else float("nan")
    r = hits / len(ref) if len(ref) else float("nan")
    f = 2 * hits / (len(est) + len(ref)) if len(est) + len(ref) else float("nan")
    return {"precision": p, "recall": r, "f": f, "detected": len(est), "reference": len(ref)}


def pyin_track(audio, sr: int, hop: int, lowest: int, highest: int):
    """``(f0 Hz with nan where unvoiced, voiced flags)`` of ``librosa.pyin`` on ``hop``-sample
    frames, searching half a semitone beyond ``lowest..highest`` (capped below Nyquist)."""
    import librosa

    fmax = min(float(librosa.midi_to_hz(highest + 1)), sr / 2 * 0.9)
    f0, voiced, _ = librosa.pyin(
        np.asarray(audio, dtype=np.float32),
        fmin=float(librosa.midi_to_hz(lowest - 1)),
        fmax=fmax,
        sr=sr,
        frame_length=2048,
        hop_length=hop,
    )
    return f0, voiced


def pitch_agreement(audio, roll, sr: int, hop: int, lowest: int, *, track=None) -> dict:
    """pYIN (:func:`pyin_track` over the roll's pitch range, or ``track`` given) against the
    roll, over the frames where the roll has notes:

    - ``voiced``: share of those frames pYIN calls voiced;
    - ``pitch``: share of the voiced ones whose f0 lies within half a semitone of a sounding
      note (any voice: pYIN follows one predominant voice of a polyphonic texture);
    - ``pitch_class``: the same up to octaves (pYIN's octave errors forgiven).
    ``nan`` where a share has no frames."""
    import librosa

    play = np.asarray(roll)[PLAY] > 0.5
    if track is None:
        track = pyin_track(audio, sr, hop, lowest, lowest + play.shape[0] - 1)
    f0, voiced = track
    n = min(len(f0), play.shape[1])
    play, f0, voiced = play[:, :n], f0[:n], voiced[:n]
    has = play.any(0)
    out = {"voiced": float(voiced[has].mean()) if has.any() else float("nan")}
    frames = np.flatnonzero(has & voiced & np.isfinite(f0))
    if not len(frames):
        return {**out, "pitch": float("nan"), "pitch_class": float("nan"), "frames": 0}
    midi = librosa.hz_to_midi(f0[frames])
    hit = hit_pc = 0
    for t, m in zip(frames, midi):
        d = np.abs(np.flatnonzero(play[:, t]) + lowest - m)
        hit += bool((d <= 0.5).any())
        hit_pc += bool((np.minimum(d % 12, 12 - d % 12) <= 0.5).any())
    return {
        **out,
        "pitch": hit / len(frames),
        "pitch_class": hit_pc / len(frames),
        "frames": int(len(frames)),
    }


def audio_roll_agreement(audio, rolls, sr: int, hop: int, lowest: int) -> dict | list[dict]:
    """All three checks in one flat dict: ``chroma_corr``, ``onset_f`` (+ precision/recall),
    ``pyin_voiced``, ``pyin_pitch``, ``pyin_pitch_class``. ``rolls`` may be a list of rolls
    (e.g. the conditioning roll and a mismatched one): the audio is analysed once and a list
    of dicts returned."""
    many = isinstance(rolls, (list, tuple))
    rolls = list(rolls) if many else [rolls]
    onsets = detect_onsets(audio, sr, hop)
    track = pyin_track(audio, sr, hop, lowest, lowest + np.asarray(rolls[0]).shape[1] - 1)
    out = []
    for roll in rolls:
        on = onset_agreement(audio, roll, sr, hop, detected=onsets)
        pi = pitch_agreement(audio, roll, sr, hop, lowest, track=track)
        out.append(
            {
                "chroma_corr": chroma_agreement(audio, roll, sr, hop, lowest),
                "onset_f": on["f"],
                "onset_precision": on["precision"],
                "onset_recall": on["recall"],
                "pyin_voiced": pi["voiced"],
                "pyin_pitch": pi["pitch"],
                "pyin_pitch_class": pi["pitch_class"],
            }
        )
    return out if many else out[0]
