"""The local engine of :meth:`Embedder.files <musicrep.embed.Embedder.files>`: this process.

``workers == 0``: each file is streamed in the calling thread (the sequential path). Otherwise
a thread pool decodes, resamples and windows whole files ahead (bounded: ``2 * workers + 2``
files) while the calling thread runs the model on batches packed from many files
(:class:`~musicrep.embed.pipeline._Packer`) and splits the outputs back per file, in input
order. Files whose windows exceed ``pack_bytes`` are streamed block by block, with the next
block decoded in the pool. Threads, not processes: libsndfile, soxr and NumPy release the GIL,
and threads need not pickle windows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from musicrep.embed.pipeline import _Packer, _read_ahead, finish, load_windows
from musicrep.errors import MusicrepError

if TYPE_CHECKING:
    from musicrep.embed.embedder import Embedder

Job = tuple[int, Path, Path]
Outcome = tuple[Job, "tuple | BaseException"]


def local_compute(
    embedder: Embedder, todo: list[Job], hop: float | None, hop_s: float
) -> Iterator[Outcome]:
    """``(job, (emb, times, clip, samples, peak) or the error)`` for each job, in order."""
    if embedder.workers == 0 or not todo:
        for job in todo:
            yield job, _stream(embedder, job[1], hop)
        return
    yield from _pooled(embedder, todo, hop, hop_s)


def _stream(embedder: Embedder, path: Path, hop: float | None, pool=None) -> tuple | BaseException:
    """One file streamed block by block through the model (or the error); with a ``pool``,
    the next block is decoded there while the model runs on the current one."""
    try:
        blocks = embedder._blocks(path)  # reads the header: may raise
        if pool is not None:
            blocks = _read_ahead(blocks, pool)
        return embedder._embed_stream(blocks, hop, frames=True, scene=True)
    except (MusicrepError, OSError) as exc:
        return exc


def _pooled(
    embedder: Embedder, todo: list[Job], hop: float | None, hop_s: float
) -> Iterator[Outcome]:
    """Worker threads decode files ahead; this thread runs packed batches."""
    from concurrent.futures import ThreadPoolExecutor

    scene_lane = hop is not None and embedder.model.clip_accumulator() is None
    depth = 2 * embedder.workers + 2  # files decoded ahead: bounds memory
    packer = _Packer(embedder)
    futures: deque = deque()
    jobs = iter(todo)
    with ThreadPoolExecutor(embedder.workers, thread_name_prefix="musicrep-decode") as pool:

        def submit() -> None:
            while len(futures) < depth:
                job = next(jobs, None)
                if job is None:
                    return
                fut = pool.submit(load_windows, embedder, job[1], hop_s, scene_lane)
                futures.append((job, fut))

        submit()
        try:
            while futures:
                job, fut = futures.popleft()
                submit()
                try:
                    loaded = fut.result()
                except (MusicrepError, OSError) as exc:
                    yield job, exc
                    continue
                if loaded is None:  # too long to hold: stream it (after the packed ones)
                    for key, item in packer.drain():
                        yield key, finish(embedder, item, hop)
                    yield job, _stream(embedder, job[1], hop, pool)
                    continue
                packer.add(job, loaded)
                for key, item in packer.done():
                    yield key, finish(embedder, item, hop)
            for key, item in packer.drain():
                yield key, finish(embedder, item, hop)
        finally:
            for _, fut in futures:
                fut.cancel()
