/* The one precision switch of every kernel file: `real` is float, or double when the program is
 * built with -DREAL_IS_DOUBLE (the device needs cl_khr_fp64). The runtime inlines this header
 * where a .cl file says #include "real.h" (so the cached binary depends on it too). */
#ifdef REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
typedef double4 real4;
typedef double16 real16;
#else
typedef float real;
typedef float4 real4;
typedef float16 real16;
#endif
