"""``Module`` and ``Parameter``: models as trees of modules with named parameters and buffers."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator

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


class StateDictError(RuntimeError, KeyError):
    """``load_state_dict(strict=True)`` found missing or unexpected keys (a RuntimeError, as in
    PyTorch, and a KeyError, as minigrad raised before)."""

    def __str__(self) -> str:
        return RuntimeError.__str__(self)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _move(t: Tensor, be, dtype) -> None:
    """Put ``t``'s values on backend ``be`` and/or in ``dtype``, in place (the object stays)."""
    if t.backend is be and (dtype is None or t.dtype == dtype):
        return
    arr = t.backend.to_numpy(t.data)
    if dtype is not None:
        arr = arr.astype(dtype)
    t.data = be.asarray(np.ascontiguousarray(arr))
    t.backend = be
    mark_modified(t)


class Module:
    """Base class of layers and models: ``forward`` plus parameters, buffers and child modules
    found from attributes; ``train()``/``eval()``, ``to()``, ``state_dict()``/
    ``load_state_dict()``, as in PyTorch.

    >>> import minigrad
    >>> from minigrad import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(3, 2)
    ...         self.register_buffer("calls", minigrad.zeros(()))
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [n for n, _ in Net().named_parameters()], list(Net().state_dict())
    (['fc.weight', 'fc.bias'], ['fc.weight', 'fc.bias', 'calls'])
    """

    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_params" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               "before setting attributes")
        if isinstance(value, (Parameter, Module)):
            for d in (self._params, self._buffers, self._modules):
                d.pop(name, None)
            self._non_persistent.discard(name)
            (self._params if isinstance(value, Parameter) else self._modules)[name] = value
        elif name in self._params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r} "
                                f"of {type(self).__name__}: a Parameter or None is expected")
            self._params[name] = None
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to child module "
                                f"{name!r} of {type(self).__name__}: a Module or None is "
                                f"expected")
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} of "
                                f"{type(self).__name__}: a Tensor or None is expected")
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for d in (self._params, self._buffers, self._modules):
            d.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def _check_new_name(self, name, what: str, own: dict) -> None:
        """As PyTorch: a name may be registered again only as what it already is."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and name not in own:
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")

    def register_parameter(self, name: str, t: Parameter | None) -> None:
        """Add a parameter (or None: a declared but absent parameter, such as a bias)."""
        self._check_new_name(name, "parameter", self._params)
        if t is None:
            self._params[name] = None
            object.__setattr__(self, name, None)
            return
        setattr(self, name, t if isinstance(t, Parameter) else Parameter(t))

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: a tensor that is part of the module's state but not a parameter (no
        gradient, not seen by optimizers), such as BatchNorm's running mean. It moves with
        ``to()`` and, if ``persistent``, is saved in ``state_dict()``.

        >>> import minigrad
        >>> m = Module(); m.register_buffer("steps", minigrad.zeros((), dtype="int64"))
        >>> dict(m.named_buffers())
        {'steps': tensor(0, dtype=int64)}
        """
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): a Tensor or None is expected, got "
                            f"{type(tensor).__name__}")
        self._params.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (what ``self.name = module`` does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): a Module is expected, got "
                            f"{type(module).__name__}")
        self._check_new_name(name, "module", self._modules)
        if module is None:
            self._modules[name] = None
            object.__setattr__(self, name, None)
            return
        setattr(self, name, module)

    register_module = add_module

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal --------------------------------------------------------------------------

    def _named_members(self, get, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mname, m in mods:
            for name, t in get(m).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (mname + "." if mname else "") + name, t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(name, parameter) pairs, each parameter once (shared ones under their first name)."""
        return self._named_members(lambda m: m._params, prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> list[Tensor]:
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(name, buffer) pairs (buffers set to None are left out)."""
        return self._named_members(lambda m: m._buffers, prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> list[Tensor]:
        return [b for _, b in self.named_buffers(recurse=recurse)]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first, each once: ('', self),
        ('child', ...), ('child.grandchild', ...)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                           remove_duplicate)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path: ``model.get_submodule("encoder.0")``."""
        m = self
        for part in target.split(".") if target else ():
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (looking "
                                     f"for {target!r})")
            m = m._modules[part]
        return m

    def get_parameter(self, target: str) -> Tensor:
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._params:
            raise AttributeError(f"{type(m).__name__} has no parameter {name!r}")
        return m._params[name]

    def get_buffer(self, target: str) -> Tensor:
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._buffers:
            raise AttributeError(f"{type(m).__name__} has no buffer {name!r}")
        return m._buffers[name]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def apply(self, fn: Callable[[Module], object]) -> Module:
        """Call ``fn`` on every child (recursively), then on this module, as PyTorch: for
        initialisation, ``model.apply(init_weights)``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes, gradients, devices -------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, BatchNorm uses and updates batch statistics), or
        evaluation mode with ``mode=False``; for this module and all below it."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradients of every parameter on or off (to freeze part of a model)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: ``.grad = None`` (the default, as PyTorch), or
        zero them in place with ``set_to_none=False``."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    def to(self, *args, **kwargs) -> Module:
        """Move every parameter and buffer to a device and/or cast the floating ones to a dtype,
        in place (the Parameter objects stay the same, so an optimizer made before still holds
        them): ``to("opencl")``, ``to(dtype="float64")``, ``to("cpu", "float64")``,
        ``to(tensor)`` (that tensor's device and dtype). Gradients follow."""
        device, dtype = _to_args(args, kwargs)
        be = backends.get(device) if device is not None else None
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes, got {dtype}")
        for t in [*self.parameters(), *self.buffers()]:
            cast = dtype if dtype is not None and t.dtype.kind == "f" else None
            _move(t, be or t.backend, cast)
            if t.grad is not None:
                _move(t.grad, be or t.grad.backend, cast)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def float(self) -> Module:  # noqa: A003 - PyTorch's name
        return self.to(dtype=np.float32)

    def double(self) -> Module:
        return self.to(dtype=np.float64)

    # ---- state -----------------------------------------------------------------------------------

    def _state_tensors(self) -> OrderedDict:
        """Name -> tensor of what ``state_dict`` saves, in PyTorch's order: each module's
        parameters, then its persistent buffers, then its children."""
        out = OrderedDict()
        for mname, m in self.named_modules(remove_duplicate=False):
            pre = mname + "." if mname else ""
            for n, p in m._params.items():
                if p is not None:
                    out[pre + n] = p
            for n, b in m._buffers.items():
                if b is not None and n not in m._non_persistent:
                    out[pre + n] = b
        return out

    def state_dict(self, keep_vars: bool = False) -> OrderedDict:
        """Name -> numpy copy of every parameter and persistent buffer (with ``keep_vars``, the
        tensors themselves). Keys match PyTorch's for the same model, so weights move between
        the two: ``model.load_state_dict({k: v.numpy() for k, v in torch_sd.items()})``."""
        items = self._state_tensors().items()
        if keep_vars:
            return OrderedDict(items)
        return OrderedDict((n, np.array(t.numpy(), copy=True)) for n, t in items)

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values in by name (numpy arrays, Tensors, or anything ``np.asarray`` takes, such
        as PyTorch CPU tensors); shapes must match, values are cast to each tensor's dtype.
        With ``strict`` (the default), missing or unexpected keys raise an error naming them;
        otherwise they are returned as ``(missing_keys, unexpected_keys)``. Everything is
        checked before anything changes, so a bad state leaves the model as it was."""
        own = self._state_tensors()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own and not str(k).startswith("__")]
        if strict and (missing or unexpected):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if missing:
                lines.append("Missing key(s) in state_dict: "
                             + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                lines.append("Unexpected key(s) in state_dict: "
                             + ", ".join(f'"{k}"' for k in unexpected) + ".")
            raise StateDictError("\n\t".join(lines))
        new = {}
        for k, t in own.items():
            if k not in state:
                continue
            v = state[k]
            arr = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != t.shape:
                raise ValueError(f"state_dict[{k!r}] has shape {arr.shape}, the "
                                 f"{'parameter' if isinstance(t, Parameter) else 'buffer'} "
                                 f"has {t.shape}")
            new[k] = arr.astype(t.dtype)
        for k, arr in new.items():
            t = own[k]
            t.data = t.backend.asarray(np.array(arr))  # our own copy, on the tensor's device
            mark_modified(t)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing --------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        own = sum(p.numel() for p in self._params.values() if p is not None)
        head = f"{type(self).__name__}({self.extra_repr()})"
        if not self._modules:
            return head + (f"  # {own:,} parameters" if own else "")
        lines = [f"{type(self).__name__}({self.extra_repr()}" if self.extra_repr()
                 else f"{type(self).__name__}("]
        for n, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({n}): {sub}")
        lines.append(f")  # {self.num_parameters():,} parameters in total")
        return "\n".join(lines)


def _to_args(args, kwargs):
    """(device, dtype) from Module.to's arguments, in any of PyTorch's forms."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"Module.to got unexpected keyword(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, str) and a.split(":", 1)[0] in backends.devices():
            device = a
        elif a is not None:
            try:
                dtype = np.dtype(a)
            except TypeError:
                raise TypeError(f"Module.to: {a!r} is neither a device "
                                f"({', '.join(backends.devices())}) nor a dtype") from None
    return device, (np.dtype(dtype) if dtype is not None else None)
