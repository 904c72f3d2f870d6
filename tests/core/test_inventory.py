"""The inventory day 100 reads: day rows from the entries, test functions counted from the source."""

import json
from pathlib import Path

import nbformat

from mechlearn.inventory import by_topic, count_tests, stock, technique_counts, written_tests


def write_day(root: Path, day: int, topic: str, uses: list[tuple[str, str]], results: dict | None = None) -> Path:
    folder = root / "daily_logs" / f"day-{day:03d}-t{day}"
    folder.mkdir(parents=True)
    pairs = "".join(f"\n  - {{technique: {t}, solves: {s}}}" for t, s in uses)
    front = (
        f"---\ntitle: T{day}\ndate: 2026-01-01\nday: {day}\ncategories: [{topic}]\ndescription: D\nuses:{pairs}\n---"
    )
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(front)]), folder / "index.ipynb")
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_days_are_rows_by_day_with_results_sizes_and_distinct_techniques(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project: {type: website}\n")
    write_day(tmp_path, 7, "rl", [("seeding", "a"), ("caching", "b"), ("seeding", "b")])
    folder = write_day(tmp_path, 3, "backprop", [("einsum", "a")], {"x": {"value": 1, "text": "1"}, "y": 2})
    (folder / "weights.bin").write_bytes(b"\0" * 1000)
    rows = stock(tmp_path)
    assert [r.day for r in rows] == [3, 7], "by day number, not folder order"
    assert rows[0].recorded == 2 and rows[1].recorded == 0
    assert rows[0].artefact_bytes == 1000 + len(json.dumps({"x": {"value": 1, "text": "1"}, "y": 2}))
    assert rows[0].artefact_bytes == sum(p.stat().st_size for p in folder.iterdir() if p.name != "index.ipynb")
    assert rows[1].techniques == ("seeding", "caching"), "a technique used twice in a day counts once"
    assert by_topic(rows) == {"backprop": [3], "rl": [7]}
    assert technique_counts(rows) == {"einsum": 1, "seeding": 1, "caching": 1}


def test_test_functions_are_counted_once_each_with_their_slow_marks(tmp_path):
    (tmp_path / "tests" / "rl").mkdir(parents=True)
    (tmp_path / "tests" / "rl" / "test_a.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('x', [1, 2, 3])\ndef test_one(x): ...\n\n"
        "@pytest.mark.slow\ndef test_two(): ...\n\n"
        "def helper(): ...\n\n"
        "class TestGroup:\n    @pytest.mark.slow()\n    def test_three(self): ...\n"
    )
    (tmp_path / "tests" / "rl" / "test_b.py").write_text(
        "import pytest\npytestmark = [pytest.mark.slow]\n\ndef test_four(): ...\n"
    )
    (tmp_path / "tests" / "rl" / "conftest.py").write_text("def test_not_a_test_file(): ...\n")
    assert written_tests(tmp_path / "tests" / "rl" / "test_a.py") == [
        ("test_one", False),
        ("test_two", True),
        ("test_three", True),
    ]
    assert count_tests(tmp_path) == {"rl": (4, 3)}, "a parametrised test counts once; module-level marks count"
