// The LLaMA forward pass over a step of tokens, which may belong to different sequences:
//   embedding -> per layer [RMSNorm -> Q/K/V -> RoPE -> causal GQA attention over each token's own
//   KV cache -> output projection -> residual -> RMSNorm -> SwiGLU FFN -> residual] -> RMSNorm
//   -> logits for the rows asked for.
// Every matmul sees all tokens of the step at once (one pass over the weights for all of them);
// each token's result is the one it would get alone, so sharing a step never changes output.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "model/forward.h"
#include "model/matmul.h"
#include "model/ops.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

namespace loam {

namespace {

void add_in_place(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

// One key or value row into its cache type. Scalar and exact (round to nearest even for F16,
// the reference block quantizer for Q8_0), so a cache's bytes never depend on the kernel set.
void store_cache_row(DType type, const float* x, uint8_t* dst, int n) {
  switch (type) {
    case DType::F16:
      for (int i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case DType::Q8_0:
      quantize_row_q8_0(x, reinterpret_cast<BlockQ8_0*>(dst), n);
      break;
    default:
      std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
  }
}

// fn(begin, end) over [0, n) in pieces of `grain` items, on the pool when there is more than one
// piece. Each item is computed the same way whichever thread takes it, so results do not depend
// on the thread count.
void for_pieces(ThreadPool& pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t pieces = (n + grain - 1) / grain;
  if (pieces <= 1) {
    fn(0, n);
    return;
  }
  pool.parallel_for(pieces, [&](int64_t i, int) { fn(i * grain, std::min(n, (i + 1) * grain)); });
}

// SwiGLU elements per piece: its exp is the costliest of the element-wise steps, ~10% of a
// prompt's time on one thread while the others waited (measured on TinyLlama Q4_0, 2 threads).
constexpr int64_t kSwigluGrain = 16 * 1024;

}  // namespace

void llama_forward(const Model& m, const ForwardToken* tokens, int n, const int* out_rows,
                   int n_out, float* logits_out, ForwardBuffers& b, ThreadPool& pool) {
  const ModelConfig& c = m.config;
  const KernelTable& kt = kernels();
  const int dim = c.n_embd, q_dim = c.n_head * c.head_dim, kv_dim = c.kv_dim();
  const int hd = c.head_dim, half_rot = c.n_rot / 2;
  const int group = c.n_head / c.n_head_kv;  // query heads per kv head
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const auto row = [](std::vector<float>& buf, int t, int width) {
    return &buf[static_cast<size_t>(t) * width];
  };

  // x: [n][dim] residual stream
  for (int t = 0; t < n; ++t)
    dequantize_row(m.tok_embd.type, m.tok_embd.row(tokens[t].id), row(b.x, t, dim), dim);

  // The longest causal span of any token, for choosing whether attention is worth the pool.
  int64_t attn_span = 0;
  for (int t = 0; t < n; ++t) attn_span += tokens[t].pos + 1;

  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = m.layers[l];
    const float* attn_norm = static_cast<const float*>(L.attn_norm.data);
    for (int t = 0; t < n; ++t) rmsnorm(row(b.xn, t, dim), row(b.x, t, dim), attn_norm, dim, c.rms_eps);
    const MatmulJob qkv[3] = {{&L.wq, b.xn.data(), b.q.data()},
                              {&L.wk, b.xn.data(), b.k.data()},
                              {&L.wv, b.xn.data(), b.v.data()}};
    matmul(pool, qkv, 3, n, b.act_scratch);

    // RoPE, then append K and V to each token's cache: [n_layer][n_ctx][kv_dim]
    for (int t = 0; t < n; ++t) {
      const ForwardToken& tok = tokens[t];
      const float* cs = &b.rope_cos[static_cast<size_t>(tok.pos) * half_rot];
      const float* sn = &b.rope_sin[static_cast<size_t>(tok.pos) * half_rot];
      rope_apply(row(b.q, t, q_dim), c.n_head, hd, c.n_rot, cs, sn);
      rope_apply(row(b.k, t, kv_dim), c.n_head_kv, hd, c.n_rot, cs, sn);
      KvCache& cache = *tok.cache;
      const size_t at = static_cast<size_t>(l) * cache.n_ctx + tok.pos;  // row index
      store_cache_row(cache.type_k, row(b.k, t, kv_dim), &cache.k[at * cache.k_row_bytes], kv_dim);
      store_cache_row(cache.type_v, row(b.v, t, kv_dim), &cache.v[at * cache.v_row_bytes], kv_dim);
    }

    // Attention: one (token, KV head) pair per work item, each computed whole by one thread. The
    // query heads of a group read the same key rows: where the key cache type has a gemm kernel
    // their scores come from one pass over those rows (each bit-identical to the gemv per head).
    const int n_items = n * c.n_head_kv;
    auto attend = [&](int64_t item, int ti) {
      // [group][n_ctx] this thread's scores, a row per query head of the group
      float* scores = &b.scores[static_cast<size_t>(ti) * group * b.n_ctx];
      const int t = static_cast<int>(item / c.n_head_kv), kvh = static_cast<int>(item % c.n_head_kv);
      const ForwardToken& tok = tokens[t];
      const int n_rows = tok.pos + 1;
      const KvCache& cache = *tok.cache;
      const size_t layer_rows = static_cast<size_t>(l) * cache.n_ctx;
      const uint8_t* kbase = &cache.k[layer_rows * cache.k_row_bytes +
                                      dtype_row_bytes(cache.type_k, static_cast<int64_t>(kvh) * hd)];
      const uint8_t* vbase = &cache.v[layer_rows * cache.v_row_bytes +
                                      dtype_row_bytes(cache.type_v, static_cast<int64_t>(kvh) * hd)];
      const float* q_group = row(b.q, t, q_dim) + static_cast<size_t>(kvh) * group * hd;
      // Scores: the key rows 0..pos are the rows of a matrix whose gemv is the cache type's
      // weight kernel (one call per head, not one per position); a Q8_0 cache takes the query
      // quantized as that kernel's activations.
      const TypeKernels& key_kernels = kt.weights[static_cast<uint32_t>(cache.type_k)];
      // With one query head per KV head (no GQA), gemv's four rows at a time with prefetch is
      // the better loop.
      if (group > 1 && key_kernels.act_type == DType::F32 && key_kernels.gemm != nullptr) {
        key_kernels.gemm(kbase, cache.k_row_bytes, n_rows, q_group, static_cast<size_t>(hd) * sizeof(float),
                         group, hd, scores, b.n_ctx);
      } else {
        for (int g = 0; g < group; ++g) {
          const float* q = q_group + static_cast<size_t>(g) * hd;
          const void* query = q;
          alignas(64) uint8_t q8[1024 / 32 * 34];  // check_kv_cache_type keeps hd <= 1024
          if (key_kernels.act_type != DType::F32) {
            kt.quantize_act[static_cast<uint32_t>(key_kernels.act_type)](q, q8, hd);
            query = q8;
          }
          key_kernels.gemv(kbase, cache.k_row_bytes, n_rows, query, hd, scores + static_cast<size_t>(g) * b.n_ctx);
        }
      }
      for (int g = 0; g < group; ++g) kt.softmax(scores + static_cast<size_t>(g) * b.n_ctx, n_rows, attn_scale);
      // P.V: the group's heads in one pass over the value rows where the cache type has that
      // kernel (the same bits as one row_sum per head).
      float* out = row(b.attn_out, t, q_dim) + static_cast<size_t>(kvh) * group * hd;
      const RowSumHeadsFn heads = kt.row_sum_heads[static_cast<uint32_t>(cache.type_v)];
      if (heads != nullptr) {
        heads(scores, b.n_ctx, group, vbase, cache.v_row_bytes, n_rows, hd, out, static_cast<size_t>(hd));
      } else {
        for (int g = 0; g < group; ++g)
          kt.row_sum[static_cast<uint32_t>(cache.type_v)](scores + static_cast<size_t>(g) * b.n_ctx, vbase,
                                                         cache.v_row_bytes, n_rows, hd, out + static_cast<size_t>(g) * hd);
      }
    };
    // Small attention work is done by the caller alone (see kMinParallelBytes in matmul.cpp).
    if (attn_span * c.n_head * hd < 16 * 1024) {
      for (int item = 0; item < n_items; ++item) attend(item, 0);
    } else {
      pool.parallel_for(n_items, attend);
    }

    const MatmulJob wo = {&L.wo, b.attn_out.data(), b.xn.data()};
    matmul(pool, &wo, 1, n, b.act_scratch);
    add_in_place(b.x.data(), b.xn.data(), static_cast<size_t>(n) * dim);

    const float* ffn_norm = static_cast<const float*>(L.ffn_norm.data);
    for (int t = 0; t < n; ++t) rmsnorm(row(b.xn, t, dim), row(b.x, t, dim), ffn_norm, dim, c.rms_eps);
    const MatmulJob gate_up[2] = {{&L.ffn_gate, b.xn.data(), b.gate.data()},
                                  {&L.ffn_up, b.xn.data(), b.up.data()}};
    matmul(pool, gate_up, 2, n, b.act_scratch);
    for_pieces(pool, static_cast<int64_t>(n) * c.n_ff, kSwigluGrain, [&](int64_t i0, int64_t i1) {
      kt.swiglu(b.gate.data() + i0, b.up.data() + i0, i1 - i0);
    });
    const MatmulJob down = {&L.ffn_down, b.gate.data(), b.xn.data()};
    matmul(pool, &down, 1, n, b.act_scratch);
    add_in_place(b.x.data(), b.xn.data(), static_cast<size_t>(n) * dim);
  }

  // Logits only for the rows asked for: the output matmul is the largest of a small model, and
  // a prompt needs only its last row.
  if (n_out <= 0) return;
  const float* out_norm = static_cast<const float*>(m.output_norm.data);
  for (int i = 0; i < n_out; ++i)
    rmsnorm(row(b.xn, i, dim), row(b.x, out_rows[i], dim), out_norm, dim, c.rms_eps);
  const MatmulJob out = {&m.output, b.xn.data(), logits_out};
  matmul(pool, &out, 1, n_out, b.act_scratch);
}

}  // namespace loam
