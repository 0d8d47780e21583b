"""Every tutorial runs as a script and is a valid jupytext percent-format notebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9]*.py"))
HEADER = """# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---
"""


def test_tutorials_found():
    assert TUTORIALS, "no tutorials/[0-9]*.py found"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path):
    env = dict(os.environ, MPLBACKEND="Agg")
    try:
        proc = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name} did not finish within 300 s")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-40:])
        pytest.fail(f"{path.name} exited with {proc.returncode}; stderr tail:\n{tail}")


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_percent_notebook(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER), f"{path.name} does not start with the jupytext header"
    assert "\n# %%" in text, f"{path.name} has no '# %%' cells"
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(path)
    kinds = {c.cell_type for c in nb.cells}
    assert "code" in kinds and "markdown" in kinds, f"{path.name}: cells {kinds}"
