// The one place the AVX-512 kernels get their intrinsics from. Normally <immintrin.h>; with
// LOAM_AVX512_EMULATION defined, a portable C++ model of the same intrinsics
// (tests/avx512_emulation/simd_emulated.h), so the kernels can be compiled and tested on a CPU
// without AVX-512. The kernels live in namespace loam::LOAM_AVX512_NS (avx512 by default) so that
// an emulated copy (test_kernels_avx512_emulated builds one as avx512_emulated) can be linked next
// to the real one.
#pragma once

#if defined(LOAM_AVX512_EMULATION)
#include "simd_emulated.h"
#else
#include <immintrin.h>
#endif

#ifndef LOAM_AVX512_NS
#define LOAM_AVX512_NS avx512
#endif
