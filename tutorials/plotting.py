"""The tutorials' figures, made so that a student can read them.

* **Titles inside the canvas**: every figure uses matplotlib's constrained layout, which makes
  room for titles, labels and colour bars instead of cutting them off.
* **Colour bars** on every image, so a colour can be read back as a number.
* **Shared scales** where panels are compared: images drawn with one :class:`Panels` group get
  the same ``vmin``/``vmax`` and one colour bar between them.
* **Signed values** (filters, weights, gradients) on a diverging map centred on zero
  (``RdBu_r`` with symmetric limits: white is 0, red positive, blue negative).
* **A frame** around each image, so a white row or column at its edge does not merge into the
  page.

:func:`save` writes a figure to ``tutorials/figures/`` after :func:`check_readable` has checked
those properties (it raises, naming the problem, when one fails). In a script the figures only
go to files; in a notebook they are also shown under the cell.

>>> import numpy as np
>>> a = np.arange(4.0).reshape(2, 2)
>>> fig = image_panels([Panels([("a", a), ("2a", 2 * a)], label="value")], title="shared")
>>> [im.get_clim() for im in images(fig)]
[(0.0, 6.0), (0.0, 6.0)]
>>> check_readable(fig)
[]
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a script: files only, no window (and no display needed)
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.image import AxesImage

FIG = Path(__file__).resolve().parent / "figures"
FIG.mkdir(parents=True, exist_ok=True)   # a fresh clone has none; tutorials also write .dot files
DIVERGING = "RdBu_r"  # signed values: blue < 0 < red, white at 0
GREY = "gray"         # images (pixel intensities): black low, white high
DIVERGING_MAPS = {"RdBu", "RdBu_r", "coolwarm", "bwr", "seismic", "PuOr", "PuOr_r", "BrBG"}
FRAME_COLOR = "0.25"


@dataclass
class Panels:
    """Images drawn on ONE colour scale with one colour bar: ``images`` is a list of
    ``(title, 2-D array)``; ``signed`` picks a diverging map centred on zero; ``fmt`` (e.g.
    ``"{:.1f}"``) writes each value into its cell."""

    images: list
    label: str = ""
    signed: bool = False
    cmap: str | None = None
    fmt: str | None = None


def color_limits(arrays, signed: bool) -> tuple[float, float]:
    """One (vmin, vmax) for all ``arrays``: their range, or, when ``signed``, symmetric around 0
    (``-m, m`` with ``m`` the largest magnitude), so that 0 sits at the diverging map's centre.

    >>> color_limits([np.array([-1.0, 3.0]), np.array([2.0])], signed=True)
    (-3.0, 3.0)
    >>> color_limits([np.array([-1.0, 3.0]), np.array([2.0])], signed=False)
    (-1.0, 3.0)
    """
    lo = min(float(np.min(a)) for a in arrays)
    hi = max(float(np.max(a)) for a in arrays)
    if signed:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def frame(ax) -> None:
    """No ticks, and a thin dark frame around the image."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color(FRAME_COLOR)
        spine.set_linewidth(1.0)


def _write_values(ax, m, im, fmt):
    # dark text on light cells, white text on dark ones
    for (i, j), v in np.ndenumerate(m):
        r, g, b, _ = im.cmap(im.norm(v))
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9,
                color="white" if dark else "black")


def image_panels(groups, *, title: str | None = None, ncols: int | None = None,
                 panel_size: float = 2.4, titles_fontsize: float | None = None):
    """A figure of images, in the order given, ``ncols`` per row (all in one row by default).
    Each :class:`Panels` group shares one colour scale and one colour bar, placed after its
    last image. Returns the Figure.

    >>> import numpy as np
    >>> w = np.array([[-2.0, 1.0], [0.5, 0.0]])
    >>> fig = image_panels([Panels([("w", w)], signed=True)])
    >>> images(fig)[0].get_clim(), images(fig)[0].cmap.name
    ((-2.0, 2.0), 'RdBu_r')
    """
    n = sum(len(g.images) for g in groups)
    ncols = n if ncols is None else ncols
    nrows = math.ceil(n / ncols)
    extra = 0.9 * len(groups) if nrows == 1 else 0.7
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(ncols * panel_size + extra,
                                      nrows * panel_size + (0.5 if title else 0.1)))
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    k = 0
    for g in groups:
        arrays = [np.asarray(m, dtype=float) for _, m in g.images]
        vmin, vmax = color_limits(arrays, g.signed)
        cmap = g.cmap or (DIVERGING if g.signed else GREY)
        group_axes = flat[k:k + len(arrays)]
        k += len(arrays)
        for ax, (name, _), m in zip(group_axes, g.images, arrays):
            im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(name, fontsize=titles_fontsize)
            frame(ax)
            if g.fmt:
                _write_values(ax, m, im, g.fmt)
        cb = fig.colorbar(im, ax=group_axes, shrink=0.85, aspect=15 * nrows)
        if g.label:
            cb.set_label(g.label)
    if title:
        fig.suptitle(title)
    return fig


def images(fig) -> list[AxesImage]:
    """The images drawn in ``fig`` (not counting the colour bars), in the order of the axes."""
    return [im for ax in fig.axes for im in ax.images]


def _framed(ax) -> bool:
    # axis("off") hides the spines too (axison), whatever their own visibility says
    return ax.axison and all(s.get_visible() for s in ax.spines.values())


def check_readable(fig) -> list[str]:
    """The ways in which ``fig`` would be hard to read (an empty list when none):

    * a title, label, tick label or legend reaching past the canvas, or two axes titles
      overlapping each other;
    * an image without a colour bar for its scale (an image is covered when it shares
      ``cmap`` and limits with an image that has one);
    * an image on a diverging map whose limits are not symmetric around zero;
    * an image without a visible frame.
    """
    problems = []
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    parts = [(f"the axes titled '{ax.get_title()}'" if ax.get_title() else "an axes", ax)
             for ax in fig.axes if ax.get_visible()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(("the figure title", fig._suptitle))
    for what, artist in parts:  # each axes with its title, labels, tick labels and legend
        bb = artist.get_tightbbox(renderer) if hasattr(artist, "get_tightbbox") \
            else artist.get_window_extent(renderer)
        if (bb.x0 < canvas.x0 - 1 or bb.y0 < canvas.y0 - 1 or bb.x1 > canvas.x1 + 1
                or bb.y1 > canvas.y1 + 1):
            problems.append(f"{what} reaches past the canvas")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    titles = [(ax.title.get_text(), ax.title.get_window_extent(renderer), ax) for ax in shown
              if ax.title.get_text()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        titles.append((fig._suptitle.get_text(), fig._suptitle.get_window_extent(renderer), None))
    for i, (a, ba, _) in enumerate(titles):
        for b, bb, _ in titles[i + 1:]:
            if ba.overlaps(bb):
                problems.append(f"titles '{a}' and '{b}' overlap")
    for a, ba, own in titles:  # a title over another plot (or over its own)
        for ax in shown:
            if ax is not own and ba.overlaps(ax.get_window_extent(renderer)):
                problems.append(f"title '{a}' overlaps "
                                + (f"the plot '{ax.get_title()}'" if ax.get_title() else "a plot"))
    bars = [ax._colorbar.mappable for ax in fig.axes if hasattr(ax, "_colorbar")]
    for im in images(fig):
        name = im.axes.get_title() or "an image"
        if im.axes.get_visible() is False:
            continue
        lo, hi = im.get_clim()
        if not any(b.cmap.name == im.cmap.name and b.get_clim() == (lo, hi) for b in bars):
            problems.append(f"{name}: no colour bar for its scale")
        if im.cmap.name in DIVERGING_MAPS and not math.isclose(lo, -hi):
            problems.append(f"{name}: diverging map {im.cmap.name} not centred on 0 "
                            f"(limits {lo:.3g}, {hi:.3g})")
        if not _framed(im.axes):
            problems.append(f"{name}: no frame")
    return problems


def describe(fig) -> dict:
    """What a reader sees, as plain data (the tests assert on it): the figure title, and per
    image its title, colour map, limits and whether it is framed; the number of colour bars."""
    return {
        "title": fig._suptitle.get_text() if fig._suptitle is not None else "",
        "images": [{"title": im.axes.get_title(), "cmap": im.cmap.name,
                    "clim": [float(v) for v in im.get_clim()],
                    "framed": _framed(im.axes)}
                   for im in images(fig)],
        "colorbars": sum(hasattr(ax, "_colorbar") for ax in fig.axes),
        "layout": type(fig.get_layout_engine()).__name__,
    }


SAVED: dict[str, dict] = {}  # name -> describe(fig), for every figure save() wrote


def save(fig, name: str) -> Path:
    """Check ``fig`` with :func:`check_readable` (ValueError naming each problem), write it to
    ``tutorials/figures/NAME`` and return the path. In a script the figure is then closed; in
    a notebook it stays open, so it is shown under the cell."""
    problems = check_readable(fig)
    if problems:
        raise ValueError(f"figure {name} is hard to read: " + "; ".join(problems))
    FIG.mkdir(parents=True, exist_ok=True)
    path = FIG / name
    fig.savefig(path, dpi=100)
    SAVED[name] = describe(fig)
    if "ipykernel" not in sys.modules:
        plt.close(fig)
    print("saved", path)
    return path
