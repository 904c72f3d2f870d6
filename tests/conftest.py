from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_raw_cell

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty log: `_quarto.yml` beside `daily_logs/`, as the CLI looks for them; cwd set to it."""
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    (tmp_path / "daily_logs").mkdir()
    (tmp_path / "vocabulary.yml").write_text((REPO / "vocabulary.yml").read_text())  # the terms front matter uses
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MECHLEARN_ROOT", raising=False)
    return tmp_path


def _write_day(root: Path, day: int, cells=None, slug: str = "t", date: str = "2026-01-02", topic="backprop") -> Path:
    front = (
        f"---\ntitle: Day {day}\ndate: {date}\nday: {day}\ndescription: D\narena: '0.4'\n"
        f"uses: [{{technique: autograd, solves: backward-pass}}]\ncategories: [{topic}, autograd, backward-pass]\n---"
    )
    folder = root / "daily_logs" / f"day-{day:03d}-{slug}"
    folder.mkdir(parents=True)
    path = folder / "index.ipynb"
    nbformat.write(new_notebook(cells=[new_raw_cell(front), *(cells or [new_code_cell("1 + 1")])]), path)
    return path


@pytest.fixture
def write_day():
    """`write_day(root, day, cells=None, slug="t", date=..., topic=...)`: a written day (no template placeholders),
    its front matter, then `cells` (default: one code cell, `1 + 1`); returns the notebook's path."""
    return _write_day


@pytest.fixture
def folder_bytes():
    """`folder_bytes(folder)`: every file under it by relative path; equal before and after = nothing touched."""
    return _folder_bytes


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
