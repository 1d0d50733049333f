"""Check that README.md's commands still match the CLI, and run its tour at a small size.

    python scripts/check_readme.py            # every `musicrep ...` line parses (seconds)
    python scripts/check_readme.py --run      # also run the tour's commands and Python blocks
                                              # in a scratch folder, shrunk (minutes)

The parse check extracts every line that starts with ``musicrep`` from the README's ``bash``
blocks (continuation lines joined, ``#`` comments and ``[optional ...]`` parts removed) and
parses it with the CLI's own argparse parser, so a renamed command or option fails here.

``--section TITLE`` (repeatable) runs other sections the same way (their own Python blocks
too), e.g. ``--section "Self-supervised pre-training"``.

The run check executes the "A short tour" section as written, in order, in a scratch folder
(``configs/`` linked in; commands run by bash so globs expand), with SHRINK's substitutions applied so it takes minutes: fewer, shorter
corpus clips, one training epoch, one probe repeat. Its Python blocks run in the same folder.
Exit status 1 lists every failure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Substitutions applied to the tour's commands by --run (pattern -> replacement), to shrink it.
SHRINK: list[tuple[str, str]] = [
    (r"--clips \d+ --seconds \d+", "--clips 40 --seconds 3"),
    (r"--max-epochs \d+", "--max-epochs 1"),
    (r"^(musicrep benchmark .*)$", r"\1 --repeats 1"),
]

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _section(text: str, title: str) -> str:
    """The README text under ``## title`` up to the next ``## `` heading."""
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start : end if end >= 0 else len(text)]


def shell_commands(text: str) -> list[str]:
    """Every ``musicrep ...`` command of the ``bash`` blocks in ``text``."""
    commands = []
    for lang, body in _BLOCK.findall(text):
        if lang not in ("bash", "sh", "shell"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s\[[^\]]*\]", "", line)  # [--optional VALUE] parts
            line = re.sub(r"(^|\s)#.*$", "", line).strip()  # trailing comment
            argv = shlex.split(line)
            if argv and argv[0] == "musicrep":
                commands.append(line)  # as written, so bash expands its globs
    return commands


def python_blocks(text: str) -> list[str]:
    return [body for lang, body in _BLOCK.findall(text) if lang == "python"]


def parse_all(commands: list[str]) -> list[str]:
    """The commands the CLI's parser rejects, each with argparse's message."""
    sys.path.insert(0, str(ROOT / "src"))
    from musicrep.cli import build_parser

    problems = []
    for command in commands:
        err = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                build_parser().parse_args(shlex.split(command)[1:])
        except SystemExit as exit_:
            if exit_.code not in (0, None):  # --help exits 0
                message = err.getvalue().strip().splitlines()
                problems.append(f"{command}\n    {message[-1] if message else exit_.code}")
    return problems


def shrink(command: str) -> str:
    for pattern, replacement in SHRINK:
        command = re.sub(pattern, replacement, command)
    return command


#: Sections that --run executes, with the sections whose Python blocks run after theirs.
RUN_SECTIONS: dict[str, tuple[str, ...]] = {
    "A short tour": ("Audio and manifests",),
    "Self-supervised pre-training": (),
}


def run_tour(
    readme: Path,
    workdir: Path,
    timeout: float = 1800,
    small: bool = True,
    section: str = "A short tour",
) -> list[str]:
    """Run a section's commands and Python blocks (the tour by default; shrunk unless
    ``small`` is false) in ``workdir``; the failures."""
    text = readme.read_text()
    tour = _section(text, section)
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "configs").exists():
        os.symlink(ROOT / "configs", workdir / "configs")
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    steps = [("shell", shrink(c) if small else c) for c in shell_commands(tour)]
    python = python_blocks(tour)
    for extra in RUN_SECTIONS.get(section, ()):
        python += python_blocks(_section(text, extra))
    # the blocks share names (the second uses the first's imports): run them together
    if python:
        steps += [("python", "\n".join(python))]
    failures = []
    for kind, step in steps:
        t0 = time.perf_counter()
        # shell steps run in bash, so globs such as data/corpus/audio/00000_*.wav expand
        argv = ["bash", "-c", step] if kind == "shell" else [sys.executable, "-c", step]
        proc = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
        )
        took = time.perf_counter() - t0
        shown = step if kind == "shell" else "python block: " + step.strip().splitlines()[0]
        print(f"[{'ok' if proc.returncode == 0 else 'FAIL'} {took:6.1f} s] {shown}", flush=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            failures.append(f"{shown}\n    " + "\n    ".join(tail))
    return failures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--readme", default=str(ROOT / "README.md"))
    p.add_argument("--run", action="store_true", help="also run the tour (minutes)")
    p.add_argument("--workdir", default="readme-check", help="scratch folder for --run")
    p.add_argument("--full-size", action="store_true", help="--run without SHRINK (as written)")
    p.add_argument(
        "--section",
        action="append",
        help="README section to run (repeatable; default: the tour)",
    )
    args = p.parse_args(argv)
    readme = Path(args.readme)
    commands = shell_commands(readme.read_text())
    problems = parse_all(commands)
    print(f"{len(commands)} README command(s) parsed, {len(problems)} rejected")
    if args.run:
        for section in args.section or ["A short tour"]:
            problems += run_tour(
                readme, Path(args.workdir), small=not args.full_size, section=section
            )
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
