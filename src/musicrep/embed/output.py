"""What :meth:`Embedder.files <musicrep.embed.Embedder.files>` does around the computation:
planning, resuming, writing, combining and reporting (the same for every engine).

Each output holds ``embedding (T, D)`` float32, ``timestamps (T,)`` float64 seconds, ``scene
(D,)`` float32, ``path`` (absolute input path), ``model`` (model identity) and ``duration``
(seconds), written atomically with :func:`musicrep.embeddings.write_file_embeddings`; the
``combine`` file with :func:`musicrep.embeddings.write_combined`. An existing output is kept
(resume) when it was made by the same model; one made by another model fails its input, since
mixing models would corrupt ``combine``. ``combine`` is never replaced by an empty file.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from musicrep.embed.pipeline import _hop_samples
from musicrep.embed.plan import plan_job
from musicrep.errors import AudioError, ConfigError, MusicrepError

if TYPE_CHECKING:
    from musicrep.embed.embedder import Embedder

#: Files shorter than this (seconds) get a warning: their embedding is mostly zero padding.
MIN_SECONDS = 0.25

#: Choices of ``Embedder.files(engine=...)`` / ``--engine``.
ENGINES = ("local", "ray")

Job = tuple[int, Path, Path]  # (index in the plan, input, output)


@dataclass
class EmbedReport:
    """What :meth:`Embedder.files` did.

    Attributes
    ----------
    written : list of Path
        Output files written by this run.
    skipped : list of Path
        Outputs that already existed and were kept (``overwrite=False``).
    failed : list of (Path, str)
        Inputs that could not be embedded, with the reason.
    warnings : list of (Path, str)
        Inputs embedded with a caveat (too short, digitally silent), one entry per condition,
        and a ``combine`` file left unwritten because nothing was embedded.
    combined_path : Path or None
        The ``combine`` file, if one was written.
    outputs : list of (Path, Path)
        ``(input, output)`` of every input that has an output now (written or skipped), in
        input order.
    audio_seconds : float
        Seconds of audio embedded by this run.
    elapsed : float
        Wall-clock seconds.
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[tuple[Path, str]] = field(default_factory=list)
    combined_path: Path | None = None
    outputs: list[tuple[Path, Path]] = field(default_factory=list)
    audio_seconds: float = 0.0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no input failed."""
        return not self.failed


def input_warnings(seconds: float, peak: float, min_seconds: float = MIN_SECONDS) -> list[str]:
    """Why a file's embedding (or prediction) may mean little: too short, or digital silence.

    Used by ``embed`` and ``predict``; one entry per condition, empty when the input is fine.
    """
    out = []
    if seconds < min_seconds:
        out.append(
            f"only {seconds:.3g} s of audio (< {min_seconds:g} s): the result is mostly "
            "zero padding"
        )
    if peak == 0.0:
        out.append("digitally silent (every sample is 0): the result says nothing about music")
    return out


def run_job(
    embedder: Embedder,
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    hop: float | None,
    recursive: bool,
    overwrite: bool,
    combine: str | os.PathLike | None,
    progress: bool,
    shard: str | tuple[int, int] | None,
    engine: str,
    address: str | None,
) -> EmbedReport:
    """The body of :meth:`Embedder.files` (see there)."""
    from musicrep.utils import progress as progress_bar

    start_time = time.perf_counter()
    out_root = Path(out_dir)
    if out_root.exists() and not out_root.is_dir():
        raise ConfigError(f"--out {out_root} exists and is not a folder")
    hop_s = _hop_samples(hop, embedder.window_samples, embedder.sample_rate)  # before work
    _check_engine(engine)
    report = EmbedReport()
    plan = plan_job(inputs, out_root, recursive, shard, report.failed)
    clips: dict[int, np.ndarray] = {}
    bar = progress_bar(
        total=len(plan), desc="embed", unit="file", disable=None if progress else True
    )

    def tick() -> None:
        bar.update(1)
        elapsed = time.perf_counter() - start_time
        bar.set_postfix_str(f"{report.audio_seconds / max(elapsed, 1e-9):.1f} audio s/s")

    try:
        todo = _resume(embedder, plan, overwrite, report, clips, tick)
        for job, outcome in _compute(embedder, engine, todo, hop, hop_s, address):
            _write_outcome(embedder, job, outcome, report, clips)
            tick()
    finally:
        bar.close()
    report.outputs = [(plan[i][0], plan[i][1]) for i in sorted(clips)]
    if combine is not None:
        _write_combine(embedder, Path(combine), plan, clips, report)
    report.elapsed = time.perf_counter() - start_time
    return report


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", f"choose one of {', '.join(ENGINES)}")
    if engine == "ray":
        from musicrep.embed.ray_engine import _require_ray

        _require_ray()  # before any work


def _compute(
    embedder: Embedder,
    engine: str,
    todo: list[Job],
    hop: float | None,
    hop_s: float,
    address: str | None,
) -> Iterator[tuple[Job, tuple | BaseException]]:
    if engine == "ray":
        from musicrep.embed.ray_engine import ray_compute

        return ray_compute(embedder, todo, hop, hop_s, address=address)
    from musicrep.embed.local import local_compute

    return local_compute(embedder, todo, hop, hop_s)


def _resume(
    embedder: Embedder,
    plan: list[tuple[Path, Path]],
    overwrite: bool,
    report: EmbedReport,
    clips: dict[int, np.ndarray],
    tick,
) -> list[Job]:
    """Keep the existing outputs (their scene embeddings go to ``clips``); the jobs left."""
    todo: list[Job] = []
    for i, (src, dst) in enumerate(plan):
        if dst.exists() and not overwrite:
            try:
                clips[i] = existing_scene(dst, embedder.name)
                report.skipped.append(dst)
            except MusicrepError as exc:
                report.failed.append((src, exc.message))
            tick()
        else:
            todo.append((i, src, dst))
    return todo


def _write_outcome(
    embedder: Embedder,
    job: Job,
    outcome: tuple | BaseException,
    report: EmbedReport,
    clips: dict[int, np.ndarray],
) -> None:
    """Write one computed file (atomically) or record why it failed."""
    from musicrep.embeddings import write_file_embeddings

    i, src, dst = job
    try:
        if isinstance(outcome, BaseException):
            raise outcome
        emb, times, clip, n, peak = outcome
        seconds = n / embedder.sample_rate
        try:
            write_file_embeddings(
                dst, emb, times, clip, source=src, model=embedder.name, duration=seconds
            )
        except OSError as exc:
            raise MusicrepError(f"could not write {dst}: {exc}") from None
        report.written.append(dst)
        report.audio_seconds += seconds
        clips[i] = clip
        for why in input_warnings(seconds, peak, embedder.min_seconds):
            report.warnings.append((src, why))
    except MusicrepError as exc:
        reason = exc.reason if isinstance(exc, AudioError) else exc.message
        report.failed.append((src, reason))
    except OSError as exc:
        report.failed.append((src, f"could not be read: {exc}"))


def _write_combine(
    embedder: Embedder,
    target: Path,
    plan: list[tuple[Path, Path]],
    clips: dict[int, np.ndarray],
    report: EmbedReport,
) -> None:
    """The ``combine`` file from every input with an output; never an empty one."""
    from musicrep.embeddings import write_combined

    if clips:
        order = sorted(clips)
        write_combined(
            target,
            [plan[i][0] for i in order],
            np.stack([clips[i] for i in order]).astype(np.float32),
            model=embedder.name,
        )
        report.combined_path = target
    else:
        kept = " (the existing file is kept)" if target.exists() else ""
        report.warnings.append((target, f"not written: no input was embedded{kept}"))


def existing_scene(dst: Path, name: str) -> np.ndarray:
    """The scene embedding of an output kept from an earlier run, checked to be ``name``'s
    (read with :func:`musicrep.embeddings.read_file_embeddings`)."""
    from musicrep.embeddings import read_file_embeddings

    try:
        kept = read_file_embeddings(dst)
    except ConfigError as exc:
        raise ConfigError(
            f"existing output {dst} is unreadable ({exc.message}); use --overwrite to recompute it"
        ) from None
    if kept.model != name:
        raise ConfigError(
            f"existing output {dst} was made by model {kept.model!r}, not {name!r}; "
            "use --overwrite to recompute it, or another --out folder"
        )
    return kept.scene.astype(np.float32)


def _summary(report: EmbedReport, stream=None) -> None:
    """Print a human summary of ``report`` (used by the CLI)."""
    stream = stream or sys.stdout
    rate = report.audio_seconds / report.elapsed if report.elapsed > 0 else 0.0
    print(
        f"written {len(report.written)}, skipped {len(report.skipped)} (existing; --overwrite "
        f"recomputes them), failed {len(report.failed)}; {report.audio_seconds:.1f} s of audio "
        f"in {report.elapsed:.1f} s ({rate:.1f} audio s/s)",
        file=stream,
    )
    if report.combined_path is not None:
        print(f"combined: {report.combined_path} ({len(report.outputs)} files)", file=stream)
    for path, reason in report.failed:
        print(f"  failed: {path}: {reason}", file=stream)
    if report.warnings:
        print(f"warnings {len(report.warnings)}:", file=stream)
    for path, reason in report.warnings:
        print(f"  warning: {path}: {reason}", file=stream)
