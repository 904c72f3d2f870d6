"""Execute a daily entry with the real Jupyter machinery (nbclient, a fresh `python3` kernel).

`run_entry` never leaves an entry half written: it executes a copy of the entry's folder in a temporary place and
writes the results back only when every cell has run, each file swapped in whole (`os.replace`). A failing cell,
a dead kernel or Ctrl-C leave the notebook and everything beside it (figures, JSON, safetensors) as they were.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from tqdm.auto import tqdm

from mechlearn.entries import cell_label, read_notebook, unparsable_cell
from mechlearn.project import MechlearnError, display_path, write_atomic
from mechlearn.provenance import METADATA_KEY, provenance
from mechlearn.results import RESULTS_FILE
from mechlearn.variables import RESULTS_KEY, results_digest

KERNEL_NAME = "python3"
CELL_TIMEOUT_S = 1800
SHUTDOWN_WAIT_S = 10  # after Ctrl-C: how long the kernel gets to go before its process is killed outright
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOT_RESULTS = {"__pycache__", ".ipynb_checkpoints"}  # what a run leaves in its folder that is not a result


class _ThisPythonKernels(KernelSpecManager):
    """`python3` always means this environment's Python, even if a user-wide kernelspec says otherwise."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == KERNEL_NAME:
            from ipykernel.kernelspec import RESOURCES, get_kernel_dict

            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())
        return super().get_kernel_spec(kernel_name)


@dataclass
class CellFailure(MechlearnError):
    path: Path
    where: str  # e.g. "cell 8 of 12 (code cell 4 of 6)": counted from 1, as a notebook editor shows cells
    ename: str
    evalue: str

    def __str__(self) -> str:
        return f"{display_path(self.path)}: {self.where} raised {self.ename}: {self.evalue or '(no message)'}"


def _failed_cell(nb: nbformat.NotebookNode, path: Path, error: Exception) -> MechlearnError:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                evalue = (out.get("evalue", "").strip().splitlines() or [""])[0]
                return CellFailure(path, cell_label(nb, index), out.get("ename", "Error"), evalue)
    first_line = (str(error).strip().splitlines() or [""])[0]
    return MechlearnError(f"{display_path(path)}: execution failed ({type(error).__name__}: {first_line})")


def _execute_in_thread(client: NotebookClient, **kernel_kwargs) -> None:
    """`client.execute()`, run on an event loop in a worker thread so that Ctrl-C reaches this thread.

    nbclient's own loop installs a SIGINT handler that only schedules a kernel shutdown: the run carries on (and
    writes the notebook) or trips over the half-shut kernel. In a worker thread asyncio cannot install signal
    handlers (nbclient skips them), so SIGINT raises KeyboardInterrupt here, in the main thread. Then the
    run is cancelled, the kernel shut down at once (and killed if it does not go), and the interrupt re-raised.
    A second Ctrl-C during that clean-up is ignored rather than cutting it short.
    """
    km = client.km  # kept: nbclient drops its own reference once it has shut the kernel down
    loop = asyncio.new_event_loop()
    task: asyncio.Task | None = None
    outcome: dict[str, BaseException] = {}
    started = threading.Event()

    def work() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(client.async_execute(**kernel_kwargs))
            started.set()
            loop.run_until_complete(task)
        except BaseException as e:  # handed to the main thread, which decides what it means
            outcome["error"] = e
        finally:
            started.set()
            # nbclient leaves its kernel-alive poller running when a cell is cancelled: end it, then the loop.
            leftover = asyncio.all_tasks(loop)
            for t in leftover:
                t.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    worker = threading.Thread(target=work, name="mechlearn-kernel", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        with _sigint_ignored():
            client.shutdown_kernel = "immediate"  # read by nbclient's clean-up when the task is cancelled
            started.wait(SHUTDOWN_WAIT_S)
            if task is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # the loop closed in between: the run had ended anyway
                    pass
            worker.join(SHUTDOWN_WAIT_S)
            _kill_kernel(km)
        raise
    finally:
        atexit.unregister(client._cleanup_kernel)  # nbclient's exit hook would touch a kernel that is gone
        _kill_kernel(km)  # whatever happened above, no kernel outlives its run
    if "error" in outcome:
        raise outcome["error"]


def _kill_kernel(km: AsyncKernelManager | None) -> None:
    """Make sure no kernel process outlives its run (after an interrupt nbclient may not have started clean-up yet;
    after a normal end it has shut the kernel down and this finds nothing left to do)."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(SHUTDOWN_WAIT_S)
    if km is not None and getattr(km, "connection_file", ""):
        Path(km.connection_file).unlink(missing_ok=True)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block is done, then raise it: for the short step that swaps results in."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def execute_notebook(path: Path, workdir: Path | None = None, progress: bool = True) -> nbformat.NotebookNode:
    """Run every cell of the notebook at `path` top to bottom in a fresh kernel started in `workdir` (default: the
    notebook's folder; files the notebook writes land there).

    Returns the executed notebook, normalised (`normalise`), with the provenance of its outputs recorded in its
    metadata; the file itself is not written. Raises a `MechlearnError` naming the file and the cell when a
    cell raises, and KeyboardInterrupt (after shutting the kernel down) on Ctrl-C.
    """
    path = Path(path)
    nb = read_notebook(path)
    if bad_cell := unparsable_cell(nb):  # provenance reads every code cell as Python: fail before, not after
        raise MechlearnError(f"{display_path(path)}: {bad_cell}; nothing was run")
    workdir = Path(workdir or path.parent)
    code = [c for c in nb.cells if c.cell_type == "code"]
    bar = tqdm(total=len(code), desc=path.parent.name, unit="cell", disable=not progress, leave=False)
    client = NotebookClient(
        nb,
        km=AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_ThisPythonKernels()),
        timeout=CELL_TIMEOUT_S,
        record_timing=False,  # wall-clock timestamps in every cell would change the file on every run
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: bar.update(1),
    )
    try:
        # The kernel's own stderr is only start-up chatter; cell errors arrive as messages. `cleanup_kc`: nbclient
        # shuts down only kernels whose manager it made itself, and this one is ours, so it must be asked to;
        # without it every kernel lived as long as the calling process (the entries tests kept dozens alive).
        _execute_in_thread(client, stderr=subprocess.DEVNULL, cleanup_kc=True)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        raise _failed_cell(nb, path, e) from None
    except Exception as e:  # the kernel would not start or answer: nothing the learner wrote, but still one line
        first_line = (str(e).strip().splitlines() or [""])[0]
        raise MechlearnError(f"{display_path(path)}: the kernel failed ({type(e).__name__}: {first_line})") from None
    finally:
        bar.close()
    normalise(nb)
    # What the outputs were computed from; how long it took is printed, not stored (it differs on every run).
    nb.metadata[METADATA_KEY] = {"provenance": provenance(nb)}
    return nb


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes from run to run without changing what the notebook shows, so a re-run's diff is only
    the real changes: per-cell `execution` timestamps (nbclient, JupyterLab), widget state and the widget views
    that point into it by random model id (tqdm's progress bars: their text form is kept), and stream output
    split into pieces by timing (consecutive pieces of one stream are joined, as Jupyter displays them).
    `execution_count` stays: it is the same on every top-to-bottom run.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not data:
                    continue
            previous = outputs[-1] if outputs else None
            if (
                out.output_type == "stream"
                and previous is not None
                and previous.output_type == "stream"
                and previous.name == out.name
            ):
                previous.text += out.text
                continue
            outputs.append(out)
        cell.outputs = outputs
    return nb


def _check_writable(folder: Path) -> None:
    """Fail before a long run, not after it, when the results could not be written back."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".mechlearn-write-test.")
    except OSError as e:
        raise MechlearnError(f"{display_path(folder)}: cannot write here ({e.strerror}); nothing was run") from None
    os.close(fd)
    os.unlink(probe)


def _digests(folder: Path) -> dict[Path, str]:
    """SHA-256 of every file under `folder` that could be a result, by relative path."""
    out = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = file.relative_to(folder)
        if not NOT_RESULTS & set(rel.parts):
            out[rel] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


def _changed_files(work: Path, before: dict[Path, str]) -> list[Path]:
    """Files of `work` (relative paths) that the run created or changed: new, or different from `before`, the
    digests taken when the copy was made. A file the run did not touch in its copy is not a result of the run, even
    if the entry's own folder now holds another version: a cache that writes into its day's folder by absolute path
    (`othello_experiments.day_dir`, `checkpoint_dir`) has written there directly, and the copy's old file must not
    overwrite it."""
    return [rel for rel, digest in _digests(work).items() if before.get(rel) != digest]


def _commit(work: Path, folder: Path, before: dict[Path, str]) -> list[Path]:
    """Copy the run's new and changed files from `work` into `folder`: each is first written whole beside its
    target, and only when all are staged are they swapped in (`os.replace`, atomic per file). Files the run
    deleted are left in `folder`."""
    changed = _changed_files(work, before)
    staged: list[tuple[Path, Path]] = []
    try:
        for rel in changed:
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            os.close(fd)
            staged.append((Path(tmp), target))
            shutil.copyfile(work / rel, tmp)
            shutil.copymode(target if target.exists() else work / rel, tmp)
    except OSError as e:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        problem = f"cannot write the results ({e.strerror})"
        raise MechlearnError(f"{display_path(folder)}: {problem}; the folder was left as it was") from None
    for tmp, target in staged:
        os.replace(tmp, target)
    return changed


def run_entry(path: Path, progress: bool = True) -> float:
    """Execute an entry in a fresh kernel and store its outputs and provenance in its notebook; returns seconds.

    The run happens in a temporary copy of the entry's folder (same folder name, so the kernel's working directory
    looks the same to the notebook); only when every cell has run are the notebook and the files it wrote moved
    back (`_commit`). Anything else — a failing cell, Ctrl-C — leaves the entry's folder byte for byte as it was,
    except for what the notebook itself wrote into that folder by absolute path (a cache that finds its day's folder
    from the package), which the runner neither sees nor reverts.
    """
    path = Path(path)
    folder = path.parent
    _check_writable(folder)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mechlearn-run-") as tmp:
        work = Path(tmp) / folder.name
        shutil.copytree(folder, work, symlinks=True)
        (work / RESULTS_FILE).unlink(missing_ok=True)  # results.json holds this run's records only
        before = _digests(work)
        try:
            nb = execute_notebook(work / path.name, progress=progress)
        except CellFailure as e:
            e.path = path  # name the entry, not its temporary copy
            raise
        except MechlearnError as e:
            raise MechlearnError(str(e).replace(display_path(work / path.name), display_path(path))) from None
        nb.metadata[METADATA_KEY][RESULTS_KEY] = results_digest(work)  # `check`: results.json is this run's
        write_atomic(work / path.name, nbformat.writes(nb) + "\n")
        with _sigint_deferred():
            _commit(work, folder, before)
            if not (work / RESULTS_FILE).exists():  # the day records nothing any more
                (folder / RESULTS_FILE).unlink(missing_ok=True)
    return time.perf_counter() - start
