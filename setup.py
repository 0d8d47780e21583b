"""Build script: the Cython kernels of the tensor engine and the OpenCL sources as package data.

Compiler directives live here, once. ``MINIGRAD_BOUNDSCHECK=1`` (or its older name
``MINIGRAD_DEBUG=1``) at build time turns Cython's boundscheck, wraparound and initializedcheck back
on, for hunting an out-of-bounds index in a kernel: an index error then raises IndexError instead
of reading or writing past a buffer (CI runs the kernel tests once with such a build).

Cython regenerates a .c file only when it is older than its .pyx, whatever the directives; so a
bounds-checked build writes its C and objects under build/boundscheck/, always regenerated, and
never shares them with (or leaves them to) the normal build.
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# MINIGRAD_DEBUG is the older name of the switch; either one turns the checks on.
debug = any(os.environ.get(v, "0") == "1" for v in ("MINIGRAD_BOUNDSCHECK", "MINIGRAD_DEBUG"))
openmp = [] if sys.platform == "darwin" else ["-fopenmp"]

directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": True,
    "nonecheck": False,
}

extensions = [
    Extension(
        "minigrad.backends._cpu",
        ["minigrad/backends/_cpu.pyx"],
        include_dirs=[np.get_include(), "minigrad/backends"],
        # No -ffast-math: it re-associates (x - max) - log(sum) into x - (max + log(sum)), which
        # loses float32 precision for large logits. These two keep vectorisation without that.
        extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math", *openmp],
        extra_link_args=openmp,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
]

setup(
    packages=[
        "minigrad",
        "minigrad.scalar",
        "minigrad.tensor",
        "minigrad.backends",
        "minigrad.backends.opencl",
        "minigrad.nn",
        "minigrad.optim",
        "minigrad.data",
        "minigrad.kernels",
    ],
    # The OpenCL sources live in the top-level kernels/ folder; installed, they become
    # minigrad/kernels/*.cl so a wheel finds them next to the code.
    package_dir={"minigrad.kernels": "kernels"},
    package_data={"minigrad.kernels": ["*.cl", "*.h"], "minigrad.backends": ["*.pyx", "*.pxd", "*.h"]},
    ext_modules=cythonize(extensions, compiler_directives=directives, annotate=False,
                          **({"build_dir": "build/boundscheck/cython", "force": True} if debug
                             else {})),
    options={"build": {"build_base": "build/boundscheck"}} if debug else {},
    zip_safe=False,
)
