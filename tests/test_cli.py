"""The minigrad command guides: usage errors for bad input (exit 2, no traceback), defaults in
help, train --save then eval, check's tolerance column and summary, one-line install hints."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest


def cli(*args, cwd, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "minigrad.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.mark.parametrize("args, what", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "two"], "--epochs"),
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--lr", "0"], "--lr"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--device", "cuda"], "--device"),
    (["train", "--device", "opencl:x"], "--device"),
    (["train", "--model", "resnet"], "--model"),
    (["train", "--optimizer", "lbfgs"], "--optimizer"),
    (["demo", "--epochs", "0"], "--epochs"),
    (["check", "--seed", "-3"], "--seed"),
    (["eval"], "CHECKPOINT"),
    (["eval", "m.npz", "--seed", "-1"], "--seed"),
])
def test_bad_input_is_a_usage_error(tmp_path, args, what):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "usage: minigrad" in r.stderr and what in r.stderr


def test_help_shows_defaults_and_no_rst_markup(tmp_path):
    r = cli("train", "--help", cwd=tmp_path)
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for default in ("(default: cnn)", "(default: 32)", "(default: 0.001)", "(default: adam)",
                    "(default: cpu)", "10 for the cnn, 20 for the mlp"):
        assert default in text, default
    assert "(default: None)" not in text and "(default: False)" not in text
    top = cli("--help", cwd=tmp_path)
    assert "``" not in top.stdout and "eval" in top.stdout


def test_train_save_then_eval_prints_the_same_accuracy(tmp_path):
    r = cli("train", "--model", "mlp", "--epochs", "1", "--save", "m.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "after 1 epoch in" in r.stdout and "1 epochs" not in r.stdout
    trained = [ln for ln in r.stdout.splitlines() if ln.startswith("final test accuracy")][0]
    acc = trained.split()[3]
    e = cli("eval", "m.npz", cwd=tmp_path)
    assert e.returncode == 0, e.stderr
    assert "mlp" in e.stdout and f"test accuracy {acc}" in e.stdout


def test_the_checkpoint_records_the_model(tmp_path):
    import minigrad
    from minigrad.train import MODEL_KEY, build_model, load_model, save_model

    net = build_model("cnn")
    save_model(net, tmp_path / "c.npz", "cnn", seed=3)
    raw = minigrad.load(tmp_path / "c.npz")
    assert raw[MODEL_KEY].dtype == np.uint8           # numeric: no pickle
    back, meta = load_model(tmp_path / "c.npz")
    assert meta == {"kind": "cnn", "options": {"image_size": 8}, "seed": 3}
    for k, v in net.state_dict().items():
        assert np.array_equal(np.asarray(back.state_dict()[k]), np.asarray(v))


def test_eval_of_a_file_that_is_not_a_model_is_a_message(tmp_path):
    import minigrad

    minigrad.save({"w": np.zeros(3, dtype=np.float32)}, tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_text("not a checkpoint")
    for name, says in (("plain.npz", "does not record which model"),
                       ("junk.npz", "cannot load"), ("absent.npz", "no such file")):
        r = cli("eval", name, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr and says in r.stderr, r.stderr


def test_missing_scikit_learn_is_one_line_naming_the_install(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sklearn.py").write_text("raise ImportError('No module named sklearn')\n")
    env = dict(os.environ, PYTHONPATH=str(shim))
    for cmd in (["train", "--epochs", "1"], ["demo", "--epochs", "1"]):
        r = cli(*cmd, cwd=tmp_path, env=env)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and 'pip install "minigrad[data]"' in lines[0], r.stderr


def test_check_prints_tolerance_and_a_summary(tmp_path):
    r = cli("check", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tolerance" in r.stdout.splitlines()[1]
    assert "1e-08" in r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith("PASS: all ")


def test_check_fails_with_a_summary_on_disagreement(monkeypatch, capsys):
    from minigrad import check
    from minigrad import cli as cli_module

    rows = [("add", "scalar/tensor", 0.0, 0.0, True), ("exp", "scalar/tensor", 0.5, 0.1, False)]
    monkeypatch.setattr(check, "engines_available", lambda: ["scalar", "tensor"])
    monkeypatch.setattr(check, "agreement_table", lambda **kw: rows)
    assert cli_module.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: 1 of 2 comparisons disagree" in out and "exp (scalar/tensor)" in out
    assert " NO" in out


@pytest.mark.opencl
def test_train_names_the_opencl_device(tmp_path):
    from minigrad.backends.opencl import runtime

    r = cli("train", "--model", "mlp", "--epochs", "1", "--device", "opencl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"device: OpenCL, {runtime.get_device().name.strip()}" in r.stdout


def test_progress_bar_is_quiet_when_not_a_terminal(tmp_path):
    r = cli("train", "--model", "mlp", "--epochs", "1", cwd=tmp_path)
    assert r.returncode == 0
    assert "batch/s" not in r.stderr and "it/s" not in r.stderr and "\r" not in r.stderr
