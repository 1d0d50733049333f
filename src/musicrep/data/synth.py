"""A small, fast music synthesizer for rendering symbolic scores (the built-in corpus) to audio.

Each :class:`Instrument` is a parametric timbre built from the acoustics of its family, so that
models trained on the renders have to tell instruments and families apart the way they differ in
real recordings:

* **struck / plucked strings** (piano, harpsichord, guitar, harp, pizzicato): a fast attack, then
  every partial decays exponentially on its own, the higher ones faster (frequency-dependent
  damping ``d(f) = d1 + hf_damping (f^2 - f1^2) / 1 kHz^2``, the loss model behind Karplus-Strong
  strings); stiff strings have inharmonic partials ``f_n = n f0 sqrt(1 + B n^2)`` (Fletcher &
  Rossing, *The Physics of Musical Instruments*, the piano chapter); the excitation point
  notches partials (``|sin(pi n beta)|``); the piano adds a two-stage ("prompt" then
  "aftersound") decay, and its brightness grows with velocity;
* **bowed strings**: a sawtooth-like source ``1/n`` through body resonances (formants), a slow
  attack, delayed vibrato (~5.5 Hz) and bow noise;
* **woodwinds**: flutes with few partials, breath noise and a "chiff"; the clarinet's odd harmonics
  dominate below its tone-hole cut-off; oboe and bassoon have formant-like (nasal) envelopes;
* **brass**: the higher a partial the later it speaks, so brightness rises during the attack, and
  the spectrum brightens with velocity;
* **organ**: additive stops, steady, no vibrato, velocity-insensitive;
* **voices**: a glottal-like source through vowel formants, vibrato and a chorus of detuned voices;
* **mallets**: inharmonic bar modes (marimba 1 : 3.9 : 9.2), fast upper-mode decay, a mallet click
  and, for the vibraphone, the motor's tremolo.

Synthesis is vectorised numpy. Notes without vibrato are a sum of exponentially damped sinusoids,
evaluated exactly by a blocked complex-exponential factorisation (``x[bB + tau]`` =
``Im(sum_j M[tau, j] W[b, j])``, one float32 matrix product per note, cost independent of how
long the partials ring); notes with vibrato have a static spectrum, so they read a band-limited
single-period wavetable (built with an inverse real FFT, read with linear interpolation) at the
frequency-modulated phase. Noises are white noise through a 2nd-order band-pass filter. The
mix goes through a synthetic room (exponentially decaying noise impulse response with faster
high-frequency decay and a few early reflections, RT60 drawn from :data:`REVERB_RT60_RANGE`)
applied by overlap-add FFT convolution. ``benchmarks/synth.py`` measures the speed.

Choices made here (not from a paper): pitches outside an instrument's range are transposed by
whole octaves into the range (so any score renders); notes with a non-positive duration or
velocity are skipped; loudness is ``velocity ** (1.6 * velocity_sensitivity)``; each note is
normalised to the same RMS before loudness is applied, so instruments have equal loudness at equal
velocity; humanisation (all from ``rng``) is a per-note random detune (``tuning_spread`` cents,
standard deviation), onset jitter (:data:`TIMING_JITTER` seconds) and velocity jitter
(:data:`VELOCITY_JITTER`), random partial phases, and per-note vibrato rate/depth variation.
"""

from __future__ import annotations

import difflib
import functools
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from musicrep.errors import ConfigError

__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "Part",
    "fit_range",
    "fluidsynth_available",
    "instrument_family",
    "list_instruments",
    "midi_bytes",
    "render",
    "render_fluidsynth",
    "render_note",
    "room_impulse_response",
]

# ----------------------------------------------------------------------------------------------
# Constants (the one place for the synthesizer's global numbers)
# ----------------------------------------------------------------------------------------------

#: Range of the room's reverberation time (seconds to -60 dB); each render draws one from ``rng``.
REVERB_RT60_RANGE = (0.3, 0.8)
#: Standard deviation of the random onset shift of each note (seconds).
TIMING_JITTER = 0.006
#: Standard deviation of the random velocity change of each note (velocity units, 0..1).
VELOCITY_JITTER = 0.04
#: Exponent mapping velocity (0..1) to amplitude, scaled by ``Instrument.velocity_sensitivity``.
VELOCITY_EXPONENT = 1.6
#: Partials above this fraction of the sample rate are dropped (band-limiting).
MAX_PARTIAL_FRACTION = 0.45
#: Partials weaker than this (relative to the strongest) are dropped.
MIN_PARTIAL_AMPLITUDE = 1e-3
#: Length of the fade-out applied to the end of every render (seconds).
END_FADE = 0.03
#: Most points of the single-period wavetable used for notes with vibrato.
WAVETABLE_SIZE = 4096
#: Notes with vibrato update their instantaneous frequency every this many samples.
VIBRATO_CONTROL_STEP = 16
#: Fixed seed of the room used by :func:`render_fluidsynth` (it takes no ``rng``).
FLUIDSYNTH_ROOM_SEED = 0

_LN1000 = float(np.log(1000.0))  # amplitude decay constant: exp(-_LN1000 t / T60) is -60 dB at T60
_MIDDLE_C_HZ = 261.6255653005986
_EXCITATIONS = ("sustained", "plucked", "struck")


# ----------------------------------------------------------------------------------------------
# Instruments
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instrument:
    """One timbre: the parameters of a parametric note model.

    Amplitude of partial ``n`` (frequency ``f_n``) before normalisation::

        harmonic_gains[n-1] * n ** -(rolloff - brightness_velocity * (2 velocity - 1))
        * even gain (even n, harmonic instruments) * (0.1 + 0.9 |sin(pi n excite_position)|)
        * 10 ** (body_db(f_n) / 20)

    where ``body_db`` is a sum of Lorentzian bumps ``gain / (1 + ((f - centre) / (bw / 2))^2)``
    (``formants``) and a 2nd-order low-pass at ``highcut_hz``.

    Parameters
    ----------
    name, family : str
        Instrument name and family (``keyboard``, ``plucked``, ``bowed``, ``flute``, ``reed``,
        ``brass``, ``organ``, ``vocal``, ``mallet``).
    gm_program : int
        General MIDI program, 0-based, used by :func:`render_fluidsynth`.
    lowest, highest : int
        Playable range as MIDI note numbers; other pitches are transposed by octaves into it.
    excitation : {"sustained", "plucked", "struck"}
        Sustained notes follow the ADSR envelope; plucked and struck notes ring with per-partial
        exponential decays (``decay_t60``, ``hf_damping``) until the note-off (then ``release``).
    rolloff : float
        Source spectral slope: partial amplitude ``~ n ** -rolloff`` (1 = sawtooth).
    brightness_velocity : float
        How much ``rolloff`` decreases from velocity 0.5 to 1 (and increases towards 0).
    harmonic_gains : tuple of float
        Extra gains of the first partials (organ stops, flute spectrum, mallet modes); further
        harmonics continue from the last gain, halving per partial.
    even_gain, even_gain_cutoff_hz : float
        Gain of even harmonics (clarinet ~0.08), rising to 1 above the cut-off (0 = never).
    excite_position : float
        Relative pluck/strike position on the string (0 = no comb filtering).
    formants : tuple of (centre Hz, bandwidth Hz, gain dB)
        Body resonances / vocal formants of the fixed spectral envelope.
    highcut_hz : float
        2nd-order low-pass corner of the spectral envelope (0 = none).
    partial_ratios : tuple of float
        Explicit partial frequency ratios (mallet bar modes); empty = harmonic series.
    inharmonicity : float
        Stiff-string coefficient ``B`` at middle C; doubles per octave up (halves per octave
        down, floored at B/4). Partials are ``n f0 sqrt(1 + B n^2) / sqrt(1 + B)`` so the
        fundamental sits exactly on the requested pitch.
    max_partials : int
        Most partials synthesised (before band-limiting).
    attack, decay, sustain, release : float
        Envelope: attack time (s, raised-sine), decay time constant (s) to the ``sustain`` level
        (sustained notes), and release T60 (s) after the note-off.
    decay_t60, decay_pitch_exponent : float
        Plucked/struck: T60 (s) of the fundamental at middle C, scaled by
        ``(f0 / 261.6 Hz) ** -decay_pitch_exponent``.
    hf_damping : float
        Extra decay rate (1/s) of a partial at 1 kHz above the fundamental's, growing with
        frequency squared (high partials die first).
    prompt_fraction, prompt_speed : float
        Two-stage decay: this fraction of each partial decays ``prompt_speed`` times faster.
    attack_brightness : float
        Brass: partial ``n`` rises with time constant ``attack_brightness * log2(n)`` seconds.
    velocity_sensitivity : float
        0 = loudness independent of velocity (organ, harpsichord), 1 = full range.
    vibrato_rate, vibrato_depth, vibrato_delay : float
        Vibrato frequency (Hz), peak depth (cents) and onset delay (s; it fades in over the same
        time). Instruments with vibrato must be sustained and harmonic.
    tremolo_rate, tremolo_depth : float
        Amplitude modulation (vibraphone motor): rate (Hz) and depth (0..1).
    noise_level, noise_burst, noise_burst_time : float
        Band-pass noise (breath, bow, wind) as an RMS ratio to the tone, following the envelope,
        plus an attack burst (chiff, bow scratch, hammer, mallet click) decaying with time
        constant ``noise_burst_time`` (s).
    noise_centre_hz, noise_q : float
        Centre and quality factor of the noise band-pass.
    chorus_voices, chorus_cents : int, float
        Ensemble: voices per note, each detuned uniformly within +-``chorus_cents`` and offset
        by up to 20 ms.
    tuning_spread : float
        Standard deviation (cents) of the random per-note detune.
    """

    name: str
    family: str
    gm_program: int
    lowest: int
    highest: int
    excitation: str = "sustained"
    rolloff: float = 1.0
    brightness_velocity: float = 0.0
    harmonic_gains: tuple[float, ...] = ()
    even_gain: float = 1.0
    even_gain_cutoff_hz: float = 0.0
    excite_position: float = 0.0
    formants: tuple[tuple[float, float, float], ...] = ()
    highcut_hz: float = 0.0
    partial_ratios: tuple[float, ...] = ()
    inharmonicity: float = 0.0
    max_partials: int = 40
    attack: float = 0.01
    decay: float = 0.1
    sustain: float = 1.0
    release: float = 0.1
    decay_t60: float = 0.0
    decay_pitch_exponent: float = 0.0
    hf_damping: float = 0.0
    prompt_fraction: float = 0.0
    prompt_speed: float = 1.0
    attack_brightness: float = 0.0
    velocity_sensitivity: float = 1.0
    vibrato_rate: float = 0.0
    vibrato_depth: float = 0.0
    vibrato_delay: float = 0.0
    tremolo_rate: float = 0.0
    tremolo_depth: float = 0.0
    noise_level: float = 0.0
    noise_burst: float = 0.0
    noise_burst_time: float = 0.01
    noise_centre_hz: float = 2000.0
    noise_q: float = 0.7
    chorus_voices: int = 1
    chorus_cents: float = 0.0
    tuning_spread: float = 3.0

    def __post_init__(self) -> None:
        problems = []
        if self.excitation not in _EXCITATIONS:
            problems.append(f"excitation must be one of {_EXCITATIONS}")
        if not 0 <= self.gm_program <= 127:
            problems.append("gm_program must be in 0..127")
        if self.highest - self.lowest < 12:
            problems.append("the range (lowest..highest) must span at least an octave")
        if self.excitation != "sustained" and self.decay_t60 <= 0:
            problems.append("plucked/struck instruments need decay_t60 > 0")
        if self.vibrato_depth > 0 and (
            self.excitation != "sustained"
            or self.partial_ratios
            or self.inharmonicity
            or self.attack_brightness
        ):
            problems.append(
                "vibrato needs a sustained, harmonic spectrum without attack_brightness"
            )
        if min(self.attack, self.decay, self.release, self.noise_burst_time) <= 0:
            problems.append("attack, decay, release and noise_burst_time must be > 0")
        if self.max_partials < 1 or self.chorus_voices < 1:
            problems.append("max_partials and chorus_voices must be >= 1")
        if problems:
            raise ConfigError(f"instrument {self.name!r}: " + "; ".join(problems))


def _inst(name: str, family: str, gm_program: int, lowest: int, highest: int, **kw) -> Instrument:
    return Instrument(name, family, gm_program, lowest, highest, **kw)


_VIOLIN_BODY = (
    (280.0, 90.0, 6.0),
    (460.0, 200.0, 5.0),
    (1500.0, 500.0, -5.0),
    (2800.0, 1400.0, 7.0),
)
_CELLO_BODY = ((110.0, 40.0, 5.0), (220.0, 100.0, 6.0), (580.0, 250.0, 3.0), (1900.0, 1200.0, 6.0))
_VOWEL_A = (
    (750.0, 130.0, 22.0),
    (1200.0, 160.0, 17.0),
    (2600.0, 260.0, 10.0),
    (3300.0, 330.0, 6.0),
)
_VOWEL_U = ((320.0, 90.0, 22.0), (850.0, 130.0, 11.0), (2300.0, 250.0, 2.0))

#: The built-in timbres, by name. General MIDI programs are 0-based.
INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in [
        # --- keyboards --------------------------------------------------------------------------
        _inst("piano", "keyboard", 0, 21, 108, excitation="struck", rolloff=1.0,
              brightness_velocity=0.6, excite_position=1 / 8, inharmonicity=4e-4, max_partials=48,
              attack=0.002, release=0.25, decay_t60=9.0, decay_pitch_exponent=0.8,
              hf_damping=1.5, prompt_fraction=0.65, prompt_speed=5.0, noise_burst=0.15,
              noise_burst_time=0.008, noise_centre_hz=400.0, noise_q=0.8, tuning_spread=0.5),
        _inst("harpsichord", "keyboard", 6, 29, 89, excitation="plucked", rolloff=0.6,
              excite_position=0.12, inharmonicity=5e-5, max_partials=60,
              formants=((900.0, 600.0, 3.0),), attack=0.001, release=0.08, decay_t60=4.0,
              decay_pitch_exponent=0.6, hf_damping=0.4, velocity_sensitivity=0.15,
              noise_burst=0.3, noise_burst_time=0.004, noise_centre_hz=3000.0, noise_q=1.0,
              tuning_spread=1.0),
        # --- plucked strings --------------------------------------------------------------------
        _inst("acoustic_guitar", "plucked", 24, 40, 88, excitation="plucked", rolloff=1.5,
              brightness_velocity=0.5, excite_position=0.18, inharmonicity=1e-5,
              formants=((100.0, 40.0, 5.0), (200.0, 90.0, 5.0), (3000.0, 2500.0, -4.0)),
              attack=0.002, release=0.15, decay_t60=3.5, decay_pitch_exponent=0.5,
              hf_damping=3.0, noise_burst=0.1, noise_burst_time=0.006, noise_centre_hz=2000.0,
              tuning_spread=3.0),
        _inst("harp", "plucked", 46, 24, 103, excitation="plucked", rolloff=2.0,
              brightness_velocity=0.4, excite_position=0.3, inharmonicity=2e-5,
              formants=((250.0, 300.0, 4.0),), attack=0.003, release=1.2, decay_t60=5.0,
              decay_pitch_exponent=0.7, hf_damping=2.0, noise_burst=0.05,
              noise_burst_time=0.005, noise_centre_hz=1500.0, tuning_spread=2.0),
        _inst("pizzicato_strings", "plucked", 45, 28, 96, excitation="plucked", rolloff=1.6,
              brightness_velocity=0.5, excite_position=0.25, formants=_VIOLIN_BODY[:2],
              attack=0.002, release=0.1, decay_t60=0.8, decay_pitch_exponent=0.4,
              hf_damping=8.0, noise_burst=0.15, noise_burst_time=0.004, noise_centre_hz=1500.0,
              chorus_voices=2, chorus_cents=6.0, tuning_spread=4.0),
        # --- bowed strings ----------------------------------------------------------------------
        _inst("violin", "bowed", 40, 55, 103, rolloff=1.0, brightness_velocity=0.3,
              formants=_VIOLIN_BODY, highcut_hz=6000.0, attack=0.08, decay=0.15, sustain=0.85,
              release=0.18, vibrato_rate=5.5, vibrato_depth=18.0, vibrato_delay=0.15,
              noise_level=0.04, noise_burst=0.12, noise_burst_time=0.04, noise_centre_hz=3500.0,
              noise_q=0.5, tuning_spread=4.0),
        _inst("cello", "bowed", 42, 36, 76, rolloff=1.0, brightness_velocity=0.3,
              formants=_CELLO_BODY, highcut_hz=4500.0, max_partials=60, attack=0.1, decay=0.2,
              sustain=0.85, release=0.25, vibrato_rate=5.0, vibrato_depth=16.0,
              vibrato_delay=0.18, noise_level=0.04, noise_burst=0.1, noise_burst_time=0.05,
              noise_centre_hz=2000.0, noise_q=0.5, tuning_spread=4.0),
        # --- flutes -----------------------------------------------------------------------------
        _inst("flute", "flute", 73, 60, 96, rolloff=0.5, brightness_velocity=0.8,
              harmonic_gains=(1.0, 0.45, 0.2, 0.1, 0.06, 0.035, 0.02, 0.012), max_partials=8,
              attack=0.06, decay=0.1, sustain=0.9, release=0.12, vibrato_rate=5.0,
              vibrato_depth=12.0, vibrato_delay=0.2, noise_level=0.08, noise_burst=0.25,
              noise_burst_time=0.03, noise_centre_hz=2500.0, noise_q=0.4, tuning_spread=4.0),
        _inst("recorder", "flute", 74, 72, 98, rolloff=1.0, harmonic_gains=(1.0, 0.2, 0.12, 0.04),
              max_partials=6, attack=0.03, decay=0.05, sustain=0.95, release=0.06,
              velocity_sensitivity=0.5, noise_level=0.04, noise_burst=0.3,
              noise_burst_time=0.015, noise_centre_hz=3000.0, noise_q=0.6, tuning_spread=5.0),
        # --- reeds ------------------------------------------------------------------------------
        _inst("clarinet", "reed", 71, 50, 94, rolloff=1.0, brightness_velocity=0.5,
              even_gain=0.08, even_gain_cutoff_hz=2000.0, highcut_hz=3500.0, max_partials=30,
              attack=0.04, decay=0.1, sustain=0.9, release=0.1, noise_level=0.02,
              noise_centre_hz=2000.0, tuning_spread=3.0),
        _inst("oboe", "reed", 68, 58, 91, rolloff=0.5, brightness_velocity=0.4,
              formants=((1100.0, 400.0, 12.0), (2700.0, 800.0, 6.0)), highcut_hz=5000.0,
              max_partials=30, attack=0.03, decay=0.08, sustain=0.9, release=0.1,
              vibrato_rate=5.2, vibrato_depth=8.0, vibrato_delay=0.25, noise_level=0.02,
              noise_centre_hz=2500.0, tuning_spread=3.0),
        _inst("bassoon", "reed", 70, 34, 75, rolloff=0.7, brightness_velocity=0.4,
              formants=((480.0, 200.0, 12.0), (1150.0, 300.0, 8.0), (2900.0, 600.0, 2.0)),
              highcut_hz=3000.0, max_partials=40, attack=0.04, decay=0.1, sustain=0.9,
              release=0.12, vibrato_rate=5.0, vibrato_depth=6.0, vibrato_delay=0.3,
              noise_level=0.02, noise_centre_hz=1500.0, tuning_spread=3.0),
        # --- brass ------------------------------------------------------------------------------
        _inst("trumpet", "brass", 56, 54, 84, rolloff=0.9, brightness_velocity=1.0,
              formants=((1300.0, 700.0, 8.0), (2600.0, 900.0, 3.0)), highcut_hz=6000.0,
              max_partials=30, attack=0.02, decay=0.08, sustain=0.85, release=0.08,
              attack_brightness=0.025, noise_burst=0.08, noise_burst_time=0.01,
              noise_centre_hz=1500.0, tuning_spread=3.0),
        _inst("french_horn", "brass", 60, 34, 77, rolloff=1.5, brightness_velocity=0.9,
              formants=((450.0, 300.0, 8.0),), highcut_hz=2200.0, max_partials=40, attack=0.05,
              decay=0.1, sustain=0.9, release=0.15, attack_brightness=0.04, noise_burst=0.05,
              noise_burst_time=0.015, noise_centre_hz=800.0, tuning_spread=3.0),
        _inst("trombone", "brass", 57, 40, 72, rolloff=1.1, brightness_velocity=1.0,
              formants=((550.0, 350.0, 6.0), (1200.0, 600.0, 4.0)), highcut_hz=3500.0,
              max_partials=40, attack=0.03, decay=0.1, sustain=0.85, release=0.12,
              attack_brightness=0.035, noise_burst=0.06, noise_burst_time=0.012,
              noise_centre_hz=1000.0, tuning_spread=3.0),
        # --- organ ------------------------------------------------------------------------------
        # Principal 8' + octave 4' + twelfth 2 2/3' + fifteenth 2' + a small mixture.
        _inst("organ", "organ", 19, 24, 96, rolloff=0.0,
              harmonic_gains=(1.0, 0.7, 0.25, 0.5, 0.12, 0.22, 0.05, 0.3, 0.04, 0.06, 0.02, 0.05),
              max_partials=12, attack=0.03, decay=0.05, sustain=1.0, release=0.08,
              velocity_sensitivity=0.0, noise_level=0.01, noise_burst=0.08,
              noise_burst_time=0.02, noise_centre_hz=3000.0, tuning_spread=0.3),
        # --- voices -----------------------------------------------------------------------------
        _inst("choir_aahs", "vocal", 52, 40, 81, rolloff=1.0, brightness_velocity=0.4,
              formants=_VOWEL_A, highcut_hz=4000.0, max_partials=30, attack=0.15, decay=0.2,
              sustain=0.9, release=0.25, vibrato_rate=5.5, vibrato_depth=25.0,
              vibrato_delay=0.12, noise_level=0.03, noise_centre_hz=3000.0, noise_q=0.5,
              chorus_voices=3, chorus_cents=10.0, tuning_spread=5.0),
        _inst("voice_oohs", "vocal", 53, 40, 81, rolloff=1.2, brightness_velocity=0.3,
              formants=_VOWEL_U, highcut_hz=3000.0, max_partials=24, attack=0.12, decay=0.2,
              sustain=0.9, release=0.2, vibrato_rate=5.2, vibrato_depth=20.0,
              vibrato_delay=0.15, noise_level=0.03, noise_centre_hz=2500.0, noise_q=0.5,
              tuning_spread=5.0),
        # --- mallets ----------------------------------------------------------------------------
        _inst("marimba", "mallet", 12, 45, 96, excitation="struck", rolloff=0.8,
              brightness_velocity=0.8, partial_ratios=(1.0, 3.9, 9.2),
              harmonic_gains=(1.0, 0.7, 0.4), attack=0.001, release=0.5, decay_t60=1.2,
              decay_pitch_exponent=0.8, hf_damping=6.0, noise_burst=0.3,
              noise_burst_time=0.002, noise_centre_hz=2500.0, noise_q=0.7, tuning_spread=0.5),
        _inst("vibraphone", "mallet", 11, 53, 89, excitation="struck", rolloff=0.8,
              brightness_velocity=0.6, partial_ratios=(1.0, 4.0, 10.0),
              harmonic_gains=(1.0, 0.5, 0.15), attack=0.001, release=0.25, decay_t60=5.0,
              decay_pitch_exponent=0.5, hf_damping=1.5, tremolo_rate=5.5, tremolo_depth=0.35,
              noise_burst=0.15, noise_burst_time=0.002, noise_centre_hz=3500.0,
              tuning_spread=0.5),
    ]
}  # fmt: skip


def _instrument(name: str) -> Instrument:
    try:
        return INSTRUMENTS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(INSTRUMENTS), n=3)
        raise ConfigError(
            f"unknown instrument {name!r}; valid instruments: {', '.join(list_instruments())}",
            f"did you mean {', '.join(close)}?" if close else None,
        ) from None


def list_instruments() -> list[str]:
    """Names of the built-in instruments, sorted."""
    return sorted(INSTRUMENTS)


def instrument_family(name: str) -> str:
    """Family of instrument ``name`` (``keyboard``, ``plucked``, ``bowed``, ``flute``, ``reed``,
    ``brass``, ``organ``, ``vocal`` or ``mallet``); unknown names raise :class:`ConfigError`."""
    return _instrument(name).family


def fit_range(instrument: str, pitch: float) -> float:
    """Transpose ``pitch`` (MIDI) by whole octaves into the instrument's range.

    Pitches already in ``[lowest, highest]`` are returned unchanged; others move by the fewest
    octaves that bring them into range.
    """
    inst = _instrument(instrument)
    p = float(pitch)
    if p < inst.lowest:
        p += 12.0 * np.ceil((inst.lowest - p) / 12.0)
    elif p > inst.highest:
        p -= 12.0 * np.ceil((p - inst.highest) / 12.0)
    return p


# ----------------------------------------------------------------------------------------------
# Parts
# ----------------------------------------------------------------------------------------------


@dataclass
class Part:
    """The notes one instrument plays.

    Parameters
    ----------
    instrument : str
        A name from :func:`list_instruments`.
    pitch : np.ndarray, shape (n,)
        MIDI note numbers (fractional values are detuned accordingly).
    onset : np.ndarray, shape (n,)
        Note starts in seconds.
    duration : np.ndarray, shape (n,)
        Note lengths in seconds (until the note-off; the release follows). Notes with a
        duration <= 0 are skipped.
    velocity : np.ndarray, shape (n,)
        Loudness 0..1 (clipped); notes with velocity <= 0 are skipped.
    """

    instrument: str
    pitch: np.ndarray
    onset: np.ndarray
    duration: np.ndarray
    velocity: np.ndarray

    def __post_init__(self) -> None:
        _instrument(self.instrument)
        self.pitch = np.atleast_1d(np.asarray(self.pitch, dtype=np.float64))
        n = len(self.pitch)
        self.onset = np.atleast_1d(np.asarray(self.onset, dtype=np.float64))
        self.duration = np.atleast_1d(np.asarray(self.duration, dtype=np.float64))
        self.velocity = np.atleast_1d(np.asarray(self.velocity, dtype=np.float64))
        arrays = {"pitch": self.pitch, "onset": self.onset, "duration": self.duration,
                  "velocity": self.velocity}  # fmt: skip
        for key, a in arrays.items():
            if a.ndim != 1 or len(a) != n:
                raise ConfigError(
                    f"Part({self.instrument!r}): {key} has shape {a.shape}, expected ({n},) "
                    "like pitch"
                )
            if not np.all(np.isfinite(a)):
                raise ConfigError(f"Part({self.instrument!r}): {key} contains NaN or inf")
        if np.any(self.onset < 0):
            raise ConfigError(f"Part({self.instrument!r}): negative onset times")

    def __len__(self) -> int:
        return len(self.pitch)


# ----------------------------------------------------------------------------------------------
# Note synthesis
# ----------------------------------------------------------------------------------------------


def _body_db(inst: Instrument, freqs: np.ndarray) -> np.ndarray:
    db = np.zeros_like(freqs)
    for centre, bandwidth, gain in inst.formants:
        db += gain / (1.0 + ((freqs - centre) / (0.5 * bandwidth)) ** 2)
    if inst.highcut_hz > 0:
        db -= 10.0 * np.log10(1.0 + (freqs / inst.highcut_hz) ** 4)
    return db


def _partials(
    inst: Instrument, pitch: float, f0: float, velocity: float, nyquist_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and unit-energy amplitudes of a note's partials, band-limited."""
    if inst.partial_ratios:
        ratios = np.asarray(inst.partial_ratios, dtype=np.float64)
    else:
        n = np.arange(1, inst.max_partials + 1, dtype=np.float64)
        ratios = n
        if inst.inharmonicity > 0:
            b = inst.inharmonicity * float(np.clip(2.0 ** ((pitch - 60.0) / 12.0), 0.25, None))
            ratios = n * np.sqrt(1.0 + b * n**2) / np.sqrt(1.0 + b)
    freqs = f0 * ratios
    index = np.arange(1, len(ratios) + 1, dtype=np.float64)
    rolloff = max(inst.rolloff - inst.brightness_velocity * (2.0 * velocity - 1.0), 0.0)
    amps = index**-rolloff
    if inst.harmonic_gains:
        gains = np.zeros(len(ratios))
        k = min(len(gains), len(inst.harmonic_gains))
        gains[:k] = inst.harmonic_gains[:k]
        if not inst.partial_ratios:  # beyond the listed gains: the last one, halving per partial
            gains[k:] = inst.harmonic_gains[-1] * 0.5 ** np.arange(1, len(gains) - k + 1)
        amps = amps * gains
    if inst.even_gain != 1.0 and not inst.partial_ratios:
        even = index % 2 == 0
        g = np.full(len(ratios), inst.even_gain)
        if inst.even_gain_cutoff_hz > 0:  # smooth return of even harmonics above the cut-off
            x = np.clip((freqs / inst.even_gain_cutoff_hz - 1.0), 0.0, 1.0)
            g = inst.even_gain + (1.0 - inst.even_gain) * x * x * (3.0 - 2.0 * x)
        amps = np.where(even, amps * g, amps)
    if inst.excite_position > 0:
        amps = amps * (0.1 + 0.9 * np.abs(np.sin(np.pi * index * inst.excite_position)))
    amps = amps * 10.0 ** (_body_db(inst, freqs) / 20.0)
    keep = (freqs < nyquist_hz) & (amps >= MIN_PARTIAL_AMPLITUDE * amps.max(initial=0.0))
    freqs, amps = freqs[keep], amps[keep]
    energy = np.sqrt(np.sum(amps**2))
    return freqs, (amps / energy if energy > 0 else amps)


def _damped_sum(
    freqs: np.ndarray, decays: np.ndarray, amps: np.ndarray, phases: np.ndarray, n: int, sr: int
) -> np.ndarray:
    """``x[t] = sum_j amps_j exp(-decays_j t / sr) sin(2 pi freqs_j t / sr + phases_j)``.

    Evaluated exactly by splitting ``t = b B + tau``: the complex exponential factorises into a
    ``(B, J)`` matrix over ``tau`` and a ``(blocks, J)`` matrix over ``b``, so the whole note is
    one real float32 matrix product of inner size ``2 J`` (imaginary part of the complex one).
    """
    if n <= 0 or len(freqs) == 0:
        return np.zeros(max(n, 0), dtype=np.float32)
    block = int(np.clip(2 ** np.round(np.log2(np.sqrt(n))), 16, 512))
    nb = -(-n // block)
    s = (-decays + 2j * np.pi * freqs) / sr  # per-sample complex exponent, (J,)
    m = np.exp(np.multiply.outer(np.arange(block), s))  # (B, J)
    w = amps * np.exp(np.multiply.outer(np.arange(nb) * float(block), s) + 1j * phases)  # (nb, J)
    left = np.concatenate([m.real, m.imag], axis=1).astype(np.float32)
    right = np.concatenate([w.imag, w.real], axis=1).astype(np.float32)
    return (right @ left.T).reshape(-1)[:n]  # (nb, B) row-major = time order


def _wavetable(harmonics: np.ndarray, amps: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """One period of ``sum_k amps_k sin(2 pi harmonics_k x + phases_k)`` plus the wrap point.

    The table has ``64 * max(harmonics)`` points (a power of two, 256..WAVETABLE_SIZE), so linear
    interpolation errs by less than ~-60 dB on the highest harmonic.
    """
    size = int(np.clip(2 ** np.ceil(np.log2(64 * harmonics.max(initial=1))), 256, WAVETABLE_SIZE))
    spec = np.zeros(size // 2 + 1, dtype=np.complex128)
    # sin(theta) = Re(-1j e^{i theta}); irfft(X)[t] = (2 / N) sum_k Re(X_k e^{2 pi i k t / N})
    np.add.at(spec, harmonics, -1j * amps * np.exp(1j * phases) * (size / 2))
    table = np.fft.irfft(spec, n=size)
    return np.append(table, table[0]).astype(np.float32)


def _read_wavetable(table: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Read ``table`` (one period + wrap point) at phase ``cycles`` (float64) with linear interp."""
    pos = (cycles - np.floor(cycles)) * (len(table) - 1)
    i0 = pos.astype(np.intp)
    frac = (pos - i0).astype(np.float32)
    lo = table[i0]
    return lo + frac * (table[i0 + 1] - lo)


def _vibrato_cycles(
    inst: Instrument, f0: float, depth: float, n: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Phase (in cycles, float64, (n,)) of a fundamental with delayed sinusoidal vibrato.

    The instantaneous frequency is evaluated every VIBRATO_CONTROL_STEP samples and held in
    between (the phase stays continuous; the steps are below 2 cents).
    """
    step = VIBRATO_CONTROL_STEP
    rate = inst.vibrato_rate * float(np.clip(1.0 + 0.08 * rng.standard_normal(), 0.8, 1.2))
    phase = rng.uniform(0.0, 2.0 * np.pi)
    tc = np.arange(-(-n // step)) * (step / sr)
    fade = np.clip(tc / inst.vibrato_delay - 1.0, 0.0, 1.0) if inst.vibrato_delay > 0 else 1.0
    freq = f0 * (1.0 + depth * fade * np.sin(2.0 * np.pi * rate * tc + phase))
    start = np.concatenate([[0.0], np.cumsum(freq[:-1])]) * (step / sr)
    return (start[:, None] + np.multiply.outer(freq, np.arange(step) / sr)).reshape(-1)[:n]


@functools.lru_cache(maxsize=256)
def _noise_filter(centre_hz: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray, float]:
    """2nd-order Butterworth band-pass (b, a) around ``centre_hz`` (bandwidth ``centre / q``,
    edges geometric about the centre, clipped to 20 Hz .. 0.45 sr) and its white-noise RMS gain."""
    half = 0.5 / q
    lo = centre_hz * (np.sqrt(1.0 + half**2) - half)
    hi = centre_hz * (np.sqrt(1.0 + half**2) + half)
    hi = min(hi, 0.45 * sr)
    lo = min(max(lo, 20.0), 0.5 * hi)
    b, a = signal.butter(1, [lo, hi], btype="bandpass", fs=sr)
    impulse = np.zeros(4096)
    impulse[0] = 1.0
    gain = float(np.sqrt(np.sum(signal.lfilter(b, a, impulse) ** 2)))
    return b, a, gain


def _noise(inst: Instrument, env: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Band-pass noise following ``env`` (steady part) plus an attack burst; RMS re tone."""
    n = len(env)
    burst_len = min(n, int(np.ceil(6.0 * inst.noise_burst_time * sr)))
    length = n if inst.noise_level > 0 else burst_len
    if length <= 0:
        return np.zeros(0, dtype=np.float32)
    b, a, gain = _noise_filter(inst.noise_centre_hz, inst.noise_q, sr)
    white = rng.standard_normal(length, dtype=np.float32)
    band = signal.lfilter(b, a, white).astype(np.float32) * np.float32(np.sqrt(0.5) / gain)
    shape = np.zeros(length, dtype=np.float32)
    if inst.noise_level > 0:
        shape += np.float32(inst.noise_level) * env[:length]
    if inst.noise_burst > 0:
        t = np.arange(burst_len, dtype=np.float32) / sr
        ramp = np.minimum(t / 0.001, 1.0)  # 1 ms onset so the burst does not click
        shape[:burst_len] += inst.noise_burst * ramp * np.exp(-t / inst.noise_burst_time)
    return band * shape


def _envelope(inst: Instrument, n: int, duration: float, sr: int, rng) -> np.ndarray:
    """Amplitude envelope (n,): raised-sine attack, decay to sustain, exponential release."""
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    env = np.sin(np.float32(np.pi / 2) * np.minimum(t / np.float32(inst.attack), 1.0)) ** 2
    if inst.excitation == "sustained" and inst.sustain < 1.0:
        after = np.maximum(t - np.float32(inst.attack), 0.0)
        env *= inst.sustain + (1.0 - inst.sustain) * np.exp(-after / np.float32(inst.decay))
    off = int(round(duration * sr))
    if off < n:
        env[off:] *= np.exp(-_LN1000 * (t[off:] - np.float32(off / sr)) / np.float32(inst.release))
    if inst.tremolo_depth > 0:
        phase = rng.uniform(0, 2 * np.pi)
        env *= 1.0 - 0.5 * inst.tremolo_depth * (
            1.0 - np.cos(np.float32(2 * np.pi * inst.tremolo_rate) * t + np.float32(phase))
        )
    return env


def _voice(
    inst: Instrument,
    pitch: float,
    cents: float,
    velocity: float,
    n: int,
    sr: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The tonal part of one voice of one note (n,), unit-energy spectrum, no envelope."""
    f0 = 440.0 * 2.0 ** ((pitch + cents / 100.0 - 69.0) / 12.0)
    vib = 2.0 ** (inst.vibrato_depth / 1200.0) - 1.0 if inst.vibrato_depth > 0 else 0.0
    nyquist = MAX_PARTIAL_FRACTION * sr / (1.0 + vib)
    freqs, amps = _partials(inst, pitch, f0, velocity, nyquist)
    phases = rng.uniform(0.0, 2.0 * np.pi, len(freqs))
    if vib > 0:  # static spectrum, frequency-modulated phase: wavetable read
        depth = vib * float(np.clip(1.0 + 0.2 * rng.standard_normal(), 0.5, 1.5))
        harmonics = np.rint(freqs / f0).astype(np.intp)
        cycles = _vibrato_cycles(inst, f0, depth, n, sr, rng)
        return _read_wavetable(_wavetable(harmonics, amps, phases), cycles)
    if inst.excitation == "sustained":
        decays = np.zeros(len(freqs))
    else:
        t60 = inst.decay_t60 * (f0 / _MIDDLE_C_HZ) ** -inst.decay_pitch_exponent
        d1 = _LN1000 / t60
        decays = d1 + inst.hf_damping * np.maximum(freqs**2 - f0**2, 0.0) / 1e6
    parts_f, parts_d, parts_a, parts_p = [freqs], [decays], [amps], [phases]
    if inst.prompt_fraction > 0:  # two-stage decay: a fast "prompt" share of every partial
        parts_a = [amps * (1.0 - inst.prompt_fraction), amps * inst.prompt_fraction]
        parts_f, parts_d, parts_p = [freqs] * 2, [decays, decays * inst.prompt_speed], [phases] * 2
    if inst.attack_brightness > 0:  # partial n rises with time constant ab * log2(n)
        ratio = freqs / f0
        tau = inst.attack_brightness * np.log2(np.maximum(ratio, 1.0))
        late = tau > 1e-4
        parts_f.append(freqs[late])
        parts_d.append(decays[late] + 1.0 / tau[late])
        parts_a.append(-amps[late])
        parts_p.append(phases[late])
    return _damped_sum(
        np.concatenate(parts_f),
        np.concatenate(parts_d),
        np.concatenate(parts_a),
        np.concatenate(parts_p),
        n,
        sr,
    )


def _render_note(
    inst: Instrument,
    pitch: float,
    duration: float,
    velocity: float,
    sr: int,
    rng: np.random.Generator,
    max_samples: int | None = None,
) -> np.ndarray:
    pitch = fit_range(inst.name, pitch)
    n = int(np.ceil((duration + inst.release) * sr))
    if max_samples is not None:
        n = min(n, max_samples)
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    velocity = float(np.clip(velocity, 0.0, 1.0))
    detune = inst.tuning_spread * float(np.clip(rng.standard_normal(), -3.0, 3.0))
    env = _envelope(inst, n, duration, sr, rng)
    if inst.chorus_voices == 1:
        tone = _voice(inst, pitch, detune, velocity, n, sr, rng)
    else:
        tone = np.zeros(n, dtype=np.float32)
        for _ in range(inst.chorus_voices):
            cents = detune + rng.uniform(-inst.chorus_cents, inst.chorus_cents)
            delay = min(int(rng.uniform(0.0, 0.02) * sr), n)
            tone[delay:] += _voice(inst, pitch, cents, velocity, n - delay, sr, rng)
        tone *= np.float32(1.0 / np.sqrt(inst.chorus_voices))
    out = tone * env
    if inst.noise_level > 0 or inst.noise_burst > 0:
        noise = _noise(inst, env, sr, rng)
        out[: len(noise)] += noise
    loudness = velocity ** (VELOCITY_EXPONENT * inst.velocity_sensitivity)
    return out * np.float32(loudness)


def render_note(
    instrument: str,
    pitch: float,
    duration: float,
    velocity: float,
    sr: int,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """Synthesise one note, unnormalised, dry.

    Parameters
    ----------
    instrument : str
        A name from :func:`list_instruments`.
    pitch : float
        MIDI note number (69 = A4 = 440 Hz); transposed by octaves into the instrument's range.
    duration : float
        Seconds until the note-off.
    velocity : float
        Loudness 0..1.
    sr : int
        Sample rate in Hz.
    rng : np.random.Generator or None
        Source of the humanisation (detune, partial phases, vibrato, noise); None = seed 0.

    Returns
    -------
    np.ndarray, shape (ceil((duration + release) * sr),), float32
        The note and its release tail: RMS about ``0.7 * velocity ** (1.6 * sensitivity)`` at
        full level (before the decay), peaks a few times the RMS.
    """
    inst = _instrument(instrument)
    _check_sr(sr)
    rng = np.random.default_rng(0) if rng is None else rng
    return _render_note(inst, float(pitch), float(duration), float(velocity), int(sr), rng)


# ----------------------------------------------------------------------------------------------
# Mixing, room, normalisation
# ----------------------------------------------------------------------------------------------


def _check_sr(sr: int) -> None:
    if not (isinstance(sr, int | np.integer) and 1000 <= sr <= 384000):
        raise ConfigError(f"sample rate {sr!r} is not an integer in 1000..384000 Hz")


def _check_reverb(reverb: float) -> None:
    if not 0.0 <= reverb <= 1.0:
        raise ConfigError(f"reverb must be in 0..1 (0 = dry), got {reverb}")


def _check_parts(parts: list[Part]) -> None:
    for i, part in enumerate(parts):
        if not isinstance(part, Part):
            raise ConfigError(f"parts[{i}] is a {type(part).__name__}, expected a synth.Part")


def room_impulse_response(sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response (unit energy, no direct sound).

    Exponentially decaying Gaussian noise (the high band, above ~3 kHz, decays twice as fast as
    the low band), fading in over 10 ms after a 5 ms pre-delay, plus six early reflections in
    5-40 ms. Length: ``rt60`` seconds.
    """
    n = max(int(rt60 * sr), 16)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    b, a = signal.butter(1, min(3000.0, 0.4 * sr), fs=sr)
    low = signal.lfilter(b, a, noise)
    high = noise - low
    ir = low * np.exp(-_LN1000 * t / rt60) + high * np.exp(-2 * _LN1000 * t / rt60)
    ir *= np.clip((t - 0.005) / 0.01, 0.0, 1.0)
    for delay, gain in zip(rng.uniform(0.005, 0.04, 6), rng.uniform(0.3, 0.7, 6)):
        i = int(delay * sr)
        if i < n:
            ir[i] += gain * rng.choice([-1.0, 1.0]) * np.exp(-_LN1000 * delay / rt60) * 3.0
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def _finish(
    mix: np.ndarray, sr: int, reverb: float, room_rng: np.random.Generator, peak_db: float
) -> np.ndarray:
    """Room reverb (wet/dry mix), end fade, peak normalisation."""
    rt60 = room_rng.uniform(*REVERB_RT60_RANGE)
    ir_rng = np.random.default_rng(room_rng.integers(2**63))
    n = len(mix)
    if reverb > 0 and n > 0:
        wet = signal.oaconvolve(mix, room_impulse_response(sr, rt60, ir_rng))[:n]
        mix = (1.0 - reverb) * mix + reverb * wet.astype(np.float32)
    fade = min(n, int(END_FADE * sr))
    if fade > 0:
        mix[n - fade :] *= np.cos(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)) ** 2
    peak = float(np.max(np.abs(mix))) if n else 0.0
    if peak > 0:
        mix *= np.float32(10.0 ** (peak_db / 20.0) / peak)
    return mix.astype(np.float32, copy=False)


def render(
    parts: list[Part],
    sr: int = 16000,
    seconds: float | None = None,
    *,
    reverb: float = 0.25,
    rng: np.random.Generator | None = None,
    peak_db: float = -1.0,
) -> np.ndarray:
    """Render parts to a mono mix with the built-in synthesizer.

    Parameters
    ----------
    parts : list of Part
        The notes; each part's instrument from :func:`list_instruments`.
    sr : int
        Sample rate in Hz.
    seconds : float, optional
        Output length. Notes starting later are dropped, notes sounding at the end are cut and
        the last 30 ms faded out. None = up to the end of the last note's release.
    reverb : float
        Wet share of the room (0 = dry, 1 = only reverberant sound); the room's RT60 is drawn
        from :data:`REVERB_RT60_RANGE`.
    rng : np.random.Generator, optional
        Source of all randomness (humanisation, room); None = seed 0. The output is a pure
        function of the inputs and the generator's state.
    peak_db : float
        Peak level of the output in dBFS (silence stays zero).

    Returns
    -------
    np.ndarray, shape (num_samples,), float32
        ``num_samples = round(seconds * sr)`` or up to the last note end + release.

    Examples
    --------
    >>> import numpy as np
    >>> from musicrep.data.synth import Part, render
    >>> melody = Part("flute", pitch=[72, 74, 76], onset=[0, 0.5, 1.0], duration=[0.5] * 3,
    ...               velocity=[0.8] * 3)
    >>> render([melody], sr=16000, seconds=2.0).shape
    (32000,)
    """
    _check_sr(sr)
    if seconds is not None and not (np.isfinite(seconds) and seconds >= 0):
        raise ConfigError(f"seconds must be >= 0 or None, got {seconds}")
    rng = np.random.default_rng(0) if rng is None else rng
    note_rng, room_rng = (np.random.default_rng(s) for s in rng.integers(2**63, size=2))
    _check_parts(parts)
    _check_reverb(reverb)

    notes = []  # (instrument, pitch, onset, duration, velocity) after humanisation
    end = 0.0
    for part in parts:
        inst = _instrument(part.instrument)
        keep = (part.duration > 0) & (part.velocity > 0)
        k = int(keep.sum())
        onset = np.maximum(part.onset[keep] + TIMING_JITTER * note_rng.standard_normal(k), 0.0)
        vel = np.clip(part.velocity[keep] + VELOCITY_JITTER * note_rng.standard_normal(k), 0.05, 1)
        for p, o, d, v in zip(part.pitch[keep], onset, part.duration[keep], vel):
            notes.append((inst, float(p), float(o), float(d), float(v)))
            end = max(end, o + d + inst.release)
    n = int(round((end if seconds is None else seconds) * sr))
    mix = np.zeros(n, dtype=np.float32)
    for inst, pitch, onset, duration, velocity in notes:
        start = int(round(onset * sr))
        if start >= n:
            continue
        note = _render_note(inst, pitch, duration, velocity, sr, note_rng, max_samples=n - start)
        mix[start : start + len(note)] += note
    return _finish(mix, sr, reverb, room_rng, peak_db)


# ----------------------------------------------------------------------------------------------
# FluidSynth (optional, external program)
# ----------------------------------------------------------------------------------------------

#: Where :func:`render_fluidsynth` looks for a General MIDI soundfont when none is given
#: (after the ``MUSICREP_SOUNDFONT`` environment variable).
SOUNDFONT_GLOBS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/*.sf2",
    "/usr/share/sounds/sf3/*.sf3",
    "/usr/share/soundfonts/*.sf2",
    "/usr/share/soundfonts/*.sf3",
    "/usr/local/share/soundfonts/*.sf2",
    "/opt/homebrew/share/soundfonts/*.sf2",
    "~/.local/share/soundfonts/*.sf2",
)
_INSTALL_HINT = (
    "install FluidSynth and a General MIDI soundfont, e.g. `apt-get install fluidsynth "
    "fluid-soundfont-gm`, or pass soundfont=PATH (or set MUSICREP_SOUNDFONT)"
)
_TICKS_PER_QUARTER = 480
_TICKS_PER_SECOND = 960  # at the 120 bpm tempo written into the file


def _find_soundfont(soundfont: str | None) -> str | None:
    if soundfont is not None:
        return soundfont if Path(soundfont).expanduser().is_file() else None
    env = os.environ.get("MUSICREP_SOUNDFONT")
    if env and Path(env).expanduser().is_file():
        return str(Path(env).expanduser())
    for pattern in SOUNDFONT_GLOBS:
        found = sorted(glob.glob(os.path.expanduser(pattern)))
        if found:
            return found[0]
    return None


def fluidsynth_available(soundfont: str | None = None) -> bool:
    """Whether the ``fluidsynth`` program and a soundfont (given or found) are available."""
    return shutil.which("fluidsynth") is not None and _find_soundfont(soundfont) is not None


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, int, bytes]], end_tick: int) -> bytes:
    """A MIDI track chunk from (tick, order, message) events; note-offs sort before note-ons."""
    data, now = bytearray(), 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        data += _varlen(tick - now) + message
        now = tick
    data += _varlen(max(end_tick - now, 0)) + b"\xff\x2f\x00"
    return b"MTrk" + len(data).to_bytes(4, "big") + bytes(data)


def midi_bytes(parts: list[Part], tail: float = 1.0) -> bytes:
    """A format-1 standard MIDI file (120 bpm, 480 ticks per quarter) of ``parts``.

    Each part gets its own channel (9, the drum channel, is skipped) with its instrument's
    General MIDI program; with more than 15 parts, parts of the same instrument share a channel.
    Pitches are rounded to the nearest semitone after the octave fit into the instrument's
    range; velocities map to 1..127. The file ends ``tail`` seconds after the last note-off.
    """
    channels = [c for c in range(16) if c != 9]
    if len(parts) <= len(channels):
        assignment = list(range(len(parts)))
    else:
        names = list(dict.fromkeys(p.instrument for p in parts))
        if len(names) > len(channels):
            raise ConfigError(
                f"{len(names)} different instruments do not fit the 15 melodic MIDI channels"
            )
        assignment = [names.index(p.instrument) for p in parts]
    per_channel: dict[int, list[tuple[int, int, bytes]]] = {}
    last = 0
    for part, slot in zip(parts, assignment):
        inst = _instrument(part.instrument)
        ch = channels[slot]
        events = per_channel.setdefault(ch, [(0, 0, bytes([0xC0 | ch, inst.gm_program]))])
        for p, o, d, v in zip(part.pitch, part.onset, part.duration, part.velocity):
            if d <= 0 or v <= 0:
                continue
            key = int(np.clip(round(fit_range(inst.name, p)), 0, 127))
            vel = int(np.clip(round(v * 127), 1, 127))
            on, off = int(round(o * _TICKS_PER_SECOND)), int(round((o + d) * _TICKS_PER_SECOND))
            events.append((on, 2, bytes([0x90 | ch, key, vel])))
            events.append((max(off, on + 1), 1, bytes([0x80 | ch, key, 0])))
            last = max(last, off)
    end = last + int(tail * _TICKS_PER_SECOND)
    tempo = [(0, 0, b"\xff\x51\x03" + (500000).to_bytes(3, "big"))]
    tracks = [_track(tempo, end)] + [_track(ev, end) for _, ev in sorted(per_channel.items())]
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big")
    header += len(tracks).to_bytes(2, "big") + _TICKS_PER_QUARTER.to_bytes(2, "big")
    return header + b"".join(tracks)


def render_fluidsynth(
    parts: list[Part],
    sr: int = 16000,
    seconds: float | None = None,
    *,
    soundfont: str | None = None,
    reverb: float = 0.25,
    peak_db: float = -1.0,
) -> np.ndarray:
    """Render parts with the external FluidSynth program and a General MIDI soundfont.

    The parts are written to a temporary MIDI file (see :func:`midi_bytes`), rendered with
    ``fluidsynth -ni -F out.wav -r SR -g 0.5`` (FluidSynth's own reverb and chorus off), mixed to
    mono, trimmed or zero-padded to ``seconds`` (None: up to the last note-off plus the sound
    that rings on, trailing silence below -60 dB removed), passed through the same synthetic room
    as :func:`render` (a fixed room, seed :data:`FLUIDSYNTH_ROOM_SEED`) and peak-normalised.
    No humanisation is applied.

    Parameters
    ----------
    parts, sr, seconds, reverb, peak_db
        As in :func:`render`.
    soundfont : str, optional
        Path of a ``.sf2``/``.sf3`` soundfont; None = ``$MUSICREP_SOUNDFONT`` or the first found
        in :data:`SOUNDFONT_GLOBS`.

    Returns
    -------
    np.ndarray, shape (num_samples,), float32
    """
    import soundfile as sf

    _check_sr(sr)
    program = shutil.which("fluidsynth")
    if program is None:
        raise ConfigError("the `fluidsynth` program was not found on PATH", _INSTALL_HINT)
    font = _find_soundfont(soundfont)
    if font is None:
        where = soundfont if soundfont is not None else "the usual places"
        raise ConfigError(f"no soundfont found at {where}", _INSTALL_HINT)
    _check_parts(parts)
    _check_reverb(reverb)
    with tempfile.TemporaryDirectory(prefix="musicrep-fluidsynth-") as tmp:
        mid, wav = Path(tmp) / "score.mid", Path(tmp) / "out.wav"
        mid.write_bytes(midi_bytes(parts))
        cmd = [program, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(sr),
               "-O", "float", "-T", "wav", "-F", str(wav), font, str(mid)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not wav.is_file():
            raise ConfigError(
                f"fluidsynth failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}",
                f"check the soundfont {font} and the fluidsynth installation",
            )
        audio, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    mix = audio.mean(axis=1)
    if file_sr != sr:  # FluidSynth clamps unusual rates; bring the audio to the requested one
        import soxr

        mix = soxr.resample(mix, file_sr, sr).astype(np.float32)
    if seconds is None:
        loud = np.flatnonzero(np.abs(mix) > 1e-3 * max(float(np.abs(mix).max(initial=0)), 1e-12))
        n = int(loud[-1]) + 1 + int(0.05 * sr) if len(loud) else 0
    else:
        n = int(round(seconds * sr))
    mix = np.pad(mix[:n], (0, max(0, n - len(mix))))
    room = np.random.default_rng(FLUIDSYNTH_ROOM_SEED)
    return _finish(mix.astype(np.float32), sr, reverb, room, peak_db)
