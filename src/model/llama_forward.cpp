// The LLaMA forward pass over a batch of consecutive tokens of one sequence:
//   embedding -> per layer [RMSNorm -> Q/K/V -> RoPE -> causal GQA attention over the KV cache
//   -> output projection -> residual -> RMSNorm -> SwiGLU FFN -> residual] -> RMSNorm -> logits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "loam/session.h"
#include "model/matmul.h"
#include "model/ops.h"
#include "quant/dequantize.h"

namespace loam {

namespace {

void add_in_place(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

void Session::forward_batch(const int32_t* tokens, int n, float* logits_out) {
  const Model& m = *model_;
  const ModelConfig& c = m.config;
  const KernelTable& kt = kernels();
  ThreadPool& pool = *pool_;
  const int dim = c.n_embd, q_dim = c.n_head * c.head_dim, kv_dim = c.kv_dim();
  const int hd = c.head_dim, half_rot = c.n_rot / 2;
  const int group = c.n_head / c.n_head_kv;  // query heads per kv head
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  std::vector<uint8_t>& act_scratch = act_scratch_;

  // x_: [n][dim] residual stream
  for (int t = 0; t < n; ++t)
    dequantize_row(m.tok_embd.type, m.tok_embd.row(tokens[t]), &x_[static_cast<size_t>(t) * dim], dim);

  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = m.layers[l];
    const float* attn_norm = static_cast<const float*>(L.attn_norm.data);
    for (int t = 0; t < n; ++t)
      rmsnorm(&xn_[static_cast<size_t>(t) * dim], &x_[static_cast<size_t>(t) * dim], attn_norm, dim,
              c.rms_eps);
    const MatmulJob qkv[3] = {{&L.wq, xn_.data(), q_.data()},
                              {&L.wk, xn_.data(), k_.data()},
                              {&L.wv, xn_.data(), v_.data()}};
    matmul(pool, qkv, 3, n, act_scratch);

    // RoPE, then append K and V to the cache: k_cache_ [n_layer][n_ctx][kv_dim]
    const size_t layer_off = static_cast<size_t>(l) * n_ctx_ * kv_dim;
    for (int t = 0; t < n; ++t) {
      const int pos = n_past_ + t;
      const float* cs = &rope_cos_[static_cast<size_t>(pos) * half_rot];
      const float* sn = &rope_sin_[static_cast<size_t>(pos) * half_rot];
      rope_apply(&q_[static_cast<size_t>(t) * q_dim], c.n_head, hd, c.n_rot, cs, sn);
      rope_apply(&k_[static_cast<size_t>(t) * kv_dim], c.n_head_kv, hd, c.n_rot, cs, sn);
      std::memcpy(&k_cache_[layer_off + static_cast<size_t>(pos) * kv_dim],
                  &k_[static_cast<size_t>(t) * kv_dim], kv_dim * sizeof(float));
      std::memcpy(&v_cache_[layer_off + static_cast<size_t>(pos) * kv_dim],
                  &v_[static_cast<size_t>(t) * kv_dim], kv_dim * sizeof(float));
    }

    // Attention: one (token, head) pair per work item, each computed whole by one thread.
    const int n_items = n * c.n_head;
    auto attend = [&](int64_t item, int ti) {
      float* att = &scores_[static_cast<size_t>(ti) * n_ctx_];  // [n_ctx] this thread's scores
      {
        const int t = static_cast<int>(item / c.n_head), h = static_cast<int>(item % c.n_head);
        const int pos = n_past_ + t;
        const int kvh = h / group;
        const float* q = &q_[static_cast<size_t>(t) * q_dim + static_cast<size_t>(h) * hd];
        const float* kbase = &k_cache_[layer_off + static_cast<size_t>(kvh) * hd];
        const float* vbase = &v_cache_[layer_off + static_cast<size_t>(kvh) * hd];
        for (int p = 0; p <= pos; ++p)
          att[p] = kt.dot_f32(q, kbase + static_cast<size_t>(p) * kv_dim, hd) * attn_scale;
        softmax(att, pos + 1);
        float* out = &attn_out_[static_cast<size_t>(t) * q_dim + static_cast<size_t>(h) * hd];
        std::fill(out, out + hd, 0.0f);
        for (int p = 0; p <= pos; ++p) kt.axpy_f32(att[p], vbase + static_cast<size_t>(p) * kv_dim, out, hd);
      }
    };
    // Small attention work is done by the caller alone (see kMinParallelBytes in matmul.cpp).
    const int64_t attn_work = static_cast<int64_t>(n_items) * (n_past_ + n) * hd;
    if (attn_work < 16 * 1024) {
      for (int item = 0; item < n_items; ++item) attend(item, 0);
    } else {
      pool.parallel_for(n_items, attend);
    }

    const MatmulJob wo = {&L.wo, attn_out_.data(), xn_.data()};
    matmul(pool, &wo, 1, n, act_scratch);
    add_in_place(x_.data(), xn_.data(), static_cast<size_t>(n) * dim);

    const float* ffn_norm = static_cast<const float*>(L.ffn_norm.data);
    for (int t = 0; t < n; ++t)
      rmsnorm(&xn_[static_cast<size_t>(t) * dim], &x_[static_cast<size_t>(t) * dim], ffn_norm, dim,
              c.rms_eps);
    const MatmulJob gate_up[2] = {{&L.ffn_gate, xn_.data(), gate_.data()},
                                  {&L.ffn_up, xn_.data(), up_.data()}};
    matmul(pool, gate_up, 2, n, act_scratch);
    swiglu(gate_.data(), up_.data(), n * c.n_ff);
    const MatmulJob down = {&L.ffn_down, gate_.data(), xn_.data()};
    matmul(pool, &down, 1, n, act_scratch);
    add_in_place(x_.data(), xn_.data(), static_cast<size_t>(n) * dim);
  }

  // Logits: for every row when the caller wants them all, else only for the last token.
  const float* out_norm = static_cast<const float*>(m.output_norm.data);
  const int first = logits_out ? 0 : n - 1;
  const int rows = n - first;
  for (int t = first; t < n; ++t)
    rmsnorm(&xn_[static_cast<size_t>(t - first) * dim], &x_[static_cast<size_t>(t) * dim], out_norm,
            dim, c.rms_eps);
  float* dst = logits_out ? logits_out : batch_logits_.data();
  const MatmulJob out = {&m.output, xn_.data(), dst};
  matmul(pool, &out, 1, rows, act_scratch);
  std::memcpy(logits_.data(), dst + static_cast<size_t>(rows - 1) * c.n_vocab,
              c.n_vocab * sizeof(float));
  n_past_ += n;
}

}  // namespace loam
