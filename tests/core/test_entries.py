"""Front matter: the first raw cell, YAML between --- lines, with the fields the site and the CLI rely on."""

import datetime as dt

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from mechlearn.entries import cell_label, load_entry, parse_front_matter, validate_front_matter
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
    _, problems = parse_front_matter(new_notebook(cells=[*cells, new_code_cell("1")]))
    assert len(problems) == 1 and problem in problems[0]
    if cells:
        where = f"cell 1 of 2 ({'front matter' if cells[0].cell_type == 'raw' else cells[0].cell_type})"
        assert problems[0].startswith(where + ": "), "cells are counted from 1, and say what is counted"


def test_an_impossible_date_is_a_problem_not_a_crash():
    """Catches YAML's ValueError for `date: 2026-02-31` escaping as a traceback from every command."""
    front = "---\ntitle: T\ndate: 2026-02-31\nday: 1\ncategories: [rl]\ndescription: D\n---"
    _, problems = parse_front_matter(new_notebook(cells=[new_raw_cell(front)]))
    assert problems == ["cell 1 of 1 (front matter): front matter holds an impossible value (day is out of range "
                        "for month)"]


def test_cell_labels_count_from_1_and_say_what_they_count():
    nb = new_notebook(cells=[new_raw_cell("---\n---"), new_markdown_cell("m"), new_code_cell("a"), new_code_cell("b")])
    labels = [cell_label(nb, i) for i in range(4)]
    assert labels == [
        "cell 1 of 4 (front matter)",
        "cell 2 of 4 (markdown)",
        "cell 3 of 4 (code cell 1 of 2)",
        "cell 4 of 4 (code cell 2 of 2)",
    ]


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
    (tmp_path / "notes.ipynb").write_text("{}")
    with pytest.raises(MechlearnError, match="notes.ipynb: not a daily entry"):
        load_entry(tmp_path / "notes.ipynb")
    with pytest.raises(MechlearnError, match="day-002-nope: no such file or folder"):
        load_entry(tmp_path / "day-002-nope")
    (tmp_path / "day-003-empty").mkdir()
    with pytest.raises(MechlearnError, match="day-003-empty/index.ipynb: no such entry"):
        load_entry(tmp_path / "day-003-empty")


def test_a_notebook_failing_validation_is_named_in_one_line(tmp_path):
    folder = tmp_path / "day-001-x"
    folder.mkdir()
    cell = '{"cell_type": "code", "source": 3, "metadata": {}, "outputs": [], "execution_count": null, "id": "a"}'
    (folder / "index.ipynb").write_text(f'{{"cells": [{cell}], "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}}')
    with pytest.raises(MechlearnError) as info:
        load_entry(folder)
    message = str(info.value)
    assert "day-001-x/index.ipynb: not a readable notebook (NotebookValidationError: 3 is not valid" in message
    assert message.endswith(" at cells/0/source)") and "\n" not in message, "one line, saying where"


def test_a_notebook_with_no_cells_has_no_front_matter():
    _, problems = parse_front_matter(new_notebook(cells=[]))
    assert problems == ["front matter missing: the notebook has no cells (the first must be a raw cell with YAML)"]
