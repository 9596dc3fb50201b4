#include "model/matmul.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "quant/interleave.h"

namespace loam {

namespace {

// Weight rows a thread takes at once when several tokens share the weights: as many as fit in
// kTileBytes (which stays in L2 while every token of the batch is dotted with them), at least
// kRowTile and at most kMaxTileRows (interleaved weights: see below). 16 rows of a 4096-wide F16 matrix are 128 KiB; 112 rows of a
// 2048-wide Q4_0 one are 126 KiB. A gemm kernel prepares each token's activation blocks once per
// call, so the more rows a call covers, the less that preparation costs per row.
constexpr int64_t kRowTile = 16;
constexpr int64_t kMaxTileRows = 128;
constexpr int64_t kTileBytes = 128 * 1024;
// Interleaved weights with a gemm kernel take 4x the rows: the AVX-512 VNNI kernels' preparation
// (each token block's scale and code sum, x86_avx512/interleaved_kernels.cpp) cost as much as the
// products on 16-row calls. Intel Xeon of issue 8, 2 threads, TinyLlama shape, pp512, 2 alternating
// rounds against 128 KiB / 128 rows: Q8_0 232/216 -> 276/257 tok/s, Q4_0 277/257 -> 298/287,
// Q6_K +1-4%, Q4_K_M and Q5_K_M within -3..+0%, the AVX2 set's Q4_0 +3-8%, its others -4..+3%;
// F16 (no interleaved copy) lost 3% at 512 KiB, so it keeps the smaller tile.
constexpr int64_t kMaxInterleavedTileRows = 256;
constexpr int64_t kInterleavedTileBytes = 512 * 1024;
constexpr int64_t kMinChunksPerThread = 4;
static_assert(kRowTile % kInterleaveRows == 0, "row tiles start on interleaved group boundaries");
constexpr size_t kMinParallelBytes = 64 * 1024;
constexpr int64_t kChunkBytes = 128 * 1024;

struct PreparedJob {
  const Tensor* w;
  GemvFn gemv;
  // Rows [0, interleaved_rows) are computed from w->interleaved (groups of kInterleaveRows), the
  // rest from the file layout; 0 when the weight has no interleaved copy.
  GemvFn gemv_interleaved;
  GemmFn gemm_interleaved;  // nullptr: gemv_interleaved per token
  GemmFn gemm;              // over the file layout; nullptr: gemv per token
  int64_t interleaved_rows;
  size_t interleaved_group_bytes;
  const uint8_t* x;    // [n_tokens][x_stride] activations in the kernel's format
  size_t x_stride;
  float* y;
};

}  // namespace

void matmul(ThreadPool& pool, const MatmulJob* jobs, int n_jobs, int n_tokens,
            std::vector<uint8_t>& act_scratch) {
  const KernelTable& kt = kernels();
  PreparedJob prepared[8];
  // Activations are converted once per distinct input; jobs sharing an input share the copy.
  size_t scratch_needed = 0;
  for (int j = 0; j < n_jobs; ++j) {
    const TypeKernels& tk = kt.weights[static_cast<uint32_t>(jobs[j].w->type)];
    if (tk.act_type != DType::F32)
      scratch_needed += act_row_bytes(tk.act_type, jobs[j].w->cols()) * n_tokens;
  }
  if (act_scratch.size() < scratch_needed) act_scratch.resize(scratch_needed);
  size_t scratch_used = 0;
  for (int j = 0; j < n_jobs; ++j) {
    const Tensor* w = jobs[j].w;
    const TypeKernels& tk = kt.weights[static_cast<uint32_t>(w->type)];
    PreparedJob& p = prepared[j];
    p.w = w;
    p.gemv = tk.gemv;
    p.gemv_interleaved = tk.gemv_interleaved;
    p.gemm_interleaved = tk.gemm_interleaved;
    p.gemm = tk.gemm;
    p.interleaved_rows = w->interleaved != nullptr && tk.gemv_interleaved != nullptr
                             ? w->rows() / kInterleaveRows * kInterleaveRows
                             : 0;
    p.interleaved_group_bytes = interleaved_group_bytes(w->type, w->cols());
    p.y = jobs[j].y;
    if (tk.act_type == DType::F32) {
      p.x = reinterpret_cast<const uint8_t*>(jobs[j].x);
      p.x_stride = static_cast<size_t>(w->cols()) * sizeof(float);
      continue;
    }
    bool reused = false;
    for (int k = 0; k < j; ++k) {
      const TypeKernels& tk2 = kt.weights[static_cast<uint32_t>(jobs[k].w->type)];
      if (jobs[k].x == jobs[j].x && tk2.act_type == tk.act_type) {
        p.x = prepared[k].x;
        p.x_stride = prepared[k].x_stride;
        reused = true;
        break;
      }
    }
    if (reused) continue;
    p.x_stride = act_row_bytes(tk.act_type, w->cols());
    uint8_t* dst = act_scratch.data() + scratch_used;
    scratch_used += p.x_stride * n_tokens;
    const QuantizeActFn quantize = kt.quantize_act[static_cast<uint32_t>(tk.act_type)];
    for (int t = 0; t < n_tokens; ++t)
      quantize(jobs[j].x + static_cast<size_t>(t) * w->cols(), dst + t * p.x_stride, w->cols());
    p.x = dst;
  }

  // Chunks: each job's rows cut into runs of rows_per_chunk[j] rows, numbered job after job.
  int64_t first_chunk[9] = {0};
  int64_t rows_per_chunk[8];
  auto plan_chunks = [&](bool large_tiles) {
    for (int j = 0; j < n_jobs; ++j) {
      const int64_t rb = static_cast<int64_t>(prepared[j].w->row_bytes());
      if (n_tokens == 1) {
        // Decode streams each weight once. Each thread walks its own contiguous share of the
        // chunks (thread_pool.h), so the chunk size only sets the unit a thread that finishes
        // early takes from another's share: ~kChunkBytes leaves enough of them to balance.
        rows_per_chunk[j] = std::max<int64_t>(kRowTile, (kChunkBytes / rb) / kRowTile * kRowTile);
      } else {
        const bool large = large_tiles && prepared[j].interleaved_rows > 0 && prepared[j].gemm_interleaved != nullptr;
        const int64_t tile_bytes = large ? kInterleavedTileBytes : kTileBytes;
        const int64_t max_rows = large ? kMaxInterleavedTileRows : kMaxTileRows;
        rows_per_chunk[j] =
            std::min<int64_t>(max_rows, std::max<int64_t>(kRowTile, (tile_bytes / rb) / kRowTile * kRowTile));
      }
      const int64_t rows = prepared[j].w->rows();
      first_chunk[j + 1] = first_chunk[j] + (rows + rows_per_chunk[j] - 1) / rows_per_chunk[j];
    }
  };
  plan_chunks(true);
  // The large tiles leave few chunks (TinyLlama's 2048 x 2048 Q4_0 matrix: 10): with fewer than
  // kMinChunksPerThread per thread some threads would wait, so such calls keep the small tiles.
  // At 2 threads no call of the measured shapes falls back.
  if (n_tokens > 1 && first_chunk[n_jobs] < kMinChunksPerThread * pool.size()) plan_chunks(false);
  auto work = [&](int64_t chunk, int) {
    int j = 0;
    while (chunk >= first_chunk[j + 1]) ++j;
    const PreparedJob& p = prepared[j];
    const int64_t rows = p.w->rows();
    const size_t rb = p.w->row_bytes();
    const uint8_t* wdata = static_cast<const uint8_t*>(p.w->data);
    const uint8_t* idata = static_cast<const uint8_t*>(p.w->interleaved);
    // Rows [r0, r0 + nr) of one token; r0 is a multiple of kRowTile, hence of kInterleaveRows.
    auto rows_of_token = [&](int64_t r0, int64_t nr, const uint8_t* x, float* y) {
      const int64_t ni = std::max<int64_t>(0, std::min(nr, p.interleaved_rows - r0));
      if (ni > 0)
        p.gemv_interleaved(idata + r0 / kInterleaveRows * p.interleaved_group_bytes, rb, ni, x,
                           p.w->cols(), y + r0);
      if (nr > ni) p.gemv(wdata + (r0 + ni) * rb, rb, nr - ni, x, p.w->cols(), y + r0 + ni);
    };
    const int64_t begin = (chunk - first_chunk[j]) * rows_per_chunk[j];
    const int64_t end = std::min(rows, begin + rows_per_chunk[j]);
    if (n_tokens == 1) {
      rows_of_token(begin, end - begin, p.x, p.y);
      return;
    }
    const int64_t ni = std::max<int64_t>(0, std::min(end - begin, p.interleaved_rows - begin));
    if (ni > 0 && p.gemm_interleaved != nullptr) {
      // All tokens over the chunk's interleaved rows in one call, then the tail rows per token.
      p.gemm_interleaved(idata + begin / kInterleaveRows * p.interleaved_group_bytes, rb, ni, p.x,
                         p.x_stride, n_tokens, p.w->cols(), p.y + begin, static_cast<size_t>(rows));
      if (end - begin > ni)
        for (int t = 0; t < n_tokens; ++t)
          p.gemv(wdata + (begin + ni) * rb, rb, end - begin - ni, p.x + t * p.x_stride,
                 p.w->cols(), p.y + static_cast<size_t>(t) * rows + begin + ni);
      return;
    }
    if (ni == 0 && p.gemm != nullptr) {
      // Every token over the chunk's rows, each row loaded once per group of tokens.
      p.gemm(wdata + begin * rb, rb, end - begin, p.x, p.x_stride, n_tokens, p.w->cols(), p.y + begin,
             static_cast<size_t>(rows));
      return;
    }
    // Per token, kRowTile rows at a time: the tile stays in L1 while every token passes over it.
    for (int64_t r0 = begin; r0 < end; r0 += kRowTile) {
      const int64_t nr = std::min(kRowTile, end - r0);
      for (int t = 0; t < n_tokens; ++t)
        rows_of_token(r0, nr, p.x + t * p.x_stride, p.y + static_cast<size_t>(t) * rows);
    }
  };
  // Waking the other threads costs a few microseconds; below this much weight data the caller
  // finishes sooner alone. Chunks are computed the same way by any thread, so neither this nor
  // the thread count changes results.
  size_t total_bytes = 0;
  for (int j = 0; j < n_jobs; ++j) total_bytes += jobs[j].w->nbytes * static_cast<size_t>(n_tokens);
  const int64_t n_chunks = first_chunk[n_jobs];
  if (total_bytes < kMinParallelBytes) {
    for (int64_t c = 0; c < n_chunks; ++c) work(c, 0);
  } else {
    pool.parallel_for(n_chunks, work);
  }
}

}  // namespace loam
