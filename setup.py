"""Build script: the Cython kernels of the tensor engine and the OpenCL sources as package data.

Compiler directives live here, once. ``MINIGRAD_DEBUG=1`` at build time turns bounds checks and
wraparound back on, for hunting an out-of-bounds index in a kernel.
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("MINIGRAD_DEBUG", "0") == "1"
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
        include_dirs=[np.get_include()],
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
    package_data={"minigrad.kernels": ["*.cl", "*.h"], "minigrad.backends": ["*.pyx", "*.pxd"]},
    ext_modules=cythonize(extensions, compiler_directives=directives, annotate=False),
    zip_safe=False,
)
