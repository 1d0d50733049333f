"""Audio input: decoding, mono mix-down, resampling, streaming and chunking.

Every function here returns the same kind of array, so the rest of musicrep never has to ask
how a waveform was made.

Conventions
-----------
* **Decoding** goes through ``soundfile`` (libsndfile): any format it reads works (WAV, FLAC,
  OGG/Vorbis, MP3 with libsndfile >= 1.1, AIFF, ...). Samples are ``float32``; integer PCM is
  scaled to ``[-1, 1)`` by libsndfile (a 16-bit sample ``s`` becomes ``s / 32768``).
* **Shapes** follow librosa: mono output is ``(samples,)``; with ``mono=False`` the output is
  ``(channels, samples)``. Unlike librosa, ``mono=False`` *always* gives two dimensions, so a
  mono file comes back as ``(1, samples)``.
* **Mono mix-down** is the mean over channels (as ``librosa.to_mono``), done before resampling
  (the two commute; mixing first is cheaper).
* **Resampling** uses soxr at quality ``"HQ"`` and only happens when ``sr`` differs from the
  file's rate; ``sr=None`` keeps the native rate. A signal of ``n`` samples comes out with about
  ``round(n * sr / native_sr)`` samples. :func:`blocks` resamples in streaming fashion
  (``soxr.ResampleStream``), so concatenating its blocks gives :func:`load`'s output up to
  floating-point rounding near block edges.
* **Windows**: ``offset`` and ``duration`` (seconds) are converted to frames of the *native* rate
  with ``round`` and read by seeking, without decoding the rest of the file. A window that runs
  past the end of the file is shortened (as in librosa); an ``offset`` at or beyond the end is an
  :class:`~musicrep.errors.AudioError`.
* **Chunking** (:func:`chunk`, :func:`equally_spaced_chunks`) frames a 1-D signal into
  fixed-length pieces. A partial last chunk is zero-padded (``pad="zero"``), filled by repeating
  the signal from its beginning (``pad="repeat"``), or dropped (``pad="drop"``). A signal shorter
  than one chunk always gives one padded chunk (zeros for ``"zero"`` and ``"drop"``), never an
  empty array.

Errors and non-finite samples
-----------------------------
A file that cannot be used raises :class:`~musicrep.errors.AudioError` naming the file, the cause
and what to do: missing file, not audio (e.g. a text or HTML page saved as ``.wav``), truncated
or corrupt (a header that promises more data than the file holds, or a decoder error), no samples
at all, or NaN/Inf samples. Invalid arguments (``sr <= 0``, negative ``offset``...) raise
:class:`~musicrep.errors.ConfigError`.

Floating-point files (WAV ``FLOAT``/``DOUBLE``) can hold NaN or +-Inf. ``nan_policy`` decides:

* ``"raise"`` (default): :class:`~musicrep.errors.AudioError` with the number of bad samples;
* ``"zero"``: those samples are replaced by 0 before mix-down and resampling, and a
  :class:`NonFiniteAudioWarning` (a ``UserWarning``) names the file and the count.

MP3 lengths are estimates (from the Xing/LAME header or the bit rate), so a short MP3 read only
warns; for every other format a read that comes back short is a truncation error.

Examples
--------
>>> wave, sr = load("song.flac", sr=16000)               # doctest: +SKIP
>>> wave.shape, wave.dtype                                # doctest: +SKIP
((480000,), dtype('float32'))
>>> chunks = chunk(wave, 59049, pad="drop")               # doctest: +SKIP
>>> for block in blocks("concert.wav", sr=16000, block_seconds=30):  # doctest: +SKIP
...     process(block)
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicrep.errors import AudioError, ConfigError

__all__ = [
    "AudioInfo",
    "NonFiniteAudioWarning",
    "RESAMPLE_QUALITY",
    "blocks",
    "chunk",
    "chunk_offsets",
    "equally_spaced_chunks",
    "info",
    "load",
]

#: soxr quality used for every resampling in musicrep.
RESAMPLE_QUALITY = "HQ"

_NAN_POLICIES = ("raise", "zero")
_PAD_MODES = ("zero", "repeat", "drop")

# libsndfile logs "<field> : <declared> (should be <actual>)" when a size field in the header
# disagrees with the file length. These are the data-size fields of the container formats it
# reads (WAV/WAVEX "data", AIFF "SSND", AU "Data Size", W64 "riff", RF64 "Riff size").
_SIZE_MISMATCH = re.compile(
    r"^\s*(data|SSND|Data Size|riff|Riff size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE
)
# Streaming writers (ffmpeg to a pipe, recorders) leave placeholder sizes such as 0xFFFFFFFF;
# such files are complete, not truncated.
_PLACEHOLDER_SIZE = 0x7FFFFFFF
# A declared size this many bytes over the real one is tolerated (a missing RIFF pad byte).
_SIZE_SLACK = 8

_FORMAT_HINT = "check that it is an audio file libsndfile reads (wav, flac, ogg, mp3, aiff, ...)"


class NonFiniteAudioWarning(UserWarning):
    """Warned when ``nan_policy="zero"`` replaced NaN/Inf samples with zeros."""


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says.

    Attributes
    ----------
    path : Path
        The file.
    sample_rate : int
        Native sampling rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Samples per channel (an estimate for MP3).
    duration : float
        ``frames / sample_rate``, in seconds.
    format : str
        libsndfile's container name, e.g. ``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``.
    subtype : str
        libsndfile's sample encoding, e.g. ``"PCM_16"``, ``"FLOAT"``, ``"VORBIS"``.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    duration: float
    format: str
    subtype: str


# --------------------------------------------------------------------------- argument checks


def _check_sr(sr: float | None) -> int | None:
    if sr is None:
        return None
    try:
        value = float(sr)
    except (TypeError, ValueError):
        raise ConfigError(f"sample rate must be a positive number of Hz; got {sr!r}") from None
    if not math.isfinite(value) or value <= 0 or value != int(value):
        raise ConfigError(
            f"sample rate must be a positive whole number of Hz; got {sr!r}",
            "pass e.g. sr=16000, or sr=None to keep the file's own rate",
        )
    return int(value)


def _check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in _NAN_POLICIES:
        raise ConfigError(
            f"unknown nan_policy {nan_policy!r}", f"use one of {', '.join(_NAN_POLICIES)}"
        )


def _check_seconds(name: str, value: float | None, *, allow_zero: bool) -> None:
    if value is None:
        return
    ok = isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be a finite number of seconds {bound}; got {value!r}")


# --------------------------------------------------------------------------- opening files


def _wrap_libsndfile_error(path: Path, err: Exception) -> AudioError:
    """Turn a libsndfile failure into an AudioError with a cause a user can act on."""
    text = re.sub(r"^Error opening .*?: ", "", str(err).strip())
    low = text.lower()
    if "format not recognised" in low or "unknown format" in low:
        return AudioError(
            path,
            "not a recognised audio file",
            _FORMAT_HINT + "; a failed download often saves a text/HTML page under an audio name",
        )
    if "malformed" in low or "lost sync" in low or "no 'data' chunk" in low or "error in" in low:
        return AudioError(
            path,
            f"corrupt or truncated audio file ({text})",
            "fetch the file again, or re-encode it from a good copy",
        )
    if "system error" in low:
        return AudioError(path, "could not be read (system error)", "check the file permissions")
    return AudioError(path, f"could not be decoded ({text})", _FORMAT_HINT)


def _check_truncation(path: Path, extra_info: str) -> None:
    for field, declared, actual in _SIZE_MISMATCH.findall(extra_info):
        declared, actual = int(declared), int(actual)
        if declared >= _PLACEHOLDER_SIZE:
            continue
        if declared > actual + _SIZE_SLACK:
            raise AudioError(
                path,
                f"truncated: the header declares {declared} bytes of audio ('{field}') but the "
                f"file holds only {actual}",
                "the copy or download was cut short; fetch the file again",
            )


def _open(path: str | os.PathLike) -> tuple[Path, sf.SoundFile]:
    """Open ``path`` for reading, raising AudioError for missing, non-audio or truncated files."""
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "file not found", "check the path (relative paths start at the cwd)")
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(
            p,
            "is empty (0 bytes)",
            "the copy or download failed or was cut short; fetch the file again",
        )
    try:
        f = sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise _wrap_libsndfile_error(p, err) from err
    try:
        _check_truncation(p, f.extra_info)
    except AudioError:
        f.close()
        raise
    return p, f


def info(path: str | os.PathLike) -> AudioInfo:
    """Read an audio file's header without decoding it.

    Parameters
    ----------
    path : str or PathLike
        The audio file.

    Returns
    -------
    AudioInfo
        Sample rate, channels, frames, duration (s), format and subtype. A file with no samples
        is reported (``frames == 0``), not rejected; :func:`load` rejects it.

    Raises
    ------
    AudioError
        Missing file, not audio, or truncated (header promises more data than present).
    """
    p, f = _open(path)
    with f:
        return AudioInfo(
            path=p,
            sample_rate=int(f.samplerate),
            channels=int(f.channels),
            frames=int(f.frames),
            duration=f.frames / f.samplerate,
            format=str(f.format),
            subtype=str(f.subtype),
        )


# --------------------------------------------------------------------------- decoding


def _read(f: sf.SoundFile, path: Path, frames: int) -> np.ndarray:
    """Read ``frames`` frames as ``(frames, channels)`` float32, wrapping decoder errors."""
    try:
        return f.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise _wrap_libsndfile_error(path, err) from err


def _check_short_read(f: sf.SoundFile, path: Path, got: int, wanted: int, at: int) -> None:
    if got >= wanted:
        return
    where = f"at frame {at + got} of {f.frames}"
    if f.format == "MP3":
        warnings.warn(
            f"{path}: decoded {got} of {wanted} expected frames ({where}); MP3 lengths are "
            "estimates, but the file may be truncated",
            stacklevel=3,
        )
        return
    raise AudioError(
        path,
        f"truncated or corrupt: the decoder stopped {where}",
        "fetch the file again, or re-encode it from a good copy",
    )


def _sanitize(data: np.ndarray, path: Path, nan_policy: str, where: str = "") -> np.ndarray:
    """Apply ``nan_policy`` to ``data`` (any shape); returns ``data`` (modified in place)."""
    finite = np.isfinite(data)
    if finite.all():
        return data
    bad = int(data.size - np.count_nonzero(finite))
    if nan_policy == "raise":
        raise AudioError(
            path,
            f"{bad} NaN/Inf sample(s){where}",
            "repair the file, or replace them with 0: --nan-policy zero on the command line "
            "(evaluate, benchmark), nan_policy='zero' in Python",
        )
    data[~finite] = 0.0
    warnings.warn(
        f"{path}: replaced {bad} NaN/Inf sample(s){where} with 0 (nan_policy='zero')",
        NonFiniteAudioWarning,
        stacklevel=3,
    )
    return data


def _finish(data: np.ndarray, mono: bool) -> np.ndarray:
    """``(frames, channels)`` -> ``(frames,)`` mean if mono else ``(channels, frames)``."""
    if mono:
        return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return data.T


def load(
    path: str | os.PathLike,
    sr: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    *,
    nan_policy: str = "raise",
) -> tuple[np.ndarray, int]:
    """Decode an audio file (or a window of it) to a float32 array.

    Parameters
    ----------
    path : str or PathLike
        Any file libsndfile reads (wav, flac, ogg, mp3, aiff, ...).
    sr : int, optional
        Target sampling rate in Hz; resampled with soxr (``"HQ"``) only when it differs from the
        file's rate. ``None`` keeps the native rate.
    mono : bool
        Mix down to one channel (mean over channels). ``False`` keeps the channels.
    offset : float
        Start of the window in seconds (rounded to the nearest native frame).
    duration : float, optional
        Length of the window in seconds; ``None`` reads to the end. Only this window is decoded.
    nan_policy : {"raise", "zero"}
        What to do with NaN/Inf samples (see the module docstring).

    Returns
    -------
    wave : np.ndarray, float32
        ``(samples,)`` if ``mono`` else ``(channels, samples)``.
    sr : int
        Sampling rate of ``wave`` in Hz.

    Raises
    ------
    AudioError
        Missing, not audio, truncated/corrupt, no samples, NaN/Inf samples (with
        ``nan_policy="raise"``), or ``offset`` at/after the end of the file.
    ConfigError
        ``sr <= 0``, negative ``offset``, ``duration <= 0`` or an unknown ``nan_policy``.
    """
    target_sr = _check_sr(sr)
    _check_nan_policy(nan_policy)
    _check_seconds("offset", offset, allow_zero=True)
    _check_seconds("duration", duration, allow_zero=False)

    p, f = _open(path)
    with f:
        native_sr = int(f.samplerate)
        total = int(f.frames)
        if total == 0:
            raise AudioError(p, "contains no audio samples", "check how the file was produced")
        start = int(round(offset * native_sr))
        if start >= total:
            raise AudioError(
                p,
                f"offset {offset:g} s is at or beyond the end of the file ({total / native_sr:g} s)",
                "use a smaller offset; musicrep.audio.info(path).duration gives the length",
            )
        wanted = total - start
        if duration is not None:
            wanted = min(wanted, max(1, int(round(duration * native_sr))))
        if start:
            f.seek(start)
        data = _read(f, p, wanted)
        _check_short_read(f, p, len(data), wanted, start)
    if len(data) == 0:
        raise AudioError(p, "contains no audio samples", "check how the file was produced")

    data = _sanitize(data, p, nan_policy)
    if mono and data.shape[1] > 1:
        data = data.mean(axis=1, keepdims=True, dtype=np.float32)
    out_sr = native_sr
    if target_sr is not None and target_sr != native_sr:
        data = soxr.resample(data, native_sr, target_sr, quality=RESAMPLE_QUALITY)
        out_sr = target_sr
    wave = _finish(np.asarray(data, dtype=np.float32), mono)
    return np.ascontiguousarray(wave), out_sr


def blocks(
    path: str | os.PathLike,
    sr: int | None = None,
    block_seconds: float = 10.0,
    mono: bool = True,
    *,
    nan_policy: str = "raise",
) -> Iterator[np.ndarray]:
    """Stream a file in consecutive blocks, so long recordings never sit in memory whole.

    Arguments are checked and the file is opened (and validated) when ``blocks`` is called, so
    a missing or broken file fails at the call, not at the first ``next()``.

    Parameters
    ----------
    path : str or PathLike
        The audio file.
    sr : int, optional
        Output rate in Hz; resampled in streaming fashion with ``soxr.ResampleStream`` (``"HQ"``)
        when it differs from the file's rate. ``None`` keeps the native rate.
    block_seconds : float
        Block length in seconds; every block has ``round(block_seconds * rate)`` samples except
        the last, which holds what is left.
    mono : bool
        Mix down to one channel (mean) or keep channels.
    nan_policy : {"raise", "zero"}
        What to do with NaN/Inf samples (checked per block, before resampling).

    Yields
    ------
    np.ndarray, float32
        ``(samples,)`` if ``mono`` else ``(channels, samples)``. Concatenated along the last
        axis, the blocks equal ``load(path, sr, mono)`` exactly when no resampling happens, and
        up to rounding error otherwise.
    """
    target_sr = _check_sr(sr)
    _check_nan_policy(nan_policy)
    _check_seconds("block_seconds", block_seconds, allow_zero=False)
    header = info(path)
    if header.frames == 0:
        raise AudioError(
            header.path, "contains no audio samples", "check how the file was produced"
        )
    return _stream(header, target_sr, float(block_seconds), mono, nan_policy)


def _stream(
    header: AudioInfo, target_sr: int | None, block_seconds: float, mono: bool, nan_policy: str
) -> Iterator[np.ndarray]:
    p = header.path
    native_sr = header.sample_rate
    out_sr = native_sr if target_sr is None else target_sr
    in_block = max(1, int(round(block_seconds * native_sr)))
    out_block = max(1, int(round(block_seconds * out_sr)))
    n_out_channels = 1 if mono else header.channels
    resampler = None
    if out_sr != native_sr:
        resampler = soxr.ResampleStream(
            native_sr, out_sr, n_out_channels, dtype="float32", quality=RESAMPLE_QUALITY
        )
    pending: list[np.ndarray] = []  # resampled (frames, channels) pieces not yet yielded
    n_pending = 0

    def drain(out: np.ndarray, last: bool) -> Iterator[np.ndarray]:
        nonlocal pending, n_pending
        if out.ndim == 1:
            out = out[:, None]
        if len(out):
            pending.append(out)
            n_pending += len(out)
        while n_pending >= out_block or (last and n_pending > 0):
            buf = np.concatenate(pending, axis=0)
            take = min(out_block, len(buf))
            yield np.ascontiguousarray(_finish(buf[:take].astype(np.float32), mono))
            rest = buf[take:]
            pending = [rest] if len(rest) else []
            n_pending = len(rest)

    flushed = False
    _, f = _open(p)
    with f:
        total = int(f.frames)
        pos = 0
        while pos < total:
            wanted = min(in_block, total - pos)
            data = _read(f, p, wanted)
            _check_short_read(f, p, len(data), wanted, pos)
            if len(data) == 0:
                break
            where = f" in {pos / native_sr:.3f}-{(pos + len(data)) / native_sr:.3f} s"
            data = _sanitize(data, p, nan_policy, where)
            pos += len(data)
            if mono and data.shape[1] > 1:
                data = data.mean(axis=1, keepdims=True, dtype=np.float32)
            if resampler is None:
                yield np.ascontiguousarray(_finish(data, mono))
                continue
            flushed = pos >= total
            out = resampler.resample_chunk(np.ascontiguousarray(data), last=flushed)
            yield from drain(out, flushed)
    if resampler is not None and not flushed:  # the decoder ended early (MP3 estimate)
        empty = np.zeros((0, n_out_channels), dtype=np.float32)
        yield from drain(resampler.resample_chunk(empty, last=True), True)


# --------------------------------------------------------------------------- chunking


def _check_chunk_args(wave: np.ndarray, length: int, pad: str) -> np.ndarray:
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ConfigError(
            f"chunking takes a 1-D signal (samples,); got shape {wave.shape}",
            "mix down to mono first (musicrep.audio.load does by default)",
        )
    if int(length) != length or length <= 0:
        raise ConfigError(f"chunk length must be a positive number of samples; got {length!r}")
    if pad not in _PAD_MODES:
        raise ConfigError(f"unknown pad mode {pad!r}", f"use one of {', '.join(_PAD_MODES)}")
    return wave


def _pad_to(wave: np.ndarray, size: int, pad: str) -> np.ndarray:
    """Extend ``wave`` to ``size`` samples: zeros, or repetitions of the signal (``"repeat"``)."""
    missing = size - len(wave)
    if missing <= 0:
        return wave
    if pad == "repeat" and len(wave) > 0:
        return np.pad(wave, (0, missing), mode="wrap")
    return np.pad(wave, (0, missing), mode="constant")


def chunk(wave: np.ndarray, length: int, hop: int | None = None, pad: str = "zero") -> np.ndarray:
    """Frame a 1-D signal into fixed-length chunks.

    Chunk ``k`` starts at sample ``k * hop``. Full chunks are taken while they fit; if samples
    remain uncovered after the last full chunk, one more chunk starts at the next hop and is
    completed according to ``pad``.

    Parameters
    ----------
    wave : np.ndarray
        ``(samples,)`` signal.
    length : int
        Chunk length in samples.
    hop : int, optional
        Distance between chunk starts in samples; defaults to ``length`` (no overlap).
    pad : {"zero", "repeat", "drop"}
        The partial last chunk is zero-padded (``"zero"``), filled by repeating the signal from
        its start (``"repeat"``), or dropped (``"drop"``). A signal shorter than ``length``
        always gives one chunk (zero-padded for ``"zero"`` and ``"drop"``, tiled for
        ``"repeat"``).

    Returns
    -------
    np.ndarray
        ``(n_chunks, length)``, same dtype as ``wave``; a new array (not a view of ``wave``).
    """
    wave = _check_chunk_args(wave, length, pad)
    length = int(length)
    hop = length if hop is None else hop
    if int(hop) != hop or hop <= 0:
        raise ConfigError(f"hop must be a positive number of samples; got {hop!r}")
    hop = int(hop)
    n = len(wave)
    if n <= length:
        fill = "repeat" if pad == "repeat" else "zero"
        return _pad_to(wave, length, fill)[None, :].copy()
    n_chunks = 1 + (n - length) // hop
    covered = (n_chunks - 1) * hop + length
    if covered < n and n_chunks * hop < n and pad != "drop":
        n_chunks += 1
    padded = _pad_to(wave, (n_chunks - 1) * hop + length, pad)
    windows = np.lib.stride_tricks.sliding_window_view(padded, length)[::hop][:n_chunks]
    return windows.copy()


def equally_spaced_chunks(
    wave: np.ndarray, length: int, n: int, *, endpoint: bool = True, pad: str = "zero"
) -> np.ndarray:
    """``n`` chunks at equally spaced offsets covering the whole track.

    This is the track-level evaluation protocol of Won et al. (2020, "Evaluation of CNN-based
    automatic music tagging models"): a fixed number of chunks (16 there) is taken from each full
    track and the model outputs are averaged.

    Parameters
    ----------
    wave : np.ndarray
        ``(samples,)`` signal.
    length : int
        Chunk length in samples.
    n : int
        Number of chunks.
    endpoint : bool
        ``True`` (default): offsets ``round(linspace(0, len - length, n))``, so the first chunk
        starts at the beginning and the last one ends at the end of the track. ``False``:
        offsets ``k * ((len - length) // n)`` for ``k = 0..n-1``, the exact arithmetic of Won et
        al.'s reference code (the last ``(len - length) / n`` samples are never seen).
    pad : {"zero", "repeat"}
        How a signal shorter than ``length`` is extended; every chunk then equals that one
        padded chunk.

    Returns
    -------
    np.ndarray
        ``(n, length)``, same dtype as ``wave``.
    """
    wave = _check_chunk_args(wave, length, pad)
    if pad == "drop":
        raise ConfigError("equally_spaced_chunks cannot drop; use pad='zero' or pad='repeat'")
    if int(n) != n or n <= 0:
        raise ConfigError(f"number of chunks must be a positive integer; got {n!r}")
    length, n = int(length), int(n)
    if len(wave) <= length:
        one = _pad_to(wave, length, pad)
        return np.repeat(one[None, :], n, axis=0)
    offsets = chunk_offsets(len(wave), length, n, endpoint=endpoint)
    index = offsets[:, None] + np.arange(length)[None, :]
    return wave[index]


def chunk_offsets(total: int, length: int, n: int, *, endpoint: bool = True) -> np.ndarray:
    """Start samples of the ``n`` chunks of :func:`equally_spaced_chunks` for a signal of
    ``total`` samples (all 0 when it is not longer than ``length``)."""
    span = int(total) - int(length)
    if span <= 0:
        return np.zeros(int(n), dtype=np.int64)
    if endpoint:
        return np.rint(np.linspace(0, span, int(n))).astype(np.int64)
    return np.arange(int(n), dtype=np.int64) * (span // int(n))
