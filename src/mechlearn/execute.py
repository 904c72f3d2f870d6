"""Execute a daily entry with the real Jupyter machinery (nbclient, a fresh `python3` kernel)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from tqdm.auto import tqdm

from mechlearn.entries import read_notebook
from mechlearn.project import MechlearnError, display_path
from mechlearn.provenance import METADATA_KEY, provenance

KERNEL_NAME = "python3"
CELL_TIMEOUT_S = 1800


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
    index: int  # position among all cells, as a notebook editor counts them
    code_index: int  # position among code cells
    ename: str
    evalue: str

    def __str__(self) -> str:
        where = f"{display_path(self.path)}: cell {self.index} (code cell {self.code_index})"
        return f"{where} raised {self.ename}: {self.evalue or '(no message)'}"


def _failed_cell(nb: nbformat.NotebookNode, path: Path, error: Exception) -> MechlearnError:
    code_index = -1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return CellFailure(path, index, code_index, out.get("ename", "Error"), out.get("evalue", ""))
    return MechlearnError(
        f"{display_path(path)}: execution failed ({type(error).__name__}: {str(error).splitlines()[0]})"
    )


def execute_notebook(path: Path, workdir: Path | None = None, progress: bool = True) -> nbformat.NotebookNode:
    """Run every cell of the notebook at `path` top to bottom in a fresh kernel started in `workdir`.

    Returns the executed notebook with the provenance of its outputs recorded in its metadata. Raises a
    `MechlearnError` naming the file and the cell when a cell raises.
    """
    path = Path(path)
    nb = read_notebook(path)
    workdir = Path(workdir or path.parent)
    code = [c for c in nb.cells if c.cell_type == "code"]
    bar = tqdm(total=len(code), desc=path.parent.name, unit="cell", disable=not progress, leave=False)
    client = NotebookClient(
        nb,
        km=KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_ThisPythonKernels()),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(workdir)}},
        on_cell_executed=lambda cell, cell_index, execute_reply: bar.update(1),
    )
    start = time.perf_counter()
    try:
        # The kernel's own stderr is only start-up chatter; cell errors arrive as messages.
        client.execute(stderr=subprocess.DEVNULL)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        raise _failed_cell(nb, path, e) from None
    finally:
        bar.close()
    nb.metadata[METADATA_KEY] = {
        "provenance": provenance(nb),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return nb


def run_entry(path: Path, progress: bool = True) -> float:
    """Execute an entry in place (in its own folder) and write it back with its outputs; returns seconds."""
    nb = execute_notebook(path, progress=progress)
    nbformat.write(nb, path)
    return nb.metadata[METADATA_KEY]["seconds"]
