"""Daily entries: `daily_logs/day-NNN-<slug>/index.ipynb`, front matter in the first raw cell (Quarto's convention)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from mechlearn.project import TOPICS, TOTAL_DAYS, MechlearnError, display_path
from mechlearn.provenance import imported_modules

# The slug is lower-case words joined by hyphens: ASCII, or the title's own letters when it has no Latin ones
# (see `mechlearn.new.slugify`). `[^\W_A-Z]` is a Unicode letter or digit that is neither `_` nor ASCII upper case.
ENTRY_DIR = re.compile(r"^day-(?P<day>\d{3})-(?P<slug>[^\W_A-Z]+(?:-[^\W_A-Z]+)*)$")
REQUIRED = ("title", "date", "day", "categories", "description")
# What `mechlearn new` writes where the learner still has to: a day holding it is in progress, not done.
TODO = "TODO(template)"


@dataclass
class Entry:
    path: Path  # .../daily_logs/day-NNN-slug/index.ipynb
    day: int
    slug: str
    front: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unfinished: bool = False  # still holds the template's TODO(template) placeholders

    @property
    def done(self) -> bool:
        """Written (no placeholders left) with valid front matter: what the day count and the grid show."""
        return not self.problems and not self.unfinished

    @property
    def topic(self) -> str | None:
        cats = self.front.get("categories")
        return cats[0] if isinstance(cats, list) and cats else None

    @property
    def date(self) -> dt.date | None:
        value = self.front.get("date")
        return value if isinstance(value, dt.date) else None


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, turning any parse failure into a one-line error that names the file."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)  # `read` lets through e.g. a cell whose source is a number, which breaks us later
        return nb
    except Exception as e:  # nbformat raises several kinds (JSON, validation, missing keys, OS errors)
        detail = (str(e).strip().splitlines() or [""])[0]  # a validation error runs to dozens of lines
        if where := "/".join(map(str, getattr(e, "absolute_path", []))):
            detail += f" at {where}"
        raise MechlearnError(f"{display_path(path)}: not a readable notebook ({type(e).__name__}: {detail})") from None


def cell_label(nb: nbformat.NotebookNode, index: int) -> str:
    """Where cell `index` (0-based) sits, counted from 1 as a notebook editor shows it, e.g.
    `cell 8 of 12 (code cell 4 of 6)`; the first, raw, cell is `cell 1 of 12 (front matter)`."""
    where = f"cell {index + 1} of {len(nb.cells)}"
    cell = nb.cells[index]
    if cell.cell_type == "code":
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        return f"{where} (code cell {code.index(index) + 1} of {len(code)})"
    if index == 0 and cell.cell_type == "raw":
        return f"{where} (front matter)"
    return f"{where} ({cell.cell_type})"


def parse_front_matter(nb: nbformat.NotebookNode) -> tuple[dict, list[str]]:
    """The YAML in the first cell, a raw cell fenced by `---` lines; returns (front, problems with its form)."""
    if not nb.cells:
        return {}, ["front matter missing: the notebook has no cells (the first must be a raw cell with YAML)"]
    where = cell_label(nb, 0)
    if nb.cells[0].cell_type != "raw":
        return {}, [f"{where}: front matter missing (the first cell must be a raw cell with YAML between --- lines)"]
    lines = nb.cells[0].source.strip().splitlines()
    if len(lines) < 2 or lines[0].strip() != "---" or lines[-1].strip() != "---":
        return {}, [f"{where}: front matter must start and end with a '---' line"]
    try:
        front = yaml.safe_load("\n".join(lines[1:-1])) or {}
    except yaml.YAMLError as e:
        return {}, [f"{where}: front matter is not valid YAML ({e.__class__.__name__})"]
    except ValueError as e:  # YAML that parses but names an impossible value, e.g. `date: 2026-02-31`
        return {}, [f"{where}: front matter holds an impossible value ({e})"]
    if not isinstance(front, dict):
        return {}, [f"{where}: front matter must be a YAML mapping"]
    return front, []


def validate_front_matter(front: dict, day: int | None = None) -> list[str]:
    problems = [f"front matter: missing '{key}'" for key in REQUIRED if key not in front]
    if "title" in front and not (isinstance(front["title"], str) and front["title"].strip()):
        problems.append("front matter: 'title' must be a non-empty string")
    if "description" in front and not (isinstance(front["description"], str) and front["description"].strip()):
        problems.append("front matter: 'description' must be a non-empty string")
    if "date" in front and not isinstance(front["date"], dt.date):
        problems.append(f"front matter: 'date' must be a date written YYYY-MM-DD, got {front['date']!r}")
    if "day" in front:
        d = front["day"]
        if not (isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= TOTAL_DAYS):
            problems.append(f"front matter: 'day' must be an integer from 1 to {TOTAL_DAYS}, got {d!r}")
        elif day is not None and d != day:
            problems.append(f"front matter: 'day' is {d} but the folder says day {day}")
    if "categories" in front:
        cats = front["categories"]
        if not (isinstance(cats, list) and cats and all(isinstance(c, str) and c for c in cats)):
            problems.append("front matter: 'categories' must be a non-empty list of strings (topic first)")
        elif cats[0] not in TOPICS:
            problems.append(f"front matter: first category must be a topic ({', '.join(TOPICS)}), got {cats[0]!r}")
    return problems


def load_entry(path: Path) -> Entry:
    path = Path(path)
    if not path.exists():
        raise MechlearnError(f"{display_path(path)}: no such file or folder")
    if path.is_dir():
        path = path / "index.ipynb"
    m = ENTRY_DIR.match(path.parent.name)
    if path.name != "index.ipynb" or not m:
        expected = "expected daily_logs/day-NNN-<slug>/index.ipynb"
        raise MechlearnError(f"{display_path(path)}: not a daily entry ({expected})")
    if not path.is_file():
        raise MechlearnError(f"{display_path(path)}: no such entry (the folder holds no index.ipynb)")
    nb = read_notebook(path)
    front, problems = parse_front_matter(nb)
    return Entry(
        path=path,
        day=int(m["day"]),
        slug=m["slug"],
        front=front,
        problems=problems or validate_front_matter(front, int(m["day"])),
        unfinished=any(TODO in c.source for c in nb.cells),
    )


def unparsable_cell(nb: nbformat.NotebookNode) -> str | None:
    """`cell 8 of 12 (code cell 4 of 6): invalid syntax` for the first code cell Python cannot parse, else None
    (the import scan behind provenance reads every code cell as Python)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            try:
                imported_modules(cell.source)
            except SyntaxError as e:
                return f"{cell_label(nb, index)}: {e.msg}"
    return None


def entry_dirs(root: Path) -> list[Path]:
    """Every `day-NNN-*` folder under daily_logs/, sorted by day (folders with other names are not entries)."""
    logs = root / "daily_logs"
    found = [p for p in logs.iterdir() if p.is_dir() and ENTRY_DIR.match(p.name)] if logs.is_dir() else []
    return sorted(found, key=lambda p: (int(p.name[4:7]), p.name))


def all_entries(root: Path) -> list[Entry]:
    entries = []
    for folder in entry_dirs(root):
        try:
            entries.append(load_entry(folder))
        except MechlearnError as e:
            m, path = ENTRY_DIR.match(folder.name), folder / "index.ipynb"
            problem = str(e).removeprefix(f"{display_path(path)}: ")  # reported beside the entry's name anyway
            entries.append(Entry(path=path, day=int(m["day"]), slug=m["slug"], problems=[problem]))
    return entries


def resolve_entries(root: Path, paths: list[str] | None) -> list[Entry]:
    """The entries named on the command line (folders or notebooks), or all of them."""
    if not paths:
        return all_entries(root)
    return [load_entry(Path(p).resolve()) for p in paths]
