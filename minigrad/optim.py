"""Optimizers: update rules as the lecture writes them, in PyTorch's form, applied in place by
compiled kernels (CPU) or device kernels (OpenCL).

    SGD        w <- w - lr * g
    momentum   v <- mu v + g;  w <- w - lr v            (PyTorch's form of v <- mu v - lr g)
    Nesterov   w <- w - lr (g + mu v)                   (look ahead along the momentum)
    Adam       m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  w <- w - lr mhat / (sqrt(vhat)+eps)
    AdaGrad    s <- s + g^2;  w <- w - lr g / (sqrt(s) + eps)
    RMSprop    s <- a s + (1-a) g^2;  w <- w - lr g / (sqrt(s) + eps)

``weight_decay`` adds ``weight_decay * w`` to g (the L2 regulariser's gradient).
"""

from __future__ import annotations

from collections.abc import Iterable

from .tensor.autograd import mark_modified
from .tensor.tensor import Tensor


def _hyper(name: str, value, lo: float = 0.0, hi: float | None = None,
           hi_open: bool = False) -> float:
    """A hyper-parameter as a float, checked as PyTorch checks it (NaN fails every test)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}") \
            from None
    ok = lo <= v and (hi is None or (v < hi if hi_open else v <= hi))
    if not ok:
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"invalid {name}: {value!r} (must be {rng})")
    return v


class Optimizer:
    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"parameter {i} is not a Tensor that requires grad")
        self.lr = _hyper("learning rate", lr)
        self.weight_decay = _hyper("weight_decay", weight_decay)
        self.state: dict[int, dict] = {}
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _state(self, p: Tensor, *names) -> dict:
        st = self.state.get(id(p))
        if st is None or st["_backend"] is not p.backend:
            st = {n: p.backend.zeros(p.shape, p.dtype) for n in names}
            st["_backend"] = p.backend
            self.state[id(p)] = st
        return st

    def step(self) -> None:
        """One update of every parameter that has a gradient. Every gradient is checked first, so
        that a bad one (another shape, dtype or device) leaves every parameter unchanged."""
        todo = []
        for p in self.params:
            if p.grad is None:
                continue
            if p.grad.backend is not p.backend:
                raise ValueError(f"parameter on {p.device} but its gradient on {p.grad.device}")
            if p.grad.shape != p.shape or p.grad.dtype != p.dtype:
                # the kernels update in place over the parameter's length: never trust a
                # gradient of another size (it was assigned by hand)
                raise ValueError(f"parameter of shape {p.shape} ({p.dtype}) has a gradient of "
                                 f"shape {p.grad.shape} ({p.grad.dtype})")
            todo.append(p)
        self.steps += 1
        for p in todo:
            self._update(p, p.grad.data)
            mark_modified(p)

    def _update(self, p, g):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight decay."""

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        momentum = _hyper("momentum", momentum)
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, p, g):
        if self.momentum == 0:
            p.backend.sgd_step(p.data, g, None, self.lr, 0.0, False, self.weight_decay)
            return
        first = id(p) not in self.state
        st = self._state(p, "buf")
        p.backend.sgd_step(p.data, g, st["buf"], self.lr, self.momentum, self.nesterov,
                       self.weight_decay, first)


class Adam(Optimizer):
    """Adam: momentum plus per-weight scaling by the recent gradients' magnitude."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        b1, b2 = betas
        self.betas = (_hyper("beta1", b1, 0.0, 1.0, True), _hyper("beta2", b2, 0.0, 1.0, True))
        self.eps = _hyper("eps", eps)

    def _update(self, p, g):
        st = self._state(p, "m", "v")
        st["t"] = st.get("t", 0) + 1
        p.backend.adam_step(p.data, g, st["m"], st["v"], self.lr, self.betas[0], self.betas[1],
                        self.eps, self.weight_decay, st["t"])


class AdaGrad(Optimizer):
    """AdaGrad: divide by the root of the sum of all past squared gradients."""

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = _hyper("eps", eps)

    def _update(self, p, g):
        st = self._state(p, "sum")
        p.backend.adagrad_step(p.data, g, st["sum"], self.lr, self.eps, self.weight_decay)


Adagrad = AdaGrad


class RMSprop(Optimizer):
    """RMSprop: divide by the root of a running mean of squared gradients."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps = _hyper("alpha", alpha), _hyper("eps", eps)

    def _update(self, p, g):
        st = self._state(p, "sq")
        p.backend.rmsprop_step(p.data, g, st["sq"], self.lr, self.alpha, self.eps,
                           self.weight_decay)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": AdaGrad, "rmsprop": RMSprop}
