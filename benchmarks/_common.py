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
