"""RNN, LSTM, GRU and their cells against PyTorch with copied weights: outputs, final states and
the gradients of the inputs, the initial states and every weight, over whole sequences
(multi-layer, bidirectional, batch_first, initial states, unbatched inputs)."""

import numpy as np
import pytest
from nn_torch_twin import compare, flat

import minigrad
from minigrad import nn

torch = pytest.importorskip("torch")

KINDS = {"RNN": (nn.RNN, "RNN"), "LSTM": (nn.LSTM, "LSTM"), "GRU": (nn.GRU, "GRU")}


def _pair(kind, *args, **kw):
    ours, theirs = KINDS[kind]
    torch.manual_seed(0)
    return ours(*args, **kw).double(), getattr(torch.nn, theirs)(*args, **kw).double()


def _states(kind, rng, layers_dirs, n, h, proj=0):
    h0 = rng.standard_normal((layers_dirs, n, proj or h))
    if kind == "LSTM":
        return [h0, rng.standard_normal((layers_dirs, n, h))]
    return [h0]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidir,batch_first", [
    (1, False, False), (2, False, True), (1, True, False), (2, True, True), (3, True, False)])
def test_matches_torch_over_a_sequence(rng, kind, layers, bidir, batch_first):
    m, tm = _pair(kind, 3, 4, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    x = rng.standard_normal((5, 6, 3))       # (N, L) or (L, N): either way a sequence of 5 or 6
    compare(m, tm, [x])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidir", [False, True])
def test_initial_states_get_gradients(rng, kind, bidir):
    layers = 2
    m, tm = _pair(kind, 3, 4, num_layers=layers, bidirectional=bidir)
    states = _states(kind, rng, layers * (2 if bidir else 1), 2, 4)
    x = rng.standard_normal((7, 2, 3))
    if kind == "LSTM":
        call = lambda mod, x, h, c: mod(x, (h, c))  # noqa: E731
    else:
        call = lambda mod, x, h: mod(x, h)  # noqa: E731
    compare(m, tm, [x, *states], call=call)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input(rng, kind):
    m, tm = _pair(kind, 3, 4, num_layers=2, bidirectional=True)
    compare(m, tm, [rng.standard_normal((6, 3))])
    states = _states(kind, rng, 4, 1, 4)
    states = [s[:, 0] for s in states]
    call = (lambda mod, x, h, c: mod(x, (h, c))) if kind == "LSTM" else \
        (lambda mod, x, h: mod(x, h))
    compare(m, tm, [rng.standard_normal((6, 3)), *states], call=call)


def test_rnn_relu_and_no_bias(rng):
    m, tm = _pair("RNN", 3, 4, num_layers=2, nonlinearity="relu", bias=False)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    compare(m, tm, [rng.standard_normal((6, 2, 3))])
    m, tm = _pair("LSTM", 3, 4, bias=False)
    compare(m, tm, [rng.standard_normal((6, 2, 3))])
    m, tm = _pair("GRU", 3, 4, bias=False, bidirectional=True)
    compare(m, tm, [rng.standard_normal((6, 2, 3))])


def test_lstm_proj_size(rng):
    m, tm = _pair("LSTM", 3, 5, num_layers=2, proj_size=2, bidirectional=True, batch_first=True)
    compare(m, tm, [rng.standard_normal((2, 6, 3))])
    out, (h, c) = m(minigrad.randn(2, 6, 3, dtype="float64"))
    assert out.shape == (2, 6, 4) and h.shape == (4, 2, 2) and c.shape == (4, 2, 5)
    states = _states("LSTM", rng, 4, 2, 5, proj=2)
    compare(m, tm, [rng.standard_normal((2, 6, 3)), *states],
            call=lambda mod, x, h, c: mod(x, (h, c)))


def test_parameter_names_shapes_and_init_match_torch():
    for kind in KINDS:
        m, tm = _pair(kind, 3, 4, num_layers=2, bidirectional=True)
        ours = [(n, p.shape) for n, p in m.named_parameters()]
        theirs = [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
        assert ours == theirs
        bound = 1 / np.sqrt(4)
        assert all(np.abs(p.numpy()).max() <= bound for p in m.parameters())
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)).startswith(
        "LSTM(3, 4, num_layers=2, batch_first=True)")


def test_float32_matches_torch(rng):
    torch.manual_seed(0)
    m, tm = nn.LSTM(8, 16, num_layers=2), torch.nn.LSTM(8, 16, num_layers=2)
    compare(m, tm, [rng.standard_normal((10, 4, 8)).astype(np.float32)], atol=2e-6, rtol=1e-4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cells_match_torch(rng, kind):
    ours = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}[kind]
    theirs = getattr(torch.nn, kind + "Cell")
    torch.manual_seed(0)
    m, tm = ours(3, 4).double(), theirs(3, 4).double()
    x = rng.standard_normal((5, 3))
    compare(m, tm, [x])
    states = _states(kind, rng, 1, 5, 4)
    states = [s[0] for s in states]
    call = (lambda mod, x, h, c: mod(x, (h, c))) if kind == "LSTM" else \
        (lambda mod, x, h: mod(x, h))
    compare(m, tm, [x, *states], call=call)
    compare(m, tm, [x[0], *[s[0] for s in states]], call=call)  # unbatched


def test_cell_unrolled_equals_layer(rng):
    """An LSTMCell stepped by hand is the one-layer LSTM."""
    minigrad.manual_seed(0)
    lstm = nn.LSTM(3, 4).double()
    cell = nn.LSTMCell(3, 4).double()
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = minigrad.tensor(rng.standard_normal((6, 2, 3)))
    out, (h, c) = lstm(x)
    hc = None
    for t in range(6):
        hc = cell(x[t], hc)
        np.testing.assert_allclose(hc[0].numpy(), out[t].numpy(), atol=1e-12)
    np.testing.assert_allclose(hc[1].numpy(), c[0].numpy(), atol=1e-12)


def test_errors_name_the_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size is 3 but the input has 5"):
        lstm(minigrad.randn(6, 2, 5))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 2, 4\)"):
        lstm(minigrad.randn(6, 2, 3), (minigrad.randn(1, 2, 4), minigrad.randn(2, 2, 4)))
    with pytest.raises(ValueError, match="tuple"):
        lstm(minigrad.randn(6, 2, 3), minigrad.randn(2, 2, 4))
    with pytest.raises(ValueError, match="3-D"):
        nn.GRU(3, 4)(minigrad.randn(3))
    with pytest.raises(ValueError, match="proj_size"):
        nn.GRU(3, 4, proj_size=2)


def test_dropout_between_layers_only_in_training(rng):
    minigrad.manual_seed(0)
    m = nn.LSTM(3, 8, num_layers=2, dropout=0.5)
    x = minigrad.tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))
    a, b = m(x)[0].numpy(), m(x)[0].numpy()
    assert not np.allclose(a, b)            # a new mask each call
    m.eval()
    assert np.allclose(m(x)[0].numpy(), m(x)[0].numpy())


# ---- the fused LSTM and GRU layers (one Function per layer and direction) vs the composite -----


def _run_recurrent(m, x, states, device, fused):
    """Outputs and every gradient of a weighted sum of (out, h_n[, c_n])."""
    m._fused = fused
    m.zero_grad()
    xs = [minigrad.tensor(a, requires_grad=True, device=device) for a in (x, *states)]
    hx = (tuple(xs[1:]) if len(xs) > 2 else xs[1]) if states else None
    outs = flat(m(xs[0], hx))
    r = np.random.default_rng(7)
    loss = None
    for o in outs:
        term = (o * minigrad.tensor(r.standard_normal(o.shape).astype(x.dtype),
                                    device=device)).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    return ([o.numpy() for o in outs] + [t.grad.numpy() for t in xs]
            + [p.grad.numpy() for p in m.parameters()])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("device", ["cpu", "reference",
                                    pytest.param("opencl", marks=pytest.mark.opencl)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layers,bidir,batch_first,bias,with_states", [
    (1, False, False, True, False), (2, True, True, True, True), (1, True, False, False, True),
    (3, False, False, True, True)])
def test_fused_layer_equals_the_composite(rng, kind, device, dtype, layers, bidir, batch_first,
                                          bias, with_states):
    """One op, one rule: the fused layer (the backend's lstm/gru kernels) computes the numbers
    of the per-step composite (cat, GEMMs per gate, the sigmoid and tanh rules): outputs, final
    states, and the gradients of the input, the initial states and every weight."""
    if device == "opencl" and dtype == np.float64:
        from minigrad.backends.opencl import runtime
        if not runtime.has_fp64():
            return   # the device refuses float64 (tests/backends checks the error)
    minigrad.manual_seed(0)
    m = getattr(nn, kind)(3, 6, num_layers=layers, bidirectional=bidir,
                          batch_first=batch_first, bias=bias).to(device)
    if dtype == np.float64:
        m = m.double()
    x = rng.standard_normal((5, 4, 3)).astype(dtype)
    d = 2 if bidir else 1
    states = [rng.standard_normal((layers * d, 5 if batch_first else 4, 6)).astype(dtype)
              for _ in range(2 if kind == "LSTM" else 1)] if with_states else []
    fused, composite = (_run_recurrent(m, x, states, device, f) for f in (True, False))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert len(fused) == len(composite)
    for a, b in zip(fused, composite):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_layer_builds_a_few_nodes_per_layer(rng, kind):
    """The fused layer's graph does not grow with the sequence: a handful of nodes per layer
    and direction (the composite has about a dozen per step)."""
    def count(t):
        seen, stack = set(), [t]
        while stack:
            u = stack.pop()
            if id(u) in seen or u._ctx is None:
                continue
            seen.add(id(u))
            stack.extend(p for p in u._ctx.inputs if isinstance(p, minigrad.Tensor))
        return len(seen)
    m = getattr(nn, kind)(3, 4)
    x = minigrad.tensor(rng.standard_normal((50, 2, 3)).astype(np.float32))
    fused = count(m(x)[0].sum())
    m._fused = False
    assert fused < 12 < count(m(x)[0].sum()) // 50


def test_fused_layers_match_torch_at_the_benchmark_size(rng):
    """The benchmark's shape (seq 32, batch 32, input 64, hidden 128) in float32, against torch:
    the float32 cell's own sigmoid and tanh (a vectorised exp) keep torch's accuracy."""
    for kind in ("LSTM", "GRU"):
        torch.manual_seed(0)
        m, tm = getattr(nn, kind)(64, 128), getattr(torch.nn, kind)(64, 128)
        compare(m, tm, [rng.standard_normal((32, 32, 64)).astype(np.float32)], atol=2e-6,
                rtol=1e-4)


def test_lstm_falls_back_to_the_composite_for_mixed_dtypes(rng):
    """Initial states of another dtype than the weights are promoted as by the composite ops
    (the fused kernels take one dtype)."""
    m = nn.LSTM(3, 4)
    x = minigrad.tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))
    h0 = minigrad.tensor(rng.standard_normal((1, 2, 4)))
    out, (h, c) = m(x, (h0, h0))
    m._fused = False
    out2, _ = m(x, (h0, h0))
    np.testing.assert_allclose(out.numpy(), out2.numpy())
