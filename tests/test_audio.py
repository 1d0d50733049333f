"""musicrep.audio: decoding, mix-down, resampling, windows, streaming, chunking and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from musicrep import audio
from musicrep.errors import AudioError, ConfigError


def _stereo(seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    """(samples, 2): a 440 Hz tone on the left, a 660 Hz tone on the right."""
    return np.stack([tone(440, seconds, sr, 0.5), tone(660, seconds, sr, 0.3)], axis=1)


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)])


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize(
    ("ext", "subtype", "atol"),
    [("wav", "FLOAT", 0.0), ("wav", "PCM_16", 1 / 32768), ("flac", "PCM_16", 1 / 32768)],
)
def test_lossless_round_trip(tmp_path, ext, subtype, atol):
    x = _stereo(0.5)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 16000, subtype=subtype)
    wave, sr = audio.load(path, mono=False)
    assert sr == 16000
    assert wave.dtype == np.float32 and wave.shape == (2, len(x))
    np.testing.assert_allclose(wave, x.T, atol=atol)


def test_ogg_vorbis_round_trip_keeps_the_tone(tmp_path):
    x = tone(440, 1.0, 16000)
    path = tmp_path / "a.ogg"
    sf.write(path, x, 16000, format="OGG", subtype="VORBIS")
    wave, sr = audio.load(path)
    assert sr == 16000 and wave.dtype == np.float32 and wave.shape == x.shape
    assert abs(_peak_hz(wave, sr) - 440) < 2
    assert np.corrcoef(wave, x)[0, 1] > 0.99


def test_mp3_round_trip_keeps_the_tone(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    x = tone(440, 1.0, 16000)
    path = tmp_path / "a.mp3"
    sf.write(path, x, 16000, format="MP3")
    wave, sr = audio.load(path)
    assert sr == 16000 and wave.dtype == np.float32
    assert abs(len(wave) - len(x)) <= 1152  # at most one MPEG frame of encoder delay/padding
    assert abs(_peak_hz(wave, sr) - 440) < 2
    assert audio.info(path).format == "MP3"


def test_info_reports_the_header(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, _stereo(1.5, 22050), 22050, subtype="PCM_24")
    meta = audio.info(path)
    assert meta.path == path
    assert (meta.sample_rate, meta.channels, meta.frames) == (22050, 2, 33075)
    assert meta.duration == pytest.approx(1.5)
    assert (meta.format, meta.subtype) == ("FLAC", "PCM_24")


def test_stereo_mixes_down_to_the_channel_mean(tmp_path):
    x = _stereo(0.5)
    path = tmp_path / "s.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    wave, _ = audio.load(path)
    assert wave.shape == (len(x),)
    np.testing.assert_allclose(wave, x.mean(axis=1), atol=1e-7)


def test_mono_file_with_mono_false_is_two_dimensional(tmp_path):
    path = tmp_path / "m.wav"
    sf.write(path, tone(440, 0.25), 16000)
    wave, _ = audio.load(path, mono=False)
    assert wave.shape == (1, 4000)


# ------------------------------------------------------------------------------ resampling


def test_resampling_keeps_peak_frequency_and_length(tmp_path):
    path = tmp_path / "t.wav"
    sf.write(path, tone(440, 2.0, 44100), 44100, subtype="FLOAT")
    wave, sr = audio.load(path, sr=16000)
    assert sr == 16000 and wave.dtype == np.float32
    assert len(wave) == 32000
    assert abs(_peak_hz(wave, sr) - 440) < 1
    # against the analytic tone at the new rate, away from the resampler's edge transients
    ref = tone(440, 2.0, 16000)
    np.testing.assert_allclose(wave[500:-500], ref[500:-500], atol=2e-3)


def test_same_rate_is_not_resampled(tmp_path):
    x = tone(440, 0.5, 22050)
    path = tmp_path / "t.wav"
    sf.write(path, x, 22050, subtype="FLOAT")
    wave, sr = audio.load(path, sr=22050)
    assert sr == 22050
    np.testing.assert_array_equal(wave, x)


@pytest.mark.parametrize("sr", [0, -16000, 16000.5, float("nan")])
def test_bad_sample_rate_is_a_config_error(tmp_path, sr):
    path = tmp_path / "t.wav"
    sf.write(path, tone(440, 0.1), 16000)
    with pytest.raises(ConfigError, match="sample rate"):
        audio.load(path, sr=sr)
    with pytest.raises(ConfigError, match="sample rate"):
        audio.blocks(path, sr=sr)


# ------------------------------------------------------------------------------ windows


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_offset_duration_window_equals_slice_of_full_load(tmp_path, ext):
    x = _stereo(2.0)
    path = tmp_path / f"w.{ext}"
    sf.write(path, x, 16000)
    full, _ = audio.load(path)
    part, _ = audio.load(path, offset=0.25, duration=0.5)
    np.testing.assert_array_equal(part, full[4000:12000])
    tail, _ = audio.load(path, offset=1.5)
    np.testing.assert_array_equal(tail, full[24000:])
    # a window running past the end is shortened, as in librosa
    over, _ = audio.load(path, offset=1.75, duration=10.0)
    np.testing.assert_array_equal(over, full[28000:])


def test_window_is_read_by_seeking_not_by_decoding_everything(tmp_path, monkeypatch):
    path = tmp_path / "w.wav"
    sf.write(path, tone(440, 3.0), 16000)
    requested: list[int] = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    part, _ = audio.load(path, offset=1.0, duration=0.5)
    assert requested == [8000] and len(part) == 8000


def test_offset_beyond_end_is_an_audio_error(tmp_path):
    path = tmp_path / "t.wav"
    sf.write(path, tone(440, 1.0), 16000)
    with pytest.raises(AudioError, match="beyond the end") as err:
        audio.load(path, offset=1.0)
    assert err.value.path == str(path)
    with pytest.raises(AudioError, match="beyond the end"):
        audio.load(path, offset=5.0, duration=1.0)


@pytest.mark.parametrize(("offset", "duration"), [(-1.0, None), (0.0, 0.0), (0.0, -2.0)])
def test_bad_window_is_a_config_error(tmp_path, offset, duration):
    path = tmp_path / "t.wav"
    sf.write(path, tone(440, 1.0), 16000)
    with pytest.raises(ConfigError):
        audio.load(path, offset=offset, duration=duration)


# ------------------------------------------------------------------------------ streaming


def test_blocks_concatenate_to_load_exactly_without_resampling(tmp_path):
    x = _stereo(2.3)
    path = tmp_path / "b.flac"
    sf.write(path, x, 16000)
    parts = list(audio.blocks(path, block_seconds=0.5))
    assert [len(p) for p in parts] == [8000, 8000, 8000, 8000, 4800]
    np.testing.assert_array_equal(np.concatenate(parts), audio.load(path)[0])
    parts = list(audio.blocks(path, block_seconds=0.5, mono=False))
    assert all(p.shape[0] == 2 for p in parts)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), audio.load(path, mono=False)[0])


def test_blocks_with_resampling_match_load(tmp_path):
    x = _stereo(2.3, 44100)
    path = tmp_path / "b.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    parts = list(audio.blocks(path, sr=16000, block_seconds=0.3))
    sizes = [len(p) for p in parts]
    assert sizes[:-1] == [4800] * (len(parts) - 1) and 0 < sizes[-1] <= 4800
    streamed = np.concatenate(parts)
    whole, sr = audio.load(path, sr=16000)
    assert sr == 16000 and streamed.shape == whole.shape
    np.testing.assert_allclose(streamed[200:-200], whole[200:-200], atol=1e-4)


def test_blocks_is_a_lazy_generator_that_checks_the_file_at_call(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        audio.blocks(tmp_path / "missing.wav")
    path = tmp_path / "t.wav"
    sf.write(path, tone(440, 1.0), 16000)
    gen = audio.blocks(path, block_seconds=0.25)
    assert iter(gen) is gen
    assert len(next(gen)) == 4000


# ------------------------------------------------------------------------------ chunking


def test_chunk_zero_pads_the_last_chunk():
    x = np.arange(10, dtype=np.float32)
    out = audio.chunk(x, 4)
    assert out.shape == (3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 0]])


def test_chunk_repeat_and_drop_and_hop():
    x = np.arange(10)
    np.testing.assert_array_equal(audio.chunk(x, 4, pad="repeat")[-1], [8, 9, 0, 1])
    np.testing.assert_array_equal(audio.chunk(x, 4, pad="drop"), [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(
        audio.chunk(x, 4, hop=3, pad="drop"), [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    )
    np.testing.assert_array_equal(
        audio.chunk(x, 4, hop=3), [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    )
    np.testing.assert_array_equal(audio.chunk(x, 4, hop=6), [[0, 1, 2, 3], [6, 7, 8, 9]])
    np.testing.assert_array_equal(audio.chunk(x, 5), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])


def test_chunk_of_short_signal_gives_one_padded_chunk():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(audio.chunk(x, 5), [[1, 2, 3, 0, 0]])
    np.testing.assert_array_equal(audio.chunk(x, 5, pad="drop"), [[1, 2, 3, 0, 0]])
    np.testing.assert_array_equal(audio.chunk(x, 7, pad="repeat"), [[1, 2, 3, 1, 2, 3, 1]])


def test_chunk_returns_a_copy():
    x = np.arange(8, dtype=np.float32)
    out = audio.chunk(x, 4)
    out[0, 0] = 100
    assert x[0] == 0


@pytest.mark.parametrize(
    "kwargs", [{"length": 0}, {"length": 4, "hop": 0}, {"length": 4, "pad": "reflect"}]
)
def test_chunk_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        audio.chunk(np.zeros(10), **kwargs)


def test_chunk_rejects_multichannel_input():
    with pytest.raises(ConfigError, match="1-D"):
        audio.chunk(np.zeros((2, 10)), 4)


def test_equally_spaced_chunks_cover_the_track():
    x = np.arange(100)
    out = audio.equally_spaced_chunks(x, 10, 4)
    assert out.shape == (4, 10)
    np.testing.assert_array_equal(out[:, 0], [0, 30, 60, 90])
    np.testing.assert_array_equal(out[-1], x[-10:])
    np.testing.assert_array_equal(out[1], x[30:40])


def test_equally_spaced_chunks_won_et_al_arithmetic():
    x = np.arange(100)
    out = audio.equally_spaced_chunks(x, 10, 16, endpoint=False)
    assert out.shape == (16, 10)
    np.testing.assert_array_equal(out[:, 0], np.arange(16) * (90 // 16))


def test_equally_spaced_chunks_pad_short_signals():
    x = np.array([1.0, 2.0])
    out = audio.equally_spaced_chunks(x, 4, 3)
    np.testing.assert_array_equal(out, [[1, 2, 0, 0]] * 3)
    out = audio.equally_spaced_chunks(x, 5, 2, pad="repeat")
    np.testing.assert_array_equal(out, [[1, 2, 1, 2, 1]] * 2)


# ------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioError, match="file not found") as err:
        audio.load(path)
    assert str(path) in str(err.value) and err.value.hint
    with pytest.raises(AudioError, match="file not found"):
        audio.info(path)


def test_text_file_named_wav_is_not_audio(tmp_path):
    path = tmp_path / "page.wav"
    path.write_text("<html><body>404 Not Found</body></html>\n" * 20)
    with pytest.raises(AudioError, match="not a recognised audio file") as err:
        audio.load(path)
    assert str(path) in str(err.value) and "download" in err.value.hint


@pytest.mark.parametrize("keep", [0.5, 44 / 32044])
def test_truncated_wav(tmp_path, keep):
    good = tmp_path / "good.wav"
    sf.write(good, tone(440, 1.0), 16000, subtype="PCM_16")  # 44-byte header + 32000 bytes
    data = good.read_bytes()
    bad = tmp_path / "cut.wav"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(AudioError, match="truncated") as err:
        audio.load(bad)
    assert str(bad) in str(err.value)
    with pytest.raises(AudioError, match="truncated"):
        audio.blocks(bad)


def test_wav_cut_inside_the_header_is_corrupt(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(440, 1.0), 16000)
    bad = tmp_path / "cut.wav"
    bad.write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioError, match="corrupt or truncated"):
        audio.load(bad)


def test_truncated_flac_is_corrupt(tmp_path):
    good = tmp_path / "good.flac"
    sf.write(good, tone(440, 1.0), 16000)
    bad = tmp_path / "cut.flac"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(AudioError, match="corrupt or truncated"):
        audio.load(bad)


def test_streaming_wav_with_placeholder_sizes_is_accepted(tmp_path):
    """ffmpeg writing to a pipe leaves 0xFFFFFFFF sizes: complete files, not truncated ones."""
    path = tmp_path / "pipe.wav"
    sf.write(path, tone(440, 0.5), 16000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[4:8] = b"\xff\xff\xff\xff"
    at = data.find(b"data")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    wave, _ = audio.load(path)
    assert len(wave) == 8000


def test_zero_samples(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    assert audio.info(path).frames == 0
    with pytest.raises(AudioError, match="no audio samples"):
        audio.load(path)
    with pytest.raises(AudioError, match="no audio samples"):
        audio.blocks(path)


def _write_with_nans(path):
    x = tone(440, 1.0)
    x[[10, 20, 30]] = np.nan
    x[40] = np.inf
    sf.write(path, x, 16000, subtype="FLOAT")
    return x


def test_nan_samples_raise_by_default(tmp_path):
    path = tmp_path / "nan.wav"
    _write_with_nans(path)
    with pytest.raises(AudioError, match="4 NaN/Inf") as err:
        audio.load(path)
    assert "nan_policy" in err.value.hint
    with pytest.raises(AudioError, match="NaN/Inf"):
        list(audio.blocks(path))


def test_nan_policy_zero_sanitises_and_warns(tmp_path):
    path = tmp_path / "nan.wav"
    x = _write_with_nans(path)
    with pytest.warns(audio.NonFiniteAudioWarning, match="replaced 4 NaN/Inf") as rec:
        wave, _ = audio.load(path, nan_policy="zero")
    assert str(path) in str(rec[0].message)
    assert np.isfinite(wave).all()
    assert (wave[[10, 20, 30, 40]] == 0).all()
    np.testing.assert_array_equal(wave[41:], x[41:])
    with pytest.warns(audio.NonFiniteAudioWarning):
        streamed = np.concatenate(list(audio.blocks(path, sr=8000, nan_policy="zero")))
    assert np.isfinite(streamed).all()


def test_clean_file_does_not_warn(tmp_path):
    path = tmp_path / "ok.wav"
    sf.write(path, tone(440, 0.2), 16000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audio.load(path, nan_policy="zero")


def test_unknown_nan_policy(tmp_path):
    path = tmp_path / "ok.wav"
    sf.write(path, tone(440, 0.2), 16000)
    with pytest.raises(ConfigError, match="nan_policy"):
        audio.load(path, nan_policy="ignore")


def test_zero_byte_file_says_it_is_empty(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    for call in (audio.load, audio.info):
        with pytest.raises(AudioError, match=r"empty\.wav.*is empty \(0 bytes\)"):
            call(path)
