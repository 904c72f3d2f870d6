"""What `mechlearn practice list/start/check/status` do (cli.py parses the arguments and prints)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mechlearn.entries import ENTRY_DIR, entry_dirs, load_entry
from mechlearn.practice import scoreboard
from mechlearn.practice.catalogue import by_topic, get
from mechlearn.project import TOPICS, MechlearnError

FOLDER = "practice"


def _days(root: Path, numbers: set[int]) -> dict[int, tuple[str, str, list[str]]]:
    """{day: (title, notebook path relative to root, techniques)} for the readable days among `numbers`."""
    found = {}
    for folder in entry_dirs(root):
        day = int(ENTRY_DIR.match(folder.name)["day"])
        if day not in numbers:
            continue
        try:
            entry = load_entry(folder)
        except MechlearnError:
            continue
        if entry.problems:
            continue
        uses = entry.front.get("uses") if isinstance(entry.front.get("uses"), list) else []
        techniques = list(dict.fromkeys(u["technique"] for u in uses if isinstance(u, dict) and "technique" in u))
        found[day] = (str(entry.front["title"]), entry.path.relative_to(root).as_posix(), techniques)
    return found


def list_lines(root: Path, topic: str | None) -> list[str]:
    if topic is not None and topic not in TOPICS:
        raise MechlearnError(f"unknown topic {topic!r} (one of: {', '.join(TOPICS)})")
    exercises = by_topic(topic)
    if not exercises:
        return [f"no exercises in {topic} yet"]
    cleared = scoreboard.load(root)["cleared"]
    days = _days(root, {e.day for e in exercises})
    width = max(len(e.name) for e in exercises)
    lines = [f"{'':2}{'exercise':<{width}}  {'day':>3}  {'topic':<12} {'level':<5}  techniques"]
    for e in exercises:
        mark = "✓" if e.name in cleared else "·"
        techniques = ", ".join(days.get(e.day, ("", "", []))[2]) or "-"
        lines.append(f"{mark} {e.name:<{width}}  {e.day:>3}  {e.topic:<12} {'★' * e.difficulty:<5}  {techniques}")
    done = sum(e.name in cleared for e in exercises)
    lines.append(f"{done} of {len(exercises)} cleared (✓). Start one: mechlearn practice start NAME")
    return lines


def start(root: Path, name: str, force: bool = False) -> Path:
    """Write the exercise's stub into practice/ (never into the package); returns its path."""
    from mechlearn.practice.stub import stub_text, write_stub

    exercise = get(name)
    title, path, _ = _days(root, {exercise.day}).get(exercise.day, (None, None, None))
    return write_stub(root, exercise, stub_text(exercise, title, path), force=force)


def check(root: Path, name: str, file: str | None, timeout: float) -> int:
    """Run the exercise's cases on the learner's file in a fresh Python; print its verdict; score a pass."""
    exercise = get(name)
    path = Path(file).resolve() if file else root / FOLDER / exercise.file_name
    if not path.is_file():
        hint = "" if file else f" (make it with: mechlearn practice start {exercise.name})"
        raise MechlearnError(f"{path.relative_to(root) if path.is_relative_to(root) else path}: no such file{hint}")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # leave no __pycache__ beside the learner's file
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mechlearn.practice.run", exercise.name, str(path)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        scoreboard.record(root, exercise.name, passed=False, n_cases=0)
        raise MechlearnError(
            f"{exercise.name}: Time Limit Exceeded: the cases did not finish in {timeout:g}s"
        ) from None
    sys.stdout.write(proc.stdout)
    if proc.returncode not in (0, 1):  # the checker itself died (killed, out of memory): its last line says why
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise MechlearnError(f"{exercise.name}: the checker stopped: {last}")
    sys.stderr.write(proc.stderr)
    if proc.stdout:  # a verdict was printed (not a one-line error about the file)
        scoreboard.record(root, exercise.name, passed=proc.returncode == 0, n_cases=proc.stdout.count("\n  ✓"))
        if proc.returncode == 0:
            print(f"Cleared! {exercise.name} is on your scoreboard (mechlearn practice status)")
    return proc.returncode
