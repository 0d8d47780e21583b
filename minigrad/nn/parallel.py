"""``DistributedDataParallel``: one model replica per rank, gradients averaged over the ranks.

Each rank runs the same model on its own part of the batch; after ``loss.backward()`` every
parameter's ``.grad`` is the average over the ranks, so an optimizer step makes the same update
everywhere and the replicas stay equal. Averaging the gradients of per-rank mean losses over
equal per-rank batches gives the gradient of the mean loss over the whole (global) batch::

    grad = 1/n sum_r grad L_r,     L_r = mean loss of rank r's B samples  =  mean over n*B

How (as PyTorch's DDP): at construction rank 0's parameters and buffers are broadcast, so every
replica starts equal. The parameters are grouped into buckets of about ``bucket_cap_mb``
(25 MB; the first bucket 1 MB, so that communication starts early), in reverse order, which is
roughly the order backward produces their gradients. During backward, each parameter's gradient
is copied into its bucket as soon as it is computed, and a full bucket is all-reduced at once
(non-blocking, while backward goes on with the layers below); when the last gradient is in,
the buckets are divided by the world size and become the parameters' ``.grad``.

The gradients are caught on their way: ``forward`` hands the wrapped module, for the duration
of the call, identity copies of its parameters (``module.weight``, ``parameters()`` and
``ParameterList`` items are then nodes of the graph whose backward passes the gradient to the
reducer instead of to the parameter). A forward must therefore reach its parameters through
its modules, as every minigrad layer does, not through references kept from before.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import distributed as dist
from ..tensor.autograd import Function, TensorBase, is_grad_enabled, mark_modified
from ..tensor.tensor import Tensor
from .module import Module

__all__ = ["DistributedDataParallel"]

_MB = 1024 * 1024
FIRST_BUCKET_MB = 1.0          # torch's _DEFAULT_FIRST_BUCKET_BYTES
BROADCAST_BUCKET_MB = 250.0    # parameters are broadcast at construction in chunks of this size


class DistributedDataParallel(Module):
    """Data parallelism over the ranks of :mod:`minigrad.distributed` (``torch.nn.parallel.
    DistributedDataParallel``): after ``backward()``, ``p.grad`` is the mean over the ranks.

    ``module`` is the model (on any device); ``.module`` gives it back (for saving, as in torch,
    whose ``state_dict()`` keys are also prefixed ``module.``). ``broadcast_buffers`` sends rank
    0's buffers (a module's ``named_buffers()``, e.g. BatchNorm's running statistics) to the
    other ranks before each forward. With ``find_unused_parameters`` each forward looks for the
    parameters its output does not depend on, so that their (zero) gradients do not hold up the
    reduction; without it every parameter must get a gradient in every backward, as in torch.
    ``device_ids``/``output_device`` are for CUDA in torch: minigrad modules carry their device,
    so they must stay None.

    >>> import minigrad, minigrad.distributed as dist
    >>> import minigrad.functional as F
    >>> from minigrad import nn, optim
    >>> dist.init_process_group("mpi")      # doctest: +SKIP
    >>> model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))   # doctest: +SKIP
    >>> opt = optim.SGD(model.parameters(), lr=0.1)                   # doctest: +SKIP
    >>> loss = F.cross_entropy(model(minigrad.randn(8, 4)), [0, 1] * 4)   # doctest: +SKIP
    >>> loss.backward(); opt.step()        # the same update on every rank   # doctest: +SKIP
    """

    def __init__(self, module: Module, device_ids=None, output_device=None,
                 broadcast_buffers: bool = True, process_group=None,
                 bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a minigrad nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel: device_ids and output_device must be None "
                             "(they pick CUDA devices in torch); move the module with "
                             ".to(device) before wrapping it")
        if process_group is not None:
            raise ValueError("DistributedDataParallel: only the default process group "
                             "(process_group=None) is supported")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be > 0, got {bucket_cap_mb!r}")
        group = dist._default_group("DistributedDataParallel")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = float(bucket_cap_mb)
        # torch's name: False inside no_sync(), read by forward.
        self.require_backward_grad_sync = True

        named: dict[int, tuple[str, TensorBase]] = {}
        for name, p in module.named_parameters():
            named.setdefault(id(p), (name, p))            # a shared parameter counts once
        self._all_params = [p for _, p in named.values()]
        train = [(n, p) for n, p in named.values() if p.requires_grad]
        self._param_names = [n for n, _ in train]
        params = [p for _, p in train]
        index = {id(p): i for i, p in enumerate(params)}
        # Where each parameter is an attribute: forward swaps these for the hooked copies.
        sites: dict[tuple[int, str], tuple] = {}
        for m in module.modules():
            for attr, p in m._params.items():
                if p is not None and id(p) in index:
                    sites.setdefault((id(m), attr), (m, attr, p, index[id(p)]))
        self._sites = list(sites.values())
        self._group = group
        _verify_same_model(group, named.values(), self._module_buffers())
        self._sync_module_states()
        self._reducer = _Reducer(group, params, self._param_names, bucket_cap_mb * _MB,
                                 min(FIRST_BUCKET_MB, bucket_cap_mb) * _MB)

    # ---- what torch's DDP offers ------------------------------------------------------------

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module; a backward through its output averages the gradients."""
        reducer = self._reducer
        reducer.check_prior_reduction_finished()
        if self.broadcast_buffers and self._group.size > 1:
            buffers = [t for _, t in self._module_buffers()]
            if buffers:
                _broadcast_tensors(self._group, buffers, "broadcast of the buffers")
        if not (self.require_backward_grad_sync and is_grad_enabled() and reducer.params):
            return self.module(*inputs, **kwargs)
        step = reducer.prepare_for_backward()
        hooked = [_GradReady.apply(p, step=step, index=i) for i, p in enumerate(reducer.params)]
        swapped = []
        try:
            for m, attr, p, i in self._sites:
                if m._params.get(attr) is not p:
                    raise RuntimeError(f"DistributedDataParallel: the parameter {attr!r} of "
                                       f"{type(m).__name__} was replaced after the model was "
                                       f"wrapped; wrap the module again")
                # Both the attribute and the registry: parameters(), ParameterList and
                # self.weight all hand out the hooked copy during this forward.
                m._params[attr] = hooked[i]
                in_dict = m.__dict__.get(attr) is p
                if in_dict:
                    object.__setattr__(m, attr, hooked[i])
                swapped.append((m, attr, p, in_dict))
            out = self.module(*inputs, **kwargs)
        finally:
            for m, attr, p, in_dict in swapped:
                m._params[attr] = p
                if in_dict:
                    object.__setattr__(m, attr, p)
        if self.find_unused_parameters:
            step.mark_unused(_reachable_hooks(out, hooked))
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Within this block, forward/backward only accumulate gradients locally (no
        communication); the first backward after it averages the accumulated sums. Gradient
        accumulation over k micro-batches then costs one all-reduce instead of k.

        >>> with ddp.no_sync():                 # doctest: +SKIP
        ...     F.cross_entropy(ddp(x1), y1).backward()
        >>> F.cross_entropy(ddp(x2), y2).backward()   # averages (g1 + g2) over the ranks
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def extra_repr(self) -> str:
        r = self._reducer
        return (f"world_size={self._group.size}, buckets={len(r.buckets)}, "
                f"bucket_cap_mb={self.bucket_cap_mb:g}")

    # ---- construction helpers -----------------------------------------------------------------

    def _module_buffers(self) -> list[tuple[str, TensorBase]]:
        get = getattr(self.module, "named_buffers", None)
        if get is None:
            return []
        return [(n, b) for n, b in get() if isinstance(b, TensorBase)]

    def _sync_module_states(self) -> None:
        if self._group.size > 1:
            tensors = self._all_params + [b for _, b in self._module_buffers()]
            _broadcast_tensors(self._group, tensors, "broadcast of the parameters")


# ---- catching gradients ------------------------------------------------------------------------


class _GradReady(Function):
    """y = w in the forward. In the backward, the gradient of w (summed over every use of it in
    the forward) goes to the reducer, which sets ``w.grad`` itself once all ranks have averaged
    it; none goes on to the parameter (returning None), so it is never added twice."""

    def forward(self, w, step, index):
        self.step, self.index = step, index
        return w

    def backward(self, grad):
        self.step.ready(self.index, grad)
        return None


def _reachable_hooks(out, hooked) -> set[int]:
    """Indices of the hooked parameters the graph of ``out`` (tensors, nested in tuples, lists
    or dicts) depends on."""
    want = {id(h): i for i, h in enumerate(hooked)}
    found: set[int] = set()
    seen: set[int] = set()
    stack = [out]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, TensorBase) and id(x) not in seen:
            seen.add(id(x))
            if id(x) in want:
                found.add(want[id(x)])
            elif x._ctx is not None:
                stack.extend(x._ctx.inputs)
    return found


# ---- the reducer: buckets of gradients, all-reduced as they fill ---------------------------------


class _Bucket:
    def __init__(self, dtype: np.dtype, cap: float):
        self.dtype, self.cap = dtype, cap
        self.indices: list[int] = []
        self.offsets: list[int] = []
        self.size = 0
        self.buffer: np.ndarray | None = None

    def add(self, i: int, n: int) -> None:
        self.indices.append(i)
        self.offsets.append(self.size)
        self.size += n

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


def _assign_buckets(tensors, cap: float, first_cap: float) -> list[_Bucket]:
    """Group tensors (by index, in the given order) into buckets of one dtype and about ``cap``
    bytes each; the first bucket holds about ``first_cap``."""
    buckets: list[_Bucket] = []
    open_: dict[np.dtype, _Bucket] = {}
    for i, t in tensors:
        dt = np.dtype(t.dtype)
        b = open_.get(dt)
        if b is None:
            b = _Bucket(dt, first_cap if not buckets else cap)
            buckets.append(b)
            open_[dt] = b
        b.add(i, int(np.prod(t.shape, dtype=np.int64)))
        if b.nbytes >= b.cap:
            del open_[dt]
    for b in buckets:
        b.buffer = np.empty(b.size, dtype=b.dtype)
    return buckets


class _Reducer:
    """The buckets of one DDP model, and the state of the backward in progress (a ``_Step``)."""

    def __init__(self, group, params, names, cap: float, first_cap: float):
        self.group, self.params, self.names = group, params, names
        # Reverse order: backward produces the last layers' gradients first.
        order = [(i, params[i]) for i in reversed(range(len(params)))]
        self.buckets = _assign_buckets(order, cap, first_cap)
        self.where = {}
        for b, bucket in enumerate(self.buckets):
            for i, off in zip(bucket.indices, bucket.offsets):
                self.where[i] = (b, off)
        self.step: _Step | None = None

    def check_prior_reduction_finished(self) -> None:
        s = self.step
        if s is not None and not s.finished and not s.started:
            # A forward without a backward (evaluation with grad enabled): drop it, after the
            # all-reduces of buckets find_unused_parameters filled with zeros, which every
            # rank started alike.
            for w in s.works:
                w.wait()
            self.step = None
        if s is not None and s.started and not s.finished:
            missing = [self.names[i] for i in range(len(self.params)) if not s.done[i]]
            self.step = None
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward did not produce gradients for "
                f"{len(missing)} parameter(s) ({', '.join(missing[:5])}"
                f"{', ...' if len(missing) > 5 else ''}), so their reduction never finished. "
                f"Every parameter must take part in the loss on every rank; for models with "
                f"parameters that some forward passes do not use, pass "
                f"find_unused_parameters=True.")

    def prepare_for_backward(self) -> _Step:
        self.step = _Step(self)
        return self.step


class _Step:
    """One forward's backward: gradients arrive (``ready``), buckets fill and are all-reduced
    in bucket order (the same on every rank), and the last gradient finishes the step."""

    def __init__(self, reducer: _Reducer):
        self.r = reducer
        self.done = [False] * len(reducer.params)
        self.pending = [len(b.indices) for b in reducer.buckets]
        self.n_done = 0
        self.next_bucket = 0
        self.works: list = []
        self.started = False            # a gradient of a backward arrived
        self.finished = False

    def ready(self, i: int, grad) -> None:
        """Parameter i's gradient of this backward is ``grad`` (None: the parameter was unused)."""
        r = self.r
        if self.finished or self.done[i]:
            raise RuntimeError(
                f"DistributedDataParallel: a second gradient for {r.names[i]!r} in one "
                f"iteration (backward ran twice through one forward, e.g. with a retained "
                f"graph); run the forward again before each backward")
        self.started = self.started or grad is not None
        self.done[i] = True
        p = r.params[i]
        b, off = r.where[i]
        bucket = r.buckets[b]
        dst = bucket.buffer[off:off + _numel(p)]
        # The gradient to average is p.grad as it will be: what no_sync() accumulated, plus
        # this backward's part.
        prev = None if p.grad is None else p.grad.backend.to_numpy(p.grad.data).reshape(-1)
        if grad is None:
            if prev is None:
                dst[...] = 0
            else:
                dst[...] = prev
        else:
            g = p.backend.to_numpy(grad).reshape(-1)
            if prev is None:
                dst[...] = g
            else:
                np.add(prev, g, out=dst, casting="unsafe")
        self.pending[b] -= 1
        self.n_done += 1
        if self.pending[b] == 0:
            self._launch()
        elif self.works:
            self.works[-1].is_completed()            # lets MPI progress the bucket in flight
        if self.n_done == len(self.done):
            self._finish()

    def mark_unused(self, used: set[int]) -> None:
        for i in range(len(self.done)):
            if i not in used:
                self.ready(i, None)

    def _launch(self) -> None:
        r, g = self.r, self.r.group
        while self.next_bucket < len(r.buckets) and self.pending[self.next_bucket] == 0:
            buf = r.buckets[self.next_bucket].buffer
            req = g.comm.Iallreduce(g.MPI.IN_PLACE, buf, op=g.MPI.SUM) if g.size > 1 else None
            self.works.append(dist.Work(g, "DistributedDataParallel's gradient all_reduce",
                                        req, None))
            self.next_bucket += 1

    def _finish(self) -> None:
        r = self.r
        for w in self.works:
            w.wait()
        scale = 1.0 / r.group.size
        for bucket in r.buckets:
            avg = bucket.buffer * bucket.dtype.type(scale)  # fresh memory: the grads' own
            for i, off in zip(bucket.indices, bucket.offsets):
                p = r.params[i]
                n = _numel(p)
                be = p.backend
                p.grad = Tensor._make(be.asarray(avg[off:off + n].reshape(p.shape)), be)
        self.finished = True
        self.works = []


def _numel(t) -> int:
    n = 1
    for s in t.shape:
        n *= s
    return n


# ---- construction: the same model everywhere -----------------------------------------------------


def _verify_same_model(group, named_params, named_buffers) -> None:
    """Every rank must wrap the same architecture: compare names, shapes and dtypes (one small
    allgather) and fail on every rank alike, rather than mix up buffers in the all-reduce."""
    mine = [(n, tuple(t.shape), str(t.dtype)) for n, t in named_params]
    mine += [("buffer " + n, tuple(t.shape), str(t.dtype)) for n, t in named_buffers]
    if group.size == 1:
        return
    with group.watch("DistributedDataParallel's model check"):
        every = group.comm.allgather(mine)
    for rank, theirs in enumerate(every):
        if theirs != mine:
            diff = next(((a, b) for a, b in zip(every[0], theirs) if a != b),
                        (f"{len(every[0])} tensors", f"{len(theirs)} tensors"))
            raise ValueError(f"DistributedDataParallel: the models differ between ranks: rank 0 "
                             f"has {diff[0]}, rank {rank} has {diff[1]}; every rank must wrap "
                             f"the same architecture")


def _broadcast_tensors(group, tensors, what: str) -> None:
    """Rank 0's values of ``tensors`` into every rank's, packed into few large messages."""
    cap = BROADCAST_BUCKET_MB * _MB
    for bucket in _assign_buckets(list(enumerate(tensors)), cap, cap):
        buf = bucket.buffer
        if group.rank == 0:
            for i, off in zip(bucket.indices, bucket.offsets):
                t = tensors[i]
                buf[off:off + _numel(t)] = t.backend.to_numpy(t.data).reshape(-1)
        with group.watch(what):
            group.comm.Bcast(buf, root=0)
        if group.rank == 0:
            continue
        for i, off in zip(bucket.indices, bucket.offsets):
            t = tensors[i]
            part = buf[off:off + _numel(t)].reshape(t.shape)
            a = t.data
            if isinstance(a, np.ndarray) and a.flags.writeable:
                a[...] = part
            else:
                t.data = t.backend.asarray(part.copy())
            mark_modified(t)
