"""Every daily entry, executed top to bottom in a fresh kernel (marked `entries`; `make test` runs them on both
cores with `pytest -m entries -n 2`). Each runs in a copy of its folder, so the committed files stay as they are;
a failure names the file and the cell."""

import shutil
from pathlib import Path

import pytest

from mechlearn.entries import entry_dirs
from mechlearn.execute import execute_notebook
from mechlearn.project import MechlearnError

REPO = Path(__file__).resolve().parents[1]
ENTRIES = entry_dirs(REPO)


@pytest.mark.entries
@pytest.mark.parametrize("folder", ENTRIES, ids=[p.name for p in ENTRIES])
def test_entry_executes_in_a_fresh_kernel(folder, tmp_path):
    work = tmp_path / folder.name
    shutil.copytree(folder, work)
    try:
        execute_notebook(work / "index.ipynb", progress=False)
    except MechlearnError as e:
        pytest.fail(f"{folder.relative_to(REPO)}/index.ipynb: {str(e).split(': ', 1)[1]}", pytrace=False)
