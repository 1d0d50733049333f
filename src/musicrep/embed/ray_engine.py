"""The Ray engine of :meth:`musicrep.embed.Embedder.files` (``musicrep embed --engine ray``).

The job is the local engine's: the driver collects the inputs, plans output names, keeps
existing outputs (resume), writes every output atomically and reports failures, all in
:mod:`musicrep.embed.output`. Only the computation moves to Ray Data:

1. a dataset of the files still to embed (one row per file, in input order);
2. ``map`` in Ray **CPU tasks**: decode, resample and cut each file into windows
   (:func:`~musicrep.embed.pipeline.load_windows`, the same code as the local workers), or
   record why it failed;
3. ``map_batches`` on an **actor pool**: each actor holds the model (built once from the same
   description, seed and layer; on a GPU when ``device`` is ``cuda``: one GPU per actor) and
   runs the windows of several files packed into full batches
   (:class:`musicrep.embed.pipeline._Packer`);
4. the driver streams the results back and writes them.

Whole files travel through Ray's object store as windows, so a very long file costs its
windows in memory there (a one-hour 16 kHz file: ~230 MB); ``--shard`` (plain job arrays)
streams long files instead.

Install with ``pip install 'musicrep[ray]'``. ``address=None`` starts a local Ray instance
(or joins the one ``RAY_ADDRESS`` names); ``"auto"`` or ``"ray://HOST:10001"`` joins a
running cluster (README, "Embedding on a cluster").
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from musicrep.errors import ConfigError, MusicrepError

#: Files per actor call (their windows are packed into full model batches).
FILES_PER_CALL = 16


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray Data, which is not installed",
            "pip install 'musicrep[ray]'  (or use --shard i/N for plain job arrays)",
        ) from None
    return ray


def _to_bytes(a: np.ndarray | None) -> bytes:
    if a is None:
        return b""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _from_bytes(b: bytes) -> np.ndarray | None:
    if not b:
        return None
    return np.load(io.BytesIO(b), allow_pickle=False)


def _decode(row: dict, spec: dict, hop_s: float, scene_lane: bool) -> dict:
    """Ray task body: one file -> its windows (or the error), as a row of bytes columns."""
    from musicrep.embed.pipeline import load_windows
    from musicrep.errors import AudioError

    emb = _embedder(spec, "cpu")
    out = {"i": row["i"], "error": "", "n": 0, "peak": 0.0}
    out.update(ts=b"", scene=b"", starts=b"", valid=b"", clip=b"")
    try:
        loaded = load_windows(emb, Path(row["src"]), hop_s, scene_lane, limit=False)
    except MusicrepError as exc:
        out["error"] = exc.reason if isinstance(exc, AudioError) else exc.message
        return out
    except OSError as exc:
        out["error"] = f"could not be read: {exc}"
        return out
    out.update(n=loaded.n, peak=loaded.peak, ts=_to_bytes(loaded.lanes[0]))
    if len(loaded.lanes) > 1:
        out["scene"] = _to_bytes(loaded.lanes[1])
    out.update(
        starts=_to_bytes(loaded.starts), valid=_to_bytes(loaded.valid), clip=_to_bytes(loaded.clip)
    )
    return out


class _Model:
    """Ray actor body: the model, run on the windows of several files at a time."""

    def __init__(self, spec: dict, device: str):
        self.embedder = _embedder(spec, device)

    def __call__(self, batch: dict) -> dict:
        from musicrep.embed.pipeline import _Loaded, _Packer

        packer = _Packer(self.embedder)
        keys = list(range(len(batch["i"])))
        items = {}
        for j in keys:
            if batch["error"][j]:
                continue
            lanes = [_from_bytes(batch["ts"][j])]
            if batch["scene"][j]:
                lanes.append(_from_bytes(batch["scene"][j]))
            items[j] = _Loaded(lanes, np.zeros(0), np.zeros(0), None, 0, 0.0)
            packer.add(j, items[j])
        list(packer.drain())
        ts_out, scene_out = [], []
        for j in keys:
            item = items.get(j)
            ts_out.append(_to_bytes(np.concatenate(item.outs[0])) if item else b"")
            more = item is not None and len(item.outs) > 1
            scene_out.append(_to_bytes(np.concatenate(item.outs[1])) if more else b"")
        result = {k: batch[k] for k in ("i", "error", "n", "peak", "starts", "valid", "clip")}
        result.update(
            ts_emb=np.array(ts_out, dtype=object), sc_emb=np.array(scene_out, dtype=object)
        )
        return result


_CACHE: dict = {}


def _embedder(spec: dict, device: str):
    """One Embedder per worker process and device (Ray reuses workers)."""
    from musicrep.embed.embedder import Embedder

    key = (repr(sorted((k, repr(v)) for k, v in spec.items())), device)
    if key not in _CACHE:
        _CACHE[key] = Embedder(**spec, device=device, workers=0)
    return _CACHE[key]


def ray_compute(
    embedder,
    todo: list[tuple[int, Path, Path]],
    hop: float | None,
    hop_s: float,
    address: str | None = None,
    actors: int | None = None,
) -> Iterator[tuple[tuple[int, Path, Path], tuple | BaseException]]:
    """The Ray version of :func:`~musicrep.embed.local.local_compute`: same jobs in, same
    outcomes out, in order."""
    from musicrep.embed.pipeline import _Loaded, finish

    ray = _require_ray()
    if not todo:
        return
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    spec = embedder._spec
    scene_lane = hop is not None and embedder.model.clip_accumulator() is None
    gpu = embedder.device.type == "cuda"
    if actors is None:
        resources = ray.cluster_resources()
        actors = max(1, int(resources.get("GPU", 0)) if gpu else 1)
    rows = [{"i": k, "src": str(src)} for k, (_, src, _) in enumerate(todo)]
    ds = ray.data.from_items(rows)
    # CPU tasks (a plain function, not actors): decode, resample, window
    ds = ds.map(
        _decode,
        fn_kwargs={"spec": spec, "hop_s": hop_s, "scene_lane": scene_lane},
        num_cpus=1,
    )
    ds = ds.map_batches(
        _Model,
        fn_constructor_args=(spec, str(embedder.device)),
        batch_size=FILES_PER_CALL,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if gpu else 0,
        # other resources than the decode tasks: Ray then keeps the two stages apart (decoding
        # in tasks, the model in long-lived actors) instead of fusing them into the actors
        num_cpus=0.5,
    )
    results: dict[int, dict] = {}
    nxt = 0
    for row in ds.iter_rows():
        results[int(row["i"])] = row
        while nxt in results:  # hand outcomes back in input order
            r = results.pop(nxt)
            job = todo[nxt]
            nxt += 1
            if r["error"]:
                yield job, MusicrepError(str(r["error"]))
                continue
            clip = _from_bytes(r["clip"])
            starts, valid = _from_bytes(r["starts"]), _from_bytes(r["valid"])
            item = _Loaded([], starts, valid, clip, int(r["n"]), float(r["peak"]))
            item.outs = [[_from_bytes(r["ts_emb"])]]
            if r["sc_emb"]:
                item.outs.append([_from_bytes(r["sc_emb"])])
            yield job, finish(embedder, item, hop)
