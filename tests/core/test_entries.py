"""Front matter: the first raw cell, YAML between --- lines, with the fields the site and the CLI rely on."""

import datetime as dt

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from mechlearn.entries import load_entry, parse_front_matter, validate_front_matter
from mechlearn.project import MechlearnError

GOOD = {"title": "T", "date": dt.date(2026, 1, 2), "day": 3, "categories": ["rl", "ppo"], "description": "D"}


def test_good_front_matter_has_no_problems():
    assert validate_front_matter(GOOD, day=3) == []


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"title": None}, "missing 'title'"),
        ({"title": "  "}, "'title' must be a non-empty string"),
        ({"date": "yesterday"}, "'date' must be a date"),
        ({"day": 0}, "'day' must be an integer from 1 to 100"),
        ({"day": True}, "'day' must be an integer"),
        ({"categories": "rl"}, "'categories' must be a non-empty list"),
        ({"categories": ["ppo", "rl"]}, "first category must be a topic"),
        ({"description": None}, "missing 'description'"),
    ],
)
def test_each_bad_field_is_named(change, problem):
    front = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    assert any(problem in p for p in validate_front_matter(front, day=3))


def test_day_must_match_the_folder():
    assert validate_front_matter(GOOD, day=4) == ["front matter: 'day' is 3 but the folder says day 4"]


@pytest.mark.parametrize(
    "cells, problem",
    [
        ([new_markdown_cell("---\ntitle: T\n---")], "first cell must be a raw cell"),
        ([new_raw_cell("title: T")], "start and end with a '---' line"),
        ([new_raw_cell("---\ntitle: [unclosed\n---")], "not valid YAML"),
        ([new_raw_cell("---\n- a list\n---")], "must be a YAML mapping"),
        ([], "front matter missing"),
    ],
)
def test_malformed_front_matter_cells(cells, problem):
    _, problems = parse_front_matter(new_notebook(cells=cells))
    assert len(problems) == 1 and problem in problems[0] and problems[0].startswith("cell 0")


def test_load_entry_reads_the_folder_name(tmp_path):
    folder = tmp_path / "daily_logs" / "day-012-some-slug"
    folder.mkdir(parents=True)
    front = "---\ntitle: T\ndate: 2026-01-02\nday: 12\ncategories: [interp]\ndescription: D\n---"
    nbformat.write(new_notebook(cells=[new_raw_cell(front), new_code_cell("1")]), folder / "index.ipynb")
    entry = load_entry(folder)
    assert (entry.day, entry.slug, entry.topic, entry.problems) == (12, "some-slug", "interp", [])


def test_unreadable_or_misplaced_notebooks_are_named(tmp_path):
    folder = tmp_path / "day-001-x"
    folder.mkdir()
    (folder / "index.ipynb").write_text("{not json")
    with pytest.raises(MechlearnError, match="day-001-x/index.ipynb: not a readable notebook"):
        load_entry(folder)
    with pytest.raises(MechlearnError, match="not a daily entry"):
        load_entry(tmp_path / "notes.ipynb")
