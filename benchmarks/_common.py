"""Shared by the benchmark scripts: the CPU name, and replacing one ``## Section`` of
benchmarks/README.md."""

from __future__ import annotations

import platform
import re
from pathlib import Path

from musicrep.utils import write_text_atomic


def update_section(path: Path, heading: str, section: str) -> None:
    """Replace (or append) the section starting with ``heading`` (e.g. ``"## Models"``) in
    ``path``, keeping every other section; written atomically."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    text = text.rstrip("\n") + "\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text += "\n" + section
    write_text_atomic(path, text.rstrip("\n") + "\n")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux) or the platform module."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(module: str) -> str:
    """``module.__version__``, or ``"?"`` when it cannot be imported."""
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001
        return "?"


def load_average() -> float:
    """The 1-minute load average (NaN where the platform has none)."""
    import os

    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def n_cpus() -> int:
    """Logical CPUs this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def time_cases(cases, warmup: int, repeats: int, sync=None, log=print):
    """Build, warm up and time ``cases`` in interleaved rounds.

    Parameters
    ----------
    cases : list of (name, setup)
        ``setup()`` builds the case and returns ``(run, info)``; a case whose setup or warm-up
        raises is reported in the failures instead of aborting the rest.
    warmup, repeats : int
        Untimed and timed runs per case; round ``r`` times every case once, so a change in the
        load of a shared machine hits all cases alike.
    sync : callable, optional
        Called after each run before the clock stops (``torch.cuda.synchronize`` on a GPU).
    log : callable
        Progress messages.

    Returns
    -------
    timed : list of (name, info, times)
    failures : list of str
    """
    import time
    import traceback

    ready, failures = [], []
    for name, setup in cases:
        log(f"building and warming up {name} ...")
        try:
            run, info = setup()
            for _ in range(warmup):
                run()
            if sync is not None:
                sync()
        except Exception as exc:  # noqa: BLE001 - record, go on with the rest
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            continue
        ready.append((name, info, run, []))
    for r in range(repeats):
        log(f"timed round {r + 1}/{repeats} ...")
        for _, _, run, times in ready:
            start = time.perf_counter()
            run()
            if sync is not None:
                sync()
            times.append(time.perf_counter() - start)
    return [(name, info, times) for name, info, _, times in ready], failures
