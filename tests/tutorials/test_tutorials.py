"""Every tutorial runs as a script AND as a notebook (jupytext reads the .py into cells, nbclient
executes them on a kernel of this venv), and is a jupytext percent-format notebook whose .py
comes back byte for byte after JupyterLab's open and save."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS_DIR = ROOT / "tutorials"
TUTORIALS = sorted(TUTORIALS_DIR.glob("[0-9]*.py"))
IDS = [p.stem for p in TUTORIALS]


def test_tutorials_found():
    assert len(TUTORIALS) >= 7, [p.name for p in TUTORIALS]


def saved_figures(path: Path) -> list[str]:
    """The PNG names a tutorial hands to plotting.save(fig, NAME) (directly, or through
    tutorial 01's draw_graph)."""
    text = path.read_text(encoding="utf-8")
    return sorted(set(re.findall(r'(?:save\(fig, |draw_graph\(\w+, )"(\d\d_\w+\.png)"', text)))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=IDS)
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
    for name in saved_figures(path):
        assert f"saved {TUTORIALS_DIR / 'figures' / name}" in proc.stdout, name


# ---- as notebooks ---------------------------------------------------------------------------

# appended to each notebook: which Python ran it, and what each saved figure shows
REPORT = """import json, sys
import plotting
print("REPORT " + json.dumps({"executable": sys.executable, "figures": plotting.SAVED}))"""


def execute_notebook(path: Path):
    """Run the tutorial's cells in order on the venv's ipykernel (the kernel named python3
    that ipykernel installs into this venv), from the tutorials folder as JupyterLab does.
    Returns the executed notebook and the report of its last cell."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    nb = jupytext.read(path)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(TUTORIALS_DIR)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name} failed as a notebook:\n{str(e)[-3000:]}")
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    report = json.loads(text[text.index("REPORT ") + 7:])
    return nb, report


@pytest.mark.parametrize("path", TUTORIALS, ids=IDS)
def test_tutorial_runs_as_notebook(path):
    nb, report = execute_notebook(path)
    # the kernel was this venv's Python, so it imported the installed minigrad
    assert Path(report["executable"]).resolve() == Path(sys.executable).resolve()
    # every cell ran, in order, and none raised
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    # each figure was checked and saved (plotting.save) and is shown under its cell
    figures = saved_figures(path)
    assert sorted(n for n in report["figures"] if n.endswith(".png")) == figures
    shown = [o for c in code for o in c.outputs
             if {"image/png", "image/svg+xml"} & set(o.get("data", {}))]
    assert len(shown) >= len(figures), (len(shown), figures)
    for name, fig in report["figures"].items():
        assert fig["layout"] == "ConstrainedLayoutEngine", name
        for im in fig["images"]:
            assert im["framed"], (name, im["title"])
            if im["cmap"] == "RdBu_r":  # signed values: white at zero
                assert im["clim"][0] == pytest.approx(-im["clim"][1]), (name, im)
    if path.name.startswith("04_"):
        check_tutorial_04_figures(report["figures"])


def check_tutorial_04_figures(figures):
    """Max- vs average-pooling on one grey scale, with the digit and its blur; the signed edges
    and the learned filters on RdBu_r centred on zero; one colour bar per scale."""
    pool = figures["04_filters_pooling.png"]
    by_title = {im["title"]: im for im in pool["images"]}
    grey = [im for t, im in by_title.items() if "edges" not in t]
    assert {im["title"] for im in grey} >= {"Gaussian blur", "max pool 2x2", "average pool 2x2"}
    assert len({tuple(im["clim"]) for im in grey}) == 1  # one scale for all four
    assert {im["cmap"] for im in grey} == {"gray"}
    edges = by_title["vertical edges (Sobel)"]
    assert edges["cmap"] == "RdBu_r" and edges["clim"][0] == pytest.approx(-edges["clim"][1])
    assert pool["colorbars"] == 2
    assert pool["title"]
    filters = figures["04_learned_filters.png"]
    assert len(filters["images"]) == 16 and filters["colorbars"] == 1
    assert len({tuple(im["clim"]) for im in filters["images"]}) == 1
    lo, hi = filters["images"][0]["clim"]
    assert lo == pytest.approx(-hi) and hi > 0


# ---- the notebook format ------------------------------------------------------------------


@pytest.mark.parametrize("path", TUTORIALS, ids=IDS)
def test_tutorial_is_percent_notebook(path):
    jupytext = pytest.importorskip("jupytext")
    from jupytext.formats import guess_format

    text = path.read_text(encoding="utf-8")
    assert guess_format(text, ".py")[0] == "percent", f"{path.name}: no '# %%' cells"
    nb = jupytext.read(path)
    kinds = [c.cell_type for c in nb.cells]
    assert "code" in kinds and "markdown" in kinds, f"{path.name}: cells {set(kinds)}"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and re.match(r"# \d\d - \S", first.source), \
        f"{path.name} should open with a '# NN - Title' markdown cell"


@pytest.mark.parametrize("path", TUTORIALS, ids=IDS)
def test_open_and_save_keeps_the_py(path, tmp_path):
    """What JupyterLab does on open and save (jupytext's contents manager, with the
    tutorials' jupytext.toml): the .py is unchanged, the outputs go to the paired .ipynb."""
    jupytext = pytest.importorskip("jupytext")
    shutil.copy(path, tmp_path / path.name)
    shutil.copy(TUTORIALS_DIR / "jupytext.toml", tmp_path / "jupytext.toml")
    cm = jupytext.TextFileContentsManager(root_dir=str(tmp_path))
    model = cm.get(path.name)
    assert model["type"] == "notebook"
    nb = model["content"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    cell = next(c for c in nb.cells if c.cell_type == "code")
    cell.execution_count = 1
    cell.outputs = [{"output_type": "stream", "name": "stdout", "text": "ran\n"}]
    cm.save(model, path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    paired = json.loads((tmp_path / path.with_suffix(".ipynb").name).read_text())
    assert paired["metadata"]["kernelspec"]["name"] == "python3"
    assert {"output_type": "stream", "name": "stdout", "text": ["ran\n"]} in [
        o for c in paired["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
