"""JupyterLab as `make lab` starts it: the server on localhost, the days listed and opened through its REST API, and
the kernel the notebooks name (`python3`) is this environment's Python with `mechlearn` importable; a day saved
from JupyterLab (through its server, and from its own page in headless Chromium) is current while its outputs are
the run's and stale once they come from cells run by hand.

The tests that start a real server and kernel (about 20 s in all) run only with `-m lab` (`make test` runs them).
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

import mechlearn.lab
from mechlearn.cli import main
from mechlearn.execute import run_entry
from mechlearn.lab import HOST, lab_command
from mechlearn.new import new_day
from mechlearn.provenance import OUTPUTS_CHANGED, stale_reasons

START_TIMEOUT_S = 90  # a loaded 2-core machine takes ~10 s; a server that never answers fails the test, not hangs it
CELL_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server's REST API, authenticated with its token."""

    def __init__(self, port: int, token: str):
        self.base, self.token = f"http://{HOST}:{port}", token

    def api(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None


def execute(lab: Lab, kernel_id: str, code: str) -> tuple[str, list[str]]:
    """Run `code` in the kernel over its websocket, as JupyterLab does; returns its stdout and any error names."""
    import websocket

    session = uuid.uuid4().hex
    try:  # the server answers once the kernel has replied to its first request
        ws = websocket.create_connection(
            f"ws://{HOST}:{lab.base.rsplit(':', 1)[1]}/api/kernels/{kernel_id}/channels?session_id={session}",
            header=[f"Authorization: token {lab.token}"],
            timeout=CELL_TIMEOUT_S,
        )
    except (websocket.WebSocketException, OSError) as e:
        raise AssertionError(f"the kernel never answered ({type(e).__name__}: {e}); did another Python start?") from e
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "session": session, "username": "test", "msg_type": "execute_request", "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}))
    stdout, errors = "", []
    deadline = time.monotonic() + CELL_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                stdout += msg["content"]["text"]
            elif kind == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return stdout, errors
    finally:
        ws.close()
    raise AssertionError(f"the cell did not finish within {CELL_TIMEOUT_S}s")


@pytest.fixture
def lab(project, tmp_path_factory):
    """JupyterLab started as `make lab` does, at a project holding two days made by `mechlearn new`.

    Jupyter's user-level folders point into a temporary folder, where a decoy `python3` kernelspec (a Python that
    exits at once) sits first on JUPYTER_PATH: the lab must still start this environment's Python for `python3`.
    """
    new_day(project, "Scalars", "backprop")
    new_day(project, "Attention", "transformers")
    home = tmp_path_factory.mktemp("jupyter-home")
    decoy = home / "decoy" / "kernels" / "python3"
    decoy.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-c", "raise SystemExit('decoy kernel')"],
        "display_name": "Decoy",
        "language": "python",
    }
    (decoy / "kernel.json").write_text(json.dumps(spec))
    env = {
        **os.environ,
        "JUPYTER_PATH": str(home / "decoy"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    port, token = free_port(), secrets.token_hex(16)
    day = project / "daily_logs/day-002-attention/index.ipynb"
    argv = lab_command(project, day, port=port, browser=False) + [
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, for the test that drives the page in Chromium
    ]
    log = (home / "server.log").open("w")
    server = subprocess.Popen(argv, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = Lab(port, token)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, (
                f"JupyterLab exited ({server.returncode}):\n{(home / 'server.log').read_text()}"
            )
            try:
                client.api("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"JupyterLab did not answer within {START_TIMEOUT_S}s"
                time.sleep(0.25)
        client.runtime, client.home = home / "runtime", home
        yield client
    finally:
        try:
            client.api("POST", "/api/shutdown")  # shuts its kernels down too
            server.wait(30)
        except Exception:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.lab
def test_the_lab_lists_the_days_opens_one_and_runs_it_with_this_environments_python(lab, project):
    """Catches a lab whose `python3` is another Python (a user-wide or system kernelspec), one listening beyond
    localhost, and a kernel that cannot import `mechlearn`."""
    (info,) = [json.loads(f.read_text()) for f in lab.runtime.glob("jpserver-*.json")]
    assert info["hostname"] == HOST and info["root_dir"] == str(project), "localhost only, at the project root"
    opens = "".join(f.read_text() for f in lab.runtime.glob("jpserver-*-open.html"))  # what a browser is sent to
    assert "/lab/tree/daily_logs/day-002-attention/index.ipynb" in opens, f"the browser must open the day: {opens}"
    listing = lab.api("GET", "/api/contents/daily_logs")
    days = sorted(item["name"] for item in listing["content"] if item["type"] == "directory")
    assert days == ["day-001-scalars", "day-002-attention"], "the contents API lists the days `mechlearn new` made"
    notebook = lab.api("GET", "/api/contents/daily_logs/day-002-attention/index.ipynb?content=1")
    assert notebook["type"] == "notebook"
    kernel_name = notebook["content"]["metadata"]["kernelspec"]["name"]
    assert kernel_name == "python3", "the kernel name entries record"
    session = lab.api(
        "POST", "/api/sessions", {"path": notebook["path"], "type": "notebook", "kernel": {"name": kernel_name}}
    )
    stdout, errors = execute(
        lab, session["kernel"]["id"], "import os, sys, mechlearn\nprint(sys.prefix)\nprint(os.getcwd())"
    )
    assert errors == [], "the cell that imports mechlearn must run"
    prefix, cwd = stdout.split()
    assert Path(prefix) == Path(sys.prefix), f"python3 must be this environment's Python, got {prefix}"
    assert Path(cwd) == project / "daily_logs/day-002-attention", "the kernel starts in the day's folder"
    lab.api("DELETE", f"/api/sessions/{session['id']}")
    assert lab.api("GET", "/api/kernels") == [], "closing the session shuts its kernel down"


@pytest.mark.lab
def test_a_day_saved_through_the_lab_is_current_until_its_outputs_are_not_the_runs(lab, project, write_day):
    """Catches a `check` that fails a day merely re-saved by JupyterLab's server (prose edited, outputs as stored),
    or that passes one saved with outputs of cells run by hand."""
    path = write_day(project, 3, [new_code_cell("print(6 * 7)")], slug="saved")
    run_entry(path, progress=False)
    api_path = "/api/contents/daily_logs/day-003-saved/index.ipynb"
    model = lab.api("GET", api_path + "?content=1")
    model["content"]["cells"].append(new_markdown_cell("A sentence written in JupyterLab."))
    lab.api("PUT", api_path, {"type": "notebook", "format": "json", "content": model["content"]})
    saved = nbformat.read(path, 4)
    assert saved.cells[-1].source == "A sentence written in JupyterLab." and stale_reasons(saved) == []
    model["content"]["cells"][1]["execution_count"] = 7  # the cell run by hand a few times, then saved
    lab.api("PUT", api_path, {"type": "notebook", "format": "json", "content": model["content"]})
    assert stale_reasons(nbformat.read(path, 4)) == [OUTPUTS_CHANGED]


def test_new_open_starts_the_lab_on_the_new_day(project, monkeypatch, capsys):
    """Catches `--open` that starts JupyterLab elsewhere than the project root, or without the new day."""
    started = []
    monkeypatch.setattr(mechlearn.lab, "_become", lambda argv, cwd: started.append((argv, cwd)) or 0)
    assert main(["new", "Scalars", "--topic", "backprop"]) == 0
    assert started == [] and "make lab NOTEBOOK=daily_logs/day-001-scalars/index.ipynb" in capsys.readouterr().err
    assert main(["new", "Attention", "--topic", "transformers", "--open"]) == 0
    ((argv, cwd),) = started
    assert cwd == project and argv == lab_command(project, project / "daily_logs/day-002-attention/index.ipynb")
    assert argv[-1] == "daily_logs/day-002-attention/index.ipynb"


def test_a_notebook_outside_the_project_is_one_line(project, tmp_path_factory, capsys, monkeypatch):
    outside = tmp_path_factory.mktemp("elsewhere") / "index.ipynb"
    outside.write_text("{}")
    monkeypatch.setattr(mechlearn.lab, "_become", lambda *a: pytest.fail("must not start"))
    assert mechlearn.lab.main([str(outside)]) == 1
    assert capsys.readouterr().err.count("\n") == 1


class Page:
    """A headless Chromium page driven over the DevTools protocol: enough to use JupyterLab's own commands."""

    def __init__(self, home: Path):
        import websocket

        port = free_port()
        self.browser = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", f"--remote-debugging-port={port}",
             f"--user-data-dir={home / 'chromium'}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                targets = json.load(urllib.request.urlopen(f"http://{HOST}:{port}/json", timeout=5))
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"Chromium did not answer within {START_TIMEOUT_S}s"
                time.sleep(0.25)
        page = next(t for t in targets if t["type"] == "page")
        self.ws, self.calls = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=START_TIMEOUT_S), 0

    def js(self, expression: str):
        """Evaluate `expression` in the page (awaiting a promise); its value, or an AssertionError with the JS one."""
        self.calls += 1
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        self.ws.send(json.dumps({"id": self.calls, "method": "Runtime.evaluate", "params": params}))
        while (reply := json.loads(self.ws.recv())).get("id") != self.calls:
            pass
        result = reply["result"]
        assert "exceptionDetails" not in result, result["exceptionDetails"]["exception"]["description"]
        return result["result"].get("value")

    def close(self):
        self.ws.close()
        self.browser.terminate()
        self.browser.wait(30)


CHROMIUM = next((p for name in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(name))), None)
SAVE_AFTER = """(async () => {{
    const app = window.jupyterapp, w = await app.commands.execute('docmanager:open', {{path: '{path}'}});
    await w.context.ready; await w.sessionContext.ready;
    {action}
    await w.context.save(); return w.context.path;
}})()"""
RUN_ALL = """for (let n = 0; n < {times}; n++) {{
        await app.commands.execute('notebook:run-all-cells');
        while (w.content.widgets.some(c => c.model.executionState === 'running'))
            await new Promise(r => setTimeout(r, 200));
    }}"""


@pytest.mark.lab
@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium to drive JupyterLab's page")
def test_a_day_saved_from_the_jupyterlab_page_after_running_cells_by_hand_is_stale(lab, project, write_day):
    """JupyterLab's own page, in headless Chromium: a day saved with only its prose edited stays current; saved after
    its cells were run by hand (twice, so the execution counts differ from a fresh run's) `check` calls stale, until
    `mechlearn run` stores a run's outputs again. Catches a `check` that takes hand-run outputs for the record."""
    path = write_day(project, 3, [new_markdown_cell("Prose."), new_code_cell("print(6 * 7)")], slug="page")
    run_entry(path, progress=False)
    page = Page(lab.home)
    try:
        page.js(f"location.href = '{lab.base}/lab?token={lab.token}'")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not page.js("!!(window.jupyterapp && document.querySelector('.jp-LabShell'))"):
            assert time.monotonic() < deadline, f"JupyterLab's page did not start within {START_TIMEOUT_S}s"
            time.sleep(0.25)
        page.js("window.jupyterapp.restored.then(() => true)")
        nb_path = "daily_logs/day-003-page/index.ipynb"
        edit = "w.content.model.cells.get(1).sharedModel.setSource('Prose, edited in JupyterLab.');"
        assert page.js(SAVE_AFTER.format(path=nb_path, action=edit)) == nb_path
        saved = nbformat.read(path, 4)
        assert saved.cells[1].source == "Prose, edited in JupyterLab." and stale_reasons(saved) == []
        assert page.js(SAVE_AFTER.format(path=nb_path, action=RUN_ALL.format(times=2))) == nb_path
        saved = nbformat.read(path, 4)
        assert saved.cells[2].execution_count == 2 and saved.cells[2].outputs[0].text == "42\n", "ran by hand"
        assert stale_reasons(saved) == [OUTPUTS_CHANGED]
    finally:
        page.close()
    run_entry(path, progress=False)
    assert stale_reasons(nbformat.read(path, 4)) == []
