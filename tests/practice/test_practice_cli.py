"""`mechlearn practice` as a learner uses it: stubs, checks in a subprocess, the scoreboard; nothing else changes."""

import ast
import inspect
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from mechlearn.cli import main
from mechlearn.practice import scoreboard
from mechlearn.practice.catalogue import EXERCISES
from mechlearn.practice.runner import load_learner, original, run_cases
from mechlearn.practice.stub import stub_text

REPO = Path(__file__).resolve().parents[2]

WRONG_UNBROADCAST = """
import numpy as np


def unbroadcast(grad, shape):
    while grad.ndim > len(shape):
        grad = grad.sum(0)
    return grad  # forgets the stretched axes of size 1
"""


def outside_practice(folder_bytes, root: Path) -> dict[str, bytes]:
    return {k: v for k, v in folder_bytes(root).items() if not k.startswith("practice/")}


def test_start_then_check_a_stub_and_a_wrong_answer_changing_nothing_else(project, capsys, folder_bytes):
    """Two real checks (each a fresh Python): the stub's NotImplementedError in one line, then a wrong
    implementation with its failing case, inputs, expected and got; the project outside practice/ is untouched."""
    assert main(["practice", "start", "unbroadcast"]) == 0
    assert capsys.readouterr().out == "practice/unbroadcast.py\n"
    stub = (project / "practice/unbroadcast.py").read_text()
    assert "def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:" in stub
    assert stub.rstrip().endswith("raise NotImplementedError") and "Hints:" in stub
    before = outside_practice(folder_bytes, project)

    assert main(["practice", "check", "unbroadcast"]) == 1
    out = capsys.readouterr().out
    assert out == (
        "unbroadcast: not implemented yet: replace the `raise NotImplementedError` in practice/unbroadcast.py, "
        "then check again\n"
    )

    (project / "practice/unbroadcast.py").write_text(WRONG_UNBROADCAST)
    assert main(["practice", "check", "unbroadcast"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Wrong Answer: unbroadcast — 2/4 cases passed")
    assert "First failing case: sums_stretched_axes_keeping_them" in out
    assert "  input     shape = (1, 3)\n" in out
    assert "  expected  shape (1, 3) float64 [3, 5, 7]\n" in out
    assert "  got       shape (2, 3) float64 [0, 1, 2, 3, 4, 5]\n" in out

    assert outside_practice(folder_bytes, project) == before, "practice changed a file outside practice/"
    board = json.loads((project / scoreboard.FILE).read_text())
    assert board["attempts"] == {"unbroadcast": 2} and board["cleared"] == {}


def test_start_never_overwrites_and_unknown_names_are_one_line(project, capsys):
    assert main(["practice", "start", "compute_gae"]) == 0
    (project / "practice/compute_gae.py").write_text("my work")
    assert main(["practice", "start", "compute_gae"]) == 1
    assert (project / "practice/compute_gae.py").read_text() == "my work"
    assert "already exists" in capsys.readouterr().err
    assert main(["practice", "start", "compute_gea"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mechlearn: error: no exercise called 'compute_gea' (did you mean: compute_gae") and (
        err.count("\n") == 1
    )
    assert main(["practice", "check", "clipped_surrogate"]) == 1
    assert (
        "practice/clipped_surrogate.py: no such file (make it with: mechlearn practice start" in capsys.readouterr().err
    )
    assert main(["practice", "list", "--topic", "cooking"]) == 1


def test_scoreboard_list_and_status(project, capsys):
    scoreboard.record(project, "unbroadcast", passed=True, n_cases=4)
    scoreboard.record(project, "unbroadcast", passed=False, n_cases=0)  # a later failure keeps it cleared
    assert main(["practice", "list", "--topic", "backprop"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["exercise", "day", "topic", "level", "techniques"]
    row = next(line for line in lines if " unbroadcast " in line)
    assert row.startswith("✓ unbroadcast") and " 3  backprop " in row
    assert lines[-1].startswith(f"1 of {len([e for e in EXERCISES if e.topic == 'backprop'])} cleared")
    assert main(["practice", "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Practice: 1 of {len(EXERCISES)} exercises cleared\n")
    assert "  dungeon 1 · backprop     █░░░" in out and "dungeon 4 · interp" in out
    assert "Next: " in out and "mechlearn practice start" in out


def test_every_stub_is_python_that_defines_the_target_and_keeps_its_signature():
    for exercise in EXERCISES:
        tree = ast.parse(stub_text(exercise, "A day", "daily_logs/day-001-x/index.ipynb"))
        (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == exercise.attribute]
        assert [a.arg for a in fn.args.args] == list(inspect.signature(original(exercise)).parameters)[
            : len(fn.args.args)
        ], f"{exercise.name}: the stub's arguments differ from the package's"
        assert isinstance(fn.body[-1], ast.Raise), f"{exercise.name}: the stub must end in raise NotImplementedError"


@pytest.mark.slow
def test_checking_every_unchanged_stub_says_not_implemented(tmp_path):
    """Each stub loads, and its signature fits every case: checking it unchanged says "not implemented"."""
    for exercise in EXERCISES:
        path = tmp_path / exercise.file_name
        path.write_text(stub_text(exercise))
        result = run_cases(exercise, load_learner(exercise, path), source=path)
        assert result.not_implemented, f"{exercise.name}: checking the stub did not say 'not implemented'"


def test_the_practice_folder_is_git_ignored():
    proc = subprocess.run(["git", "check-ignore", "-q", "practice/unbroadcast.py"], cwd=REPO)
    assert proc.returncode == 0, "practice/ must be git-ignored: stubs and the scoreboard are the learner's"


@pytest.mark.slow
def test_the_packages_own_code_is_accepted_and_cleared(project, capsys):
    """A full check that passes, in a subprocess: the package's own GAE, pasted in, clears the exercise."""
    from mechlearn.rl import advantages

    code = "import torch\nfrom jaxtyping import Float\nfrom torch import Tensor\n\n\n"
    code += textwrap.dedent(inspect.getsource(advantages.compute_gae))
    (project / "practice").mkdir()
    (project / "practice/compute_gae.py").write_text(code)
    assert main(["practice", "check", "compute_gae"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Accepted: compute_gae — 2/2 cases passed") and "Cleared!" in out
    assert "compute_gae" in scoreboard.load(project)["cleared"]
