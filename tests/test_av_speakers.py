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


def _independent_identities(n, rng):
    """The identity draws of the dataset before --coupling existed (kept verbatim)."""
    import itertools

    from musicrep.data.av_speakers import ACCENTS, VARIANTS

    pairs = list(itertools.product(ACCENTS, VARIANTS))
    order = rng.permutation(len(pairs))
    out = []
    for i in range(n):
        accent, variant = pairs[int(order[i % len(pairs)])]
        colour = lambda lo, hi: tuple(float(v) for v in rng.uniform(lo, hi, 3))  # noqa: E731
        out.append(
            Identity(
                name=f"spk{i:03d}",
                accent=accent,
                variant=variant,
                pitch=int(rng.integers(15, 85)),
                speed=int(rng.integers(130, 200)),
                face_w=float(rng.uniform(0.24, 0.36)),
                face_h=float(rng.uniform(0.32, 0.44)),
                eye_dx=float(rng.uniform(0.08, 0.15)),
                eye_r=float(rng.uniform(0.025, 0.05)),
                mouth_w=float(rng.uniform(0.08, 0.17)),
                skin=colour(0.3, 0.95),
                eyes=colour(0.0, 0.6),
                hair=colour(0.0, 0.8),
            )
        )
    return out


def _face_voice(ids):
    fem = [float(i.variant.startswith("f")) for i in ids]
    voice = np.array([[i.pitch, i.speed, f] for i, f in zip(ids, fem)], float)
    face = np.array(
        [[i.face_w, i.face_h, i.eye_dx, i.eye_r, i.mouth_w, *i.skin, *i.eyes, *i.hair] for i in ids]
    )
    return voice, face


def test_coupling_zero_is_the_old_independent_draw():
    for seed in (0, 1, 7):
        old = _independent_identities(30, np.random.default_rng(seed))
        new = make_identities(30, np.random.default_rng(seed), 0.0, np.random.default_rng(99))
        assert new == old
        assert make_identities(30, np.random.default_rng(seed)) == old  # the default
    # the coupled draw keeps the voices' accents/variants and the trait ranges
    old = _independent_identities(30, np.random.default_rng(0))
    coupled = make_identities(30, np.random.default_rng(0), 0.7, np.random.default_rng([0, 1]))
    assert [(i.accent, i.variant) for i in coupled] == [(i.accent, i.variant) for i in old]
    assert coupled != old
    assert all(15 <= i.pitch < 85 and 130 <= i.speed < 200 for i in coupled)
    assert all(
        0.24 <= i.face_w <= 0.36 and 0.0 <= min(i.hair) <= max(i.hair) <= 0.8 for i in coupled
    )
    with pytest.raises(ValueError, match="coupling"):
        make_identities(3, np.random.default_rng(0), 1.5)


def test_coupling_links_face_and_voice_across_identities():
    def link(c):
        ids = make_identities(400, np.random.default_rng(0), c, np.random.default_rng([0, 1]))
        voice, face = _face_voice(ids)
        corr = np.corrcoef(np.c_[voice, face].T)[:3, 3:]
        x = np.c_[face, np.ones(len(face))]  # R^2 of each voice trait predicted from the face
        r2 = [1 - np.var(v - x @ np.linalg.lstsq(x, v, rcond=None)[0]) / np.var(v) for v in voice.T]
        return np.abs(corr).max(), min(r2)

    corr0, r2_0 = link(0.0)
    corr7, r2_7 = link(0.7)
    assert corr0 < 0.2 and r2_0 < 0.15  # independent: nothing predicts a voice from a face
    assert corr7 > 0.5 and r2_7 > 0.4  # coupled: pitch, speed and sex follow the face
    assert link(0.7) == (corr7, r2_7)  # deterministic


@needs_espeak
def test_coupling_zero_build_matches_the_independent_dataset(tmp_path):
    """--coupling 0 gives the files of the independent dataset; other couplings change the
    identities only (same sentences, so same utterance count and trials)."""
    import dataclasses
    import json

    cfg0 = dataclasses.replace(SMALL, coupling=0.0)
    a = build_av_speakers(tmp_path / "a", cfg0, show_progress=False).parent
    meta = json.loads((a / "av_speakers.json").read_text())
    old = _independent_identities(5, np.random.default_rng(0))
    assert [
        Identity(**{**d, **{k: tuple(d[k]) for k in ("skin", "eyes", "hair")}})
        for d in meta["identities"]
    ] == old
    b = build_av_speakers(tmp_path / "b", SMALL, show_progress=False).parent  # coupling 0.7
    assert json.loads((b / "av_speakers.json").read_text())["config"]["coupling"] == 0.7
    assert (a / "manifest.csv").read_text() == (b / "manifest.csv").read_text()
    assert (a / "trials_test.txt").read_text() == (b / "trials_test.txt").read_text()
