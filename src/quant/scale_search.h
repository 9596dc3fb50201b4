// Scale searches for the K quantizers: choose the integer codes of a small group of values and
// the scale (and offset) that reconstruct them with the least weighted squared error.
//
// Both searches try a short list of candidate inverse scales around "the extreme value maps to
// the last code". Each candidate fixes the codes by rounding; the best scale (and offset) for
// those codes is then a weighted least-squares solution in closed form. The candidate whose
// solution has the least weighted error wins. Rounding with a slightly larger or smaller inverse
// scale moves a few codes across their rounding boundaries, which is what usually lowers the
// error below that of the plain "extreme value" scale. (This is the search of ggml's reference
// K quantizers, make_qkx2_quants / make_qx_quants, restated; on the synth-tiny tensors it picks
// the same scales as the files llama.cpp wrote.)
#pragma once

#include <cstdint>

namespace loam {

// Candidate inverse scales: (nmax + first + step * k) / range for k in [0, count).
struct ScaleGrid {
  float first;
  float step;
  int count;
};

// Fits x[i] ~ scale * q[i] - offset with q[i] in [0, nmax] and offset >= 0 (the K formats store
// unsigned mins), minimizing sum w[i] * error^2. Candidates round x relative to the best offset
// found so far (starting from min(x, 0)), so each improvement also shifts the later roundings. Returns scale (0 when x is constant, then
// q = 0 and -offset is that constant or 0); writes the codes to q and the offset to *offset.
float fit_scale_offset(const float* x, const float* w, int n, int nmax, const ScaleGrid& grid,
                       uint8_t* q, float* offset);

// Fits x[i] ~ scale * q[i] with q[i] in [-nmax, nmax - 1], minimizing sum w[i] * error^2. The
// element of largest magnitude starts at code -nmax (the side with one more code); the grid is
// tried as nmax + first + step * k. Returns the scale (negative when that element is positive;
// 0 when all |x| are negligible, then q = 0).
float fit_scale_symmetric(const float* x, const float* w, int n, int nmax, const ScaleGrid& grid,
                          int8_t* q);

}  // namespace loam
