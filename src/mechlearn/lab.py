"""JupyterLab for writing a day: `make lab`, or `mechlearn new … --open`.

The server listens on this machine only (127.0.0.1), serves the project root, and starts the `python3` kernel that
every entry records as this environment's Python — the same mapping `mechlearn run` uses (`_ThisPythonKernels`),
so a user-wide or system `python3` kernelspec pointing at another Python cannot stand in for it.

What a learner runs here by hand is a draft. The record of a day is what `mechlearn run` writes; `mechlearn check`
reports a notebook whose outputs were saved from here instead.

    python -m mechlearn.lab [NOTEBOOK] [--port N] [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from mechlearn.project import MechlearnError, find_root

HOST = "127.0.0.1"
KERNELS = "mechlearn.execute._ThisPythonKernels"


def lab_command(root: Path, notebook: Path | None = None, port: int | None = None, browser: bool = True) -> list[str]:
    """The command that starts JupyterLab at `root` (opening `notebook` if given) with this Python's kernel."""
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.kernel_spec_manager_class={KERNELS}",
    ]
    if port is not None:  # exactly this port: a test or a learner who asked for one must not get another
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if not browser:
        argv.append("--no-browser")
    if getattr(os, "geteuid", lambda: -1)() == 0:  # a container's only user; the server is still localhost + token
        argv.append("--allow-root")
    if notebook is not None:
        argv.append(Path(notebook).resolve().relative_to(root.resolve()).as_posix())
    return argv


def open_lab(root: Path, notebook: Path | None = None, port: int | None = None, browser: bool = True) -> int:
    """Run JupyterLab in the foreground until the learner stops it (Ctrl-C twice); returns its exit status."""
    if notebook is not None and not Path(notebook).is_file():
        raise MechlearnError(f"{notebook}: no such notebook")
    if notebook is not None and not Path(notebook).resolve().is_relative_to(root.resolve()):
        raise MechlearnError(f"{notebook}: not in the project ({root}); JupyterLab serves only the project")
    return _become(lab_command(root, notebook, port, browser), root)


def _become(argv: list[str], cwd: Path) -> int:
    """Hand this process over to `argv`, so that Ctrl-C reaches JupyterLab alone: it asks, then shuts its kernels
    down. (A parent waiting in `subprocess.run` would kill it outright on the first Ctrl-C, kernels left behind.)"""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.chdir(cwd)
        os.execv(argv[0], argv)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Windows: no exec; wait, leaving Ctrl-C to JupyterLab
    try:
        return subprocess.run(argv, cwd=cwd).returncode
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mechlearn.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", nargs="?", type=Path, help="a notebook to open (default: the project root)")
    parser.add_argument("--port", type=int, help="listen on exactly this port (default: 8888, or the next free one)")
    parser.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    args = parser.parse_args(argv)
    try:
        return open_lab(find_root(), args.notebook, args.port, not args.no_browser)
    except MechlearnError as e:
        print(f"mechlearn.lab: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
