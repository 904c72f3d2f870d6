"""Ctrl-C in `mechlearn run`, for real: a subprocess on a tiny project, interrupted as a terminal does it (SIGINT to
its process group). It must stop within seconds with exit 130 and one line, shut the kernel down, and leave the
entry's folder byte for byte as it was."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the kernel through /proc")


def processes_with(token: str) -> list[int]:
    """Processes whose environment holds `token`: the `mechlearn` run and the kernel it started, which inherits it."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and token.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def wait_for(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("when", ["while a cell runs, twice", "while the kernel starts"])
def test_ctrl_c_stops_the_run_and_leaves_the_entry_as_it_was(project, write_day, folder_bytes, tmp_path, when):
    started = tmp_path / "cell-started"
    path = write_day(
        project,
        1,
        [
            new_code_cell("import os, pathlib\nopen('figure.png', 'wb').write(b'overwritten')"),
            new_code_cell(f"pathlib.Path({str(started)!r}).touch()\nimport time\ntime.sleep(60)"),
        ],
    )
    (path.parent / "figure.png").write_bytes(b"the committed figure")
    before = folder_bytes(path.parent)
    token = f"MECHLEARN_TEST_{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mechlearn", "run", "-q", str(path.parent)],
        cwd=project,
        env={**os.environ, token: "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    try:
        if when == "while the kernel starts":
            assert wait_for(lambda: len(processes_with(token)) > 1, timeout=30), "the kernel never started"
        else:
            assert wait_for(started.exists, timeout=60), "the sleeping cell never started"
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        if when == "while a cell runs, twice":
            time.sleep(0.2)
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, f"exit {proc.returncode}, stderr: {err!r}"
    assert err.count("\n") == 1 and err.startswith("mechlearn: interrupted"), f"expected one line, got: {err!r}"
    assert elapsed < 10, f"took {elapsed:.1f}s to stop"
    assert folder_bytes(path.parent) == before, "the notebook and the files beside it must be as they were"
    assert wait_for(lambda: not processes_with(token), timeout=5), "the kernel outlived the run"
