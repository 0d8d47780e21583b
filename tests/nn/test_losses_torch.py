"""Loss modules and their functional forms against PyTorch, each reduction, with the gradient of
the input (and of the target where it is differentiable)."""

import numpy as np
import pytest
from nn_torch_twin import compare

import minigrad
import minigrad.functional as F
from minigrad import nn

torch = pytest.importorskip("torch")

REDUCTIONS = ["mean", "sum", "none"]


def _run(ours, theirs, inputs, grads=None):
    compare(ours, theirs, inputs, grad_inputs=grads, load=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"weight": True}, {"ignore_index": 1},
                                {"label_smoothing": 0.2},
                                {"weight": True, "ignore_index": 2, "label_smoothing": 0.1}])
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2, 3), (4,)])
def test_cross_entropy_class_targets(rng, reduction, kw, shape):
    kw = dict(kw)
    w = rng.random(4) + 0.5
    if kw.pop("weight", False):
        ours = nn.CrossEntropyLoss(weight=minigrad.tensor(w), reduction=reduction, **kw)
        theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), reduction=reduction, **kw)
    else:
        ours = nn.CrossEntropyLoss(reduction=reduction, **kw)
        theirs = torch.nn.CrossEntropyLoss(reduction=reduction, **kw)
    x = rng.standard_normal(shape) * 3
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, 4, tshape)
    if t.size > 1:
        t.flat[0] = 1  # the ignored label occurs at least once where ignore_index=1
    _run(ours, theirs, [x, t], [True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.3}, {"weight": True}])
def test_cross_entropy_probability_targets(rng, reduction, kw):
    kw = dict(kw)
    w = rng.random(5) + 0.5
    wkw = ({"weight": minigrad.tensor(w)}, {"weight": torch.tensor(w)}) if kw.pop("weight", 0) \
        else ({}, {})
    p = rng.random((3, 5, 2))
    p /= p.sum(1, keepdims=True)
    _run(nn.CrossEntropyLoss(reduction=reduction, **wkw[0], **kw),
         torch.nn.CrossEntropyLoss(reduction=reduction, **wkw[1], **kw),
         [rng.standard_normal((3, 5, 2)), p], [True, True])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(rng, reduction, weighted):
    w = rng.random(3) + 0.5
    ours = nn.NLLLoss(weight=w if weighted else None, reduction=reduction, ignore_index=0)
    theirs = torch.nn.NLLLoss(weight=torch.tensor(w) if weighted else None, reduction=reduction,
                              ignore_index=0)
    lp = np.log(rng.random((4, 3, 5)))
    t = rng.integers(0, 3, (4, 5))
    _run(ours, theirs, [lp, t], [True, False])


def test_cross_entropy_all_ignored_is_nan_and_old_signature(rng):
    x = minigrad.tensor(rng.standard_normal((2, 3)))
    assert np.isnan(F.cross_entropy(x, [-100, -100]).item())
    assert F.cross_entropy(x, [0, 1], "sum").item() == pytest.approx(
        F.cross_entropy(x, [0, 1], reduction="sum").item())
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        F.cross_entropy(x, [0, 3])
    with pytest.raises(ValueError, match="do not match"):
        F.cross_entropy(minigrad.randn(2, 3, 4), np.zeros((2, 5), np.int64))


PAIRS = [
    ("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {}), ("SmoothL1Loss", {"beta": 0.5}),
    ("SmoothL1Loss", {"beta": 0.0}), ("HuberLoss", {}), ("HuberLoss", {"delta": 0.3}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", PAIRS)
def test_regression_losses(rng, reduction, name, kw):
    x, t = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3))
    t[0, 0] = x[0, 0] + 0.5   # exactly on the beta / delta boundary for the 0.5 cases
    _run(getattr(nn, name)(reduction=reduction, **kw),
         getattr(torch.nn, name)(reduction=reduction, **kw), [x, t], [True, True])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(rng, reduction, weighted):
    w = rng.random((4, 3)) + 0.5
    ours = nn.BCELoss(weight=minigrad.tensor(w) if weighted else None, reduction=reduction)
    theirs = torch.nn.BCELoss(weight=torch.tensor(w) if weighted else None, reduction=reduction)
    p = rng.random((4, 3)) * 0.98 + 0.01
    _run(ours, theirs, [p, rng.random((4, 3))], [True, True])


def test_bce_clamps_the_log_at_minus_100():
    x = minigrad.tensor([0.0, 1.0], dtype="float64")
    t = minigrad.tensor([1.0, 0.0], dtype="float64")
    assert F.binary_cross_entropy(x, t).item() == pytest.approx(100.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"weight": 1}, {"pos_weight": 1}, {"weight": 1,
                                                                         "pos_weight": 1}])
def test_bce_with_logits(rng, reduction, kw):
    vals = {"weight": rng.random((4, 3)) + 0.5, "pos_weight": rng.random(3) + 0.5}
    ours = nn.BCEWithLogitsLoss(reduction=reduction,
                                **{k: minigrad.tensor(vals[k]) for k in kw})
    theirs = torch.nn.BCEWithLogitsLoss(reduction=reduction,
                                        **{k: torch.tensor(vals[k]) for k in kw})
    x = rng.standard_normal((4, 3)) * 10
    x[0, 0] = 200.0  # no overflow
    _run(ours, theirs, [x, rng.random((4, 3))], [True, True])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(rng, reduction, log_target):
    lp = np.log(rng.dirichlet(np.ones(5), 4))
    q = rng.dirichlet(np.ones(5), 4)
    q[0, 1] = 0.0  # 0 log 0 = 0
    t = np.log(q + 1e-3) if log_target else q
    _run(nn.KLDivLoss(reduction=reduction, log_target=log_target),
         torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), [lp, t],
         [True, log_target])


def test_loss_module_errors_and_state():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.KLDivLoss(reduction="batch")
    with pytest.raises(ValueError, match="shape"):
        F.l1_loss(minigrad.randn(3), minigrad.randn(4))
    # the class weight is a buffer, as in PyTorch: saved, and moved by .to()
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0])
    assert list(loss.state_dict()) == ["weight"]
    assert list(torch.nn.CrossEntropyLoss(weight=torch.ones(2)).state_dict()) == ["weight"]


@pytest.mark.parametrize("name,kw", [("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.7}),
                                     ("huber_loss", {"delta": 0.4}), ("binary_cross_entropy", {}),
                                     ("binary_cross_entropy_with_logits", {"pos_weight": 2.0}),
                                     ("kl_div", {"reduction": "batchmean"}),
                                     ("kl_div", {"log_target": True, "reduction": "sum"})])
def test_elementwise_losses_on_the_scalar_engine(rng, name, kw):
    """Composites of rules: the scalar engine computes the same loss and gradients."""
    from minigrad.testing import assert_engines_agree
    fn = getattr(F, name)
    x = rng.random((3, 2)) * 0.9 + 0.05
    t = rng.random((3, 2))
    assert_engines_agree(lambda x: fn(x, t, **kw), [x])
