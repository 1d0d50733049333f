"""Paper reproductions registered by name (:data:`REPRODUCTIONS`): ``coala``."""

from musicrep.benchmark.reproductions import coala  # noqa: F401 - registers "coala"
from musicrep.benchmark.reproductions.base import REPRODUCTIONS, Reproduction

__all__ = ["REPRODUCTIONS", "Reproduction"]
