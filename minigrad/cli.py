"""The ``minigrad`` command: trace, demo, train, check, devices."""

from __future__ import annotations

import argparse
import sys


def _cmd_trace(args) -> int:
    from .scalar import trace
    from .scalar.expr import ExpressionError, parse, parse_assignments

    try:
        root, leaves = parse(args.expr, parse_assignments(args.values))
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
    if args.dot:
        from .scalar import to_dot
        root.backward()
        with open(args.dot, "w") as fh:
            fh.write(to_dot(root))
        print(f"graph written to {args.dot} (render: dot -Tpng {args.dot} -o graph.png)")
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
    net, hist = train_digits(args.model, epochs=args.epochs, batch_size=args.batch_size,
                             lr=args.lr, optimizer=args.optimizer, seed=args.seed,
                             device=args.device, progress=not args.no_progress)
    print(net)
    print(f"final test accuracy {hist.test_accuracy[-1]:.2%} after {len(hist.test_accuracy)} "
          f"epochs in {hist.seconds:.1f} s")
    if args.save:
        from .io import save
        save(net.state_dict(), args.save)
        print(f"saved to {args.save}")
    return 0


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

    t = sub.add_parser("trace", help="forward values and the backward pass of an expression")
    t.add_argument("expr", help='e.g. "2/sin(exp(-x))"')
    t.add_argument("values", nargs="*", help="VAR=VALUE for each variable, e.g. x=-4.499")
    t.add_argument("--dot", help="also write the graph as Graphviz DOT to this file")
    t.set_defaults(fn=_cmd_trace)

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
