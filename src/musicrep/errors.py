"""Errors a user can cause. Each names the file, line or value at fault and says what to do.

The CLI prints these without a traceback and exits with status 2; batch jobs catch them per item,
record them and go on with the rest.
"""

from __future__ import annotations

from pathlib import Path


class MusicrepError(Exception):
    """Base class of every error a user can cause.

    Parameters
    ----------
    message : str
        What went wrong.
    hint : str, optional
        What to do about it; printed on its own line after the message.
    """

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class AudioError(MusicrepError):
    """A file could not be used as audio (missing, not audio, corrupt, empty, non-finite...)."""

    def __init__(self, path: str | Path, reason: str, hint: str | None = None):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}", hint)


class ConfigError(MusicrepError):
    """A name, option or recipe value is invalid (unknown model, front-end that cannot fit...)."""


class ManifestError(MusicrepError):
    """A manifest CSV is malformed; names the file and the 1-based line of the bad row."""

    def __init__(self, path: str | Path, line: int | None, reason: str, hint: str | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}", hint)
