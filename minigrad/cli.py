"""The minigrad command: trace, demo, train, eval, check, devices."""

from __future__ import annotations

import argparse
import math
import sys

_DATA_HINT = 'pip install "minigrad[data]" (or: pip install scikit-learn)'


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, except where there is none (None, a flag)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {v}")
        return v
    parse.__name__ = "integer"
    return parse


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def _device(text: str) -> str:
    """cpu, opencl, opencl:N (or another registered backend); anything else is a usage error."""
    from . import backends
    base, colon, index = text.partition(":")
    if base not in backends.devices() or (colon and not index.isdigit()):
        known = ", ".join(backends.devices())
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; choose from {known} "
                                         f"(opencl:N for the N-th OpenCL device)")
    return text


def _need_digits(cmd: str) -> bool:
    """True when scikit-learn (the digits data) imports; else one line saying what to install."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print(f"minigrad {cmd}: the digits data needs scikit-learn: {_DATA_HINT}",
              file=sys.stderr)
        return False
    return True


def _opencl_name() -> str:
    from .backends.opencl import runtime
    d = runtime.get_device()
    return f"{d.name.strip()} on {d.platform.name.strip()}"


class _TraceValues(argparse.Action):
    """``VAR=VALUE ...``: each a name and a finite number, no name twice (else a usage error)."""

    def __call__(self, parser, namespace, items, option_string=None):
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
    from .train import save_model, train_digits

    if not _need_digits("train"):
        return 1
    if args.device != "cpu":
        from . import backends
        try:
            backends.get(args.device)
        except ValueError as e:
            print(f"minigrad train: {e}", file=sys.stderr)
            return 2
        except ImportError as e:
            print(f"minigrad train: --device {args.device} needs pyopencl ({e}): "
                  f'pip install "minigrad[opencl]"', file=sys.stderr)
            return 1
        if args.device.startswith("opencl"):
            from .backends.opencl import runtime
            if not runtime.available():
                print(f"minigrad train: no OpenCL device: {runtime.why_unavailable()}",
                      file=sys.stderr)
                return 2
            print(f"device: OpenCL, {_opencl_name()}")
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
        n = len(hist.test_accuracy)
        print(f"final test accuracy {hist.test_accuracy[-1]:.2%} after "
              f"{n} epoch{'' if n == 1 else 's'} in {hist.seconds:.1f} s")
        if args.save:
            if args.device != "cpu":
                net.to("cpu")
            save_model(net, args.save, args.model, seed=args.seed)
            print(f"saved to {args.save} (evaluate it with: minigrad eval {args.save})")
    if args.distributed:
        dist.destroy_process_group()
    return 0


def _quiet(*args, **kwargs) -> None:
    pass


def _cmd_eval(args) -> int:
    import os

    from .io import CheckpointError
    from .train import accuracy, load_model

    if not os.path.isfile(args.checkpoint):
        print(f"minigrad eval: no such file: {args.checkpoint}", file=sys.stderr)
        return 2
    try:
        net, meta = load_model(args.checkpoint)
    except (CheckpointError, ValueError, KeyError, RuntimeError) as e:
        print(f"minigrad eval: cannot load {args.checkpoint}: {e}", file=sys.stderr)
        return 2
    if not _need_digits("eval"):
        return 1
    from .data import load_digits
    seed = args.seed if args.seed is not None else int(meta.get("seed", 0))
    _, test = load_digits(seed=seed, flat=meta["kind"] == "mlp")
    acc = accuracy(net, test.X, test.y)
    print(f"model: {meta['kind']} {meta.get('options', {})} from {args.checkpoint}")
    print(f"test accuracy {acc:.2%} on {len(test.y)} digits (split seed {seed})")
    return 0


def _cmd_check(args) -> int:
    from .check import agreement_table, engines_available, format_table, summary

    engines = engines_available()
    names = list(engines)
    if "opencl" in engines:
        names[engines.index("opencl")] = f"opencl ({_opencl_name()})"
    print(f"engines: {', '.join(names)}")
    rows = agreement_table(seed=args.seed, engines=engines)
    print(format_table(rows))
    print(summary(rows))
    return 0 if all(r[-1] for r in rows) else 1


def _cmd_devices(args) -> int:
    try:
        from .backends.opencl import runtime
    except ImportError as e:
        print(f'OpenCL support is not installed ({e}): pip install "minigrad[opencl]"',
              file=sys.stderr)
        return 1
    if not runtime.available():
        print(runtime.why_unavailable(), file=sys.stderr)
        return 1
    print(runtime.format_devices())
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo
    if not _need_digits("demo"):
        return 1
    return run_demo(epochs=args.epochs, out=args.out, progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    fmt = _DefaultsFormatter
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

    d = sub.add_parser("demo", help="scalar trace, CNN training, three-engine agreement",
                       formatter_class=fmt)
    d.add_argument("--epochs", type=_int_at_least(1), default=10, help="training epochs")
    d.add_argument("--out", default="minigrad_out", help="folder for the demo's outputs")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(fn=_cmd_demo)

    r = sub.add_parser("train", help="train the lecture's CNN (or an MLP) on the 8x8 digits",
                       formatter_class=fmt,
                       epilog="example: minigrad train --epochs 3 --save m.npz && "
                       "minigrad eval m.npz")
    r.add_argument("--model", choices=("cnn", "mlp"), default="cnn", help="which model")
    r.add_argument("--epochs", type=_int_at_least(1), default=None,
                   help="training epochs (default: 10 for the cnn, 20 for the mlp)")
    r.add_argument("--batch-size", type=_int_at_least(1), default=32, help="samples per step")
    r.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate")
    r.add_argument("--optimizer", choices=("adam", "sgd", "adagrad", "rmsprop"), default="adam",
                   help="optimizer")
    r.add_argument("--seed", type=_int_at_least(0), default=0,
                   help="seed of the weights, shuffling and train/test split")
    r.add_argument("--device", type=_device, default="cpu", help="cpu, opencl or opencl:N")
    r.add_argument("--save", metavar="FILE",
                   help="save the trained model (weights, kind, options) to FILE (.npz)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of mpiexec (mpiexec -n N minigrad train "
                   "--distributed): each rank takes --batch-size samples of every step, rank 0 "
                   "prints and saves")
    r.set_defaults(fn=_cmd_train)

    e = sub.add_parser("eval", help="test accuracy of a model saved by 'train --save'",
                       formatter_class=fmt,
                       description="Rebuild the model a 'minigrad train --save' file records, "
                       "load its weights and print its accuracy on the digits' test split.")
    e.add_argument("checkpoint", metavar="CHECKPOINT", help="the file 'train --save' wrote")
    e.add_argument("--seed", type=_int_at_least(0), default=None,
                   help="seed of the train/test split (default: the one the model was trained "
                   "with)")
    e.set_defaults(fn=_cmd_eval)

    c = sub.add_parser("check", help="agreement table of the engines, op by op",
                       formatter_class=fmt)
    c.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the inputs")
    c.set_defaults(fn=_cmd_check)

    v = sub.add_parser("devices", help="list OpenCL platforms and devices", formatter_class=fmt)
    v.set_defaults(fn=_cmd_devices)

    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
