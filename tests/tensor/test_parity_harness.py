"""The PyTorch parity harness (benchmarks/torch_parity.py) keeps working: a handful of its cases
pass, and it classifies a wrong value, a wrong gradient, a missing op, an error and a missing
exception as such. The whole suite is a report (run the script), not this test."""

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "torch_parity.py"
_spec = importlib.util.spec_from_file_location("torch_parity", _PATH)
tp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tp)

SAMPLE = ["op.add_broadcast", "op.lt_tensor", "elem.exp", "red.sum_dims_keepdim", "loss.mse",
          "index.bool_mask", "shape.permute", "zerod.sum_shape", "act.gelu", "shape.cat"]


def _case(name):
    (case,) = [c for c in tp.CASES if c.name == name]
    return case


def test_the_suite_is_about_400_cases_with_unique_names():
    names = [c.name for c in tp.CASES]
    assert len(names) >= 400 and len(set(names)) == len(names)


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.opencl)])
@pytest.mark.parametrize("name", SAMPLE)
def test_sample_cases_pass(name, device):
    status, reason = tp.run_case(_case(name), device)
    assert status == tp.PASS, f"{name} on {device}: {status} {reason}"


def _by_library(torch_fn, minigrad_fn):
    return lambda T, x: torch_fn(x) if T.__name__ == "torch" else minigrad_fn(x)


@pytest.mark.parametrize("fn,options,expected,reason", [
    (_by_library(lambda x: x * 2, lambda x: x * 2.5), {}, tp.WRONG, "values differ"),
    (_by_library(lambda x: x.sum(0), lambda x: x.sum(1)), {}, tp.WRONG, "shape"),
    (_by_library(lambda x: x * 2, lambda x: x * 3 - x.detach()), {}, tp.WRONG, "grad of input 0"),
    (_by_library(lambda x: x > 0, lambda x: (x > 0).float()), {}, tp.WRONG, "dtype"),
    (_by_library(lambda x: x.exp(), lambda x: x.no_such_op()), {}, tp.MISSING, "AttributeError"),
    (_by_library(lambda x: x.exp(), lambda x: x.exp(bogus=1)), {}, tp.MISSING, "TypeError"),
    (_by_library(lambda x: x.exp(), lambda x: x.reshape(7)), {}, tp.ERROR, ""),
    (_by_library(lambda x: x.reshape(7), lambda x: x), {"raises": RuntimeError}, tp.WRONG,
     "where torch raises RuntimeError"),
    (lambda T, x: x.reshape(7), {"raises": KeyError}, tp.HARNESS, "torch"),
    (_by_library(lambda x: x.exp(), lambda x: x.exp()), {}, tp.PASS, ""),
])
def test_classification(fn, options, expected, reason):
    case = tp.Case("synthetic", fn, (tp.R(2, 3),), **options)
    status, why = tp.run_case(case, "cpu")
    assert status == expected, why
    assert reason in why


def test_main_prints_a_summary(capsys):
    assert tp.main(["--device", "cpu", "-k", "op.add_broadcast"]) == 0
    out = capsys.readouterr().out
    assert "== cpu: 1/1 pass (100.0%)" in out
