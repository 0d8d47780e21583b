"""`./run notebook` starts JupyterLab on tutorials/, where each tutorial's .py is a notebook.

The command is run for real, in its own process group, on a free port with a known token; the
test waits until the server answers, asks it what a student would click on, and stops it. It
skips the set-up step (MINIGRAD_SKIP_SETUP=1): the tests run in a venv that is set up, and a
set-up here would rebuild the package under the running tests whenever the tree has changed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


@pytest.fixture
def lab(tmp_path):
    """`./run notebook` running; yields (base URL, token, its output so far)."""
    pytest.importorskip("jupyterlab")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, MINIGRAD_NOTEBOOK_PORT=str(port), JUPYTER_TOKEN=token,
               MINIGRAD_SKIP_SETUP="1", MINIGRAD_VENV=str(Path(sys.executable).parents[1]),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    log = tmp_path / "notebook.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(ROOT / "run"), "notebook"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"./run notebook exited with {proc.returncode}:\n"
                            + log.read_text()[-3000:])
            try:
                if get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer within 60 s:\n" + log.read_text()[-3000:])
            time.sleep(0.5)
        yield base, token, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_run_notebook_serves_the_tutorials(lab):
    base, token, output = lab
    # the command prints the URL to open, with its token, bound to 127.0.0.1 only
    assert f"open {base}/lab?token={token}" in output
    assert "JupyterLab" in output
    status, page = get(f"{base}/lab?token={token}")
    assert status == 200 and "JupyterLab" in page
    # without the token, nothing
    with pytest.raises(urllib.error.HTTPError) as e:
        get(f"{base}/api/contents")
    assert e.value.code == 403
    # the tutorials folder, each tutorial a notebook (jupytext's contents manager)
    listing = json.loads(get(f"{base}/api/contents?token={token}")[1])
    kinds = {c["name"]: c["type"] for c in listing["content"]}
    tutorials = sorted(p.name for p in (ROOT / "tutorials").glob("[0-9]*.py"))
    assert tutorials and all(kinds.get(name) == "notebook" for name in tutorials), kinds
    nb = json.loads(get(f"{base}/api/contents/04_convolutions.py?content=1&token={token}")[1])
    cells = nb["content"]["cells"]
    assert nb["type"] == "notebook"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"].startswith("# 04 - ")
    assert {c["cell_type"] for c in cells} == {"markdown", "code"}
    # a double-click opens a .py as a notebook, not in the text editor
    settings = json.loads(get(f"{base}/lab/api/settings/"
                              f"@jupyterlab/docmanager-extension:plugin?token={token}")[1])
    assert settings["schema"]["properties"]["defaultViewers"]["default"]["python"] \
        == "Jupytext Notebook"
