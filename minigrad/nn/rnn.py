"""Recurrent layers with PyTorch's names, shapes, parameters and semantics: ``RNN``, ``LSTM``,
``GRU`` (multi-layer, bidirectional, ``batch_first``, initial states) and their one-step cells.

Every step is a composite of ops the tensor engine already has (cat, linear, sigmoid, tanh,
mul, add), so backpropagation through time is ordinary backprop through the unrolled graph and
the layers run on every backend. Per step, the input and the previous hidden state are joined
(``cat([x_t, h])``) and multiplied by the joined weights ``[W_ih | W_hh]``, with ``b_ih + b_hh``
as the bias: the same numbers as two products, fewer ops per step. Each gate gets its own GEMM
(row block of the joined weights, cut once per forward) rather than one GEMM whose result is
sliced per step: measured, the four small GEMMs cost less than four slices, whose gradients
(full-size arrays, scattered) dominated the backward pass.

For the same reason the inputs of a layer are kept as a list of per-step tensors (never sliced
out of one big tensor): slicing each of L steps out of a sequence would cost O(L^2) memory
traffic in the backward pass.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor import functions as _fn
from ..tensor.tensor import Tensor, cat, stack
from . import init
from .module import Module, Parameter


def _zeros(shape, like: Tensor) -> Tensor:
    return Tensor(np.zeros(shape, like.dtype), device=like.device)


# ---- one step of each cell: z = cat([x_t, h]), w = [W_ih | W_hh], b = b_ih + b_hh -------------


def _rnn_step(z, w, b, act):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh)  (the Elman cell)"""
    return act(F.linear(z, w, b))


def _lstm_step(z, c, ws, bs):
    """i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of W_k z + b_k (the four row blocks);
    c' = f c + i g (the cell state: the forget gate keeps, the input gate writes);
    h' = o tanh(c') (the output gate reads)."""
    i = F.linear(z, ws[0], bs[0]).sigmoid()
    f = F.linear(z, ws[1], bs[1]).sigmoid()
    g = F.linear(z, ws[2], bs[2]).tanh()
    o = F.linear(z, ws[3], bs[3]).sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(z, x, h, ws, bs):
    """r, u = sigmoid([W_ir | W_hr] z + b_r), sigmoid([W_iz | W_hz] z + b_z) (reset and update
    gates); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - u) n + u h."""
    r = F.linear(z, ws[0], bs[0]).sigmoid()
    u = F.linear(z, ws[1], bs[1]).sigmoid()
    n = (F.linear(x, ws[2], bs[2]) + r * F.linear(h, ws[3], bs[3])).tanh()
    return n + u * (h - n)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters ``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``_reverse`` for the backward direction of a
    bidirectional layer), the loops over layers, directions and steps, and the shapes:

    - input (L, N, H_in), or (N, L, H_in) with ``batch_first``, or (L, H_in) unbatched;
    - initial state h_0 (num_layers * num_directions, N, H) (zeros if not given);
    - output (L, N, num_directions * H) (batch first with ``batch_first``): the last layer's
      hidden state at every step, and h_n (num_layers * num_directions, N, H) at the last step.
    """

    _gates = 1
    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0):
        super().__init__()
        if hidden_size < 1 or num_layers < 1 or input_size < 1:
            raise ValueError(f"{type(self).__name__}: input_size, hidden_size and num_layers "
                             f"must be positive, got {input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        if proj_size < 0 or (proj_size and (self._mode != "LSTM" or proj_size >= hidden_size)):
            raise ValueError(f"{type(self).__name__}: proj_size must be 0, or (LSTM only) "
                             f"between 1 and hidden_size - 1, got {proj_size}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.num_directions = 2 if bidirectional else 1
        out = proj_size or hidden_size
        g = self._gates * hidden_size
        for layer in range(num_layers):
            for d in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_size = input_size if layer == 0 else out * self.num_directions
                setattr(self, "weight_ih" + sfx, Parameter(np.zeros((g, in_size), np.float32)))
                setattr(self, "weight_hh" + sfx, Parameter(np.zeros((g, out), np.float32)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.zeros(g, np.float32)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.zeros(g, np.float32)))
                if proj_size:
                    setattr(self, "weight_hr" + sfx,
                            Parameter(np.zeros((proj_size, hidden_size), np.float32)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN memory layout call: nothing to do here."""

    def _weights(self, layer: int, d: int) -> dict:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = lambda n: getattr(self, n + sfx, None)  # noqa: E731
        return {"w_ih": get("weight_ih"), "w_hh": get("weight_hh"), "b_ih": get("bias_ih"),
                "b_hh": get("bias_hh"), "w_hr": get("weight_hr")}

    def _state_shape(self, n: int, size: int) -> tuple[int, int, int]:
        return (self.num_layers * self.num_directions, n, size)

    def _check_state(self, s, n: int, size: int, name: str) -> None:
        want = self._state_shape(n, size)
        if not isinstance(s, Tensor) or s.shape != want:
            got = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(f"{type(self).__name__}: {name} must have shape {want} (num_layers "
                             f"* num_directions, batch, {size}), got {got}")

    def forward(self, input: Tensor, hx=None):  # noqa: A002 - PyTorch's name
        if not isinstance(input, Tensor) or input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__} expects a 3-D (batched) or 2-D (unbatched) "
                             f"input, got {getattr(input, 'shape', type(input).__name__)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input_size is {self.input_size} but the "
                             f"input has {input.shape[-1]} features (shape {input.shape})")
        batched = input.ndim == 3
        if not batched:  # (L, H_in): a batch of one, states (layers * dirs, H)
            input = input.unsqueeze(1)
            hx = _map_state(hx, lambda s: s.unsqueeze(1))
        time_dim = 1 if self.batch_first and batched else 0
        n, steps = input.shape[1 - time_dim], input.shape[time_dim]
        out, states = self._run(input, time_dim, n, steps, hx)
        if time_dim == 1:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
            states = _map_state(states, lambda s: s.squeeze(1))
        return out, states

    def _run(self, input, time_dim, n, steps, hx):
        """The layers over per-step lists; returns the output (L, N, D H) and the final state."""
        h0, c0 = self._initial(hx, n, input)
        xs = [[input[(slice(None),) * time_dim + (t,)]] for t in range(steps)]
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                ys, h, c = self._direction(xs, h0[k], None if c0 is None else c0[k],
                                           self._weights(layer, d), reverse=d == 1)
                outs.append(ys)
                h_n.append(h)
                c_n.append(c)
            # the next layer's input at step t: [forward h_t, backward h_t]
            xs = [[o[t] for o in outs] for t in range(steps)]
            if self.dropout and self.training and layer < self.num_layers - 1:
                xs = [[F.dropout(p, self.dropout, True) for p in parts] for parts in xs]
        out = cat([stack(o, 0) for o in outs], 2) if len(outs) > 1 else stack(outs[0], 0)
        hn = stack(h_n, 0)
        return out, ((hn, stack(c_n, 0)) if self._mode == "LSTM" else hn)

    def _initial(self, hx, n, like):
        hsize = self.proj_size or self.hidden_size
        if hx is None:
            z = _zeros((n, hsize), like)
            h0 = [z] * (self.num_layers * self.num_directions)
            c0 = None
            if self._mode == "LSTM":
                zc = _zeros((n, self.hidden_size), like)
                c0 = [zc] * len(h0)
            return h0, c0
        if self._mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError("LSTM: the initial state is a tuple (h_0, c_0)")
            self._check_state(hx[0], n, hsize, "h_0")
            self._check_state(hx[1], n, self.hidden_size, "c_0")
            return _layers(hx[0]), _layers(hx[1])
        self._check_state(hx, n, hsize, "h_0")
        return _layers(hx), None

    def _direction(self, xs, h, c, w, reverse):  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


def _layers(s: Tensor) -> list:
    return [s[k] for k in range(s.shape[0])]


def _map_state(s, fn):
    if s is None:
        return None
    if isinstance(s, (tuple, list)):
        return tuple(fn(t) for t in s)
    return fn(s)


def _joined(w) -> tuple:
    """[W_ih | W_hh] and b_ih + b_hh (None without biases), made once per forward."""
    wz = cat([w["w_ih"], w["w_hh"]], 1)
    b = w["b_ih"] + w["b_hh"] if w["b_ih"] is not None else None
    return wz, b


def _blocks(t, n: int, hs: int) -> list:
    """The n row blocks of hs rows (one per gate); [None] * n for a missing bias."""
    return [None] * n if t is None else [t[k * hs:(k + 1) * hs] for k in range(n)]


def _lstm_weights(w, hs: int):
    wz, b = _joined(w)
    return _blocks(wz, 4, hs), _blocks(b, 4, hs)


def _gru_weights(w, hs: int):
    """[W_ir | W_hr], [W_iz | W_hz], W_in, W_hn and their biases (b_i + b_h for r and z)."""
    wz, b = _joined(w)
    ws = _blocks(wz, 2, hs) + [w["w_ih"][2 * hs:], w["w_hh"][2 * hs:]]
    if b is None:
        return ws, [None] * 4
    return ws, _blocks(b, 2, hs) + [w["b_ih"][2 * hs:], w["b_hh"][2 * hs:]]


def _order(n: int, reverse: bool):
    return range(n - 1, -1, -1) if reverse else range(n)


def _fusable(module, input, steps, hx) -> bool:
    """Whether the fused layers apply: a non-empty sequence, one dtype, float32 or float64, for
    the input, the states and the weights (the composite promotes mixed ones; float16 is
    refused by linear with a clear error)."""
    dt = input.dtype
    states = hx if isinstance(hx, (tuple, list)) else (hx,) if hx is not None else ()
    return (steps > 0 and dt in (np.float32, np.float64)
            and all(getattr(s, "dtype", dt) == dt for s in states)
            and all(p.dtype == dt for p in module.parameters()))


def _run_fused(module, input, time_dim, steps, h0, c0):
    """RNNBase._run with one fused Function per layer and direction over tensors (L, N, ...)
    instead of per-step lists; returns the output (L, N, D H) and the final state."""
    x = input.transpose(0, 1) if time_dim == 1 else input    # (L, N, features)
    lstm = c0 is not None
    h_n, c_n = [], []
    for layer in range(module.num_layers):
        outs = []
        for d in range(module.num_directions):
            k = layer * module.num_directions + d
            w = module._weights(layer, d)
            if lstm:
                y = _lstm_layer(x, h0[k], c0[k], w, reverse=d == 1)
                c_n.append(y[steps])
                y = y[:steps]
            else:
                y = _gru_layer(x, h0[k], w, reverse=d == 1)
            outs.append(y)
            h_n.append(y[0 if d else steps - 1])
        x = cat(outs, 2) if len(outs) > 1 else outs[0]
        if module.dropout and module.training and layer < module.num_layers - 1:
            x = F.dropout(x, module.dropout, True)
    hn = stack(h_n, 0)
    return x, ((hn, stack(c_n, 0)) if lstm else hn)


def _gru_layer(x, h0, w, reverse):
    """One GRU layer and direction, fused: x W_ih^T + b_ih of every step in one GEMM, then the
    recurrence in one Function. Returns h of every step, (L, N, H)."""
    steps, n, features = x.shape
    gx = F.linear(x.reshape(steps * n, features), w["w_ih"], w["b_ih"]).reshape(steps, n, -1)
    return _fn.GRU.apply(gx, w["w_hh"], w["b_hh"], h0, reverse=reverse)


def _lstm_layer(x, h0, c0, w, reverse):
    """One LSTM layer and direction, fused: the input projection of every step in one GEMM
    (x W_ih^T + b_ih + b_hh, (L, N, 4H)), then the recurrence in one Function (one GEMM and
    one pass of the cell per step, backpropagation through time in one backward). Returns
    (L + 1, N, H): h of every step, then the last c."""
    steps, n, features = x.shape
    b = w["b_ih"] + w["b_hh"] if w["b_ih"] is not None else None
    gx = F.linear(x.reshape(steps * n, features), w["w_ih"], b).reshape(steps, n, -1)
    return _fn.LSTM.apply(gx, w["w_hh"], h0, c0, reverse=reverse)


class RNN(RNNBase):
    """An Elman RNN, as ``torch.nn.RNN``: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    (``nonlinearity="relu"`` for ReLU), stacked ``num_layers`` deep, optionally in both
    directions. Returns (output, h_n).

    >>> import minigrad
    >>> rnn = RNN(3, 5, num_layers=2, batch_first=True)
    >>> out, h_n = rnn(minigrad.randn(4, 7, 3))       # batch 4, 7 steps
    >>> out.shape, h_n.shape
    ((4, 7, 5), (2, 4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)
        self.nonlinearity = nonlinearity

    def _direction(self, xs, h, c, w, reverse):
        wz, b = _joined(w)
        act = F.tanh if self.nonlinearity == "tanh" else F.relu
        ys = [None] * len(xs)
        for t in _order(len(xs), reverse):
            h = _rnn_step(cat([*xs[t], h], 1), wz, b, act)
            ys[t] = h
        return ys, h, None

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory, as ``torch.nn.LSTM``: per step, with gates computed from
    [x_t, h_{t-1}],

        i, f, o = sigmoid(...), g = tanh(...);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)

    The cell state c is changed only by an elementwise scale (f) and an addition, so gradients
    along it are not squashed by a nonlinearity at every step, which is what lets an LSTM learn
    dependencies over many steps. Weights hold the gates' rows in the order i, f, g, o.
    Initial state (h_0, c_0); returns (output, (h_n, c_n)). ``proj_size`` > 0 projects h by
    ``weight_hr`` (h has proj_size features, c hidden_size).

    >>> import minigrad
    >>> lstm = LSTM(3, 5, bidirectional=True)
    >>> out, (h_n, c_n) = lstm(minigrad.randn(7, 4, 3))  # 7 steps, batch 4
    >>> out.shape, h_n.shape, c_n.shape
    ((7, 4, 10), (2, 4, 5), (2, 4, 5))
    """

    _gates = 4
    _mode = "LSTM"
    # The fused layer (one Function per layer and direction, the backend's lstm kernels) where
    # it applies; False: the per-step composite below, the reference it is tested against.
    _fused = True

    def _run(self, input, time_dim, n, steps, hx):
        if not self._fused or self.proj_size or not _fusable(self, input, steps, hx):
            return super()._run(input, time_dim, n, steps, hx)
        return _run_fused(self, input, time_dim, steps, *self._initial(hx, n, input))

    def _direction(self, xs, h, c, w, reverse):
        ws, bs = _lstm_weights(w, self.hidden_size)
        w_hr = w["w_hr"]
        ys = [None] * len(xs)
        for t in _order(len(xs), reverse):
            h, c = _lstm_step(cat([*xs[t], h], 1), c, ws, bs)
            if w_hr is not None:
                h = F.linear(h, w_hr)
            ys[t] = h
        return ys, h, c


class GRU(RNNBase):
    """Gated recurrent unit, as ``torch.nn.GRU``: per step

        r, u = sigmoid(W_i{r,z} x_t + W_h{r,z} h_{t-1} + b)
        n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} + b_hn))
        h_t = (1 - u) n + u h_{t-1}

    (torch calls the update gate z). Weights hold the rows in the order r, z, n.
    Returns (output, h_n).
    """

    _gates = 3
    _mode = "GRU"
    _fused = True   # as LSTM's: False runs the per-step composite, the reference

    def _run(self, input, time_dim, n, steps, hx):
        if not self._fused or not _fusable(self, input, steps, hx):
            return super()._run(input, time_dim, n, steps, hx)
        return _run_fused(self, input, time_dim, steps, *self._initial(hx, n, input))

    def _direction(self, xs, h, c, w, reverse):
        ws, bs = _gru_weights(w, self.hidden_size)
        ys = [None] * len(xs)
        for t in _order(len(xs), reverse):
            x = xs[t][0] if len(xs[t]) == 1 else cat(xs[t], 1)
            h = _gru_step(cat([x, h], 1), x, h, ws, bs)
            ys[t] = h
        return ys, h, None


# ---- cells: one step, PyTorch's RNNCell / LSTMCell / GRUCell ------------------------------------


class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        g = self._gates * hidden_size
        self.weight_ih = Parameter(np.zeros((g, input_size), np.float32))
        self.weight_hh = Parameter(np.zeros((g, hidden_size), np.float32))
        if bias:
            self.bias_ih = Parameter(np.zeros(g, np.float32))
            self.bias_hh = Parameter(np.zeros(g, np.float32))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, x, hx):
        if not isinstance(x, Tensor) or x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be (batch, {self.input_size}) "
                             f"or ({self.input_size},), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
            hx = _map_state(hx, lambda s: s.unsqueeze(0))
        return x, hx, batched

    def _w(self) -> dict:
        return {"w_ih": self.weight_ih, "w_hh": self.weight_hh, "b_ih": self.bias_ih,
                "b_hh": self.bias_hh}

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One Elman step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or ReLU)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None):
        x, h, batched = self._prepare(x, hx)
        h = _zeros((x.shape[0], self.hidden_size), x) if h is None else h
        w, b = _joined(self._w())
        h = _rnn_step(cat([x, h], 1), w, b, F.tanh if self.nonlinearity == "tanh" else F.relu)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """One LSTM step: (h', c') from x and (h, c) (zeros if not given)."""

    _gates = 4

    def forward(self, x, hx=None):
        x, hx, batched = self._prepare(x, hx)
        if hx is None:
            z = _zeros((x.shape[0], self.hidden_size), x)
            hx = (z, z)
        ws, bs = _lstm_weights(self._w(), self.hidden_size)
        h, c = _lstm_step(cat([x, hx[0]], 1), hx[1], ws, bs)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """One GRU step: h' from x and h (zeros if not given)."""

    _gates = 3

    def forward(self, x, hx=None):
        x, h, batched = self._prepare(x, hx)
        h = _zeros((x.shape[0], self.hidden_size), x) if h is None else h
        ws, bs = _gru_weights(self._w(), self.hidden_size)
        h = _gru_step(cat([x, h], 1), x, h, ws, bs)
        return h if batched else h.squeeze(0)
