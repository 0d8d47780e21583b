"""Every python block of the README runs on its own, in a fresh interpreter, outside the source
tree (as a user who copies it would run it)."""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def _params():
    for i, code in enumerate(BLOCKS):
        marks = [pytest.mark.opencl] if "opencl" in code else []
        yield pytest.param(code, id=f"block{i}", marks=marks)


def test_readme_has_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", list(_params()))
def test_readme_block_runs_alone(code):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.run([sys.executable, "-c", code], cwd=d, env=env, capture_output=True,
                              text=True, timeout=300)
    assert proc.returncode == 0, f"README block failed:\n{code}\n--- stderr ---\n{proc.stderr}"
