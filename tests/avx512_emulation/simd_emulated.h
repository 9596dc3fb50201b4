// A portable C++17 model of the x86 intrinsics the AVX-512 kernels use (src/kernels/x86_avx512),
// so that they can be compiled and tested on a CPU without AVX-512: src/kernels/x86_avx512/simd.h
// includes this header instead of <immintrin.h> when LOAM_AVX512_EMULATION is defined.
//
// Each function is a loop over lanes following the instruction's definition in the Intel SDM /
// Intrinsics Guide: wrapping integer arithmetic, saturation where the instruction saturates,
// shift counts past the element width giving zero, float arithmetic rounded once per operation in
// round-to-nearest-even (the default MXCSR), fused multiply-adds through std::fma, masked loads
// touching only the selected elements. Bits the real instructions leave undefined (the upper part
// of a widening cast) are filled with a poison pattern (NaN for floats), so a kernel that used them
// would fail its tests. _mm512_reduce_add_ps adds in the order of GCC's implementation.
// Only what the kernels (and test_kernels_avx512_emulated) use is here; add to it, with a
// hand-computed check in that test, when a kernel starts using another intrinsic.
//
// Everything is in an anonymous namespace: each translation unit gets its own copy and nothing of
// it can collide with another unit's real intrinsics at link time.
#pragma once

#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>

namespace {

// A vector of N bytes; Float tells the float types apart from the integer ones, as the real
// types are distinct (a __m512 does not convert to a __m512i).
template <int N, bool Float>
struct EmuVec {
  alignas(N) unsigned char b[N];
};

using __m128i = EmuVec<16, false>;
using __m256i = EmuVec<32, false>;
using __m512i = EmuVec<64, false>;
using __m128 = EmuVec<16, true>;
using __m256 = EmuVec<32, true>;
using __m512 = EmuVec<64, true>;
using __mmask16 = uint16_t;
using __mmask32 = uint32_t;
using __mmask64 = uint64_t;

constexpr int _MM_HINT_T0 = 3, _MM_HINT_T1 = 2, _MM_HINT_T2 = 1, _MM_HINT_NTA = 0;

namespace emu {

template <class T, class V>
constexpr int lanes() { return static_cast<int>(sizeof(V::b) / sizeof(T)); }

template <class T, class V>
inline T get(const V& v, int i) {
  T t;
  std::memcpy(&t, v.b + i * sizeof(T), sizeof(T));
  return t;
}

template <class T, class V>
inline void put(V& v, int i, T t) { std::memcpy(v.b + i * sizeof(T), &t, sizeof(T)); }

template <class V>
inline V zero() {
  V v;
  std::memset(v.b, 0, sizeof v.b);
  return v;
}

// Lane-wise f(a[i]) and f(a[i], b[i]) on lanes of type T.
template <class T, class V, class F>
inline V map1(const V& a, F f) {
  V r;
  for (int i = 0; i < lanes<T, V>(); ++i) put<T>(r, i, static_cast<T>(f(get<T>(a, i))));
  return r;
}
template <class T, class V, class F>
inline V map2(const V& a, const V& b, F f) {
  V r;
  for (int i = 0; i < lanes<T, V>(); ++i) put<T>(r, i, static_cast<T>(f(get<T>(a, i), get<T>(b, i))));
  return r;
}

template <class V, class T>
inline V splat(T x) {
  V r;
  for (int i = 0; i < lanes<T, V>(); ++i) put<T>(r, i, x);
  return r;
}

// Wrapping int32 from a wider exact sum (two's complement, as the hardware adds).
inline int32_t wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }
inline int16_t sat16(int32_t v) { return static_cast<int16_t>(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }

// The low half of `from` in a wider vector whose upper part is undefined on hardware: poisoned.
template <class Wide, class Narrow>
inline Wide widen_undefined(const Narrow& from, unsigned char poison) {
  Wide w;
  std::memset(w.b, poison, sizeof w.b);
  std::memcpy(w.b, from.b, sizeof from.b);
  return w;
}

template <class Narrow, class Wide>
inline Narrow part(const Wide& w, int index) {
  Narrow n;
  std::memcpy(n.b, w.b + index * sizeof n.b, sizeof n.b);
  return n;
}

template <class Wide, class Narrow>
inline Wide insert(Wide w, const Narrow& n, int index) {
  std::memcpy(w.b + index * sizeof n.b, n.b, sizeof n.b);
  return w;
}

template <class Wide, class Narrow>
inline Wide broadcast(const Narrow& n) {
  Wide w;
  for (size_t i = 0; i < sizeof w.b / sizeof n.b; ++i) std::memcpy(w.b + i * sizeof n.b, n.b, sizeof n.b);
  return w;
}

// IEEE binary16 to binary32, exact (vcvtph2ps: subnormals kept, NaNs quieted).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal, exact
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13) | (mant != 0 ? 0x00400000u : 0u);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class VF, class VI>
inline VF cvtph(const VI& h) {
  VF r;
  for (int i = 0; i < lanes<float, VF>(); ++i) put<float>(r, i, half_to_float(get<uint16_t>(h, i)));
  return r;
}

// vpdpbusd: per int32 lane, src + four products of unsigned bytes of a and signed bytes of b.
template <class V>
inline V dpbusd(const V& src, const V& a, const V& b) {
  V r;
  for (int i = 0; i < lanes<int32_t, V>(); ++i) {
    int64_t s = get<int32_t>(src, i);
    for (int k = 0; k < 4; ++k) s += get<uint8_t>(a, 4 * i + k) * get<int8_t>(b, 4 * i + k);
    put<int32_t>(r, i, wrap32(s));
  }
  return r;
}

// vpmaddubsw: per int16 lane, two products of unsigned bytes of a and signed bytes of b, saturated.
template <class V>
inline V maddubs(const V& a, const V& b) {
  V r;
  for (int i = 0; i < lanes<int16_t, V>(); ++i)
    put<int16_t>(r, i, sat16(get<uint8_t>(a, 2 * i) * get<int8_t>(b, 2 * i) +
                             get<uint8_t>(a, 2 * i + 1) * get<int8_t>(b, 2 * i + 1)));
  return r;
}

// vpmaddwd: per int32 lane, two products of signed words, added with wraparound.
template <class V>
inline V madd(const V& a, const V& b) {
  V r;
  for (int i = 0; i < lanes<int32_t, V>(); ++i)
    put<int32_t>(r, i, wrap32(static_cast<int64_t>(get<int16_t>(a, 2 * i)) * get<int16_t>(b, 2 * i) +
                              static_cast<int64_t>(get<int16_t>(a, 2 * i + 1)) * get<int16_t>(b, 2 * i + 1)));
  return r;
}

// Unpacks within each 128-bit lane: elements of type T from the low (hi = false) or high half.
template <class T, class V>
inline V unpack(const V& a, const V& b, bool hi) {
  V r;
  constexpr int per = 16 / static_cast<int>(sizeof(T));
  for (int l = 0; l < static_cast<int>(sizeof(V::b)) / 16; ++l)
    for (int i = 0; i < per / 2; ++i) {
      const int src = l * per + (hi ? per / 2 : 0) + i;
      put<T>(r, l * per + 2 * i, get<T>(a, src));
      put<T>(r, l * per + 2 * i + 1, get<T>(b, src));
    }
  return r;
}

template <class T, class V>
inline V shift_left(const V& a, unsigned count) {
  return map1<T>(a, [count](T x) { return count >= 8 * sizeof(T) ? T(0) : static_cast<T>(x << count); });
}
template <class T, class V>
inline V shift_right(const V& a, unsigned count) {  // logical: T unsigned
  return map1<T>(a, [count](T x) { return count >= 8 * sizeof(T) ? T(0) : static_cast<T>(x >> count); });
}

// Zero- or sign-extension of the first lanes of `from` (element type S) to elements of type D.
template <class D, class S, class VD, class VS>
inline VD extend(const VS& from) {
  VD r;
  for (int i = 0; i < lanes<D, VD>(); ++i) put<D>(r, i, static_cast<D>(get<S>(from, i)));
  return r;
}

}  // namespace emu

// --- loads, stores, casts ------------------------------------------------------------------------
// The unaligned loads take void* (the hardware headers' __m128i_u* / __m256i_u*): Clang gives
// memcpy the alignment of its argument's pointee type, and this model's __m128i is alignas(16),
// so memcpy from a `const __m128i*` became movaps and faulted on a misaligned block (-O0).
inline __m128i _mm_loadu_si128(const void* p) { __m128i v; std::memcpy(v.b, p, 16); return v; }
// The aligned forms fault on hardware when the address is not aligned: so does the model.
inline void require_aligned(const void* p, uintptr_t n) {
  if (reinterpret_cast<uintptr_t>(p) % n != 0) std::abort();
}
inline __m128i _mm_load_si128(const __m128i* p) { require_aligned(p, 16); return _mm_loadu_si128(p); }
inline __m256i _mm256_loadu_si256(const void* p) { __m256i v; std::memcpy(v.b, p, 32); return v; }
inline __m512i _mm512_loadu_si512(const void* p) { __m512i v; std::memcpy(v.b, p, 64); return v; }
inline __m512 _mm512_loadu_ps(const void* p) { __m512 v; std::memcpy(v.b, p, 64); return v; }
inline void _mm256_store_ps(float* p, __m256 v) { require_aligned(p, 32); std::memcpy(p, v.b, 32); }
inline void _mm512_store_ps(void* p, __m512 v) { require_aligned(p, 64); std::memcpy(p, v.b, 64); }
inline void _mm512_storeu_ps(void* p, __m512 v) { std::memcpy(p, v.b, 64); }
inline __m256 _mm256_loadu_ps(const float* p) { __m256 v; std::memcpy(v.b, p, 32); return v; }
inline void _mm256_storeu_ps(float* p, __m256 v) { std::memcpy(p, v.b, 32); }

inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const void* p) {
  __m512 v = emu::zero<__m512>();
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(v.b + 4 * i, static_cast<const unsigned char*>(p) + 4 * i, 4);
  return v;
}
inline __m256i _mm256_maskz_loadu_epi16(__mmask16 k, const void* p) {
  __m256i v = emu::zero<__m256i>();
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(v.b + 2 * i, static_cast<const unsigned char*>(p) + 2 * i, 2);
  return v;
}
inline void _mm512_mask_storeu_ps(void* p, __mmask16 k, __m512 v) {
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(static_cast<unsigned char*>(p) + 4 * i, v.b + 4 * i, 4);
}

inline void _mm_prefetch(const char*, int) {}

inline __m256i _mm256_castsi128_si256(__m128i a) { return emu::widen_undefined<__m256i>(a, 0xA5); }
inline __m512i _mm512_castsi128_si512(__m128i a) { return emu::widen_undefined<__m512i>(a, 0xA5); }
inline __m512i _mm512_castsi256_si512(__m256i a) { return emu::widen_undefined<__m512i>(a, 0xA5); }
inline __m512 _mm512_castps256_ps512(__m256 a) { return emu::widen_undefined<__m512>(a, 0xFF); }
inline __m128i _mm256_castsi256_si128(__m256i a) { return emu::part<__m128i>(a, 0); }
inline __m256i _mm512_castsi512_si256(__m512i a) { return emu::part<__m256i>(a, 0); }
inline __m512 _mm512_castsi512_ps(__m512i a) { __m512 r; std::memcpy(r.b, a.b, 64); return r; }

inline __m128i _mm256_extracti128_si256(__m256i a, int i) { return emu::part<__m128i>(a, i & 1); }
inline __m128i _mm512_extracti32x4_epi32(__m512i a, int i) { return emu::part<__m128i>(a, i & 3); }
inline __m256i _mm512_extracti64x4_epi64(__m512i a, int i) { return emu::part<__m256i>(a, i & 1); }
inline __m256i _mm256_inserti128_si256(__m256i a, __m128i b, int i) { return emu::insert(a, b, i & 1); }
inline __m512i _mm512_inserti32x4(__m512i a, __m128i b, int i) { return emu::insert(a, b, i & 3); }
inline __m512i _mm512_inserti64x4(__m512i a, __m256i b, int i) { return emu::insert(a, b, i & 1); }
inline __m512i _mm512_broadcast_i32x4(__m128i a) { return emu::broadcast<__m512i>(a); }
inline __m512i _mm512_broadcast_i64x4(__m256i a) { return emu::broadcast<__m512i>(a); }
inline __m512 _mm512_broadcast_f32x8(__m256 a) { return emu::broadcast<__m512>(a); }

// --- constants -----------------------------------------------------------------------------------
inline __m256i _mm256_setzero_si256() { return emu::zero<__m256i>(); }
inline __m512i _mm512_setzero_si512() { return emu::zero<__m512i>(); }
inline __m256 _mm256_setzero_ps() { return emu::zero<__m256>(); }
inline __m512 _mm512_setzero_ps() { return emu::zero<__m512>(); }
inline __m256i _mm256_set1_epi8(char x) { return emu::splat<__m256i>(static_cast<int8_t>(x)); }
inline __m512i _mm512_set1_epi8(char x) { return emu::splat<__m512i>(static_cast<int8_t>(x)); }
inline __m256i _mm256_set1_epi16(short x) { return emu::splat<__m256i>(static_cast<int16_t>(x)); }
inline __m256i _mm256_set1_epi32(int x) { return emu::splat<__m256i>(static_cast<int32_t>(x)); }
inline __m512i _mm512_set1_epi32(int x) { return emu::splat<__m512i>(static_cast<int32_t>(x)); }
inline __m256 _mm256_set1_ps(float x) { return emu::splat<__m256>(x); }
inline __m512 _mm512_set1_ps(float x) { return emu::splat<__m512>(x); }
inline __m128i _mm_setr_epi32(int e0, int e1, int e2, int e3) {
  __m128i r;
  const int32_t e[4] = {e0, e1, e2, e3};
  std::memcpy(r.b, e, 16);
  return r;
}
inline __m512i _mm512_setr_epi32(int e0, int e1, int e2, int e3, int e4, int e5, int e6, int e7,
                                 int e8, int e9, int e10, int e11, int e12, int e13, int e14, int e15) {
  __m512i r;
  const int32_t e[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
  std::memcpy(r.b, e, 64);
  return r;
}

// --- integer arithmetic and logic ----------------------------------------------------------------
inline __m128i _mm_add_epi32(__m128i a, __m128i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x + y; }); }
inline __m256i _mm256_add_epi32(__m256i a, __m256i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x + y; }); }
inline __m512i _mm512_add_epi32(__m512i a, __m512i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x + y; }); }
inline __m128i _mm_sub_epi32(__m128i a, __m128i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x - y; }); }
inline __m256i _mm256_sub_epi32(__m256i a, __m256i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x - y; }); }
inline __m512i _mm512_sub_epi32(__m512i a, __m512i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x - y; }); }
// vpmulld: the low 32 bits of each lane product (unsigned arithmetic: wraps like the hardware).
inline __m256i _mm256_mullo_epi32(__m256i a, __m256i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x * y; }); }
inline __m512i _mm512_mullo_epi32(__m512i a, __m512i b) { return emu::map2<uint32_t>(a, b, [](uint32_t x, uint32_t y) { return x * y; }); }
inline __m256i _mm256_and_si256(__m256i a, __m256i b) { return emu::map2<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x & y; }); }
inline __m256i _mm256_xor_si256(__m256i a, __m256i b) { return emu::map2<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x ^ y; }); }
inline __m512i _mm512_and_si512(__m512i a, __m512i b) { return emu::map2<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x & y; }); }
inline __m512i _mm512_or_si512(__m512i a, __m512i b) { return emu::map2<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x | y; }); }
inline __m256i _mm256_or_si256(__m256i a, __m256i b) { return emu::map2<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x | y; }); }
inline __m512i _mm512_xor_si512(__m512i a, __m512i b) { return emu::map2<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x ^ y; }); }

// Masked byte add: lanes whose mask bit is clear keep src.
inline __m512i _mm512_mask_add_epi8(__m512i src, __mmask64 k, __m512i a, __m512i b) {
  __m512i r = src;
  for (int i = 0; i < 64; ++i)
    if ((k >> i) & 1) emu::put<uint8_t>(r, i, static_cast<uint8_t>(emu::get<uint8_t>(a, i) + emu::get<uint8_t>(b, i)));
  return r;
}
inline __mmask64 _mm512_test_epi8_mask(__m512i a, __m512i b) {
  __mmask64 k = 0;
  for (int i = 0; i < 64; ++i)
    if (emu::get<uint8_t>(a, i) & emu::get<uint8_t>(b, i)) k |= __mmask64{1} << i;
  return k;
}

// Shifts: immediate counts apply to every lane, v-forms take each lane's count from b.
inline __m256i _mm256_slli_epi32(__m256i a, int n) { return emu::shift_left<uint32_t>(a, static_cast<unsigned>(n)); }
inline __m512i _mm512_slli_epi32(__m512i a, unsigned n) { return emu::shift_left<uint32_t>(a, n); }
// Arithmetic right shift: the sign fills in; counts past 31 give all sign bits.
inline __m256i _mm256_srai_epi32(__m256i a, int count) {
  const unsigned n = static_cast<unsigned>(count) & 0xFF;  // the instruction's imm8
  return emu::map1<int32_t>(a, [n](int32_t x) { return n > 31 ? (x < 0 ? -1 : 0) : x >> n; });
}
inline __m512i _mm512_srai_epi32(__m512i a, unsigned n) {
  return emu::map1<int32_t>(a, [n](int32_t x) { return n > 31 ? (x < 0 ? -1 : 0) : x >> n; });
}
inline __m256i _mm256_slli_epi16(__m256i a, int n) { return emu::shift_left<uint16_t>(a, static_cast<unsigned>(n)); }
inline __m512i _mm512_slli_epi16(__m512i a, unsigned n) { return emu::shift_left<uint16_t>(a, n); }
inline __m512i _mm512_srli_epi16(__m512i a, unsigned n) { return emu::shift_right<uint16_t>(a, n); }
inline __m256i _mm256_srli_epi16(__m256i a, int n) { return emu::shift_right<uint16_t>(a, static_cast<unsigned>(n)); }
inline __m512i _mm512_sllv_epi16(__m512i a, __m512i b) {
  return emu::map2<uint16_t>(a, b, [](uint16_t x, uint16_t n) { return n >= 16 ? 0 : x << n; });
}
inline __m512i _mm512_srlv_epi16(__m512i a, __m512i b) {
  return emu::map2<uint16_t>(a, b, [](uint16_t x, uint16_t n) { return n >= 16 ? 0 : x >> n; });
}

inline __m128i _mm_madd_epi16(__m128i a, __m128i b) { return emu::madd(a, b); }
inline __m256i _mm256_madd_epi16(__m256i a, __m256i b) { return emu::madd(a, b); }
inline __m256i _mm256_maddubs_epi16(__m256i a, __m256i b) { return emu::maddubs(a, b); }
inline __m512i _mm512_maddubs_epi16(__m512i a, __m512i b) { return emu::maddubs(a, b); }
inline __m256i _mm256_dpbusd_epi32(__m256i src, __m256i a, __m256i b) { return emu::dpbusd(src, a, b); }
inline __m512i _mm512_dpbusd_epi32(__m512i src, __m512i a, __m512i b) { return emu::dpbusd(src, a, b); }
// vpdpwssd: per int32 lane, src + two products of signed words, wrapping.
inline __m512i _mm512_dpwssd_epi32(__m512i src, __m512i a, __m512i b) {
  return _mm512_add_epi32(src, emu::madd(a, b));
}

// phaddw (128-bit): [a0+a1, a2+a3, a4+a5, a6+a7, b0+b1, ...], wrapping.
inline __m128i _mm_hadd_epi16(__m128i a, __m128i b) {
  __m128i r;
  for (int i = 0; i < 4; ++i) {
    emu::put<uint16_t>(r, i, static_cast<uint16_t>(emu::get<uint16_t>(a, 2 * i) + emu::get<uint16_t>(a, 2 * i + 1)));
    emu::put<uint16_t>(r, 4 + i, static_cast<uint16_t>(emu::get<uint16_t>(b, 2 * i) + emu::get<uint16_t>(b, 2 * i + 1)));
  }
  return r;
}

inline __m128i _mm_unpacklo_epi32(__m128i a, __m128i b) { return emu::unpack<uint32_t>(a, b, false); }
inline __m128i _mm_unpackhi_epi32(__m128i a, __m128i b) { return emu::unpack<uint32_t>(a, b, true); }
inline __m128i _mm_unpacklo_epi64(__m128i a, __m128i b) { return emu::unpack<uint64_t>(a, b, false); }
inline __m128i _mm_unpackhi_epi64(__m128i a, __m128i b) { return emu::unpack<uint64_t>(a, b, true); }

// vpermd / vpermps: lane i = a[idx[i] mod 16].
inline __m512i _mm512_permutexvar_epi32(__m512i idx, __m512i a) {
  __m512i r;
  for (int i = 0; i < 16; ++i) emu::put<uint32_t>(r, i, emu::get<uint32_t>(a, emu::get<uint32_t>(idx, i) & 15));
  return r;
}
inline __m512 _mm512_permutexvar_ps(__m512i idx, __m512 a) {
  __m512 r;
  for (int i = 0; i < 16; ++i) emu::put<float>(r, i, emu::get<float>(a, emu::get<uint32_t>(idx, i) & 15));
  return r;
}

// vshuff32x4: 128-bit quarter i from a (i < 2) or b (i >= 2), quarter imm[2i+1:2i] of it.
inline __m512 _mm512_shuffle_f32x4(__m512 a, __m512 b, int imm) {
  __m512 r;
  for (int q = 0; q < 4; ++q) {
    const __m512& src = q < 2 ? a : b;
    const int from = (imm >> (2 * q)) & 3;
    std::memcpy(r.b + 16 * q, src.b + 16 * from, 16);
  }
  return r;
}
// vpermilps (immediate): within each 128-bit quarter, lane i = lane imm[2i+1:2i] of that quarter.
inline __m512 _mm512_permute_ps(__m512 a, int imm) {
  __m512 r;
  for (int i = 0; i < 16; ++i) emu::put<float>(r, i, emu::get<float>(a, (i & ~3) + ((imm >> (2 * (i & 3))) & 3)));
  return r;
}

inline __m128i _mm_cvtepu8_epi16(__m128i a) { return emu::extend<uint16_t, uint8_t, __m128i>(a); }
inline __m256i _mm256_cvtepu8_epi16(__m128i a) { return emu::extend<uint16_t, uint8_t, __m256i>(a); }
inline __m256i _mm256_cvtepu8_epi32(__m128i a) { return emu::extend<uint32_t, uint8_t, __m256i>(a); }
inline __m256i _mm256_cvtepi8_epi16(__m128i a) { return emu::extend<int16_t, int8_t, __m256i>(a); }
inline __m512i _mm512_cvtepu8_epi32(__m128i a) { return emu::extend<uint32_t, uint8_t, __m512i>(a); }
inline __m512i _mm512_cvtepu16_epi32(__m256i a) { return emu::extend<uint32_t, uint16_t, __m512i>(a); }

inline int _mm512_reduce_add_epi32(__m512i a) {
  uint32_t s = 0;
  for (int i = 0; i < 16; ++i) s += emu::get<uint32_t>(a, i);
  return static_cast<int32_t>(s);
}

// --- float ---------------------------------------------------------------------------------------
inline __m256 _mm256_add_ps(__m256 a, __m256 b) { return emu::map2<float>(a, b, [](float x, float y) { return x + y; }); }
inline __m512 _mm512_add_ps(__m512 a, __m512 b) { return emu::map2<float>(a, b, [](float x, float y) { return x + y; }); }
inline __m512 _mm512_mul_ps(__m512 a, __m512 b) { return emu::map2<float>(a, b, [](float x, float y) { return x * y; }); }
inline __m256 _mm256_sub_ps(__m256 a, __m256 b) { return emu::map2<float>(a, b, [](float x, float y) { return x - y; }); }
inline __m512 _mm512_sub_ps(__m512 a, __m512 b) { return emu::map2<float>(a, b, [](float x, float y) { return x - y; }); }
inline __m256 _mm256_mul_ps(__m256 a, __m256 b) { return emu::map2<float>(a, b, [](float x, float y) { return x * y; }); }

template <class V>
inline V emu_fma(const V& a, const V& b, const V& c, bool negate_product) {
  V r;
  for (int i = 0; i < emu::lanes<float, V>(); ++i) {
    const float x = emu::get<float>(a, i);
    emu::put<float>(r, i, std::fma(negate_product ? -x : x, emu::get<float>(b, i), emu::get<float>(c, i)));
  }
  return r;
}
inline __m256 _mm256_fmadd_ps(__m256 a, __m256 b, __m256 c) { return emu_fma(a, b, c, false); }
inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) { return emu_fma(a, b, c, false); }
inline __m256 _mm256_fnmadd_ps(__m256 a, __m256 b, __m256 c) { return emu_fma(a, b, c, true); }

// vcvtdq2ps: rounded in the current mode (nearest even), as the C++ conversion.
inline __m256 _mm256_cvtepi32_ps(__m256i a) {
  __m256 r;
  for (int i = 0; i < 8; ++i) emu::put<float>(r, i, static_cast<float>(emu::get<int32_t>(a, i)));
  return r;
}
inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  __m512 r;
  for (int i = 0; i < 16; ++i) emu::put<float>(r, i, static_cast<float>(emu::get<int32_t>(a, i)));
  return r;
}

inline __m256 _mm256_cvtph_ps(__m128i a) { return emu::cvtph<__m256>(a); }
inline __m512 _mm512_cvtph_ps(__m256i a) { return emu::cvtph<__m512>(a); }
inline float _cvtsh_ss(unsigned short h) { return emu::half_to_float(h); }

// GCC's order: halves added (hi + lo), then quarters, then lanes {0,1} + {2,3}, then lane 0 + 1.
inline float _mm512_reduce_add_ps(__m512 a) {
  float t3[8], t6[4];
  for (int i = 0; i < 8; ++i) t3[i] = emu::get<float>(a, 8 + i) + emu::get<float>(a, i);
  for (int i = 0; i < 4; ++i) t6[i] = t3[4 + i] + t3[i];
  return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

}  // namespace
