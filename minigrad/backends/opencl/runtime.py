"""The OpenCL runtime: which device, one context and queue per process, programs built once.

Device choice, first match wins:

1. ``MINIGRAD_OPENCL_DEVICE``: an index into :func:`devices` or a (case-insensitive) substring of
   a device or platform name;
2. pyopencl's own ``PYOPENCL_CTX`` (``"platform"`` or ``"platform:device"`` indices);
3. the first GPU, else the first device of any type.

Programs (one per ``kernels/*.cl`` file) are built lazily, the first time one of their ops runs,
once per (context, file, options), and their kernel objects are kept: building is the expensive
part of the first call, and PoCL / pyopencl cache compiled binaries across processes.

>>> from minigrad.backends.opencl import runtime
>>> runtime.available()                                  # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

INSTALL_HINT = (
    "install an OpenCL driver, e.g. on Debian/Ubuntu `apt-get install pocl-opencl-icd "
    "ocl-icd-libopencl1` (a CPU driver), or your GPU vendor's OpenCL ICD; and `pip install "
    "pyopencl`"
)


class OpenCLUnavailable(RuntimeError):
    """No usable OpenCL platform, device or pyopencl; the message says how to get one."""


class KernelBuildError(RuntimeError):
    """An OpenCL program failed to compile; the message carries the compiler's build log."""


class DeviceInfo(NamedTuple):
    index: int            # what MINIGRAD_OPENCL_DEVICE=<index> selects
    platform: str
    device: str
    type: str             # "GPU", "CPU", "ACCELERATOR", ...
    compute_units: int
    global_mem_mb: int
    fp64: bool


_lock = threading.RLock()
launch_lock = threading.RLock()  # around setting a shared kernel's arguments and enqueueing it
_state: dict = {}            # "ctx", "queue", "device", "error"
_programs: dict = {}         # (context id, file, options) -> cl.Program
_kernels: dict = {}          # (context id, file, options, kernel name) -> cl.Kernel


# ---- where the kernel sources are -----------------------------------------------------------

def kernel_dir() -> Path:
    """The folder holding ``*.cl``: ``minigrad/kernels`` when installed, ``kernels/`` in a checkout.

    Located from this file rather than from ``minigrad.__file__`` so that the OpenCL engine imports
    even while the package's ``__init__`` is absent or broken.
    """
    pkg = Path(__file__).resolve().parent.parent.parent   # .../minigrad
    for candidate in (pkg / "kernels", pkg.parent / "kernels"):
        if candidate.is_dir() and any(candidate.glob("*.cl")):
            return candidate
    raise FileNotFoundError(
        f"OpenCL kernel sources not found in {pkg / 'kernels'} nor {pkg.parent / 'kernels'}"
    )


# ---- devices --------------------------------------------------------------------------------

def _cl():
    try:
        import pyopencl as cl
    except ImportError as e:                         # pragma: no cover - depends on the machine
        raise OpenCLUnavailable(f"pyopencl is not importable ({e}); {INSTALL_HINT}") from e
    return cl


def _all_devices() -> list:
    """(platform, device) pairs in a stable order; raises OpenCLUnavailable when there are none."""
    cl = _cl()
    try:
        platforms = cl.get_platforms()
    except cl.Error as e:
        # The ICD loader reports "no platforms" as an error (PLATFORM_NOT_FOUND_KHR).
        raise OpenCLUnavailable(f"no OpenCL platform found ({e}); {INSTALL_HINT}") from e
    pairs = []
    for p in platforms:
        try:
            pairs.extend((p, d) for d in p.get_devices())
        except cl.Error:
            continue                                 # a platform without devices is skipped
    if not pairs:
        raise OpenCLUnavailable(f"OpenCL platforms exist but no device; {INSTALL_HINT}")
    return pairs


def devices() -> list[DeviceInfo]:
    """Every OpenCL device of every platform (what ``minigrad devices`` prints); [] if none."""
    try:
        pairs = _all_devices()
    except OpenCLUnavailable:
        return []
    out = []
    for i, (p, d) in enumerate(pairs):
        out.append(DeviceInfo(
            index=i,
            platform=p.name.strip(),
            device=d.name.strip(),
            type=_type_name(d.type),
            compute_units=int(d.max_compute_units),
            global_mem_mb=int(d.global_mem_size) // 2**20,
            fp64="cl_khr_fp64" in d.extensions,
        ))
    return out


def _type_name(flags: int) -> str:
    cl = _cl()
    kinds = [k for k in ("GPU", "CPU", "ACCELERATOR") if flags & getattr(cl.device_type, k)]
    return "/".join(kinds) or "OTHER"


def format_devices() -> str:
    """A table of :func:`devices`, with a star on the one this process would use."""
    infos = devices()
    if not infos:
        return "no OpenCL device: " + why_unavailable()
    try:
        chosen = _select(_all_devices())[1].int_ptr
    except OpenCLUnavailable:
        chosen = None
    pairs = _all_devices()
    lines = []
    for info, (_, d) in zip(infos, pairs):
        star = "*" if d.int_ptr == chosen else " "
        lines.append(
            f"{star} [{info.index}] {info.device} ({info.type}, {info.compute_units} CU, "
            f"{info.global_mem_mb} MB, fp64={'yes' if info.fp64 else 'no'}) on {info.platform}"
        )
    return "\n".join(lines)


def _select(pairs: list) -> tuple:
    cl = _cl()
    want = os.environ.get("MINIGRAD_OPENCL_DEVICE", "").strip()
    if want:
        if want.isdigit():
            i = int(want)
            if i >= len(pairs):
                raise OpenCLUnavailable(
                    f"MINIGRAD_OPENCL_DEVICE={want}: there are only {len(pairs)} OpenCL device(s): "
                    + _names(pairs)
                )
            return pairs[i]
        hits = [
            (p, d) for p, d in pairs
            if want.lower() in d.name.lower() or want.lower() in p.name.lower()
        ]
        if not hits:
            raise OpenCLUnavailable(
                f"MINIGRAD_OPENCL_DEVICE={want!r} matches no OpenCL device; available: "
                + _names(pairs)
            )
        return hits[0]
    ctx_env = os.environ.get("PYOPENCL_CTX", "").strip()
    if ctx_env:
        plat, _, dev = ctx_env.partition(":")
        platforms = []
        for p, _d in pairs:
            if p not in platforms:
                platforms.append(p)
        if plat.isdigit() and int(plat) < len(platforms):
            p = platforms[int(plat)]
        else:
            named = [q for q in platforms if plat.lower() in q.name.lower()]
            if not named:
                raise OpenCLUnavailable(f"PYOPENCL_CTX={ctx_env!r} matches no platform: "
                                        + _names(pairs))
            p = named[0]
        devs = [d for q, d in pairs if q == p]
        if dev.isdigit() and int(dev) < len(devs):
            return p, devs[int(dev)]
        if dev:
            raise OpenCLUnavailable(f"PYOPENCL_CTX={ctx_env!r} matches no device: "
                                    + _names(pairs))
        return p, devs[0]
    gpus = [(p, d) for p, d in pairs if d.type & cl.device_type.GPU]
    return (gpus or pairs)[0]


def _names(pairs: list) -> str:
    return ", ".join(f"[{i}] {d.name.strip()}" for i, (_, d) in enumerate(pairs))


def _ensure() -> None:
    with _lock:
        if "ctx" in _state:
            return
        if "error" in _state:
            raise OpenCLUnavailable(_state["error"])
        try:
            _, device = _select(_all_devices())
            cl = _cl()
            ctx = cl.Context([device])
            queue = cl.CommandQueue(ctx)
        except OpenCLUnavailable as e:
            _state["error"] = str(e)
            raise
        except Exception as e:  # noqa: BLE001 - any driver failure means "unavailable"
            _state["error"] = f"creating an OpenCL context failed ({e!r}); {INSTALL_HINT}"
            raise OpenCLUnavailable(_state["error"]) from e
        _state.update(ctx=ctx, queue=queue, device=device)


def available() -> bool:
    """True when a device can be used; never raises."""
    try:
        _ensure()
    except OpenCLUnavailable:
        return False
    return True


def why_unavailable() -> str:
    """The reason :func:`available` is False ("" when it is True)."""
    return "" if available() else _state.get("error", "unknown")


def get_context():
    _ensure()
    return _state["ctx"]


def get_queue():
    _ensure()
    return _state["queue"]


def get_device():
    _ensure()
    return _state["device"]


def device_is_cpu(device=None) -> bool:
    cl = _cl()
    d = device if device is not None else get_device()
    return bool(d.type & cl.device_type.CPU)


def has_fp64(device=None) -> bool:
    d = device if device is not None else get_device()
    return "cl_khr_fp64" in d.extensions


def reset() -> None:
    """Forget the context, queue and every built program (tests use it after changing the env)."""
    with _lock:
        _state.clear()
        _programs.clear()
        _kernels.clear()


# ---- programs -------------------------------------------------------------------------------

def build_source(source: str, options: tuple[str, ...] = (), name: str = "<source>"):
    """Compile OpenCL C ``source``; a failure raises KernelBuildError including the build log."""
    cl = _cl()
    prog = cl.Program(get_context(), source)
    try:
        return prog.build(options=list(options))
    except cl.Error as e:
        message = str(e)
        try:
            log = prog.get_build_info(get_device(), cl.program_build_info.LOG).strip()
        except cl.Error:
            log = ""
        # pyopencl usually embeds the log already; some ICDs leave it out.
        extra = f"\n--- build log ---\n{log}" if log and log not in message else ""
        raise KernelBuildError(
            f"building OpenCL program {name} with options {list(options)} failed:\n"
            f"{message}{extra}"
        ) from e


def read_source(file: str) -> str:
    """The text of ``kernels/<file>`` with its ``#include "x.h"`` lines replaced by the headers
    themselves (so a cached binary depends on the headers too, and no -I path is needed)."""
    lines = []
    for line in (kernel_dir() / file).read_text().splitlines():
        s = line.strip()
        if s.startswith("#include \"") and s.endswith(".h\""):
            lines.append(read_source(s[len("#include \""):-1]))
        else:
            lines.append(line)
    return "\n".join(lines)


def program(file: str, options: tuple[str, ...] = (), extra: str = ""):
    """The built program of ``kernels/<file>`` (e.g. ``"matmul.cl"``), built on first use;
    ``extra``: generated source appended to the file (the rule kernels)."""
    ctx = get_context()
    key = (id(ctx), file, tuple(options), extra)
    prog = _programs.get(key)
    if prog is None:
        with _lock:
            prog = _programs.get(key)
            if prog is None:
                source = read_source(file) + ("\n" + extra if extra else "")
                prog = build_source(source, tuple(options), name=file)
                _programs[key] = prog
    return prog


def kernel(file: str, name: str, options: tuple[str, ...] = ()):
    """The kernel object ``name`` of ``kernels/<file>``; one object per process, reused."""
    key = (id(get_context()), file, tuple(options), name)
    k = _kernels.get(key)
    if k is None:
        k = getattr(program(file, options), name)
        _kernels[key] = k
    return k
