"""``Module`` and ``Parameter``: models as trees of modules with named parameters."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from .. import backends
from ..tensor.autograd import mark_modified
from ..tensor.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a model parameter: it requires grad, and a Module that holds it as an
    attribute lists it in ``parameters()`` under that attribute's name."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        if isinstance(data, Tensor):
            Tensor.__init__(self, data.numpy(), requires_grad=requires_grad, dtype=data.dtype,
                            device=data.device)
        else:
            Tensor.__init__(self, data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)


class Module:
    """Base class of layers and models: ``forward`` plus parameters and child modules found
    from attributes, ``train()``/``eval()``, ``state_dict()``/``load_state_dict()``."""

    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_params" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               "before setting attributes")
        self._params.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, Parameter):
            self._params[name] = value
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, t: Parameter | None) -> None:
        if t is None:
            object.__setattr__(self, name, None)
            return
        setattr(self, name, t if isinstance(t, Parameter) else Parameter(t))

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal --------------------------------------------------------------------------

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for name, p in self._params.items():
            yield prefix + name, p
        for mname, m in self._modules.items():
            yield from m.named_parameters(prefix + mname + ".")

    def parameters(self) -> list[Tensor]:
        return [p for _, p in self.named_parameters()]

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix.rstrip("."), self
        for n, m in self._modules.items():
            yield from m.named_modules(prefix + n + ".")

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- modes, gradients, devices -------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, device: str) -> Module:
        """Move every parameter to ``device`` in place (the objects stay the same)."""
        be = backends.get(device)
        for p in self.parameters():
            if p.backend is not be:
                p.data = be.asarray(p.backend.to_numpy(p.data))
                mark_modified(p)
                p.backend = be
                if p.grad is not None:
                    p.grad = p.grad.to(device)
        return self

    # ---- state -----------------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict:
        """Name -> numpy array copy of every parameter."""
        return OrderedDict((n, p.numpy().copy()) for n, p in self.named_parameters())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy values in by name; shapes must match. With ``strict``, the names must match
        exactly. Checked in full before anything is changed, so a bad state leaves the model as
        it was."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own and not k.startswith("__")]
        if strict and (missing or unexpected):
            raise KeyError(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
        new = {}
        for k, p in own.items():
            if k not in state:
                continue
            v = state[k]
            arr = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != p.shape:
                raise ValueError(f"state_dict[{k!r}] has shape {arr.shape}, the parameter has "
                                 f"{p.shape}")
            new[k] = arr.astype(p.dtype)
        for k, arr in new.items():
            p = own[k]
            p.data = p.backend.asarray(np.array(arr))  # our own copy, on the parameter's device
            mark_modified(p)

    # ---- printing --------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        own = sum(p.numel() for p in self._params.values())
        head = f"{type(self).__name__}({self.extra_repr()})"
        if not self._modules:
            return head + (f"  # {own:,} parameters" if own else "")
        lines = [f"{type(self).__name__}("]
        for n, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({n}): {sub}")
        lines.append(f")  # {self.num_parameters():,} parameters in total")
        return "\n".join(lines)
