"""The run folder of :func:`~musicrep.training.train`: new, resumed, restarted or overwritten
(:class:`RunFolder`), what a run writes there (``RUN_FILES``) and its ``skipped.txt``."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from musicrep.errors import ConfigError
from musicrep.training.checkpoints import (
    CheckpointError,
    open_checkpoint,
    read_checkpoint,
)

log = logging.getLogger(__name__)

#: Set by rank 0 before fitting so that DDP processes started by Lightning find the same run.
RUN_DIR_ENV = "MUSICREP_RUN_DIR"

#: Files and folders a run writes (what ``--overwrite`` removes; nothing else is touched).
RUN_FILES = (
    "checkpoints",
    "logs",
    "config.json",
    "config.yaml",
    "vocab.json",
    "skipped.txt",
    "tag_vocabulary.json",
    "results.json",
)


def _is_rank_zero() -> bool:
    """Whether this process is the global rank 0 (before a Trainer exists; from the env)."""
    for key in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key]) == 0
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def show_progress() -> bool:
    """Whether progress bars are shown: stderr is a terminal, or ``MUSICREP_PROGRESS=1``."""
    return sys.stderr.isatty() or os.environ.get("MUSICREP_PROGRESS") == "1"


def _default_run_dir(config: dict) -> Path:
    if os.environ.get(RUN_DIR_ENV):
        return Path(os.environ[RUN_DIR_ENV])
    name = (config.get("model") or {}).get("name") or config["objective"]["name"]
    return Path("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}").resolve()


class RunFolder:
    """A run folder and how this session uses it (new, resumed, restarted, overwritten).

    Parameters
    ----------
    path : path
    rank_zero : bool
        Only rank 0 checks, locks and writes.
    """

    def __init__(self, path: str | os.PathLike, rank_zero: bool = True):
        self.path = Path(path).resolve()
        self.rank_zero = rank_zero
        self.checkpoints = self.path / "checkpoints"
        self.last = self.checkpoints / "last.ckpt"
        self.skipped = self.path / "skipped.txt"
        self._lock: Any = None

    def has_run(self) -> bool:
        return (self.path / "config.json").exists() or self.checkpoints.exists()

    def has_checkpoint(self) -> bool:
        return any((self.checkpoints / n).is_file() for n in ("best.ckpt", "last.ckpt"))

    def lock(self) -> None:
        """Hold ``RUN/.lock`` until the process ends (ConfigError if another run holds it)."""
        if not self.rank_zero:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        fh = open(self.path / ".lock", "w")  # noqa: SIM115 - held for the process
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise ConfigError(
                f"another 'musicrep train' is running in {self.path}",
                "wait for it to finish, or choose another --out",
            ) from None
        self._lock = fh

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def start(self, resume: bool, overwrite: bool) -> Path | None:
        """Check the folder for this session; returns the checkpoint to resume from, or None.

        - a new folder: a new run;
        - ``overwrite``: the run's files are removed first, then a new run;
        - ``resume``: continue from ``last.ckpt`` (from ``best.ckpt`` if ``last.ckpt`` cannot be
          read); a run that stopped before its first checkpoint starts from the beginning;
        - a folder holding a run without any checkpoint (stopped before its first epoch ended)
          is started again from the beginning;
        - a folder holding a run with checkpoints is an error (pass --resume or --overwrite).
        """
        if not self.rank_zero:
            return self.last if resume and self.last.is_file() else None
        if overwrite:
            if self.has_run():
                print(f"--overwrite: removing the previous run's files in {self.path}")
            for name in RUN_FILES:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
            return None
        if resume:
            if not self.has_checkpoint():
                print(
                    f"no checkpoint in {self.checkpoints}: the run stopped before its first "
                    "epoch ended; starting it from the beginning"
                )
                self._clear_partial()
                return None
            try:
                read_checkpoint(self.last)
                return self.last
            except CheckpointError as exc:
                problem = exc.message
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    path, _ = open_checkpoint(self.last, prefer="best")
            except CheckpointError as exc:
                raise CheckpointError(
                    f"cannot resume: {exc.message}",
                    f"start the run again with --overwrite, or train into another --out "
                    f"({self.path} is left as it is)",
                ) from None
            print(
                f"{problem}\nresuming from {path} instead (the epochs after it are trained again)"
            )
            return path
        if self.has_checkpoint():
            raise ConfigError(
                f"run folder {self.path} already holds a run",
                "pass --resume to continue it, --overwrite to start it again, or choose "
                "another --out",
            )
        if self.has_run():
            print(
                f"{self.path} holds a run that stopped before its first checkpoint: "
                "starting it again"
            )
            self._clear_partial()
        return None

    def _clear_partial(self) -> None:
        for name in ("logs", "checkpoints", "results.json"):
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()


def _skipped_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and ln[0] != "#"]


def _write_skipped(path: Path, entries) -> None:
    from musicrep.utils import write_text_atomic

    lines = _skipped_lines(path)
    for e in entries:
        if e.format() not in lines:
            lines.append(e.format())
    header = "# path\tsplit\tmanifest line\treason\n"
    write_text_atomic(path, header + "".join(ln + "\n" for ln in lines))
