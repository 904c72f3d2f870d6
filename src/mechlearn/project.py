"""Where the project is: its root, its daily entries and the topics a day can belong to."""

from __future__ import annotations

import os
import tempfile
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


def is_project(folder: Path) -> bool:
    return (folder / "_quarto.yml").is_file() and (folder / "daily_logs").is_dir()


def find_root(start: Path | None = None) -> Path:
    """The project root: $MECHLEARN_ROOT, else the nearest folder upwards holding `_quarto.yml` and `daily_logs/`."""
    if env := os.environ.get("MECHLEARN_ROOT"):
        root = Path(env).resolve()
        if not root.is_dir():
            raise MechlearnError(f"MECHLEARN_ROOT={env} is not a folder; point it at the repository (or unset it)")
        if not is_project(root):
            raise MechlearnError(
                f"MECHLEARN_ROOT={env} is not a project (no _quarto.yml beside daily_logs/ there); "
                "point it at the repository (or unset it)"
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_project(folder):
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


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `path` so that it holds either its old bytes or all of the new ones, never a part: the data goes to a
    temporary file in the same folder (same filesystem), then `os.replace` swaps it in. An existing file's
    permissions are kept; a new one gets the usual umask-derived mode, not mkstemp's private 0600.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
