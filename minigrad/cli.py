"""The ``minigrad`` command: trace, demo, train, check, devices."""

from __future__ import annotations

import argparse
import sys


class _TraceValues(argparse.Action):
    """``VAR=VALUE ...``: each a name and a finite number, no name twice (else a usage error)."""

    def __call__(self, parser, namespace, items, option_string=None):
        import math
        out: dict[str, float] = {}
        for item in items:
            name, eq, val = item.partition("=")
            name = name.strip()
            if not eq or not name.isidentifier():
                parser.error(f"expected VAR=VALUE (e.g. x=-4.499), got {item!r}")
            try:
                v = float(val)
            except ValueError:
                parser.error(f"the value of {name} is not a number: {val!r}")
            if not math.isfinite(v):
                parser.error(f"the value of {name} must be a finite number, got {val!r}")
            if name in out:
                parser.error(f"{name} is given twice")
            out[name] = v
        setattr(namespace, self.dest, out)


# What trace can write, by file extension (the format always comes from the extension).
_TRACE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".html": "html", ".htm": "html",
                  ".dot": "dot", ".gv": "dot"}


class _TraceOutput(argparse.Action):
    """``--svg/--png/--html/--dot FILE`` and ``-o FILE``: the format comes from FILE's extension,
    which must be one trace writes (and, for --svg etc., the one the option names)."""

    def __call__(self, parser, namespace, path, option_string=None):
        import os
        ext = os.path.splitext(path)[1].lower()
        fmt = _TRACE_FORMATS.get(ext)
        if fmt is None:
            parser.error(f"{option_string} {path}: cannot tell the format from the extension "
                         f"{ext or '(none)'!s}; use one of "
                         + ", ".join(sorted(set(_TRACE_FORMATS))))
        want = option_string.lstrip("-")
        if want in _TRACE_FORMATS.values() and fmt != want:
            parser.error(f"{option_string} {path}: the file's extension says {fmt}; name it "
                         f"*.{want}, or write --{fmt} {path}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            parser.error(f"{option_string} {path}: the folder {folder} does not exist")
        outputs = list(getattr(namespace, self.dest, None) or [])
        outputs.append(path)
        setattr(namespace, self.dest, outputs)


def _cmd_trace(args) -> int:
    from .scalar import trace
    from .scalar.expr import ExpressionError, parse

    try:
        root, leaves = parse(args.expr, args.values)
    except (ExpressionError, ValueError, ZeroDivisionError, OverflowError) as e:
        print(f"minigrad trace: {e}", file=sys.stderr)
        return 2
    try:
        t = trace(root)
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        print(f"minigrad trace: the backward pass failed: {e}", file=sys.stderr)
        return 2
    print(f"f = {args.expr}\n")
    print(t)
    print()
    for name, leaf in leaves.items():
        print(f"df/d{name} = {t.grad(leaf):.6g}")
    if args.outputs:
        from .scalar.graph import GraphvizNotFound
        at = ", ".join(f"{k} = {v:g}" for k, v in args.values.items())
        title = f"f = {args.expr}" + (f" at {at}" if at else "")
        for path in args.outputs:
            try:
                t.write(path, title=title)
            except (GraphvizNotFound, OSError) as e:
                print(f"minigrad trace: cannot write {path}: {e}", file=sys.stderr)
                return 1
            if path.lower().endswith((".html", ".htm")):
                print(f"wrote the step-through page to {path} (open it in a browser)")
            else:
                print(f"wrote the graph to {path}")
    return 0


def _cmd_train(args) -> int:
    from .train import train_digits

    if args.device != "cpu":
        from . import backends
        try:
            backends.get(args.device)
        except ValueError as e:
            print(f"minigrad train: {e}", file=sys.stderr)
            return 2
        if args.device.startswith("opencl"):
            from .backends.opencl import runtime
            if not runtime.available():
                print(f"minigrad train: no OpenCL device: {runtime.why_unavailable()}",
                      file=sys.stderr)
                return 2
    lead = True                 # the process that prints and saves (rank 0 of a distributed run)
    if args.distributed:
        from . import distributed as dist
        try:
            dist.init_process_group("mpi")
        except ImportError as e:
            print(f"minigrad train --distributed: {e}", file=sys.stderr)
            return 2
        lead = dist.get_rank() == 0
        n = dist.get_world_size()
        if lead:
            print(f"distributed: {n} rank(s) over MPI, batch size {args.batch_size} per rank, "
                  f"{n * args.batch_size} per step")
    net, hist = train_digits(args.model, epochs=args.epochs, batch_size=args.batch_size,
                             lr=args.lr, optimizer=args.optimizer, seed=args.seed,
                             device=args.device, progress=not args.no_progress,
                             log=print if lead else _quiet, distributed=args.distributed)
    if lead:
        print(net)
        print(f"final test accuracy {hist.test_accuracy[-1]:.2%} after "
              f"{len(hist.test_accuracy)} epochs in {hist.seconds:.1f} s")
        if args.save:
            from .io import save
            save(net.state_dict(), args.save)
            print(f"saved to {args.save}")
    if args.distributed:
        dist.destroy_process_group()
    return 0


def _quiet(*args, **kwargs) -> None:
    pass


def _cmd_check(args) -> int:
    from .check import agreement_table, engines_available, format_table

    engines = engines_available()
    print(f"engines: {', '.join(engines)}")
    rows = agreement_table(seed=args.seed, engines=engines)
    print(format_table(rows))
    return 0 if all(r[-1] for r in rows) else 1


def _cmd_devices(args) -> int:
    try:
        from .backends.opencl import runtime
    except ImportError as e:
        print(f"OpenCL support is not installed: {e} (pip install pyopencl)", file=sys.stderr)
        return 1
    if not runtime.available():
        print(runtime.why_unavailable(), file=sys.stderr)
        return 1
    print(runtime.format_devices())
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo
    return run_demo(epochs=args.epochs, out=args.out, progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="minigrad", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser(
        "trace", help="forward values and the backward pass of an expression",
        description="Forward values and the backward pass of an expression, one edge per row; "
        "optionally the graph as an image (Graphviz) or a page that steps through backprop "
        "in a browser.",
        epilog='example: minigrad trace "2/sin(exp(-x))" x=-4.499 --html backprop.html')
    t.add_argument("expr", help='the expression, e.g. "2/sin(exp(-x))"')
    t.add_argument("values", nargs="*", default={}, action=_TraceValues, metavar="VAR=VALUE",
                   help="the value of each variable, e.g. x=-4.499")
    for flag, what in (("--svg", "the graph as an SVG image (needs Graphviz)"),
                       ("--png", "the graph as a PNG image (needs Graphviz)"),
                       ("--html", "a self-contained page that steps through the backward pass, "
                                  "edge by edge (needs Graphviz)"),
                       ("--dot", "the graph as Graphviz DOT text")):
        t.add_argument(flag, dest="outputs", action=_TraceOutput, metavar="FILE",
                       help=f"write FILE: {what}")
    t.add_argument("-o", "--output", dest="outputs", action=_TraceOutput, metavar="FILE",
                   help="write FILE in the format its extension names: "
                   + ", ".join(sorted(set(_TRACE_FORMATS))))
    t.set_defaults(fn=_cmd_trace, outputs=[])

    d = sub.add_parser("demo", help="scalar trace, CNN training, three-engine agreement")
    d.add_argument("--epochs", type=int, default=10)
    d.add_argument("--out", default="minigrad_out", help="folder for the demo's outputs")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(fn=_cmd_demo)

    r = sub.add_parser("train", help="train the worksheet-4 CNN (or an MLP) on the 8x8 digits")
    r.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    r.add_argument("--epochs", type=int, default=None)
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--optimizer", choices=("adam", "sgd", "adagrad", "rmsprop"), default="adam")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="cpu", help="cpu or opencl")
    r.add_argument("--save", help="save the trained weights (.npz) to this path")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of mpiexec (mpiexec -n N minigrad train "
                   "--distributed): each rank takes --batch-size samples of every step, rank 0 "
                   "prints and saves")
    r.set_defaults(fn=_cmd_train)

    c = sub.add_parser("check", help="agreement table of the engines, op by op")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(fn=_cmd_check)

    v = sub.add_parser("devices", help="list OpenCL platforms and devices")
    v.set_defaults(fn=_cmd_devices)

    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
