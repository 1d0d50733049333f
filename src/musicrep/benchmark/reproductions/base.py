"""Paper reproductions the benchmark can report against (``--reference NAME``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from musicrep.registry import Registry

__all__ = ["REPRODUCTIONS", "Reproduction"]


class Reproduction:
    """A paper's numbers and claims, compared with a benchmark's results.

    Subclasses implement :meth:`reference` (the comparison, stored in ``results.json`` under
    ``"reference"``) and :meth:`render` (its report section).
    """

    name = ""

    def reference(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The comparison of a benchmark document with the paper (JSON-ready)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement reference()")

    def render(self, report, document: Mapping[str, Any], ref: Mapping[str, Any], out: Path):
        """Add the comparison's section(s) to ``report`` (a :class:`musicrep.report.Report`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement render()")


#: name -> reproduction class (``REPRODUCTIONS.create("coala")``).
REPRODUCTIONS: Registry[Reproduction] = Registry("reproduction")
