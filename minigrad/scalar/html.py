"""Step through backpropagation in a browser: one self-contained HTML page per :class:`Trace`.

The page holds the graph (Graphviz's SVG, inline), the forward table, and the backward pass one
edge at a time: Next / Previous (buttons, or the arrow keys) highlight the edge, show
upstream x local = contribution with the local derivative's formula (``cos(b)``), and update
the input's gradient in its box as it accumulates. Nothing is loaded from the network: the
script, the style and the data are in the file.

>>> from minigrad.scalar import parse, trace
>>> root, _ = parse("2/sin(exp(-x))", {"x": -4.499})
>>> trace(root).to_html("backprop.html")                # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import re

from . import graph
from .trace import _with_value


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _values_in(s, name) -> str:
    """The values of the names the local derivative's formula uses: ``b = 89.9272``."""
    if s.local_formula.isidentifier():  # the formula is a name: its value is the local one
        return ""
    used = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", s.local_formula))
    nodes = {name(n): n for n in (s.node, *s.node.parents)}
    return ", ".join(f"{k} = {n.data:.6g}" for k, n in nodes.items() if k in used)


def page(tr, title: str | None = None) -> str:
    """The step-through page of trace ``tr`` as HTML text."""
    name, root = tr.name, tr.root
    index = {id(n): i for i, n in enumerate(tr.nodes)}
    rname = name(root)
    title = title or f"backward pass from {rname} = {tr.module(root)}"

    # Each box is drawn with the widest gradient it will show, so every value fits when the page
    # changes the text.
    shown: dict[int, list[str]] = {id(n): ["?"] for n in tr.nodes}
    shown[id(root)].append("1")
    for s in tr.steps:
        shown[id(s.input)].append(graph._fmt(s.total))
    widest = {k: max(v, key=len) for k, v in shown.items()}
    svg = graph.render(graph.to_dot(root, names=tr._names, grad_text=widest), "svg").decode()
    svg = svg[svg.index("<svg"):]

    last = {id(s.input): k for k, s in enumerate(tr.steps)}  # the step completing each grad
    steps = []
    seen: dict[int, int] = {}
    for s in tr.steps:
        i, j = index[id(s.node)], index[id(s.input)]
        before = s.total - s.contribution
        seen[j] = seen.get(j, 0) + 1
        steps.append({
            "node": i, "input": j, "arg": s.arg, "nodeName": s.node_name,
            "inputName": s.input_name, "module": s.module, "formula": s.local_formula,
            "upstream": f"{s.upstream:.6g}", "local": f"{s.local:.6g}",
            "contribution": f"{s.contribution:.6g}", "before": f"{before:.6g}",
            "total": f"{s.total:.6g}", "totalShort": graph._fmt(s.total),
            "path": seen[j], "leaf": s.input.is_leaf, "at": _values_in(s, name),
            "done": last[id(s.input)] == s.index,
            "inputModule": tr.module(s.input) if not s.input.is_leaf else "",
        })
    data = {
        "root": index[id(root)], "rootName": rname,
        "nodes": [{"name": name(n), "value": f"{n.data:.6g}"} for n in tr.nodes],
        "steps": steps,
    }
    blob = json.dumps(data).replace("</", "<\\/")

    fwd = "".join(
        f"<tr><td>{_esc(name(n))}</td><td>{_esc(tr.module(n))}</td>"
        f"<td class=num>{n.data:.6g}</td></tr>" for n in tr.nodes)
    bwd = "".join(
        f'<tr data-step="{k + 1}"><td class=num>{k + 1}</td><td>{_esc(s.node_name)} = '
        f"{_esc(s.module)}</td><td>{_esc(s.input_name)}</td><td class=num>{s.upstream:.6g}</td>"
        f"<td>∂{_esc(s.node_name)}/∂{_esc(s.input_name)} = "
        f"{_esc(_with_value(s.local_formula, s.local))}</td>"
        f"<td class=num>{s.contribution:.6g}</td><td class=num>{s.total:.6g}</td></tr>"
        for k, s in enumerate(tr.steps))
    return (_PAGE.replace("%TITLE%", _esc(title)).replace("%ROOT%", _esc(rname))
            .replace("%SVG%", svg).replace("%FORWARD%", fwd).replace("%BACKWARD%", bwd)
            .replace("%DATA%", blob).replace("%N%", str(len(steps))))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minigrad: %TITLE%</title>
<style>
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
         margin: 0 auto; max-width: 1100px; padding: 12px 20px 40px; color: #1f1f1f; }
  h1 { font-size: 20px; margin: 4px 0 2px; }
  h2 { font-size: 16px; margin: 22px 0 6px; }
  .sub { color: #555; margin: 0 0 10px; }
  code, .mono, td.num { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
  #graph { border: 1px solid #ddd; border-radius: 6px; padding: 8px; overflow-x: auto;
           background: #fff; }
  #graph svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
  .controls { display: flex; gap: 10px; align-items: center; margin: 14px 0 8px; flex-wrap: wrap; }
  button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid #888;
           background: #f6f6f6; cursor: pointer; }
  button.primary { background: #1a73e8; color: #fff; border-color: #1a73e8; }
  button:disabled { opacity: .45; cursor: default; }
  #counter { font-weight: 600; min-width: 9em; }
  .hint { color: #666; font-size: 13px; }
  #panel { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; background: #fafafa; }
  #title { font-size: 17px; font-weight: 600; margin: 0 0 6px; }
  #note { color: #444; margin: 6px 0 0; }
  table.calc td { padding: 3px 10px 3px 0; vertical-align: baseline; }
  table.calc td.what { color: #555; }
  table.calc td.sym { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
  table.calc td.val { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
                      font-weight: 700; }
  table.calc tr.result td.val { color: #b3261e; }
  table.data { border-collapse: collapse; }
  table.data th, table.data td { border-bottom: 1px solid #e4e4e4; padding: 3px 12px 3px 0;
                                 text-align: left; }
  table.data td.num { text-align: right; }
  table.data tr[data-step] { cursor: pointer; }
  table.data tr.future { color: #aaa; }
  table.data tr.current { background: #fde7e5; }
  .cols { display: flex; gap: 36px; flex-wrap: wrap; align-items: flex-start; }
  .legend { color: #555; font-size: 13px; margin-top: 6px; }
  .swatch { display: inline-block; width: 22px; height: 0; border-top: 3px solid #d93025;
            vertical-align: middle; }
  /* the graph: the edge being walked, its module, and the two values it joins */
  g.edge.current path { stroke: #d93025; stroke-width: 3.5px; stroke-dasharray: 9 5;
                        animation: backward 0.9s linear infinite; }
  /* the dashes run against the arrow: the gradient flows from the output back to the input */
  @keyframes backward { from { stroke-dashoffset: 0; } to { stroke-dashoffset: 28; } }
  g.edge.current polygon { fill: #d93025; stroke: #d93025; }
  g.node.current > g > a > polygon:last-of-type,
  g.node.current > polygon:last-of-type { stroke: #d93025; stroke-width: 3px; }
  g.node.current polygon:first-of-type { fill: #fde7e5; }
  text.grad-unknown { fill: #9a9a9a; }
</style>
</head>
<body>
<h1>Backpropagation, one edge at a time</h1>
<p class="sub">%TITLE%</p>
<div id="graph">%SVG%</div>
<p class="legend">Boxes are values (name, value, and <b>grad</b> = &part;%ROOT%/&part;node,
  filled in as the backward pass reaches it; <b>?</b> = not reached yet); blue boxes are the
  inputs, the thick box is the output %ROOT%. Diamonds are the modules that compute the values;
  arrows show the forward pass. The backward pass walks the arrows in
  reverse: the edge of the current step is <span class="swatch"></span> red, its dashes running
  the way the gradient flows.</p>

<div class="controls">
  <button id="prev" title="Previous step (left arrow key)">&#9664; Previous</button>
  <button id="next" class="primary" title="Next step (right arrow key)">Next &#9654;</button>
  <span id="counter"></span>
  <button id="reset" title="Back to the start (Home key)">Start over</button>
  <span class="hint">Keys: &larr; &rarr; step, Home / End jump. Click a row below to jump.</span>
</div>

<div id="panel">
  <p id="title"></p>
  <table class="calc" id="calc">
    <tr><td class="what">upstream</td><td class="sym" id="upstream-sym"></td>
        <td class="sym">=</td><td class="val" id="upstream"></td></tr>
    <tr><td class="what">&times; local derivative</td><td class="sym" id="local-sym"></td>
        <td class="sym" id="local-formula"></td><td class="val" id="local"></td>
        <td class="what" id="local-at"></td></tr>
    <tr><td class="what">= contribution</td><td class="sym">upstream &times; local</td>
        <td class="sym" id="contribution-sym"></td><td class="val" id="contribution"></td></tr>
    <tr class="result"><td class="what" id="total-what"></td><td class="sym" id="total-sym"></td>
        <td class="sym" id="total-formula"></td><td class="val" id="total"></td></tr>
  </table>
  <p id="note"></p>
</div>

<div class="cols">
<div>
<h2>Forward pass</h2>
<table class="data" id="forward"><tr><th>node</th><th>module</th><th>value</th></tr>
%FORWARD%</table>
</div>
<div>
<h2>Backward pass (%N% steps)</h2>
<table class="data" id="backward"><tr><th>step</th><th>module</th><th>into</th>
<th>upstream</th><th>local</th><th>contribution</th><th>grad</th></tr>
%BACKWARD%</table>
</div>
</div>

<script type="application/json" id="trace-data">%DATA%</script>
<script>
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("trace-data").textContent);
  const steps = data.steps, N = steps.length, R = data.rootName;
  const $ = (id) => document.getElementById(id);
  const svg = document.querySelector("#graph svg");
  const d = (a, b) => "\\u2202" + a + "/\\u2202" + b;

  // The grad line of each value box (third text of the box); centred, so that any width fits.
  const gradText = data.nodes.map((n, i) => {
    const g = svg.querySelector("#v" + i);
    const texts = g ? g.querySelectorAll("text") : [];
    const t = texts[texts.length - 1];
    if (t) {
      const box = g.querySelector("polygon").getBBox();
      t.setAttribute("text-anchor", "middle");
      t.setAttribute("x", box.x + box.width / 2);
    }
    return t;
  });

  let k = 0;  // steps done

  function grads(upTo) {
    const g = data.nodes.map(() => null);
    g[data.root] = "1";
    for (let s = 0; s < upTo; s++) g[steps[s].input] = steps[s].totalShort;
    return g;
  }

  function mark(id, on) {
    const el = svg.querySelector("#" + id);
    if (el) el.classList.toggle("current", on);
  }

  function clearMarks() {
    svg.querySelectorAll(".current").forEach((el) => el.classList.remove("current"));
  }

  function setText(id, s) { $(id).textContent = s; }

  function render() {
    clearMarks();
    const g = grads(k);
    gradText.forEach((t, i) => {
      if (!t) return;
      t.textContent = "grad " + (g[i] === null ? "?" : g[i]);
      t.classList.toggle("grad-unknown", g[i] === null);
    });
    setText("counter", "step " + k + " of " + N);
    $("prev").disabled = k === 0;
    $("next").disabled = k === N;
    document.querySelectorAll("#backward tr[data-step]").forEach((tr) => {
      const s = +tr.dataset.step;
      tr.classList.toggle("current", s === k);
      tr.classList.toggle("future", s > k);
    });
    const calc = $("calc");
    if (k === 0) {
      setText("title", "The forward pass is done: every box holds its value.");
      calc.style.display = "none";
      setText("note", "The backward pass starts at the output " + R + " with " + d(R, R) +
        " = 1 and walks the graph backwards, one edge per step: each step multiplies the " +
        "gradient of a module's output (upstream) by the module's local derivative and adds " +
        "the product into the gradient of its input. Press Next.");
      mark("v" + data.root, true);
      return;
    }
    const s = steps[k - 1];
    calc.style.display = "";
    mark("in" + s.node + "_" + s.arg, true);
    mark("out" + s.node, true);
    mark("op" + s.node, true);
    mark("v" + s.node, true);
    mark("v" + s.input, true);
    setText("title", "Step " + k + " of " + N + ": " + s.nodeName + " = " + s.module +
      " sends its gradient back to " + s.inputName);
    setText("upstream-sym", d(R, s.nodeName) + "  (grad of " + s.nodeName + ")");
    setText("upstream", s.upstream);
    setText("local-sym", d(s.nodeName, s.inputName));
    setText("local-formula", s.formula && s.formula !== s.local ? "= " + s.formula + " =" : "=");
    setText("local", s.local);
    setText("local-at", s.at ? "at " + s.at : "");
    setText("contribution-sym", "= " + s.upstream + " \\u00d7 " + s.local + " =");
    setText("contribution", s.contribution);
    setText("total-what", "grad of " + s.inputName);
    setText("total-sym", d(R, s.inputName));
    setText("total-formula", "= " + s.before + " + " + s.contribution + " =");
    setText("total", s.total);
    const notes = [];
    if (s.path > 1) {
      notes.push(s.inputName + " is used on more than one path to " + R + ": this is path " +
        s.path + ", and the paths' contributions add up (the multivariate chain rule).");
    }
    if (s.done && s.leaf) {
      notes.push("That completes " + d(R, s.inputName) + " = " + s.total + ": " +
        s.inputName + " is an input of the graph, and every path from it to " + R +
        " is counted.");
    } else if (s.done) {
      notes.push("That completes " + d(R, s.inputName) + ": every path from " + s.inputName +
        " to " + R + " is counted, so " + s.inputName + " = " + s.inputModule +
        " can now pass it back to its own inputs.");
    } else {
      notes.push(s.inputName + " is used again on another path to " + R + ": its gradient " +
        "is not complete yet.");
    }
    let note = notes.join(" ");
    if (k === N) note += (note ? " " : "") + "That was the last step: every gradient is known.";
    setText("note", note);
  }

  function go(to) { k = Math.max(0, Math.min(N, to)); render(); }
  $("next").addEventListener("click", () => go(k + 1));
  $("prev").addEventListener("click", () => go(k - 1));
  $("reset").addEventListener("click", () => go(0));
  document.querySelectorAll("#backward tr[data-step]").forEach((tr) =>
    tr.addEventListener("click", () => go(+tr.dataset.step)));
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const to = {ArrowRight: k + 1, ArrowDown: k + 1, ArrowLeft: k - 1, ArrowUp: k - 1,
                Home: 0, End: N}[e.key];
    if (to === undefined) return;
    e.preventDefault();
    go(to);
  });
  render();
})();
</script>
</body>
</html>
"""
