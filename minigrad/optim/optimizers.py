"""Optimizers: update rules as the lecture writes them, in PyTorch's form (``torch.optim``'s
defaults, parameter groups, ``state_dict``), applied in place on every backend.

    SGD        w <- w - lr * g
    momentum   v <- mu v + g;  w <- w - lr v            (PyTorch's form of v <- mu v - lr g)
    Nesterov   w <- w - lr (g + mu v)                   (look ahead along the momentum)
    Adam       m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  w <- w - lr mhat / (sqrt(vhat)+eps)
    AdamW      w <- w (1 - lr wd), then Adam without weight decay   (decoupled weight decay)
    Adamax     u <- max(b2 u, |g| + eps);  w <- w - lr / (1 - b1^t) m / u
    NAdam      Adam with Nesterov momentum: the step mixes g and m with the momentum schedule mu_t
    RAdam      Adam whose adaptive step is switched on, rectified, once its variance is tractable
    AdaGrad    s <- s + g^2;  w <- w - lr g / (sqrt(s) + eps)
    RMSprop    s <- a s + (1-a) g^2;  w <- w - lr g / (sqrt(s) + eps)

``weight_decay`` adds ``weight_decay * w`` to g (the L2 regulariser's gradient), except where
``decoupled_weight_decay`` (AdamW's rule) shrinks w directly.

SGD, Adam (AdamW), AdaGrad and RMSprop run one fused kernel per parameter (``backend.adam_step``
and its siblings: Cython on the CPU, ``kernels/optim.cl`` on OpenCL). Adamax, NAdam, RAdam and
Adam's ``amsgrad`` are written in Tensor operations under ``no_grad``, so they run on every
backend with no kernel of their own; the parameter is updated in place with ``accumulate``.

>>> import minigrad
>>> w = minigrad.tensor([1.0, -2.0], requires_grad=True)
>>> opt = AdamW([w], lr=0.1, weight_decay=0.0)
>>> (w * w).sum().backward(); opt.step(); w.tolist()
[0.8999999761581421, -1.899999976158142]
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor, enable_grad, maximum, no_grad, zeros_like
from ..tensor.autograd import mark_modified

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "AdaGrad", "Adagrad",
           "RMSprop", "OPTIMIZERS"]


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


def _betas(betas) -> tuple[float, float]:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    return _hyper("beta1", b1, 0.0, 1.0, True), _hyper("beta2", b2, 0.0, 1.0, True)


# ---- in-place updates of a parameter, on any backend ---------------------------------------------

def _add_(p: Tensor, delta: Tensor) -> None:
    """p += delta, in place (the parameter keeps its array)."""
    p.backend.accumulate(p.data, delta.data)


def _decay_(p: Tensor, rate: float) -> None:
    """p *= 1 - rate, written p += p * (-rate): decoupled weight decay, in place."""
    _add_(p, p * -rate)


def _lerp(m: Tensor, g: Tensor, w: float) -> Tensor:
    """m + w (g - m): PyTorch's ``m.lerp_(g, w)`` for w < 0.5, its running-average update."""
    return m + (g - m) * w


class Optimizer:
    """Base class: ``param_groups`` (a list of dicts, each its ``"params"`` and their options:
    ``lr``, ``weight_decay``, ...), ``state`` (per parameter: running averages and the step
    count), ``step``, ``zero_grad``, ``add_param_group`` and ``state_dict``/``load_state_dict``.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) whose options override
    the optimizer's defaults for that group:

    >>> import minigrad
    >>> a, b = minigrad.ones(2, requires_grad=True), minigrad.ones(3, requires_grad=True)
    >>> opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    >>> [(g["lr"], g["momentum"]) for g in opt.param_groups]
    [(0.1, 0.9), (0.5, 0.9)]
    """

    # Names of the per-parameter state tensors (the shape of the parameter) and scalars this
    # optimizer keeps; load_state_dict refuses any other (a state dict of another optimizer).
    _TENSORS: tuple[str, ...] = ()
    _SCALARS: tuple[str, ...] = ("step",)

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts (parameter "
                            "groups), got a single Tensor: pass [t] or model.parameters()")
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict] = {}
        self.param_groups: list[dict] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (the defaults fill in the rest), e.g. a
        layer unfrozen during fine-tuning."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError('a parameter group needs its "params"')
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ValueError(f"parameter {i} is not a leaf tensor (it was computed from "
                                 f"others): an optimizer updates leaves only")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter appears twice in one parameter group")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group: dict) -> None:
        """Validate and normalise a group's options in place (floats, as PyTorch checks)."""
        group["lr"] = _hyper("learning rate", group["lr"])
        if "weight_decay" in group:
            group["weight_decay"] = _hyper("weight_decay", group["weight_decay"])

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure=None):
        """One update of every parameter that has a gradient. Every gradient is checked first, so
        that a bad one (another shape, dtype or device) leaves every parameter unchanged.
        ``closure`` (optional) re-evaluates the model and returns the loss, which is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        todo = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.backend is not p.backend:
                    raise ValueError(f"parameter on {p.device} but its gradient on "
                                     f"{p.grad.device}")
                if p.grad.shape != p.shape or p.grad.dtype != p.dtype:
                    # the kernels update in place over the parameter's length: never trust a
                    # gradient of another size (it was assigned by hand)
                    raise ValueError(f"parameter of shape {p.shape} ({p.dtype}) has a gradient "
                                     f"of shape {p.grad.shape} ({p.grad.dtype})")
                if isinstance(p.data, np.ndarray) and not p.data.flags.writeable:
                    raise ValueError(f"parameter of shape {p.shape} is read-only (made with "
                                     f"from_numpy of a read-only array): it cannot be updated")
                todo.append((p, group))
        with no_grad():
            for p, group in todo:
                self._update(p, p.grad, group)
                mark_modified(p)
        return loss

    def _update(self, p: Tensor, g: Tensor, group: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def _state(self, p: Tensor, *names: str) -> dict:
        """p's state: the tensors ``names`` start as zeros, and follow p to another device or
        dtype (``model.to("opencl")`` after the optimizer was made)."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
        for n in names:
            t = st.get(n)
            if t is None:
                st[n] = zeros_like(p)
            elif t.backend is not p.backend or t.dtype != p.dtype:
                st[n] = Tensor(t.numpy().astype(p.dtype), device=p.device)
        return st

    # ---- checkpoints -----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or number}}, "param_groups": [options + "params":
        [index, ...]]}``, PyTorch's layout: parameters are numbered in group order, and the
        state tensors are numpy copies (on the host, whatever the device)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, list) else v)
                      for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, st in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = {k: (np.array(v.numpy()) if isinstance(v, Tensor) else v)
                                       for k, v in st.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by ``state_dict`` (this optimizer's parameters, in the
        same groups and order), each state tensor onto its parameter's device and dtype. Checked
        in full before anything changes: a mismatch leaves the optimizer as it was."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"an optimizer state dict has the keys 'state' and "
                             f"'param_groups', got {got}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(saved_groups)} parameter groups, this "
                             f"{type(self).__name__} has {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {i} of the state dict has "
                                 f"{len(saved['params'])} parameters, this optimizer's has "
                                 f"{len(group['params'])}")
            for k, p in zip(saved["params"], group["params"]):
                by_index[int(k)] = p
            new = {**self.defaults, **{k: v for k, v in saved.items() if k != "params"},
                   "params": group["params"]}
            self._check(new)
            new_groups.append(new)
        new_state = {}
        for k, st in state_dict["state"].items():
            p = by_index.get(int(k))
            if p is None:
                raise ValueError(f"the state dict has state for parameter {k}, which none of "
                                 f"its groups lists")
            new_state[p] = {name: self._import(name, v, p, k) for name, v in st.items()}
        for group, new in zip(self.param_groups, new_groups):
            group.clear()           # the same dicts: references to opt.param_groups[i] stay valid
            group.update(new)
        self.state = new_state

    def _import(self, name: str, value, p: Tensor, k):
        if name in self._SCALARS:
            v = np.asarray(value)
            if v.shape != ():
                raise ValueError(f"state {name!r} of parameter {k} must be a number, got shape "
                                 f"{v.shape}")
            return int(v) if name == "step" else float(v)
        if name not in self._TENSORS:
            raise ValueError(f"state {name!r} of parameter {k} is not kept by "
                             f"{type(self).__name__} (it keeps {self._TENSORS + self._SCALARS}):"
                             f" a state dict of another optimizer?")
        arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        if arr.shape != p.shape:
            raise ValueError(f"state {name!r} of parameter {k} has shape {arr.shape}, the "
                             f"parameter has {p.shape}")
        return Tensor(arr.astype(p.dtype), device=p.device)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight decay."""

    _TENSORS = ("momentum_buffer",)
    _SCALARS = ()

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def _check(self, group):
        super()._check(group)
        group["momentum"] = _hyper("momentum", group["momentum"])
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and group["momentum"] == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")

    def _update(self, p, g, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if mu == 0:
            p.backend.sgd_step(p.data, g.data, None, lr, 0.0, False, wd)
            return
        # PyTorch starts the buffer at the first gradient (buf = d), not at zero
        first = "momentum_buffer" not in self.state.get(p, {})
        st = self._state(p, "momentum_buffer")
        p.backend.sgd_step(p.data, g.data, st["momentum_buffer"].data, lr, mu, group["nesterov"],
                           wd, first)


class Adam(Optimizer):
    """Adam: momentum plus per-weight scaling by the recent gradients' magnitude. ``amsgrad``
    divides by the largest second moment so far; ``decoupled_weight_decay`` makes it AdamW."""

    _TENSORS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        super()._check(group)
        group["betas"] = _betas(group["betas"])
        group["eps"] = _hyper("eps", group["eps"])
        group["amsgrad"] = bool(group["amsgrad"])
        group["decoupled_weight_decay"] = bool(group["decoupled_weight_decay"])

    def _update(self, p, g, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        st = self._state(p, *names)
        st["step"] = t = st.get("step", 0) + 1
        if wd != 0 and group["decoupled_weight_decay"]:
            _decay_(p, lr * wd)
            wd = 0.0
        if not group["amsgrad"]:
            p.backend.adam_step(p.data, g.data, st["exp_avg"].data, st["exp_avg_sq"].data, lr,
                                b1, b2, eps, wd, t)
            return
        if wd != 0:
            g = g + p * wd
        m = st["exp_avg"] = _lerp(st["exp_avg"], g, 1 - b1)
        v = st["exp_avg_sq"] = st["exp_avg_sq"] * b2 + g * g * (1 - b2)
        vmax = st["max_exp_avg_sq"] = maximum(st["max_exp_avg_sq"], v)
        denom = vmax.sqrt() / math.sqrt(1 - b2 ** t) + eps
        _add_(p, m / denom * (-lr / (1 - b1 ** t)))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): w <- w (1 - lr wd), then an Adam
    step without weight decay. PyTorch's defaults, weight_decay=0.01 included."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True)


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm, u <- max(b2 u, |g| + eps); w <- w - lr/(1-b1^t) m/u."""

    _TENSORS = ("exp_avg", "exp_inf")

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check(self, group):
        super()._check(group)
        group["betas"] = _betas(group["betas"])
        group["eps"] = _hyper("eps", group["eps"])

    def _update(self, p, g, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        st = self._state(p, "exp_avg", "exp_inf")
        st["step"] = t = st.get("step", 0) + 1
        if wd != 0:
            g = g + p * wd
        m = st["exp_avg"] = _lerp(st["exp_avg"], g, 1 - b1)
        u = st["exp_inf"] = maximum(st["exp_inf"] * b2, g.abs() + eps)
        _add_(p, m / u * (-lr / (1 - b1 ** t)))


class NAdam(Optimizer):
    """NAdam (Dozat): Adam with Nesterov momentum. The momentum follows the schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t momentum_decay)); the step mixes the gradient, weighted by
    (1 - mu_t) / (1 - prod mu), with the first moment looked ahead by mu_{t+1}."""

    _TENSORS = ("exp_avg", "exp_avg_sq")
    _SCALARS = ("step", "mu_product")

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, *,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        super()._check(group)
        group["betas"] = _betas(group["betas"])
        group["eps"] = _hyper("eps", group["eps"])
        group["momentum_decay"] = _hyper("momentum_decay", group["momentum_decay"])
        group["decoupled_weight_decay"] = bool(group["decoupled_weight_decay"])

    def _update(self, p, g, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        md = group["momentum_decay"]
        st = self._state(p, "exp_avg", "exp_avg_sq")
        st["step"] = t = st.get("step", 0) + 1
        if wd != 0:
            if group["decoupled_weight_decay"]:
                _decay_(p, lr * wd)
            else:
                g = g + p * wd
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * md))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * md))
        # a Python float (PyTorch keeps it in a float32 tensor: the two differ by ~1e-7)
        mu_product = st["mu_product"] = st.get("mu_product", 1.0) * mu
        m = st["exp_avg"] = _lerp(st["exp_avg"], g, 1 - b1)
        v = st["exp_avg_sq"] = st["exp_avg_sq"] * b2 + g * g * (1 - b2)
        denom = (v / (1 - b2 ** t)).sqrt() + eps
        _add_(p, g / denom * (-lr * (1.0 - mu) / (1.0 - mu_product)))
        _add_(p, m / denom * (-lr * mu_next / (1.0 - mu_product * mu_next)))


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam whose adaptive step is rectified by r_t, and replaced by plain
    momentum SGD while the approximated SMA length rho_t <= 5 (the first few steps)."""

    _TENSORS = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        super()._check(group)
        group["betas"] = _betas(group["betas"])
        group["eps"] = _hyper("eps", group["eps"])
        group["decoupled_weight_decay"] = bool(group["decoupled_weight_decay"])

    def _update(self, p, g, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        st = self._state(p, "exp_avg", "exp_avg_sq")
        st["step"] = t = st.get("step", 0) + 1
        if wd != 0:
            if group["decoupled_weight_decay"]:
                _decay_(p, lr * wd)
            else:
                g = g + p * wd
        m = st["exp_avg"] = _lerp(st["exp_avg"], g, 1 - b1)
        v = st["exp_avg_sq"] = st["exp_avg_sq"] * b2 + g * g * (1 - b2)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        m_hat = m / bc1
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2 ** t) / bc2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = bc2 ** 0.5 / (v.sqrt() + eps)
            _add_(p, -(m_hat * lr * adaptive * rect))
        else:
            _add_(p, -(m_hat * lr))


class AdaGrad(Optimizer):
    """AdaGrad: divide by the root of the sum of all past squared gradients."""

    _TENSORS = ("sum",)

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay))

    def _check(self, group):
        super()._check(group)
        group["eps"] = _hyper("eps", group["eps"])

    def _update(self, p, g, group):
        st = self._state(p, "sum")
        st["step"] = st.get("step", 0) + 1
        p.backend.adagrad_step(p.data, g.data, st["sum"].data, group["lr"], group["eps"],
                               group["weight_decay"])


Adagrad = AdaGrad


class RMSprop(Optimizer):
    """RMSprop: divide by the root of a running mean of squared gradients."""

    _TENSORS = ("square_avg",)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay))

    def _check(self, group):
        super()._check(group)
        group["alpha"] = _hyper("alpha", group["alpha"])
        group["eps"] = _hyper("eps", group["eps"])

    def _update(self, p, g, group):
        st = self._state(p, "square_avg")
        st["step"] = st.get("step", 0) + 1
        p.backend.rmsprop_step(p.data, g.data, st["square_avg"].data, group["lr"],
                               group["alpha"], group["eps"], group["weight_decay"])


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": NAdam,
              "radam": RAdam, "adagrad": AdaGrad, "rmsprop": RMSprop}
