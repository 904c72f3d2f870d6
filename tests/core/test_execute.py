"""Executing entries with nbclient: outputs and provenance recorded; a failing cell named with its file."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from mechlearn.execute import CellFailure, run_entry
from mechlearn.provenance import METADATA_KEY, stale_reasons

FRONT = "---\ntitle: T\ndate: 2026-01-02\nday: 1\ncategories: [backprop]\ndescription: D\n---"


def write_entry(root, cells):
    folder = root / "daily_logs" / "day-001-t"
    folder.mkdir(parents=True)
    path = folder / "index.ipynb"
    nbformat.write(new_notebook(cells=[new_raw_cell(FRONT), *cells]), path)
    return path


def test_run_stores_outputs_and_provenance_in_place(tmp_path):
    path = write_entry(
        tmp_path,
        [
            new_code_cell("from mechlearn.backprop import Value\nv = Value(3.0)\n(v * v).data"),
            new_code_cell("import os\nprint(os.path.basename(os.getcwd()))"),
        ],
    )
    run_entry(path, progress=False)
    nb = nbformat.read(path, 4)
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "9.0"
    assert nb.cells[2].outputs[0]["text"].strip() == "day-001-t", "the kernel must start in the entry's folder"
    assert "mechlearn.backprop.value" in nb.metadata[METADATA_KEY]["provenance"]["modules"]
    assert stale_reasons(nb) == []


def test_a_failing_cell_is_named_and_the_notebook_left_untouched(tmp_path):
    path = write_entry(
        tmp_path,
        [new_markdown_cell("text"), new_code_cell("x = 1"), new_code_cell("raise ValueError('boom at x')")],
    )
    before = path.read_bytes()
    with pytest.raises(CellFailure) as info:
        run_entry(path, progress=False)
    err = info.value
    assert (err.index, err.code_index, err.ename, err.evalue) == (3, 1, "ValueError", "boom at x")
    assert "day-001-t/index.ipynb: cell 3 (code cell 1) raised ValueError: boom at x" in str(err)
    assert path.read_bytes() == before
