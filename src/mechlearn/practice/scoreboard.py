"""The scoreboard: which exercises the learner has cleared, kept in practice/.scoreboard.json (git-ignored).

Each topic is a "dungeon" to clear; `mechlearn practice status` draws one bar per dungeon.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from mechlearn.practice.catalogue import DIFFICULTY, EXERCISES
from mechlearn.project import TOPICS, MechlearnError, write_atomic

FILE = "practice/.scoreboard.json"


def load(root: Path) -> dict:
    path = Path(root) / FILE
    if not path.is_file():
        return {"cleared": {}, "attempts": {}}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MechlearnError(f"{FILE} is not readable JSON (delete it to start a fresh scoreboard)") from None
    return {"cleared": dict(data.get("cleared", {})), "attempts": dict(data.get("attempts", {}))}


def record(root: Path, name: str, passed: bool, n_cases: int) -> None:
    """Count an attempt at `name`; a first pass clears it (later failures do not un-clear it)."""
    board = load(root)
    board["attempts"][name] = board["attempts"].get(name, 0) + 1
    if passed and name not in board["cleared"]:
        board["cleared"][name] = {"at": dt.datetime.now().isoformat(timespec="seconds"), "cases": n_cases}
    (Path(root) / "practice").mkdir(exist_ok=True)
    write_atomic(Path(root) / FILE, json.dumps(board, indent=1, sort_keys=True) + "\n")


def status_lines(root: Path) -> list[str]:
    cleared = load(root)["cleared"]
    total = sum(e.name in cleared for e in EXERCISES)
    lines = [f"Practice: {total} of {len(EXERCISES)} exercises cleared"]
    for number, topic in enumerate(t for t in TOPICS if any(e.topic == t for e in EXERCISES)):
        exercises = [e for e in EXERCISES if e.topic == topic]
        done = sum(e.name in cleared for e in exercises)
        bar = "█" * done + "░" * (len(exercises) - done)
        flag = "  cleared!" if done == len(exercises) else ""
        lines.append(f"  dungeon {number + 1} · {topic:<12} {bar} {done}/{len(exercises)}{flag}")
    todo = [e for e in EXERCISES if e.name not in cleared]
    if todo:
        nxt = min(todo, key=lambda e: (e.difficulty, e.day))
        lines.append(
            f"Next: {nxt.name} ({nxt.topic}, day {nxt.day}, {DIFFICULTY[nxt.difficulty]}): "
            f"mechlearn practice start {nxt.name}"
        )
    return lines
