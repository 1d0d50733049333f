"""The built-in audio-visual speaker dataset: determinism, speaker-disjoint splits, alignment."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from musicrep.data.av_speakers import (
    AVSpeakersConfig,
    Identity,
    build_av_speakers,
    frame_envelope,
    make_identities,
    render_face_video,
)
from musicrep.data.manifest import Manifest
from musicrep.probes.verification import read_trials

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
SMALL = AVSpeakersConfig(
    n_train_speakers=3, n_test_speakers=2, utterances_per_speaker=3, max_seconds=1.0, size=24
)


@needs_espeak
def test_build_is_deterministic_and_speaker_disjoint(tmp_path):
    a = build_av_speakers(tmp_path / "a", SMALL, show_progress=False).parent
    b = build_av_speakers(tmp_path / "b", SMALL, show_progress=False).parent
    assert (a / "manifest.csv").read_text() == (b / "manifest.csv").read_text()
    assert (a / "trials_test.txt").read_text() == (b / "trials_test.txt").read_text()
    for rel in ("audio/spk000/u00.wav", "video/spk004/u02.npy"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    m = Manifest.read(a / "manifest.csv", check_files=True)
    spk = {s: {r.labels[0] for r in m.split(s)} for s in ("train", "valid", "test")}
    assert spk["valid"] <= spk["train"] and not (spk["train"] & spk["test"])
    assert len(spk["train"]) == 3 and len(spk["test"]) == 2
    trials = read_trials(a / "trials_test.txt")
    assert len(trials) == 15  # C(2 * 3, 2)
    assert int(trials.labels.sum()) == 2 * 3  # C(3, 2) target pairs per test speaker
    test_files = {r.path for r in m.split("test")}
    assert set(trials.enroll) | set(trials.test) <= test_files
    # the video has one frame per 40 ms of audio
    import soundfile as sf

    info = sf.info(a / "audio/spk000/u00.wav")
    video = np.load(a / "video/spk000/u00.npy")
    assert video.dtype == np.uint8 and video.shape[1:] == (24, 24, 3)
    assert video.shape[0] == int(np.ceil(info.frames / 640))


def test_other_seed_gives_other_identities():
    a = make_identities(4, np.random.default_rng(0))
    b = make_identities(4, np.random.default_rng(1))
    assert a != b and a == make_identities(4, np.random.default_rng(0))
    assert len({(i.accent, i.variant) for i in a}) == 4


def test_mouth_follows_the_envelope():
    ident: Identity = make_identities(1, np.random.default_rng(3))[0]
    env = np.array([0.0, 1.0, 0.0, 1.0])
    video = render_face_video(ident, env, 48, np.random.default_rng(0)).astype(float)
    # dark mouth pixels: red high relative to green, far more of them with the mouth open
    mouth = ((video[..., 0] > 40) & (video[..., 1] < 40) & (video[..., 2] < 40)).sum((1, 2))
    assert mouth[1] > mouth[0] + 5 and mouth[3] > mouth[2] + 5


def test_frame_envelope_is_per_40ms():
    y = np.zeros(16000, np.float32)
    y[640:1280] = 1.0
    env = frame_envelope(y)
    assert env.shape == (25,) and env[1] == 1.0 and env[0] == 0.0 and env[2] == 0.0
