/* The one precision switch of every kernel file: `real` is float, or double when the program is
 * built with -DREAL_IS_DOUBLE (the device needs cl_khr_fp64). The runtime inlines this header
 * where a .cl file says #include "real.h" (so the cached binary depends on it too). */
#if defined(REAL_TYPE)
/* Integer and bool kernels (-DREAL_TYPE=long ... with -DREAL_IS_INT, opencl/device.py's
 * _options_any): `real` is that C type (bool is uchar holding 0 or 1); REAL_LOWEST and
 * REAL_HIGHEST are its range, REAL_IS_SIGNED and REAL_IS_BOOL say which kind it is. */
#ifdef REAL_NEEDS_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
typedef REAL_TYPE real;
#define MG_CAT_(a, b) a##b
#define MG_CAT(a, b) MG_CAT_(a, b)
typedef MG_CAT(REAL_TYPE, 8) real8;
#elif defined(REAL_IS_DOUBLE)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
typedef double4 real4;
typedef double8 real8;
typedef double16 real16;
#else
typedef float real;
typedef float4 real4;
typedef float8 real8;
typedef float16 real16;
#endif
#ifndef REAL_IS_INT
#define REAL_IS_FLOAT
#endif
