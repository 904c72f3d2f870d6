"""Executing entries with nbclient: outputs and provenance recorded; a failing cell named with its file; a failed
run leaves the folder as it was; a re-run writes the same bytes."""

import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from mechlearn.cli import main
from mechlearn.execute import CellFailure, normalise, run_entry
from mechlearn.project import MechlearnError
from mechlearn.provenance import EDITOR_METADATA, METADATA_KEY, OUTPUTS_CHANGED, stale_reasons


def test_run_stores_outputs_and_provenance_in_place(tmp_path, write_day):
    path = write_day(
        tmp_path,
        1,
        [
            new_code_cell("from mechlearn.backprop import Value\nv = Value(3.0)\n(v * v).data"),
            new_code_cell("import os\nprint(os.path.basename(os.getcwd()))"),
        ],
    )
    run_entry(path, progress=False)
    nb = nbformat.read(path, 4)
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "9.0"
    assert nb.cells[2].outputs[0]["text"].strip() == "day-001-t", "the kernel must start in a folder of that name"
    assert "mechlearn.backprop.value" in nb.metadata[METADATA_KEY]["provenance"]["modules"]
    assert stale_reasons(nb) == []


def test_a_failing_cell_is_named_from_1_and_the_folder_left_untouched(tmp_path, write_day, folder_bytes):
    """Catches 0-based cell numbers, and a failed run that still overwrites the figure the notebook saves."""
    path = write_day(
        tmp_path,
        1,
        [
            new_markdown_cell("text"),
            new_code_cell("open('figure.png', 'wb').write(b'new figure')\nopen('new.json', 'w').write('{}')"),
            new_code_cell("raise ValueError('boom at x')"),
        ],
    )
    (path.parent / "figure.png").write_bytes(b"the committed figure")
    before = folder_bytes(path.parent)
    with pytest.raises(CellFailure) as info:
        run_entry(path, progress=False)
    assert str(info.value) == (f"{path}: cell 4 of 4 (code cell 2 of 2) raised ValueError: boom at x"), (
        "cells are counted from 1, and the count says what it counts"
    )
    assert folder_bytes(path.parent) == before, "a failed run must leave the notebook and its files as they were"


def test_a_successful_run_moves_the_files_it_wrote_back(tmp_path, write_day, folder_bytes):
    path = write_day(tmp_path, 1, [new_code_cell("open('figure.png', 'wb').write(b'new figure')")])
    (path.parent / "figure.png").write_bytes(b"old figure")
    run_entry(path, progress=False)
    assert (path.parent / "figure.png").read_bytes() == b"new figure"
    assert sorted(folder_bytes(path.parent)) == ["figure.png", "index.ipynb"], "no temporary files left behind"


def test_a_file_the_notebook_writes_into_its_own_folder_by_absolute_path_is_not_reverted(tmp_path, write_day):
    """Caches such as day 67's probes find their day's folder from the package and write there, not in the run's
    copy; moving the copy's untouched old file back over them would silently undo the run's artefacts."""
    path = write_day(tmp_path, 1, [])
    cache = path.parent / "cache.json"
    cache.write_text("old")
    nb = nbformat.read(path, 4)
    nb.cells.append(new_code_cell(f"from pathlib import Path\nPath({str(cache)!r}).write_text('new')"))
    nbformat.write(nb, path)
    run_entry(path, progress=False)
    assert cache.read_text() == "new", "the run's copy of an untouched file overwrote what the notebook wrote"


def test_a_jupyterlab_save_is_stale_until_a_rerun_restores_the_same_bytes(project, write_day, capsys):
    """Catches volatile metadata written into the notebook (nbclient's and JupyterLab's per-cell timestamps, the
    run's duration, widget state, stream output split differently by timing), and a `check` that takes outputs
    made by running cells by hand in JupyterLab for the stored record."""
    path = write_day(project, 1, [new_code_cell("import sys, time\nprint('a')\nsys.stdout.flush()\nprint('b')")])
    run_entry(path, progress=False)
    committed = path.read_bytes()
    nb = nbformat.read(path, 4)
    assert "execution" not in nb.cells[1].metadata and "seconds" not in nb.metadata[METADATA_KEY]
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream"], "one stream, not one output per flush"
    # What JupyterLab writes when the learner runs the cell by hand (a second time) and saves.
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2030-01-01T00:00:00.000000Z"}
    nb.cells[1].execution_count = 2
    nb.cells[1].outputs = [new_output("stream", name="stdout", text="a\n"), new_output("stream", text="b\n")]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    nbformat.write(nb, path)
    capsys.readouterr()
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"stale: {OUTPUTS_CHANGED}\n" in out, "outputs saved from JupyterLab are not the record"
    assert f"stale: {EDITOR_METADATA} (rerun: mechlearn run daily_logs/day-001-t)\n" in out, "says what to run"
    run_entry(path, progress=False)
    assert path.read_bytes() == committed
    assert main(["check", str(path)]) == 0


def test_saving_a_day_unchanged_from_another_editor_is_not_a_new_run(tmp_path, write_day):
    """Catches an output hash that counts the newline some editors end a base64 image with and others drop (Jupyter
    has written it, VS Code drops it): opening a day and saving it without running anything must not make it stale."""
    png = "from IPython.display import Image\nImage(data=bytes.fromhex('89504e470d0a1a0a'), format='png')"
    path = write_day(tmp_path, 1, [new_code_cell(png)])
    run_entry(path, progress=False)
    nb = nbformat.read(path, 4)
    data = nb.cells[1].outputs[0].data
    stored = data["image/png"]
    for resaved in (stored + "\n", stored.rstrip("\n")):
        data["image/png"] = resaved
        assert stale_reasons(nb) == [], "the same image, re-saved"
    data["image/png"] = "iVBORw0KGgpmb28="  # another image
    assert stale_reasons(nb) == [OUTPUTS_CHANGED]


def test_normalise_joins_stream_pieces_and_drops_widget_views():
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "c0ffee"}, "text/plain": "100%|##| 3/3"}
    nb = nbformat.v4.new_notebook(cells=[new_code_cell("x")])
    nb.cells[0].outputs = [
        new_output("stream", name="stdout", text="a"),
        new_output("stream", name="stdout", text="b"),
        new_output("stream", name="stderr", text="warn"),
        new_output("display_data", data=view),
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "f00d"}}),
    ]
    outputs = normalise(nb).cells[0].outputs
    assert [(o.output_type, o.get("text")) for o in outputs] == [
        ("stream", "ab"),
        ("stream", "warn"),
        ("display_data", None),
    ]
    assert outputs[2].data == {"text/plain": "100%|##| 3/3"}, "the widget's text form stays, its random id goes"


def test_a_cell_python_cannot_parse_is_named_before_anything_runs(tmp_path, write_day, folder_bytes):
    path = write_day(tmp_path, 1, [new_code_cell("x = 1"), new_code_cell("%%bash\necho hi")])
    before = folder_bytes(path.parent)
    with pytest.raises(MechlearnError, match=r"index.ipynb: cell 3 of 3 \(code cell 2 of 2\): invalid syntax"):
        run_entry(path, progress=False)
    assert folder_bytes(path.parent) == before


def test_a_folder_that_cannot_be_written_fails_before_the_run(tmp_path, write_day, monkeypatch, folder_bytes):
    """Catches a long run whose results are then lost (or half written) because the folder is read-only."""
    import tempfile

    path = write_day(tmp_path, 1, [new_code_cell("raise SystemExit('must not run')")])
    before = folder_bytes(path.parent)
    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(path.parent)):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(MechlearnError, match=r"day-001-t: cannot write here \(Permission denied\); nothing was run"):
        run_entry(path, progress=False)
    assert folder_bytes(path.parent) == before


def test_a_kernel_that_cannot_start_is_one_line(tmp_path, write_day, monkeypatch, folder_bytes):
    import mechlearn.execute

    path = write_day(tmp_path, 1)
    before = folder_bytes(path.parent)
    from jupyter_client.kernelspec import NoSuchKernel

    def no_kernel(self, name):
        raise NoSuchKernel(name)

    monkeypatch.setattr(mechlearn.execute._ThisPythonKernels, "get_kernel_spec", no_kernel)
    with pytest.raises(MechlearnError) as info:
        run_entry(path, progress=False)
    assert str(info.value).startswith(f"{path}: the kernel failed (NoSuchKernel: ") and "\n" not in str(info.value)
    assert folder_bytes(path.parent) == before


def _running_kernels() -> set[int]:
    """This process's child kernels that still run (a reaped or zombie one does not count)."""
    found = set()
    for stat in os.listdir("/proc"):
        if not stat.isdigit():
            continue
        try:
            with open(f"/proc/{stat}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            with open(f"/proc/{stat}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if int(ppid) == os.getpid() and state != "Z" and b"ipykernel" in cmdline:
            found.add(int(stat))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_no_kernel_outlives_its_run_whether_it_passes_or_fails(tmp_path, write_day):
    """Catches kernels left running after each run: the entries tests then held one per executed day (out of memory)."""
    before = _running_kernels()
    run_entry(write_day(tmp_path, 1, [new_code_cell("1 + 1")]), progress=False)
    assert _running_kernels() == before, "the kernel of a finished run is still running"
    with pytest.raises(MechlearnError):
        run_entry(write_day(tmp_path, 2, [new_code_cell("raise ValueError")]), progress=False)
    assert _running_kernels() == before, "the kernel of a failed run is still running"
