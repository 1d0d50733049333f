"""Issue 14: the README's commands parse against the CLI, and `list frontends` shows a shape that fits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_readme", ROOT / "scripts/check_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_readme_command_parses():
    check = _checker()
    commands = check.shell_commands((ROOT / "README.md").read_text())
    assert len(commands) > 40  # the README's bash blocks were found
    problems = check.parse_all(commands)
    assert not problems, "\n".join(problems)


def test_a_wrong_readme_command_is_caught():
    check = _checker()
    text = "```bash\nmusicrep train --epochs-typo 3\nmusicrep nosuchcommand\n```\n"
    assert len(check.parse_all(check.shell_commands(text))) == 2


def test_list_frontends_shows_a_length_that_fits(capsys):
    from musicrep.cli import main

    assert main(["list", "frontends", "--seconds", "1"]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("coala_logmel"))
    assert "(1, 96, 96) for 2.21 s" in line and ", 0)" not in line


@pytest.mark.slow
def test_readme_tour_runs_at_a_small_size(tmp_path):
    check = _checker()
    failures = check.run_tour(ROOT / "README.md", tmp_path, timeout=1200)
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_readme_self_supervised_path_runs(tmp_path):
    """Unlabelled folder -> manifest -> pre-training -> export -> benchmark, as written."""
    check = _checker()
    failures = check.run_tour(
        ROOT / "README.md", tmp_path, timeout=1200, section="Self-supervised pre-training"
    )
    assert not failures, "\n".join(failures)
