"""The built-in synthesizer: output contract, determinism, and the acoustics of each family."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import signal

from musicrep import ConfigError
from musicrep.data import synth
from musicrep.data.synth import (
    INSTRUMENTS,
    Part,
    fluidsynth_available,
    instrument_family,
    list_instruments,
    render,
    render_fluidsynth,
    render_note,
)

SR = 16000


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def cents(f: float, ref: float) -> float:
    return 1200.0 * np.log2(f / ref)


def spectrum(y: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrum (Hann window, 4x zero padding) and its frequencies."""
    n = 4 * len(y)
    mag = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=n))
    return np.fft.rfftfreq(n, 1.0 / sr), mag


def peak_hz(y: np.ndarray, lo: float, hi: float, sr: int = SR) -> float:
    """Frequency of the strongest spectral peak in [lo, hi] Hz (parabolic interpolation)."""
    freqs, mag = spectrum(y, sr)
    band = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    i = band[np.argmax(mag[band])]
    a, b, c = np.log(mag[i - 1 : i + 2] + 1e-12)
    return float(freqs[i] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0]))


def peak_mag(y: np.ndarray, f: float, rel: float = 0.02) -> float:
    freqs, mag = spectrum(y)
    return float(mag[(freqs > f * (1 - rel)) & (freqs < f * (1 + rel))].max())


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def chorale(instrument: str = "organ") -> list[Part]:
    rows = [[72, 74, 76, 77], [67, 69, 67, 69], [64, 65, 64, 60], [48, 50, 52, 53]]
    onset = np.arange(4) * 0.5
    return [Part(instrument, p, onset, np.full(4, 0.5), np.full(4, 0.7)) for p in rows]


# ---------------------------------------------------------------------------------------------
# Output contract
# ---------------------------------------------------------------------------------------------


def test_output_dtype_length_and_peak():
    y = render(chorale("choir_aahs"), sr=SR, seconds=1.5, rng=np.random.default_rng(1))
    assert y.dtype == np.float32 and y.shape == (int(1.5 * SR),)
    assert np.isclose(np.abs(y).max(), 10 ** (-1 / 20), rtol=1e-4)
    y6 = render(chorale(), sr=22050, seconds=0.5, peak_db=-6.0)
    assert y6.shape == (11025,) and np.isclose(np.abs(y6).max(), 10 ** (-6 / 20), rtol=1e-4)
    # seconds=None: up to the last note end (2.0 s, +- onset jitter) plus the organ's release
    full = render(chorale(), sr=SR)
    expected = (2.0 + INSTRUMENTS["organ"].release) * SR
    assert abs(len(full) - expected) < 5 * synth.TIMING_JITTER * SR
    assert render([], sr=SR, seconds=1.0).shape == (SR,)
    assert not np.any(render([], sr=SR, seconds=1.0))


def test_deterministic_given_rng():
    parts = chorale("violin")
    a = render(parts, seconds=1.0, rng=np.random.default_rng(7))
    b = render(parts, seconds=1.0, rng=np.random.default_rng(7))
    c = render(parts, seconds=1.0, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    n1 = render_note("piano", 60, 0.3, 0.8, SR, np.random.default_rng(3))
    n2 = render_note("piano", 60, 0.3, 0.8, SR, np.random.default_rng(3))
    np.testing.assert_array_equal(n1, n2)


def test_notes_cut_at_the_end_and_skipped_after_it():
    part = Part("organ", [60, 64], [0.0, 2.0], [5.0, 0.5], [0.8, 0.8])
    y = render([part], seconds=1.0, reverb=0.0)
    assert y.shape == (SR,)
    assert abs(y[-1]) < 1e-3 * np.abs(y).max()  # faded, not chopped
    assert abs(peak_hz(y[: SR // 2], 200, 300) - midi_hz(60)) < 2.0


# ---------------------------------------------------------------------------------------------
# Acoustics
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "pitch"), [("piano", 57), ("piano", 72), ("flute", 69), ("flute", 79)]
)
def test_fundamental_at_requested_pitch(instrument, pitch):
    y = render_note(instrument, pitch, 1.0, 0.8, SR, np.random.default_rng(pitch))
    f0 = midi_hz(pitch)
    found = peak_hz(y, f0 / np.sqrt(2), f0 * np.sqrt(2))
    # within the random per-note detune (tuning_spread cents, s.d.) and far below a semitone
    assert abs(cents(found, f0)) < max(3 * INSTRUMENTS[instrument].tuning_spread, 3.0)
    freqs, mag = spectrum(y)
    below = mag[freqs < f0 / np.sqrt(2)]
    assert below.max() < 0.03 * mag.max()  # no energy an octave below: f0 is the fundamental


def test_out_of_range_pitches_are_transposed_by_octaves():
    assert synth.fit_range("flute", 36) == 60  # flute range starts at C4 = 60
    assert synth.fit_range("flute", 110) == 86
    assert synth.fit_range("cello", 48.5) == 48.5
    y = render_note("flute", 36, 0.6, 0.8, SR, np.random.default_rng(0))
    assert abs(cents(peak_hz(y, 150, 400), midi_hz(60))) < 20


def test_clarinet_even_harmonics_weaker_than_odd():
    pitch = 55  # G3, 196 Hz: harmonics 1..8 lie below the tone-hole cut-off
    y = render_note("clarinet", pitch, 1.0, 0.7, SR, np.random.default_rng(0))
    f0 = midi_hz(pitch)
    db = {k: 20 * np.log10(peak_mag(y, k * f0)) for k in range(1, 9)}
    for k in (2, 4, 6):
        assert db[k] < db[k - 1] - 6 and db[k] < db[k + 1] - 6
    assert np.mean([db[k] for k in (2, 4, 6, 8)]) < np.mean([db[k] for k in (1, 3, 5, 7)]) - 12


@pytest.mark.parametrize(
    "instrument", ["acoustic_guitar", "harp", "harpsichord", "pizzicato_strings", "marimba"]
)
def test_plucked_and_struck_notes_decay(instrument):
    duration = 2.0
    y = render_note(instrument, 62, duration, 0.8, SR, np.random.default_rng(0))
    held = y[: int(duration * SR)]
    q = len(held) // 4
    assert rms(held[-q:]) < 0.2 * rms(held[:q])


def test_organ_sustains_and_releases():
    y = render_note("organ", 62, 2.0, 0.8, SR, np.random.default_rng(0))
    early, late = rms(y[int(0.1 * SR) : int(0.6 * SR)]), rms(y[int(1.4 * SR) : int(1.9 * SR)])
    assert 0.8 < late / early < 1.25
    assert len(y) == int(np.ceil((2.0 + INSTRUMENTS["organ"].release) * SR))
    assert rms(y[-int(0.01 * SR) :]) < 0.01 * early  # the release has faded to ~-60 dB


def test_piano_partials_are_inharmonic_and_organ_partials_are_not():
    pitch, k = 57, 10
    f0 = midi_hz(pitch)
    piano = render_note("piano", pitch, 1.0, 0.9, SR, np.random.default_rng(0))
    f1 = peak_hz(piano, 0.97 * f0, 1.03 * f0)
    fk = peak_hz(piano, (k - 0.3) * f1, (k + 0.6) * f1)
    assert fk / f1 > k * 1.005  # stiff string: f_n = n f0 sqrt(1 + B n^2), sharp of k f1
    organ = render_note("organ", pitch, 1.0, 0.9, SR, np.random.default_rng(0))
    g1 = peak_hz(organ, 0.97 * f0, 1.03 * f0)
    g8 = peak_hz(organ, 7.7 * g1, 8.3 * g1)
    assert abs(g8 / g1 - 8) < 8 * 5e-4


def test_vibrato_instruments_have_harmonic_partials():
    pitch = 62
    f0 = midi_hz(pitch)
    for name in ("oboe", "choir_aahs", "cello"):
        y = render_note(name, pitch, 1.5, 0.8, SR, np.random.default_rng(0))
        f1 = peak_hz(y, 0.95 * f0, 1.05 * f0)
        for k in range(2, 7):
            # vibrato and chorus widen the peaks; a wrong harmonic number would be off by >= 1
            assert abs(peak_hz(y, (k - 0.4) * f1, (k + 0.4) * f1) / f1 - k) < 0.1, name


def test_wavetable_matches_a_direct_sum_of_sines():
    harmonics = np.array([1, 2, 5, 9])
    amps, phases = np.array([1.0, 0.5, 0.3, 0.1]), np.array([0.0, 1.0, 2.0, 3.0])
    table = synth._wavetable(harmonics, amps, phases)
    cycles = np.linspace(0, 3.7, 5000)
    direct = np.sum(amps * np.sin(2 * np.pi * np.outer(cycles, harmonics) + phases), axis=1)
    np.testing.assert_allclose(synth._read_wavetable(table, cycles), direct, atol=2e-3)


def instantaneous_frequency(y: np.ndarray, f0: float) -> np.ndarray:
    """Instantaneous frequency (Hz) of the fundamental, smoothed over 20 ms."""
    sos = signal.butter(4, [0.85 * f0, 1.15 * f0], btype="bandpass", fs=SR, output="sos")
    phase = np.unwrap(np.angle(signal.hilbert(signal.sosfiltfilt(sos, y))))
    freq = np.diff(phase) * SR / (2 * np.pi)
    return np.convolve(freq, np.ones(320) / 320, mode="same")


def test_vibrato_present_for_violin_absent_for_organ():
    pitch = 69
    f0 = midi_hz(pitch)
    window = slice(int(0.6 * SR), int(1.8 * SR))
    violin = render_note("violin", pitch, 2.0, 0.8, SR, np.random.default_rng(0))
    organ = render_note("organ", pitch, 2.0, 0.8, SR, np.random.default_rng(0))
    fv = instantaneous_frequency(violin, f0)[window]
    fo = instantaneous_frequency(organ, f0)[window]
    assert np.ptp(1200 * np.log2(fv / f0)) > 15  # +-18 cents nominal
    assert np.ptp(1200 * np.log2(fo / f0)) < 2
    # the modulation is periodic at the vibrato rate (~5.5 Hz)
    mod = np.abs(np.fft.rfft((fv - fv.mean()) * np.hanning(len(fv)), n=8 * len(fv)))
    rate = np.fft.rfftfreq(8 * len(fv), 1 / SR)[np.argmax(mod)]
    assert abs(rate - INSTRUMENTS["violin"].vibrato_rate) < 1.0


def test_brightness_grows_with_velocity_and_brass_attack():
    def centroid(y):
        freqs, mag = spectrum(y)
        return float(np.sum(freqs * mag) / np.sum(mag))

    soft = render_note("piano", 60, 0.5, 0.2, SR, np.random.default_rng(0))[: SR // 4]
    loud = render_note("piano", 60, 0.5, 1.0, SR, np.random.default_rng(0))[: SR // 4]
    assert centroid(loud) > 1.3 * centroid(soft)
    horn = render_note("trumpet", 60, 0.5, 0.8, SR, np.random.default_rng(0))
    start, later = horn[int(0.005 * SR) : int(0.025 * SR)], horn[int(0.2 * SR) : int(0.22 * SR)]
    assert centroid(later) > 1.2 * centroid(start)


def test_reverb_lengthens_the_tail():
    part = [Part("organ", [72], [0.1], [0.2], [0.9])]  # note + release are over by ~0.4 s
    dry = render(part, seconds=1.0, reverb=0.0, rng=np.random.default_rng(0))
    wet = render(part, seconds=1.0, reverb=0.5, rng=np.random.default_rng(0))
    tail = slice(int(0.42 * SR), int(0.6 * SR))
    assert rms(dry[tail]) < 1e-5
    assert rms(wet[tail]) > 3e-3  # the room rings on (RT60 0.3-0.8 s)
    ir = synth.room_impulse_response(SR, 0.5, np.random.default_rng(0))
    assert np.isclose(np.sum(ir.astype(np.float64) ** 2), 1.0, rtol=1e-4)
    late, early = rms(ir[int(0.35 * SR) : int(0.45 * SR)]), rms(ir[int(0.05 * SR) : int(0.15 * SR)])
    assert 20 * np.log10(late / early) < -25  # ~-60 dB per RT60 => -36 dB over 0.3 s


# ---------------------------------------------------------------------------------------------
# Instruments and errors
# ---------------------------------------------------------------------------------------------


def test_every_instrument_renders_a_scale():
    names = list_instruments()
    assert len(names) >= 12 and names == sorted(INSTRUMENTS)
    families = {instrument_family(n) for n in names}
    assert len(families) >= 8
    assert instrument_family("violin") == "bowed" and instrument_family("piano") == "keyboard"
    rng = np.random.default_rng(0)
    for name in names:
        inst = INSTRUMENTS[name]
        assert inst.highest - inst.lowest >= 12 and 0 <= inst.gm_program <= 127
        scale = inst.lowest + np.array([0, 2, 4, 5, 7, 9, 11, 12])
        part = Part(name, scale, np.arange(8) * 0.08, np.full(8, 0.08), np.full(8, 0.7))
        y = render([part], seconds=0.8, rng=rng)
        assert np.all(np.isfinite(y)), name
        assert rms(y) > 0.01, name


def test_unknown_instrument_raises_config_error():
    with pytest.raises(ConfigError, match="valid instruments: .*piano"):
        Part("kazoo", [60], [0.0], [1.0], [0.5])
    with pytest.raises(ConfigError, match="did you mean violin"):
        render_note("violn", 60, 1.0, 0.5, SR, None)
    with pytest.raises(ConfigError):
        instrument_family("kazoo")


def test_invalid_inputs_raise_config_error():
    with pytest.raises(ConfigError, match="onset has shape"):
        Part("piano", [60, 62], [0.0], [1.0, 1.0], [0.5, 0.5])
    with pytest.raises(ConfigError, match="NaN"):
        Part("piano", [np.nan], [0.0], [1.0], [0.5])
    with pytest.raises(ConfigError, match="reverb"):
        render(chorale(), seconds=0.5, reverb=1.5)
    with pytest.raises(ConfigError, match="sample rate"):
        render(chorale(), sr=0)


# ---------------------------------------------------------------------------------------------
# MIDI / FluidSynth
# ---------------------------------------------------------------------------------------------


def test_midi_bytes_is_a_valid_standard_midi_file():
    from music21 import midi

    parts = chorale("violin")[:2] + [Part("piano", [40], [0.25], [1.0], [1.0])]
    mf = midi.MidiFile()
    mf.readstr(synth.midi_bytes(parts))
    assert mf.format == 1 and len(mf.tracks) == 4
    ons = [e for t in mf.tracks for e in t.events if e.type == midi.ChannelVoiceMessages.NOTE_ON]
    assert len(ons) == 9 and {e.pitch for e in ons} >= {72, 67, 40}
    programs = {
        (e.channel, e.data)
        for t in mf.tracks
        for e in t.events
        if e.type == midi.ChannelVoiceMessages.PROGRAM_CHANGE
    }
    assert programs == {(1, 40), (2, 40), (3, 0)}  # music21 numbers channels from 1


def test_fluidsynth_missing_gives_install_hint(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert not fluidsynth_available()
    with pytest.raises(ConfigError, match="apt-get install fluidsynth"):
        render_fluidsynth(chorale())


@pytest.mark.skipif(not fluidsynth_available(), reason="fluidsynth or a GM soundfont missing")
def test_render_fluidsynth():
    parts = [Part("flute", [69], [0.0], [1.0], [0.8])]
    y = render_fluidsynth(parts, sr=SR, seconds=1.5, reverb=0.0)
    assert y.dtype == np.float32 and y.shape == (int(1.5 * SR),)
    assert np.isclose(np.abs(y).max(), 10 ** (-1 / 20), rtol=1e-4)
    assert abs(cents(peak_hz(y[:SR], 300, 600), 440.0)) < 30
    assert len(render_fluidsynth(parts, sr=SR)) > SR  # seconds=None: the note and its tail
