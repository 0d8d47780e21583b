"""Layers: each a Module with a readable repr that counts its parameters."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor.tensor import Tensor
from . import init
from .activation import ReLU, Sigmoid, Softmax, Tanh  # noqa: F401 - their old home
from .module import Module, Parameter


def _empty(*shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features); Glorot-uniform W, zero b.

    >>> Linear(784, 256)  # 784*256 + 256
    Linear(in_features=784, out_features=256, bias=True)  # 200,960 parameters
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_empty(out_features, in_features))
        init.glorot_uniform_(self.weight)
        self.bias = Parameter(_empty(out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class _ConvNd(Module):
    def __init__(self, in_channels, out_channels, kernel, stride, padding, dilation, groups,
                 bias, padding_mode, transposed=False, output_padding=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: groups={groups} must divide in_channels "
                             f"{in_channels} and out_channels {out_channels}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{type(self).__name__}: padding_mode {padding_mode!r}; "
                                      f"only 'zeros' is supported")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{type(self).__name__}: padding must be an int, a tuple, 'same' "
                             f"or 'valid', got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel, stride, padding
        self.dilation, self.groups, self.padding_mode = dilation, groups, padding_mode
        self.output_padding = output_padding
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + tuple(kernel)
        self.weight = Parameter(_empty(*shape))
        # He init suits the ReLUs that follow convolutions; the bias gets the same fan-in bound.
        init.kaiming_uniform_(self.weight)
        if bias:
            self.bias = Parameter(_empty(out_channels))
            b = 1.0 / math.sqrt(shape[1] * int(np.prod(kernel)))
            init.uniform_(self.bias, -b, b)
        else:
            self.bias = None

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.output_padding is not None and any(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _single(v):
    return (int(v),) if isinstance(v, (int, np.integer)) else (int(v[0]),)


def _triple(v):
    return (int(v),) * 3 if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W); weight (out, in / groups, kh, kw). ``dilation``,
    ``groups`` and ``padding="same"`` are composites around the fused kernel
    (:func:`minigrad.functional.conv2d`).

    >>> Conv2d(1, 3, 3, padding=1)  # the lecture's exercise: 27 weights + 3 biases
    Conv2d(1, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))  # 30 parameters
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         padding if isinstance(padding, str) else _pair(padding),
                         _pair(dilation), groups, bias, padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L); weight (out, in / groups, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         padding if isinstance(padding, str) else _single(padding),
                         _single(dilation), groups, bias, padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W); weight (out, in / groups, kd, kh, kw). A composite
    around conv2d (:func:`minigrad.functional.conv3d`).

    >>> Conv3d(2, 4, 3, padding=1)  # 4*2*27 + 4
    Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1))  # 220 parameters
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         padding if isinstance(padding, str) else _triple(padding),
                         _triple(dilation), groups, bias, padding_mode)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_ConvNd):
    """The transpose of Conv2d (a learned upsampling): weight (in, out / groups, kh, kw);
    output size (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    A composite: see :func:`minigrad.functional.conv_transpose2d`.

    >>> import minigrad
    >>> ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)(
    ...     minigrad.randn(1, 4, 5, 5)).shape
    (1, 2, 10, 10)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         _pair(padding), _pair(dilation), groups, bias, padding_mode,
                         transposed=True, output_padding=_pair(output_padding))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvNd):
    """The transpose of Conv1d: weight (in, out / groups, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         _single(padding), _single(dilation), groups, bias, padding_mode,
                         transposed=True, output_padding=_single(output_padding))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class MaxPool2d(Module):
    """Max pooling (:func:`minigrad.functional.max_pool2d`), with PyTorch's arguments.

    >>> MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """Max pooling of (N, C, L) (:func:`minigrad.functional.max_pool1d`)."""

    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """Average pooling (:func:`minigrad.functional.avg_pool2d`), with PyTorch's arguments.

    >>> AvgPool2d(2)
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(AvgPool2d):
    """Average pooling of (N, C, L) (:func:`minigrad.functional.avg_pool1d`)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class MaxUnpool2d(Module):
    """The partial inverse of MaxPool2d (:func:`minigrad.functional.max_unpool2d`):
    ``forward(input, indices, output_size=None)``.

    >>> import minigrad
    >>> pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
    >>> y, i = pool(minigrad.tensor([[[[1.0, 4.0], [3.0, 2.0]]]]))
    >>> unpool(y, i).tolist()
    [[[[0.0, 4.0], [0.0, 0.0]]]]
    """

    _tuple = staticmethod(_pair)

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = self._tuple(kernel_size)
        self.stride = self._tuple(stride if stride is not None else kernel_size)
        self.padding = self._tuple(padding)

    def forward(self, x, indices, output_size=None):
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(MaxUnpool2d):
    """The partial inverse of MaxPool1d (:func:`minigrad.functional.max_unpool1d`)."""

    _tuple = staticmethod(_single)

    def forward(self, x, indices, output_size=None):
        return F.max_unpool1d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class Dropout(Module):
    """Inverted dropout with probability ``p``; the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Dropout1d(Dropout):
    """Dropout of whole channels of (N, C, L) inputs (F.dropout1d)."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training)


class Dropout2d(Dropout):
    """Dropout of whole channels of (N, C, H, W) inputs (F.dropout2d)."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


class Dropout3d(Dropout):
    """Dropout of whole channels of (N, C, D, H, W) inputs (F.dropout3d)."""

    def forward(self, x):
        return F.dropout3d(x, self.p, self.training)


class AlphaDropout(Dropout):
    """SELU's dropout, keeping mean and variance (F.alpha_dropout)."""

    def forward(self, x):
        return F.alpha_dropout(x, self.p, self.training)


class Flatten(Module):
    def __init__(self, start_dim: int = 1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        return x.flatten(self.start_dim)


class Identity(Module):
    """Returns its input (a placeholder, e.g. for a removed head); takes and ignores any
    constructor arguments, as PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: the inverse of Flatten."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        return x.reshape(*x.shape[:d], *self.unflattened_size, *x.shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Sequential(Module):
    """Modules applied in order; indexable (a slice is a Sequential), also from an
    OrderedDict of named modules.

    >>> Sequential(Linear(2, 3), ReLU())[1:]
    Sequential(
      (0): ReLU()
    )  # 0 parameters in total
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential item {name} is a {type(m).__name__}, not a Module")
            setattr(self, name, m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner (a plain Python list of modules
    would hide them from ``parameters()``, ``to()`` and ``state_dict()``).

    >>> layers = ModuleList([Linear(4, 4) for _ in range(3)])
    >>> len(layers), len(layers.parameters()), list(layers.state_dict())[:2]
    (3, 6, ['0.weight', '0.bias'])
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list:
        return list(self._modules.values())

    def _renumber(self, mods) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self._items()[i])
        return self._items()[i]

    def __setitem__(self, i: int, module: Module) -> None:
        mods = self._items()
        mods[i] = module
        self._renumber(mods)

    def __delitem__(self, i) -> None:
        mods = self._items()
        del mods[i]
        self._renumber(mods)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = self._items()
        mods.insert(index, module)
        self._renumber(mods)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it in yours")


class ModuleDict(Module):
    """A dict of modules (name -> module) whose parameters belong to the owner."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def pop(self, key: str) -> Module:
        m = self._modules[key]
        del self[key]
        return m

    def clear(self) -> None:
        for k in list(self._modules):
            del self[k]

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): look modules up in yours")


class ParameterList(Module):
    """A list of parameters that belong to the owner."""

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def append(self, value) -> ParameterList:
        setattr(self, str(len(self._params)),
                value if isinstance(value, Parameter) else Parameter(value))
        return self

    def extend(self, values) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, i):
        return list(self._params.values())[i]

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self):
        return iter(self._params.values())


class ParameterDict(Module):
    """A dict of parameters (name -> parameter) that belong to the owner."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str):
        return self._params[key]

    def __setitem__(self, key: str, value) -> None:
        setattr(self, key, value if isinstance(value, Parameter) else Parameter(value))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self):
        return iter(self._params)

    def __contains__(self, key) -> bool:
        return key in self._params

    def keys(self):
        return self._params.keys()

    def values(self):
        return self._params.values()

    def items(self):
        return self._params.items()

    def update(self, parameters) -> None:
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of ``weight``
    (num_embeddings, embedding_dim), initialised N(0, 1) as PyTorch. The ``padding_idx`` row
    starts at zero and gets no gradient.

    >>> import minigrad
    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(minigrad.tensor([[1, 0, 4]])).shape, emb.weight.numpy()[0].tolist()
    ((1, 3, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight=None, _freeze: bool = False):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must lie in "
                                 f"[-{num_embeddings}, {num_embeddings})")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(_empty(num_embeddings, embedding_dim),
                                    requires_grad=not _freeze)
            init.normal_(self.weight)
            if padding_idx is not None:
                arr = self.weight.numpy().copy()
                arr[padding_idx] = 0
                init._set(self.weight, arr)
        else:
            w = _weight if isinstance(_weight, Tensor) else Tensor(np.asarray(_weight))
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {w.shape} != "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(w, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        if len(np.shape(embeddings)) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{np.shape(embeddings)}")
        n, d = np.shape(embeddings)
        return cls(n, d, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def forward(self, x) -> Tensor:
        return F.embedding(x, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s


class Upsample(Module):
    """Resize the spatial dims: ``size`` or ``scale_factor``, ``mode`` "nearest" (default),
    "nearest-exact", "linear", "bilinear" (see :func:`minigrad.functional.interpolate`)."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (an int, or (h, w) with None to keep a size):
    ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, L) to a fixed length."""

    def forward(self, x):
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size (an int, or (h, w) with None to keep a size)
    (:func:`minigrad.functional.adaptive_max_pool2d`).

    >>> import minigrad
    >>> AdaptiveMaxPool2d((2, 3))(minigrad.ones(1, 4, 5, 7)).shape
    (1, 4, 2, 3)
    """

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, L) to a fixed length."""

    def forward(self, x):
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class ElmanRNN(Module):
    """The lecture's Elman RNN (seed 003), one layer: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1}
    + b_hh).

    Input (batch, seq, input_size) (batch first); returns all hidden states (batch, seq,
    hidden_size) and the last one (batch, hidden_size). The recurrent weight starts orthogonal,
    which keeps h's norm through time at the start of training. :class:`minigrad.nn.RNN` is the
    same cell with PyTorch's interface (layers, directions, shapes, parameter names).
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.nonlinearity = (input_size, hidden_size,
                                                                nonlinearity)
        self.weight_ih = Parameter(_empty(hidden_size, input_size))
        self.weight_hh = Parameter(_empty(hidden_size, hidden_size))
        self.bias_ih = Parameter(_empty(hidden_size))
        self.bias_hh = Parameter(_empty(hidden_size))
        init.glorot_uniform_(self.weight_ih)
        init.orthogonal_(self.weight_hh)

    def forward(self, x: Tensor, h0: Tensor | None = None):
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"ElmanRNN expects (batch, seq, {self.input_size}), got {x.shape}")
        n, steps, _ = x.shape
        h = h0 if h0 is not None else Tensor(np.zeros((n, self.hidden_size), dtype=x.dtype),
                                             device=x.device)
        # The input projection of every step at once (one GEMM), then the recurrence.
        xin = F.linear(x, self.weight_ih, self.bias_ih)
        act = F.tanh if self.nonlinearity == "tanh" else F.relu
        hs = []
        for t in range(steps):
            h = act(xin[:, t, :] + F.linear(h, self.weight_hh, self.bias_hh))
            hs.append(h)
        from ..tensor.tensor import stack
        return stack(hs, dim=1), h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


def l1_penalty(params) -> Tensor:
    """sum |w| over all parameters: add lambda * this to the loss (the lecture's L1
    regulariser, which drives weights to exactly zero)."""
    params = list(params)
    if not params:
        raise ValueError("l1_penalty needs at least one parameter")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(params) -> Tensor:
    """sum w^2 over all parameters (the squared L2 norm): add lambda * this to the loss."""
    params = list(params)
    if not params:
        raise ValueError("l2_penalty needs at least one parameter")
    total = (params[0] * params[0]).sum()
    for p in params[1:]:
        total = total + (p * p).sum()
    return total
