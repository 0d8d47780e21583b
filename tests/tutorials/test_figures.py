"""tutorials/plotting.py: the properties that make a figure readable, asserted on the figure
(shared colour limits, colour bars, diverging maps centred on zero, frames, text inside the
canvas), and check_readable catching each way of breaking them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tutorials"))
import plotting  # noqa: E402
from plotting import Panels, check_readable, color_limits, describe, image_panels  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def pooling_figure():
    """Tutorial 04's comparison on a made-up 8x8 image with a white last column."""
    img = np.zeros((8, 8))
    img[:, -1] = 2.0           # the column that used to merge into the page
    img[2:6, 2:4] = 1.0
    mx = img.reshape(4, 2, 4, 2).max((1, 3))
    av = img.reshape(4, 2, 4, 2).mean((1, 3))
    edges = np.diff(img, axis=1, prepend=0.0) - 0.5
    fig = image_panels(
        [Panels([("digit", img), ("max pool 2x2", mx), ("average pool 2x2", av)],
                label="pixel value"),
         Panels([("vertical edges (Sobel)", edges)], signed=True, label="edge strength")],
        title="a title long enough to need the whole width of the figure, or more")
    return fig, (img, mx, av, edges)


def text_extents(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [fig._suptitle] + [ax.title for ax in fig.axes if ax.get_title()]
    return [t.get_window_extent(r) for t in texts]


def test_pooling_panels_share_one_scale_and_centre_the_signed_one():
    fig, (img, mx, av, edges) = pooling_figure()
    ims = plotting.images(fig)
    assert [im.axes.get_title() for im in ims] == ["digit", "max pool 2x2", "average pool 2x2",
                                                   "vertical edges (Sobel)"]
    # max- and average-pooling (and the image) on ONE grey scale: the image's full range
    assert [im.get_clim() for im in ims[:3]] == [(0.0, 2.0)] * 3
    assert {im.cmap.name for im in ims[:3]} == {"gray"}
    # the signed panel: RdBu_r, symmetric around zero, so white means 0
    lo, hi = ims[3].get_clim()
    assert ims[3].cmap.name == "RdBu_r" and (lo, hi) == (-np.abs(edges).max(), np.abs(edges).max())
    assert ims[3].norm(0.0) == pytest.approx(0.5)
    # one colour bar per scale, showing that scale
    bars = [ax._colorbar for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert [(b.mappable.get_clim(), b.mappable.cmap.name) for b in bars] == \
        [((0.0, 2.0), "gray"), ((lo, hi), "RdBu_r")]
    assert [b.ax.get_ylabel() for b in bars] == ["pixel value", "edge strength"]
    # each image framed in a dark line, so the white column does not merge into the page
    for im in ims:
        spines = im.axes.spines.values()
        assert all(s.get_visible() and s.get_linewidth() > 0 for s in spines)
        assert all(matplotlib.colors.to_rgb(s.get_edgecolor())[0] < 0.5 for s in spines)
    assert check_readable(fig) == []


def test_titles_inside_the_canvas_and_apart():
    fig, _ = pooling_figure()
    canvas = fig.bbox
    extents = text_extents(fig)
    for bb in extents:
        assert canvas.x0 <= bb.x0 and bb.x1 <= canvas.x1 and canvas.y0 <= bb.y0
        assert bb.y1 <= canvas.y1
    for i, a in enumerate(extents):
        assert not any(a.overlaps(b) for b in extents[i + 1:])
    # and no title covers a neighbouring image
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        if ax.get_title():
            t = ax.title.get_window_extent(r)
            assert not any(t.overlaps(o.get_window_extent(r)) for o in fig.axes if o is not ax)


def test_grid_of_filters_one_symmetric_scale():
    w = np.linspace(-0.3, 0.7, 16 * 9).reshape(16, 3, 3)
    fig = image_panels([Panels([(f"filter {i}", w[i]) for i in range(16)], signed=True)],
                       ncols=8, panel_size=1.5, title="filters")
    d = describe(fig)
    assert len(d["images"]) == 16 and d["colorbars"] == 1
    assert {tuple(im["clim"]) for im in d["images"]} == {(-0.7, 0.7)}
    assert d["layout"] == "ConstrainedLayoutEngine"
    assert check_readable(fig) == []


def test_values_written_in_cells_readable_on_dark_and_light():
    m = np.array([[-10.0, 0.5], [1.0, 10.0]])
    fig = image_panels([Panels([("m", m)], signed=True, fmt="{:.1f}")])
    texts = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert texts == {"-10.0": "white", "0.5": "black", "1.0": "black", "10.0": "white"}


def test_color_limits():
    assert color_limits([np.array([-1.0, 2.0]), np.array([3.0])], signed=True) == (-3.0, 3.0)
    assert color_limits([np.array([1.0, 2.0])], signed=False) == (1.0, 2.0)
    assert color_limits([np.zeros(3)], signed=True) == (-1.0, 1.0)   # all zero: still centred
    assert color_limits([np.ones(3)], signed=False) == (0.5, 1.5)    # constant: a valid range


def test_check_readable_names_each_problem():
    # the old tutorial 04 figure: tight_layout-less, own grey scale per panel, no colour bars,
    # axis("off"), a diverging map not centred, a title wider than its panel
    fig, axes = plt.subplots(1, 3, figsize=(6, 2))
    axes[0].imshow(np.arange(4.0).reshape(2, 2), cmap="gray")
    axes[1].imshow(np.arange(4.0).reshape(2, 2) - 1, cmap="coolwarm")
    axes[0].set_title("a title far too long for its little panel")
    axes[1].set_title("edges")
    axes[2].set_title("x")
    axes[1].axis("off")
    fig.suptitle("S" * 200)
    problems = check_readable(fig)
    text = "\n".join(problems)
    assert "the figure title reaches past the canvas" in text
    assert "titles 'a title far too long for its little panel' and 'edges' overlap" in text
    assert "a title far too long for its little panel: no colour bar for its scale" in text
    assert "edges: diverging map coolwarm not centred on 0 (limits -1, 2)" in text
    assert "edges: no frame" in text
    with pytest.raises(ValueError, match="figure bad.png is hard to read: "):
        plotting.save(fig, "bad.png")


def test_save_writes_checked_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "FIG", tmp_path)
    monkeypatch.setattr(plotting, "SAVED", {})
    fig, _ = pooling_figure()
    path = plotting.save(fig, "pool.png")
    assert path == tmp_path / "pool.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plotting.SAVED["pool.png"]["colorbars"] == 2
    assert not plt.fignum_exists(fig.number)  # closed in a script
