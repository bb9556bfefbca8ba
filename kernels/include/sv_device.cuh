// Portability for the kernels' arithmetic: every function in kernels/include/ is a device
// function under NVRTC and a plain static inline function in host C++, so the same lines run
// on the GPU and in tests/kernels/host_parity.cpp, which compares them with the CPU backend.
#ifndef SV_DEVICE_CUH
#define SV_DEVICE_CUH

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#define SV_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#include <string.h>
#define SV_HD static inline
#endif

// NVRTC has no <stdint.h>; these widths hold on every CUDA target and on the hosts we build on.
typedef unsigned int sv_u32;
typedef unsigned long long sv_u64;

#endif
