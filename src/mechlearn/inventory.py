"""The log taken stock of: its days by topic, the numbers each day recorded for other pages to quote, the files each
day committed beside its notebook, and the test functions that check them.

Day 100 reads the whole log through this module, so its tables are computed from the repository, not typed.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mechlearn.entries import Entry, all_entries
from mechlearn.results import RESULTS_FILE

REPO = Path(__file__).resolve().parents[2]  # src/mechlearn/inventory.py -> the repository


@dataclass(frozen=True)
class DayStock:
    day: int
    topic: str
    title: str
    techniques: tuple[str, ...]  # the techniques of its `uses`, in order, each once
    recorded: int  # numbers in its results.json (what blog posts and topic pages may quote)
    artefact_bytes: int  # every file beside index.ipynb: figures, cached weights and metrics, results


def day_stock(entry: Entry) -> DayStock:
    folder = entry.path.parent
    results = folder / RESULTS_FILE
    recorded = len(json.loads(results.read_text(encoding="utf-8"))) if results.is_file() else 0
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != "index.ipynb")
    uses = entry.front.get("uses") or []
    techniques = tuple(dict.fromkeys(u["technique"] for u in uses if isinstance(u, dict) and "technique" in u))
    return DayStock(entry.day, entry.topic or "", str(entry.front.get("title", "")), techniques, recorded, size)


def stock(root: Path = REPO) -> list[DayStock]:
    """One row a finished day (valid front matter, no template placeholders), by day number."""
    return [day_stock(e) for e in sorted(all_entries(root), key=lambda e: e.day) if e.done]


def by_topic(rows: list[DayStock]) -> dict[str, list[int]]:
    """topic -> its day numbers, topics in order of their first day."""
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row.topic, []).append(row.day)
    return out


def technique_counts(rows: list[DayStock]) -> Counter:
    """How many days use each technique."""
    return Counter(t for row in rows for t in row.techniques)


def _is_slow(decorator: ast.expr) -> bool:
    """`@pytest.mark.slow` (also called, `@pytest.mark.slow(...)`)."""
    node = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(node, ast.Attribute) and node.attr == "slow"


def written_tests(path: Path) -> list[tuple[str, bool]]:
    """(name, marked slow) for every test function a test file defines, at module level or in a `Test` class.
    A parametrised test counts once: this counts what was written, not the cases pytest expands it into."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_slow = any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and any(_is_slow(d) for d in (node.value.elts if isinstance(node.value, ast.List) else [node.value]))
        for node in tree.body
    )
    found = []
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) and node.name.startswith("Test") else [node]
        for fn in members:
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name.startswith("test"):
                found.append((fn.name, module_slow or any(_is_slow(d) for d in fn.decorator_list)))
    return found


def count_tests(root: Path = REPO) -> dict[str, tuple[int, int]]:
    """tests/<folder> -> (test functions, of which slow), over every `test_*.py` below it."""
    counts: dict[str, tuple[int, int]] = {}
    for path in sorted((root / "tests").rglob("test_*.py")):
        folder = path.relative_to(root / "tests").parts[0] if path.parent != root / "tests" else "."
        found = written_tests(path)
        total, slow = counts.get(folder, (0, 0))
        counts[folder] = (total + len(found), slow + sum(s for _, s in found))
    return counts
