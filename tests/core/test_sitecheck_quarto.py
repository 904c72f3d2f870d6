"""The site's Lua filters run by Quarto's own pandoc on small documents.

They need Quarto, so they are off in the default `pytest` run; CI runs them after installing Quarto
(`MECHLEARN_QUARTO_TESTS=1 pytest tests/core/test_sitecheck_quarto.py`), before rendering the whole site.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUARTO = shutil.which("quarto")
pytestmark = pytest.mark.skipif(
    not (os.environ.get("MECHLEARN_QUARTO_TESTS") and QUARTO), reason="needs Quarto and MECHLEARN_QUARTO_TESTS=1"
)


def pandoc(root: Path, page: str, markdown: str, *filters: str) -> tuple[str, str]:
    (root / page).parent.mkdir(parents=True, exist_ok=True)
    (root / page).write_text(markdown)
    args = [a for f in filters for a in ("--lua-filter", str(REPO / "filters" / f))]
    proc = subprocess.run(
        [QUARTO, "pandoc", str(root / page), "-f", "markdown", "-t", "html", "--wrap=none", "--mathml", *args],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout, proc.stderr


@pytest.fixture
def project(tmp_path):
    for name in ["day-001-scalars", "day-012-attention", "day-022-bandits", "day-031-ppo"]:
        (tmp_path / "daily_logs" / name).mkdir(parents=True)
    return tmp_path


def test_day_mentions_link_to_their_day_relative_to_the_page(project):
    html, _ = pandoc(
        project, "blog_posts/p/index.qmd", "Day 12 builds on day 1; see days 22–31 and days 1, 12 and 31.", "days.lua"
    )
    assert '<a href="../../daily_logs/day-012-attention/index.ipynb">Day 12</a>' in html
    assert '<a href="../../daily_logs/day-001-scalars/index.ipynb">day 1</a>;' in html
    assert 'days <a href="../../daily_logs/day-022-bandits/index.ipynb">22</a>–<a' in html
    assert html.count("day-031-ppo") == 2 and html.count("day-012-attention") == 2


def test_a_day_never_links_to_itself_and_missing_days_stay_text(project):
    html, _ = pandoc(
        project, "daily_logs/day-012-attention/index.md", "Today, day 12, after day 1, before day 13.", "days.lua"
    )
    assert "day 12," in html and '<a href="../day-001-scalars/index.ipynb">day 1</a>' in html
    assert "day 13." in html and html.count("<a ") == 1


def test_code_links_headings_and_other_words_are_left_alone(project):
    markdown = "`day 12` and [day 1](x.html) and today 12 and a 100-day log.\n\n## Day 12\n\n    day 22\n"
    html, _ = pandoc(project, "index.md", markdown, "days.lua")
    assert "daily_logs" not in html


def test_sizing_commands_texmath_lacks_become_mathml(project):
    math = "$$\\frac1n\\Bigl(R_n\\Bigr) + \\mathbb E\\bigl[r \\bigm| s\\bigr]$$"
    bare_html, bare_err = pandoc(project, "a.md", math)
    assert "Could not convert TeX math" in bare_err, "texmath learnt \\Bigl and \\bigm: filters/mathml.lua can go"
    html, err = pandoc(project, "b.md", math, "mathml.lua")
    assert err == "" and "<math" in html and "\\Bigl" not in html.split("<annotation")[0]


def test_an_accent_over_one_letter_does_not_stretch(project):
    html, _ = pandoc(project, "a.md", "$\\hat A_t + \\widehat{AB}$", "mathml.lua")
    assert '<mover><mi>A</mi><mo accent="true" stretchy="false">' in html
    assert '<mover><mrow><mi>A</mi><mi>B</mi></mrow><mo accent="true">' in html, "a wide hat over AB must stretch"


def test_a_day_page_links_to_its_notebook_and_other_pages_do_not(project):
    day, _ = pandoc(project, "daily_logs/day-012-attention/index.ipynb", "Text.", "notebook.lua")
    assert '<a href="index.ipynb" data-noresolveinput="" download="day-012-attention.ipynb">Download' in day
    post, _ = pandoc(project, "blog_posts/p/index.qmd", "Text.", "notebook.lua")
    assert "Download" not in post
