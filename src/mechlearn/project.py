"""Where the project is: its root, its daily entries and the topics a day can belong to."""

from __future__ import annotations

import os
from pathlib import Path

# topic name (used in `--topic` and as a day's first category) -> its folder at the top level
TOPICS: dict[str, str] = {
    "backprop": "01_backprop",
    "transformers": "02_transformers",
    "rl": "03_reinforcement_learning",
    "interp": "04_interpretability",
    "alignment": "05_alignment_notes",
}
TOTAL_DAYS = 100


class MechlearnError(Exception):
    """An error the CLI prints as one line, without a traceback."""


def find_root(start: Path | None = None) -> Path:
    """The project root: $MECHLEARN_ROOT, else the nearest folder upwards holding `_quarto.yml` and `daily_logs/`."""
    if env := os.environ.get("MECHLEARN_ROOT"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file() and (folder / "daily_logs").is_dir():
            return folder
    raise MechlearnError(
        f"no project found at or above {here} (looked for _quarto.yml beside daily_logs/); "
        "run inside the repository or set MECHLEARN_ROOT"
    )


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies inside it (how a user typed it), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
