"""Face-frame decoding for the audio-visual models: video files, frames on disk, ``.npy`` arrays.

:func:`load_frames` returns ``(frames, fps)``: ``uint8 (time, height, width, 3)`` RGB and the
frame rate. Sources (by path):

- ``.npy``: a uint8 array ``(time, height, width, 3)`` (the built-in AV speaker dataset writes
  these; rate ``fps``, default 25 frames/s);
- a folder of images (``.jpg``/``.jpeg``/``.png``/``.bmp``, the frames in name order, e.g.
  ``00001.jpg`` ...; face crops extracted by another tool): rate from a ``fps.txt`` file in the
  folder if present, else ``fps`` (default 25);
- any other file: a video decoded with PyAV (``pip install 'musicrep[video]'``), rate from the
  stream.

Why PyAV: it binds the FFmpeg libraries (maintained, every common container and codec, exact
frame timestamps), installs from PyPI as self-contained wheels with no system FFmpeg, and seeks
and decodes only the frames of a time range. OpenCV would also decode, but is a much larger
dependency for one function and its frame seeking is approximate for many codecs.

:func:`frame_times` gives the times of the frames that show an audio region
``[start, start + seconds)`` at a fixed rate, and :func:`read_frames_at` the frames shown at
those times (resized, with a mask for times past the end), so a frames view follows the audio
crop whatever the source's own frame rate (see :mod:`musicrep.training.data`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from musicrep.errors import AudioError, ConfigError

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_SUFFIXES",
    "frame_times",
    "frames_to_tensor",
    "have_pyav",
    "load_frames",
    "read_frames_at",
    "resize_frames",
]

#: Frame rate assumed for ``.npy`` arrays and image folders without ``fps.txt``.
DEFAULT_FPS = 25.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def have_pyav() -> bool:
    """Whether PyAV (the ``av`` package) can be imported."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _check_frames(x: np.ndarray, path: Path) -> np.ndarray:
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0:
        raise AudioError(
            path, f"frames must be a non-empty (time, height, width, 3) array; got {x.shape}"
        )
    if x.dtype != np.uint8:
        if np.issubdtype(x.dtype, np.floating) and np.nanmax(x) <= 1.0:
            x = np.clip(np.nan_to_num(x) * 255.0 + 0.5, 0, 255)
        x = np.clip(x, 0, 255).astype(np.uint8)
    return x


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _load_folder(folder: Path, fps: float | None) -> tuple[np.ndarray, float]:
    files = _image_files(folder)
    if not files:
        raise AudioError(folder, f"no frame images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    rate_file = folder / "fps.txt"
    if fps is None and rate_file.is_file():
        try:
            fps = float(rate_file.read_text().strip())
        except ValueError:
            raise AudioError(
                rate_file, "fps.txt must hold one number (frames per second)"
            ) from None
    return _load_files(files), float(fps or DEFAULT_FPS)


def _load_video(path: Path, start: float, seconds: float | None, stamps: bool = False):
    try:
        import av
    except ImportError:
        raise ConfigError(
            f"{path}: decoding video files needs PyAV",
            "pip install 'musicrep[video]' (or pip install av), or extract the frames to a "
            "folder of images / a .npy array",
        ) from None
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(path, f"cannot open video: {exc}") from None
    try:
        if not container.streams.video:
            raise AudioError(path, "the file has no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
        end = None if seconds is None else start + seconds
        if start > 0 and stream.time_base is not None:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        frames, times = [], []
        last = None
        for frame in container.decode(stream):
            t = frame.time if frame.time is not None else len(times) / rate
            if t + 1e-6 < start:
                last = (frame, t)  # the frame still shown at ``start``
                continue
            if last is not None and t > start + 1e-6:
                frames.append(last[0].to_ndarray(format="rgb24"))
                times.append(last[1])
            last = None
            if end is not None and t >= end - 1e-9:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(t)
        if last is not None:
            frames.append(last[0].to_ndarray(format="rgb24"))
            times.append(last[1])
    except av.FFmpegError as exc:
        raise AudioError(path, f"cannot decode video: {exc}") from None
    finally:
        container.close()
    if not frames:
        raise AudioError(path, f"no video frames at {start:.3f} s")
    if stamps:
        return np.stack(frames), rate, np.asarray(times, dtype=np.float64)
    return np.stack(frames), rate


def load_frames(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    start: float = 0.0,
    seconds: float | None = None,
) -> tuple[np.ndarray, float]:
    """Decode face frames.

    Parameters
    ----------
    path : path
        A ``.npy`` array, a folder of frame images or a video file (see the module docstring).
    fps : float, optional
        Frame rate of ``.npy`` arrays and image folders (default: ``fps.txt`` in the folder,
        else 25); ignored for video files, whose stream gives it.
    start, seconds : float
        For video files, only frames from ``start`` for ``seconds`` are decoded (seeking);
        arrays and folders are returned whole (use :func:`read_frames_at` for a time range).

    Returns
    -------
    frames : np.ndarray
        ``uint8 (time, height, width, 3)`` RGB.
    fps : float
        The frame rate; for a video decoded from ``start``, frame 0 of the result is the first
        frame at or after ``start``.

    Raises
    ------
    AudioError
        Missing or unreadable source (the data pipelines skip such rows like bad audio).
    ConfigError
        A video file without PyAV installed.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "video/frames source not found", "fix the manifest's video column")
    if p.is_dir():
        frames, rate = _load_folder(p, fps)
    elif p.suffix.lower() == ".npy":
        try:
            frames = np.load(p, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise AudioError(p, f"cannot read frames array: {exc}") from None
        rate = float(fps or DEFAULT_FPS)
    else:
        return _load_video(p, float(start), seconds)
    return _check_frames(np.asarray(frames), p), rate


def frame_times(start: float, seconds: float, fps: float, num_frames: int | None = None):
    """Times (s) of the frames that show ``[start, start + seconds)`` at ``fps`` frames/s.

    ``num_frames=None``: one frame every ``1/fps`` from ``start`` (``ceil(seconds * fps)``
    frames); an int: that many frames spread evenly over the window (the centre of each of
    ``num_frames`` equal parts). The count depends on ``seconds`` and ``fps`` only, so batches
    of windows of one length stack whatever the videos' own rates.
    """
    if seconds <= 0 or fps <= 0:
        raise ConfigError(f"window and frame rate must be positive; got {seconds}, {fps}")
    if num_frames is None:
        n = max(1, math.ceil(seconds * fps - 1e-9))
        return start + np.arange(n) / fps
    if int(num_frames) < 1:
        raise ConfigError(f"num_frames must be >= 1; got {num_frames}")
    return start + (np.arange(int(num_frames)) + 0.5) * seconds / int(num_frames)


def read_frames_at(
    path: str | os.PathLike, times, *, fps: float | None = None, size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The frames shown at ``times`` (seconds): ``uint8 (len(times), size, size, 3)`` and a
    bool mask (False where a time lies past the end of the video; those frames are zeros).

    The frame shown at ``t`` is the last one that starts at or before ``t``. Video files are
    decoded over the span of ``times`` only; ``.npy`` arrays are memory-mapped and image
    folders read only the images needed. ``fps`` as in :func:`load_frames`.
    """
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "video/frames source not found", "fix the manifest's video column")
    if p.is_dir() or p.suffix.lower() == ".npy":
        if p.is_dir():
            files = _image_files(p)
            rate_file = p / "fps.txt"
            if fps is None and rate_file.is_file():
                try:
                    fps = float(rate_file.read_text().strip())
                except ValueError:
                    raise AudioError(rate_file, "fps.txt must hold one number") from None
            total = len(files)
            if total == 0:
                raise AudioError(p, f"no frame images ({', '.join(IMAGE_SUFFIXES)}) here")
        else:
            try:
                arr = np.load(p, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise AudioError(p, f"cannot read frames array: {exc}") from None
            total = int(arr.shape[0]) if arr.ndim == 4 else 0
            if total == 0 or arr.shape[-1] != 3:
                raise AudioError(p, f"frames must be (time, height, width, 3); got {arr.shape}")
        rate = float(fps or DEFAULT_FPS)
        index = np.floor(times * rate + 1e-6).astype(np.int64)
        mask = (index >= 0) & (index < total)
        keep = np.unique(index[mask])
        if p.is_dir():
            got = _load_files([files[i] for i in keep])
        else:
            got = _check_frames(np.asarray(arr[keep]), p)
        lookup = {int(i): j for j, i in enumerate(keep)}
        picked = [lookup[int(i)] if m else -1 for i, m in zip(index, mask)]
    else:
        span = float(times.max() - times.min()) + 1e-3
        got, rate, stamps = _load_video(p, max(0.0, float(times.min())), span, stamps=True)
        picked = []
        for t in times:
            j = int(np.searchsorted(stamps, t + 1e-6, side="right")) - 1
            ok = 0 <= j and (j < len(stamps) - 1 or t < stamps[-1] + 1.0 / rate)
            picked.append(max(j, 0) if ok else -1)
        mask = np.asarray([j >= 0 for j in picked])
    got = resize_frames(got, size)
    out = np.zeros((len(times), *got.shape[1:]), np.uint8)
    for row, j in enumerate(picked):
        if j >= 0:
            out[row] = got[j]
    return out, mask


def _load_files(files) -> np.ndarray:
    from PIL import Image

    frames, size = [], None
    for f in files:
        try:
            with Image.open(f) as im:
                img = im.convert("RGB")
        except OSError as exc:
            raise AudioError(f, f"cannot read frame image: {exc}") from None
        if size is None:
            size = img.size
        elif img.size != size:
            img = img.resize(size, Image.BILINEAR)
        frames.append(np.asarray(img, dtype=np.uint8))
    if not frames:
        return np.zeros((0, 1, 1, 3), np.uint8)
    return np.stack(frames)


def resize_frames(frames: np.ndarray, size: int | None) -> np.ndarray:
    """Square-resize ``uint8 (time, H, W, 3)`` frames to ``size`` (None: unchanged)."""
    if size is None or (frames.shape[1] == size and frames.shape[2] == size):
        return frames
    from PIL import Image

    return np.stack(
        [np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in frames]
    )


def frames_to_tensor(frames: np.ndarray):
    """``uint8 (time, H, W, 3)`` -> float32 tensor ``(time, 3, H, W)`` in [0, 1]."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames))
    return x.permute(0, 3, 1, 2).float().div_(255.0)
