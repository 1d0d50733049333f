"""Generation data: renders aligned with their rolls, the audio/roll agreement checks and the
MusicNet adapter (on a tiny fake MusicNet copy written here)."""

import csv

import numpy as np
import pytest
import soundfile as sf

from musicrep.errors import ConfigError
from musicrep.generate import agreement
from musicrep.generate.data import MusicNetCrops, RenderedClips, musicnet_clips, render_notes
from musicrep.symbolic import ARTICULATE, PLAY, Notes

SR, HOP, LOW, HIGH = 16000, 160, 36, 96


def _melody():
    # separated notes (rests between them) so each onset is a clear energy rise
    return Notes.make([60, 67, 64, 72, 62], [0.2, 0.6, 1.0, 1.4, 1.8], [0.15] * 5)


def test_render_notes_audio_starts_where_the_roll_articulates():
    audio, roll = render_notes(_melody(), 2.2, sr=SR, hop=HOP, lowest=LOW, highest=HIGH, reverb=0)
    assert audio.shape == (2.2 * SR,) and roll.shape == (2, HIGH - LOW + 1, 220)
    onsets = np.flatnonzero(roll[ARTICULATE].any(0))
    assert onsets.tolist() == [20, 60, 100, 140, 180]
    assert roll[PLAY, 60 - LOW, 20:35].all() and not roll[PLAY, 60 - LOW, 35:].any()
    rms = np.sqrt((audio[: len(audio) // HOP * HOP].reshape(-1, HOP) ** 2).mean(1))
    assert rms[:18].max() < 1e-4  # silence before the first note (synth jitter: 6 ms s.d.)
    for f in onsets:  # each note's energy rises within a frame or two of its roll onset
        rise = f - 2 + int(np.argmax(np.diff(rms[f - 3 : f + 4])))  # diff[i]: into f-2+i
        assert abs(rise - f) <= 2, (f, rise)


def test_rendered_clips_crop_keeps_audio_and_roll_aligned():
    ds = RenderedClips(
        "valid", styles=["bach"], clips=1, seconds=1.0, crop=3200, lowest=LOW, highest=HIGH
    )
    audio, roll, _ = ds.clip(0)
    item = ds[0]
    n = 3200 // HOP
    f0 = (len(audio) // HOP - n) // 2  # validation crops are centred
    np.testing.assert_array_equal(item["audio"].numpy(), audio[f0 * HOP : f0 * HOP + 3200])
    np.testing.assert_array_equal(item["roll"].numpy(), roll[..., f0 : f0 + n])


def test_agreement_of_a_faithful_render_beats_a_mismatched_roll():
    audio, roll = render_notes(_melody(), 2.2, sr=SR, hop=HOP, lowest=LOW, highest=HIGH)
    other = Notes.make([49, 54, 70, 47, 58], [0.4, 0.8, 1.2, 1.6, 2.0], [0.15] * 5)
    _, wrong = render_notes(other, 2.2, sr=SR, hop=HOP, lowest=LOW, highest=HIGH)
    good, bad = agreement.audio_roll_agreement(audio, [roll, wrong], SR, HOP, LOW)
    assert agreement.audio_roll_agreement(audio, roll, SR, HOP, LOW) == good
    assert good["onset_f"] == 1.0 and bad["onset_f"] == 0.0
    assert good["chroma_corr"] > 0.6 > bad["chroma_corr"]
    assert good["pyin_pitch"] > 0.7 and bad["pyin_pitch"] < 0.2
    assert good["pyin_voiced"] > 0.7


def test_match_onsets_is_one_to_one():
    assert agreement.match_onsets([0.0, 1.0], [0.01, 0.02, 0.99]) == 2
    assert agreement.match_onsets([0.0, 0.06], [0.03], tolerance=0.05) == 1
    assert agreement.match_onsets([], [0.5]) == 0


def _fake_musicnet(root, ids=range(1, 11), part="train", sr=44100, seconds=0.5):
    """MusicNet's layout: {part}_data/ID.wav (44.1 kHz) and {part}_labels/ID.csv with times
    in samples. Recording ID plays A4 (MIDI 69) from 0.1 s to 0.3 s as a sine."""
    (root / f"{part}_data").mkdir(parents=True, exist_ok=True)
    (root / f"{part}_labels").mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    for i in ids:
        x = np.where((t >= 0.1) & (t < 0.3), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
        sf.write(root / f"{part}_data" / f"{i}.wav", np.stack([x, x], 1), sr)  # stereo
        with open(root / f"{part}_labels" / f"{i}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(
                ["start_time", "end_time", "instrument", "note", "start_beat", "end_beat",
                 "note_value"]
            )  # fmt: skip
            w.writerow([int(0.1 * sr), int(0.3 * sr), 1, 69, 0.0, 1.0, "Quarter"])


def test_musicnet_adapter_reads_a_local_copy(tmp_path):
    _fake_musicnet(tmp_path)
    _fake_musicnet(tmp_path, ids=[99], part="test")
    sf.write(tmp_path / "train_data" / "7777.wav", np.zeros(4410), 44100)  # no labels: skipped
    clips = list(musicnet_clips(tmp_path, lowest=LOW, highest=HIGH))
    assert [c[0] for c in clips] == [str(i) for i in sorted(range(1, 11), key=str)]
    rid, audio, roll = clips[0]
    assert audio.dtype == np.float32 and abs(len(audio) - 8000) <= 1  # 0.5 s at 16 kHz, mono
    assert roll.shape == (2, HIGH - LOW + 1, 50)
    assert np.flatnonzero(roll[PLAY, 69 - LOW]).tolist() == list(range(10, 30))
    assert np.flatnonzero(roll[ARTICULATE].any(0)).tolist() == [10]
    spectrum = np.abs(np.fft.rfft(audio[1600:4800]))
    assert abs(np.argmax(spectrum) * SR / 3200 - 440) <= 5  # resampled, pitch kept
    assert [c[0] for c in musicnet_clips(tmp_path, "test", lowest=LOW, highest=HIGH)] == ["99"]

    train = MusicNetCrops(tmp_path, "train", crop=1600, lowest=LOW, highest=HIGH)
    valid = MusicNetCrops(tmp_path, "valid", crop=1600, lowest=LOW, highest=HIGH)
    assert (len(train.clips), len(valid.clips)) == (9, 1)  # every tenth recording validates
    assert len(train) == 9 * train.per_clip
    for i in range(0, len(train), 5):
        item = train[i]
        assert item["audio"].shape == (1600,) and item["roll"].shape == (2, HIGH - LOW + 1, 10)
        # the crop's audio sounds exactly in the frames (10 ms) where its roll plays
        loud = np.abs(item["audio"].numpy().reshape(10, HOP)).max(1) > 0.1
        np.testing.assert_array_equal(loud, item["roll"].numpy()[PLAY].any(0))


def test_musicnet_adapter_errors_and_objective(tmp_path):
    with pytest.raises(ConfigError, match="not a MusicNet folder"):
        list(musicnet_clips(tmp_path))
    _fake_musicnet(tmp_path, ids=[1, 2])
    with pytest.raises(ConfigError, match="no MusicNet recordings"):
        MusicNetCrops(tmp_path, "valid")
    from musicrep.objectives.generative import WaveNetObjective

    obj = WaveNetObjective(
        musicnet=str(tmp_path),
        crop=800,
        network={"layers": 2, "cycle": 2, "channels": 4, "skip_channels": 4},
    )
    ds = obj.make_dataset("train", 0)
    assert isinstance(ds, MusicNetCrops) and len(ds) == 2 * ds.per_clip
    batch = {k: v[None] for k, v in ds[0].items()}
    assert np.isfinite(float(obj(None, batch)["loss"].detach()))
