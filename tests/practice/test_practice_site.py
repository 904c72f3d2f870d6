"""The site's side of practice mode: the Exercises page and the per-day "Practise this" line (filters/practice.lua)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mechlearn.entries import all_entries
from mechlearn.practice.catalogue import EXERCISES
from mechlearn.practice.pages import DATA, PAGE, exercise_files

REPO = Path(__file__).resolve().parents[2]


def test_the_page_lists_every_exercise_under_its_topic_and_links_its_day(project, write_day):
    write_day(project, 3, slug="broadcasting")
    files = exercise_files(project, all_entries(project))
    page = files[PAGE]
    assert all(f"**`{e.name}`**" in page for e in EXERCISES)
    assert "\n**[Day 3 · Day 3](daily_logs/day-003-broadcasting/index.ipynb)** · techniques: " in page
    assert "[Reverse-mode autodiff](techniques/autograd.qmd)" in page, "the day's techniques link their index pages"
    assert "\n**Day 4**\n" in page, "a day that is not written yet is named, not linked"
    days = json.loads(files[DATA])["days"]
    assert days["3"] == ["unbroadcast", "Tensor.__truediv__"]
    assert sorted(n for names in days.values() for n in names) == sorted(e.name for e in EXERCISES)


QUARTO = shutil.which("quarto")
needs_quarto = pytest.mark.skipif(
    not (os.environ.get("MECHLEARN_QUARTO_TESTS") and QUARTO), reason="needs Quarto and MECHLEARN_QUARTO_TESTS=1"
)


def _filtered(root: Path, page: str, front: str) -> str:
    (root / page).parent.mkdir(parents=True, exist_ok=True)
    (root / page).write_text(f"---\ntitle: T\n{front}---\n\nFirst paragraph.\n")
    filters = [a for f in ("uses.lua", "practice.lua") for a in ("-L", str(REPO / "filters" / f))]
    proc = subprocess.run(
        [QUARTO, "pandoc", page, "-t", "html", "--wrap=none", *filters],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout


@needs_quarto
def test_a_day_with_exercises_says_how_to_practise_them(tmp_path):
    shutil.copy(REPO / "vocabulary.yml", tmp_path)
    shutil.copy(REPO / DATA, tmp_path)
    html = _filtered(
        tmp_path, "daily_logs/day-009-x/index.md", "day: 9\nuses: [{technique: einsum, solves: attention}]\n"
    )
    assert (
        "<p>Practise this: <code>conv2d</code>, <code>max_pool2d</code> with "
        '<code>mechlearn practice start NAME</code> (<a href="../../exercises.qmd">all exercises</a>)</p>\n</div>'
    ) in html, "the line closes the block under the title"
    html = _filtered(tmp_path, "daily_logs/day-014-x/index.md", "day: 14\n")
    assert (
        '<div class="ml-practice">\n<p>Practise this: <code>mechlearn practice start Attention.forward</code>' in html
    )
    assert "Practise" not in _filtered(tmp_path, "daily_logs/day-008-x/index.md", "day: 8\n")
    assert "Practise" not in _filtered(tmp_path, "blog_posts/p/index.md", "")
