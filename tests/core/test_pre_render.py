"""Quarto's pre-render step (`_scripts/pre-render.ts`, run by Quarto's own Deno) as a plain `quarto render` runs it:
with no project Python on PATH it uses the project's `.venv`, and without one it stops in one line saying what to run.
Skipped where Quarto is not installed (on PATH or in .venv)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mechlearn.report import PROGRESS_FILE

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "_scripts" / "pre-render.ts"
QUARTO = shutil.which("quarto") or shutil.which("quarto", path=str(Path(sys.prefix) / "bin"))
pytestmark = pytest.mark.skipif(QUARTO is None, reason="needs Quarto")


def quarto_run(project: Path) -> subprocess.CompletedProcess:
    """`quarto run` uses the same handler as the pre-render step; PATH holds no Python that has mechlearn."""
    env = {k: v for k, v in os.environ.items() if k not in ("MECHLEARN_PYTHON", "VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    return subprocess.run(
        [QUARTO, "run", str(SCRIPT)], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_without_the_environment_it_says_to_install_in_one_line(project):
    proc = quarto_run(project)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "pre-render: no Python environment at .venv/bin/python: run `make install` first (it creates .venv)"
    ]
    assert not (project / PROGRESS_FILE).exists()


@pytest.mark.skipif(os.name == "nt", reason="the stand-in .venv is a shell script")
def test_it_runs_mechlearn_progress_with_the_projects_environment(project, write_day):
    """Catches a pre-render step that runs whatever `python` is first on PATH (there: none with mechlearn)."""
    write_day(project, 1)
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # this environment, as a fresh .venv
    python.chmod(0o755)
    proc = quarto_run(project)
    assert proc.returncode == 0, proc.stderr
    assert "Day 1: Day 1 (backprop)" in (project / PROGRESS_FILE).read_text()
