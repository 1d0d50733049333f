"""The built-in audio-visual speaker dataset: espeak-ng speech and a synthetic talking face.

Made by the project, no download (for Sarı et al. 2021-style audio-visual speaker verification).

Identities
----------
An identity is a voice, an espeak-ng accent (``en``, ``en-us``, ``en-gb-scotland``, ...) with a
voice variant (``m1``..``m7``, ``f1``..``f5``, ...), plus its own pitch (``-p``) and speed
(``-s``) and a face: head shape (width, height), eye spacing and size, mouth width, skin, eye and
hair colours. Identities are drawn without repeating an (accent, variant) pair while there are
enough pairs.

Face-voice coupling (``coupling``, default 0.7)
------------------------------------------------
Cross-modal verification on UNSEEN speakers (audio enrolment, face test) needs something that
links a face to a voice across identities: in real data faces and voices correlate through sex,
age and body size. With independent face and voice draws (``coupling=0``, the only behaviour of
earlier versions) nothing does but the mouth motion (which follows the speech envelope, so
speaking rhythm shows in the video), and cross-modal EER on test speakers stays near chance. With ``coupling = c > 0`` each identity gets three latent factors (sex: its sign from the
voice variant ``m*``/``f*``; size; age) and every trait (pitch, speed, head shape, eye spacing
and size, mouth width, skin/eye/hair colours) mixes its own draw with its loading on the
factors (:data:`LOADINGS`), so a fraction ``c`` of its normal-score variance is shared; ranges
and marginals are unchanged. The accent, the variant and the per-utterance nuisances (pose,
light, background, noise) stay independent. This link and its strength are OUR choice for a
synthetic stand-in, not the paper's (Sarı et al. train and test on VoxCeleb); cross-modal
numbers on this data measure the model under this synthetic link, not real face-voice
correlation. ``coupling=0`` reproduces the earlier independent dataset bit for bit (audio,
video, manifest, trials; ``av_speakers.json`` additionally records ``coupling``).

Utterances
----------
Each utterance is a random sentence (seeded) spoken by the identity's voice, resampled to
16 kHz and cut to at most ``max_seconds``. Its video (25 frames/s, ``size`` x ``size`` RGB,
uint8) shows the identity's face under a per-utterance pose (shift, scale, tilt), lighting
(gain and a linear gradient), background colour and pixel noise; the mouth opening of each
frame follows the speech RMS envelope over that frame's 40 ms, so the streams are aligned.

Layout of ``OUT``::

    audio/<speaker>/<utt>.wav        16 kHz mono PCM-16
    video/<speaker>/<utt>.npy        uint8 (frames, size, size, 3)
    manifest.csv                     path,labels,split,video  (labels = speaker id)
    trials_test.txt                  VoxCeleb format: LABEL ENROLL TEST (test speakers only)
    av_speakers.json                 the settings and the identities

Splits are speaker-disjoint between ``train``/``valid`` (closed-set: the last utterance of each
training speaker is its ``valid`` row) and ``test`` (unseen speakers, used only in trials).
Everything is determined by ``seed`` (and the espeak-ng version, recorded in the JSON).
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.errors import MusicrepError

__all__ = [
    "AVSpeakersConfig",
    "Identity",
    "build_av_speakers",
    "espeak_path",
    "make_identities",
    "render_face_video",
]

SAMPLE_RATE = 16000
FPS = 25
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
WORDS = (
    "the quick brown fox jumps over a lazy dog while seven singers play music in the hall "
    "every morning we listen to bright guitars and deep drums under a clear blue sky "
    "numbers like three nine and twelve sound different when spoken slowly or quickly "
    "please record your voice near the window before the evening rain begins again"
).split()


class AVDataError(MusicrepError):
    """The audio-visual dataset cannot be built (espeak-ng missing or failing)."""


@dataclass(frozen=True)
class AVSpeakersConfig:
    """Size and content of the built-in audio-visual speaker dataset."""

    n_train_speakers: int = 16
    n_test_speakers: int = 8
    utterances_per_speaker: int = 8
    max_seconds: float = 3.0
    words_per_utterance: tuple[int, int] = (5, 9)
    size: int = 48  # video frame side in pixels
    seed: int = 0
    coupling: float = 0.7  # face-voice link through latent identity factors (0: independent)


@dataclass(frozen=True)
class Identity:
    """One synthetic speaker: a voice and a face."""

    name: str
    accent: str
    variant: str
    pitch: int  # espeak-ng -p, 0..99
    speed: int  # espeak-ng -s, words per minute
    face_w: float  # head half-width as a fraction of the frame
    face_h: float  # head half-height
    eye_dx: float  # half the distance between the eyes
    eye_r: float
    mouth_w: float
    skin: tuple[float, float, float]
    eyes: tuple[float, float, float]
    hair: tuple[float, float, float]


def espeak_path() -> str:
    """Path of ``espeak-ng``; a clear error naming the fix when it is not installed."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise AVDataError(
            "espeak-ng is not installed; the built-in audio-visual speaker dataset needs it",
            "install it with `apt-get install -y espeak-ng` (Debian/Ubuntu; `make setup` and "
            ".ci/run do this) or `brew install espeak-ng` (macOS)",
        )
    return path


#: Loadings of each trait on the latent identity factors (sex, size, age) used with
#: ``coupling > 0``; each row has unit norm, so a trait's normal score keeps unit variance. The
#: factors are our choice (faces and voices correlate through sex, age and body size), not the
#: paper's: VoxCeleb has such links naturally, this synthetic data needs them made explicit.
LOADINGS: dict[str, tuple[float, float, float]] = {
    # voice
    "pitch": (0.8, -0.6, 0.0),  # female variants and small heads: higher pitch
    "speed": (0.0, 0.0, -1.0),  # older: slower speech
    # face
    "face_w": (-0.6, 0.8, 0.0),
    "face_h": (0.0, 0.8, 0.6),
    "eye_dx": (-0.6, 0.8, 0.0),
    "eye_r": (0.8, 0.0, -0.6),
    "mouth_w": (-0.6, 0.8, 0.0),
    "skin": (0.6, 0.0, -0.8),
    "eyes": (0.0, -0.6, 0.8),
    "hair": (0.8, 0.0, 0.6),
}
#: Ranges of the traits (uniform marginals; integer ranges are [lo, hi) as rng.integers).
RANGES: dict[str, tuple[float, float]] = {
    "pitch": (15, 85),
    "speed": (130, 200),
    "face_w": (0.24, 0.36),
    "face_h": (0.32, 0.44),
    "eye_dx": (0.08, 0.15),
    "eye_r": (0.025, 0.05),
    "mouth_w": (0.08, 0.17),
    "skin": (0.3, 0.95),
    "eyes": (0.0, 0.6),
    "hair": (0.0, 0.8),
}


def _is_female(variant: str) -> bool:
    return variant.startswith("f")


def _couple(q: np.ndarray, loading, z: np.ndarray, coupling: float) -> np.ndarray:
    """Mix a trait's own uniform draw ``q`` (in (0, 1)) with the latent factors ``z``.

    ``g = sqrt(c) * loading . z + sqrt(1 - c) * Phi^-1(q)`` is standard normal (``z`` standard
    normal, unit-norm loading); ``Phi(g)`` is again uniform, so each trait keeps its range and
    marginal distribution while a fraction ``c`` of its normal-score variance is shared.
    """
    from scipy.special import ndtr, ndtri

    g = np.sqrt(coupling) * float(np.dot(loading, z)) + np.sqrt(1.0 - coupling) * ndtri(q)
    return np.clip(ndtr(g), 1e-9, 1.0 - 1e-9)


def make_identities(
    n: int,
    rng: np.random.Generator,
    coupling: float = 0.0,
    latent_rng: np.random.Generator | None = None,
) -> list[Identity]:
    """``n`` identities, distinct (accent, variant) pairs first, each with its own face.

    ``coupling`` (0..1) links the face to the voice through three latent identity factors per
    speaker (sex, size, age; see :data:`LOADINGS`): the sex factor takes its sign from the
    voice variant (``m*``/``f*``) and its size from a half-normal draw, size and age are
    standard normal. Each trait's own draw (the same draws as ``coupling=0``) is mixed with its
    loading on the factors so that a fraction ``coupling`` of its (normal-score) variance is
    shared; marginals and ranges stay as without coupling. ``coupling=0`` gives exactly the
    independent draws of earlier versions. The factors are drawn from ``latent_rng`` (default:
    ``rng``, after all trait draws), so the independent parts do not depend on ``coupling``.
    """
    if not 0.0 <= coupling <= 1.0:
        raise ValueError(f"coupling must be in [0, 1]; got {coupling}")
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
    if coupling == 0.0:
        return out  # bit-for-bit the independent draws
    lr = rng if latent_rng is None else latent_rng
    latents = lr.standard_normal((n, 3))
    coupled = []
    for ident, z in zip(out, latents):
        z = z.copy()
        z[0] = abs(z[0]) * (1.0 if _is_female(ident.variant) else -1.0)
        values: dict[str, Any] = {}
        for trait, (lo, hi) in RANGES.items():
            x = np.asarray(getattr(ident, trait), dtype=np.float64)
            if trait in ("pitch", "speed"):  # integers in [lo, hi): the middle of the bin
                q = (x - lo + 0.5) / (hi - lo)
                v = lo + np.floor(_couple(q, LOADINGS[trait], z, coupling) * (hi - lo))
                values[trait] = int(v)
            else:
                q = np.clip((x - lo) / (hi - lo), 1e-9, 1.0 - 1e-9)
                v = lo + _couple(q, LOADINGS[trait], z, coupling) * (hi - lo)
                values[trait] = tuple(float(c) for c in v) if v.ndim else float(v)
        coupled.append(replace(ident, **values))
    return coupled


def speak(identity: Identity, text: str, max_seconds: float) -> np.ndarray:
    """Synthesise ``text`` with the identity's voice: float32 mono at 16 kHz."""
    import soundfile as sf
    import soxr

    cmd = [
        espeak_path(),
        "-v",
        f"{identity.accent}+{identity.variant}",
        "-p",
        str(identity.pitch),
        "-s",
        str(identity.speed),
        "--stdout",
        text,
    ]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise AVDataError(
            f"espeak-ng failed ({' '.join(cmd[:-1])}): {proc.stderr.decode(errors='replace')}"
        )
    y, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    y = soxr.resample(y[:, 0], sr, SAMPLE_RATE).astype(np.float32)
    y = y[: int(max_seconds * SAMPLE_RATE)]
    peak = float(np.abs(y).max()) or 1.0
    return (0.9 * y / peak).astype(np.float32)


def frame_envelope(y: np.ndarray) -> np.ndarray:
    """RMS of each video frame's 40 ms of audio, scaled to [0, 1] by the utterance's maximum."""
    hop = SAMPLE_RATE // FPS
    n = max(1, int(np.ceil(len(y) / hop)))
    pad = np.zeros(n * hop, np.float32)
    pad[: len(y)] = y
    rms = np.sqrt((pad.reshape(n, hop) ** 2).mean(axis=1))
    return rms / max(float(rms.max()), 1e-8)


def render_face_video(
    identity: Identity, envelope: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """The identity's face talking: uint8 ``(len(envelope), size, size, 3)``.

    Per utterance: head shift (±8 % of the frame), scale (±8 %), tilt (±0.15 rad), light gain
    (0.6..1.2) with a linear gradient, background colour; per frame: a small jitter of the head
    and Gaussian pixel noise (σ = 0.03). The mouth's height follows ``envelope``.
    """
    g = (np.arange(size) + 0.5) / size
    yy, xx = np.meshgrid(g, g, indexing="ij")
    cx0, cy0 = 0.5 + rng.uniform(-0.08, 0.08, 2)
    scale = rng.uniform(0.92, 1.08)
    tilt = rng.uniform(-0.15, 0.15)
    gain = rng.uniform(0.6, 1.2)
    grad = rng.uniform(-0.3, 0.3, 2)
    light = gain * (1.0 + grad[0] * (xx - 0.5) + grad[1] * (yy - 0.5))
    background = rng.uniform(0.0, 1.0, 3)
    cos, sin = np.cos(tilt), np.sin(tilt)
    frames = np.empty((len(envelope), size, size, 3), np.uint8)
    for t, env in enumerate(envelope):
        cx, cy = np.array([cx0, cy0]) + rng.normal(0.0, 0.005, 2)
        # face coordinates: rotate and scale the pixel grid around the head centre
        u = (cos * (xx - cx) + sin * (yy - cy)) / scale
        v = (-sin * (xx - cx) + cos * (yy - cy)) / scale
        img = np.broadcast_to(background, (size, size, 3)).copy()
        head = (u / identity.face_w) ** 2 + (v / identity.face_h) ** 2 <= 1.0
        hair = head & (v < -0.6 * identity.face_h)
        img[head] = identity.skin
        img[hair] = identity.hair
        ey = -0.25 * identity.face_h
        for side in (-1.0, 1.0):
            eye = (u - side * identity.eye_dx) ** 2 + (v - ey) ** 2 <= identity.eye_r**2
            img[eye] = identity.eyes
        my = 0.45 * identity.face_h
        mouth_h = 0.01 + 0.07 * float(env)
        mouth = ((u / identity.mouth_w) ** 2 + ((v - my) / mouth_h) ** 2) <= 1.0
        img[mouth] = (0.35, 0.05, 0.05)
        img = img * light[..., None] + rng.normal(0.0, 0.03, img.shape)
        frames[t] = np.clip(img * 255.0, 0, 255).astype(np.uint8)
    return frames


def _sentence(rng: np.random.Generator, lo: int, hi: int) -> str:
    n = int(rng.integers(lo, hi + 1))
    return " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), n))


def espeak_version() -> str:
    proc = subprocess.run([espeak_path(), "--version"], capture_output=True, check=False)
    return proc.stdout.decode(errors="replace").strip()


def build_av_speakers(
    out: str | Path, config: AVSpeakersConfig | None = None, *, show_progress: bool = True
) -> Path:
    """Build the dataset into ``out`` (see the module docstring); returns the manifest path.

    The folder is written under a temporary name and moved into place at the end, so ``out``
    is either complete or absent. ``out`` must not exist yet.
    """
    import soundfile as sf

    from musicrep.utils import progress

    cfg = config or AVSpeakersConfig()
    if not 0.0 <= cfg.coupling <= 1.0:
        raise ValueError(f"coupling must be in [0, 1]; got {cfg.coupling}")
    if cfg.n_train_speakers < 2 or cfg.n_test_speakers < 2 or cfg.utterances_per_speaker < 2:
        raise ValueError("need at least 2 train speakers, 2 test speakers, 2 utterances each")
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another --out")
    espeak_path()
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    rng = np.random.default_rng(cfg.seed)
    n_spk = cfg.n_train_speakers + cfg.n_test_speakers
    # the latent factors come from their own stream, so every other draw (traits' own parts,
    # sentences, poses, noise) is the same for every coupling
    latent_rng = np.random.default_rng([cfg.seed, 1])
    identities = make_identities(n_spk, rng, cfg.coupling, latent_rng)
    # each utterance gets its own generator, so a change in one cannot shift the others
    seeds = rng.integers(0, 2**63 - 1, (n_spk, cfg.utterances_per_speaker))
    rows = ["path,labels,split,video"]
    test_utts: list[tuple[str, str]] = []
    jobs = [(s, u) for s in range(n_spk) for u in range(cfg.utterances_per_speaker)]
    for s, u in progress(
        jobs, desc="av-speakers", unit="utt", disable=None if show_progress else True
    ):
        ident = identities[s]
        r = np.random.default_rng(int(seeds[s, u]))
        y = speak(ident, _sentence(r, *cfg.words_per_utterance), cfg.max_seconds)
        video = render_face_video(ident, frame_envelope(y), cfg.size, r)
        wav = f"audio/{ident.name}/u{u:02d}.wav"
        npy = f"video/{ident.name}/u{u:02d}.npy"
        for p in (wav, npy):
            (tmp / p).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp / wav, y, SAMPLE_RATE, subtype="PCM_16")
        np.save(tmp / npy, video)
        if s < cfg.n_train_speakers:
            split = "valid" if u == cfg.utterances_per_speaker - 1 else "train"
        else:
            split = "test"
            test_utts.append((ident.name, wav))
        rows.append(f"{wav},{ident.name},{split},{npy}")
    (tmp / "manifest.csv").write_text("\n".join(rows) + "\n")
    trials = [f"{int(a[0] == b[0])} {a[1]} {b[1]}" for a, b in itertools.combinations(test_utts, 2)]
    (tmp / "trials_test.txt").write_text("\n".join(trials) + "\n")
    meta = {
        "config": asdict(cfg),
        "espeak_ng": espeak_version(),
        "sample_rate": SAMPLE_RATE,
        "fps": FPS,
        "identities": [asdict(i) for i in identities],
        "train_speakers": [i.name for i in identities[: cfg.n_train_speakers]],
        "test_speakers": [i.name for i in identities[cfg.n_train_speakers :]],
    }
    (tmp / "av_speakers.json").write_text(json.dumps(meta, indent=1) + "\n")
    tmp.rename(out)
    return out / "manifest.csv"
