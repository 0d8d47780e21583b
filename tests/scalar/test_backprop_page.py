"""The step-through page in a real browser: Debian's Chromium, headless, driven by selenium.

The page is loaded from a file with the network unreachable; the test presses Next (the button
and the arrow key) and checks the highlighted edge and the numbers against the trace. Without
Chromium, chromedriver, selenium or Graphviz the test skips, unless MINIGRAD_REQUIRE_BROWSER=1
(CI), where that is a failure. MINIGRAD_SCREENSHOTS=DIR keeps the screenshots, to look at.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from minigrad import Scalar
from minigrad.scalar import parse, trace

CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--window-size=1200,1000")


def _missing(reason: str):
    if os.environ.get("MINIGRAD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MINIGRAD_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _find(env: str, *names: str) -> str | None:
    for name in (os.environ.get(env), *names):
        if name and (shutil.which(name) or (os.path.isfile(name) and os.access(name, os.X_OK))):
            return shutil.which(name) or name
    return None


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium under selenium, with a fresh profile, that can reach nothing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install selenium; ./run setup does)")
    from minigrad.scalar import GraphvizNotFound, to_svg
    try:
        to_svg(Scalar(1.0))
    except GraphvizNotFound as e:
        _missing(str(e))
    chromium = _find("MINIGRAD_CHROMIUM", "chromium", "chromium-browser")
    driver_exe = _find("MINIGRAD_CHROMEDRIVER", "chromedriver", "/usr/lib/chromium/chromedriver")
    if chromium is None or driver_exe is None:
        _missing("Chromium and chromedriver are not installed (Debian: apt-get install chromium "
                 "chromium-driver; ./run setup does)")
    profile = tempfile.mkdtemp(prefix="minigrad-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given, so selenium never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_exe), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _overflowing(driver):
    """The value boxes whose text sticks out of the box (the browser's font is not the one
    Graphviz measured)."""
    return driver.execute_script("""
        const out = [];
        document.querySelectorAll('#graph svg g.node[id^="v"]').forEach((g) => {
          const polys = g.querySelectorAll('polygon'), box = polys[polys.length - 1].getBBox();
          g.querySelectorAll('text').forEach((t) => {
            const b = t.getBBox();
            if (b.x < box.x - 0.5 || b.x + b.width > box.x + box.width + 0.5) out.push(g.id);
          });
        });
        return out;""")


def _screenshot(driver, tmp_path, name):
    assert _overflowing(driver) == []
    path = tmp_path / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not a blank page
    keep = os.environ.get("MINIGRAD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)


def _text(driver, id_):
    return driver.find_element("id", id_).text


def _current(driver):
    """The ids of the graph's highlighted elements."""
    return set(driver.execute_script(
        "return [...document.querySelectorAll('#graph svg .current')].map(e => e.id)"))


def _grad_shown(driver, i):
    return driver.execute_script(
        "const t = document.querySelectorAll('#v' + arguments[0] + ' text'); "
        "return t[t.length - 1].textContent", i)


def _open(driver, tr, path, title=None):
    tr.to_html(path, title)
    driver.get(path.as_uri())
    assert driver.find_element("id", "counter").text == f"step 0 of {len(tr)}"


def _press(driver, key):
    from selenium.webdriver.common.keys import Keys
    driver.find_element("tag name", "body").send_keys(getattr(Keys, key))


def test_lecture_example_step_by_step(browser, tmp_path):
    root, leaves = parse("2/sin(exp(-x))", {"x": -4.499})
    tr = trace(root)
    x, a, b, c, d = tr.nodes
    _open(browser, tr, tmp_path / "lecture.html", "f = 2/sin(exp(-x)) at x = -4.499")
    d_ = browser  # short
    assert "f = 2/sin(exp(-x)) at x = -4.499" in d_.find_element("tag name", "body").text
    # before the first step: only the output's gradient is known, dd/dd = 1
    assert _current(d_) == {"v4"}
    assert [_grad_shown(d_, i) for i in range(5)] == ["grad ?"] * 4 + ["grad 1"]
    assert not d_.find_element("id", "calc").is_displayed()
    assert d_.find_element("id", "prev").get_attribute("disabled") is not None
    _screenshot(d_, tmp_path, "backprop_step0.png")

    # Next (the button): d = 2 / c sends its gradient to c
    d_.find_element("id", "next").click()
    s = tr[0]
    assert _current(d_) == {"in4_0", "out4", "op4", "v4", "v3"}
    assert _text(d_, "counter") == "step 1 of 4"
    assert "d = 2 / c sends its gradient back to c" in _text(d_, "title")
    assert _text(d_, "upstream") == "1"
    assert _text(d_, "local-sym") == "∂d/∂c"
    assert _text(d_, "local-formula") == "= -d / c ="
    assert _text(d_, "local") == f"{s.local:.6g}" == "-2.34134"
    assert _text(d_, "contribution") == f"{s.contribution:.6g}"
    assert _text(d_, "total") == f"{s.total:.6g}"
    assert _grad_shown(d_, 3) == "grad -2.341"
    # the highlighted edge is drawn red (the style applies, not only the class)
    stroke = d_.execute_script(
        "return getComputedStyle(document.querySelector('#in4_0 path')).stroke")
    assert stroke == "rgb(217, 48, 37)"

    # Next (the right arrow key): c = sin b sends its gradient to b, with cos(b)
    _press(d_, "ARROW_RIGHT")
    s = tr[1]
    assert _current(d_) == {"in3_0", "out3", "op3", "v3", "v2"}
    assert _text(d_, "local-formula") == "= cos(b) ="
    assert (_text(d_, "upstream"), _text(d_, "local"), _text(d_, "contribution")) == (
        "-2.34134", "-0.381824", "0.89398")
    assert _text(d_, "local") == f"{s.local:.6g}" and _text(d_, "total") == f"{s.total:.6g}"
    assert _grad_shown(d_, 2) == "grad 0.894"
    current_row = d_.find_element("css selector", "#backward tr.current").get_attribute(
        "data-step")
    assert current_row == "2"
    _screenshot(d_, tmp_path, "backprop_step2.png")

    # back one step with the left arrow, then to the end
    _press(d_, "ARROW_LEFT")
    assert _text(d_, "counter") == "step 1 of 4" and _grad_shown(d_, 2) == "grad ?"
    _press(d_, "END")
    assert _text(d_, "counter") == "step 4 of 4"
    assert _current(d_) == {"in1_0", "out1", "op1", "v1", "v0"}
    assert _text(d_, "total") == "-80.3931" == f"{tr.grad(leaves['x']):.6g}"
    assert _grad_shown(d_, 0) == "grad -80.39"
    assert "last step" in _text(d_, "note")
    assert d_.find_element("id", "next").get_attribute("disabled") is not None
    _screenshot(d_, tmp_path, "backprop_step4.png")

    # the page loaded nothing besides itself, and logged no error
    assert d_.execute_script("return performance.getEntriesByType('resource').length") == 0
    errors = [e for e in d_.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_diamond_shows_paths_adding_up(browser, tmp_path):
    x = Scalar(1.3, label="x")
    c = x ** 2 * x.sin()  # a = x^2, b = sin x, c = a * b: two paths from x to c
    tr = trace(c)
    _open(browser, tr, tmp_path / "diamond.html")
    into_x = [k + 1 for k, s in enumerate(tr) if s.input is x]
    assert len(into_x) == 2
    for _ in range(into_x[0]):
        browser.find_element("id", "next").click()
    assert _grad_shown(browser, 0) == f"grad {tr[into_x[0] - 1].total:.4g}"
    while _text(browser, "counter") != f"step {into_x[1]} of {len(tr)}":
        _press(browser, "ARROW_RIGHT")
    s = tr[into_x[1] - 1]
    assert "add up" in _text(browser, "note")
    assert _text(browser, "total-formula") == (
        f"= {s.total - s.contribution:.6g} + {s.contribution:.6g} =")
    assert _text(browser, "total") == f"{s.total:.6g}" == f"{tr.grad(x):.6g}"
    # a click on a row of the backward table jumps to that step
    browser.find_element("css selector", '#backward tr[data-step="1"]').click()
    assert _text(browser, "counter") == f"step 1 of {len(tr)}"
    _screenshot(browser, tmp_path, "backprop_diamond.png")
