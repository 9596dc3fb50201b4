// Sizes and allocation of the forward pass's scratch and of a sequence's KV cache, computed once
// so that memory_bytes() (checked against the machine before anything is allocated) and the
// allocation itself can never disagree.
#include <algorithm>
#include <exception>
#include <string>

#include "core/memory_budget.h"
#include "model/forward.h"
#include "model/ops.h"

namespace loam {

namespace {

// Saturating size arithmetic: the factors come from file values and flags.
uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t add_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t u(int v) { return static_cast<uint64_t>(std::max(0, v)); }

// Elements (floats) of each ForwardBuffers vector.
struct BufferSizes {
  uint64_t x, xn, q, kv, ff, scores, rope, out_logits;
};

BufferSizes buffer_sizes(const ModelConfig& c, int max_batch, int n_ctx, int n_threads) {
  BufferSizes z;
  const uint64_t b = u(max_batch);
  const uint64_t q_dim = mul_sat(u(c.n_head), u(c.head_dim));
  z.x = mul_sat(b, u(c.n_embd));
  z.xn = mul_sat(b, std::max(u(c.n_embd), q_dim));
  z.q = mul_sat(b, q_dim);
  z.kv = mul_sat(b, u(c.kv_dim()));
  z.ff = mul_sat(b, u(c.n_ff));
  // A row per query head of a KV group (llama_forward's attention items).
  z.scores = mul_sat(mul_sat(u(n_threads), u(c.n_head / std::max(1, c.n_head_kv))), u(n_ctx));
  z.rope = mul_sat(u(n_ctx), u(c.n_rot / 2));
  z.out_logits = mul_sat(b, u(c.n_vocab));
  return z;
}

int max_batch_for(int n_ctx) { return std::max(1, std::min(kForwardMaxBatch, n_ctx)); }

}  // namespace

namespace {

uint64_t cache_row_bytes(const ModelConfig& c, DType type) {
  return static_cast<uint64_t>(dtype_row_bytes(type, std::max(0, c.kv_dim())));
}

}  // namespace

uint64_t kv_cache_bytes(const ModelConfig& c, int n_ctx, DType type_k, DType type_v) {
  const uint64_t rows = mul_sat(u(c.n_layer), u(n_ctx));
  return add_sat(mul_sat(rows, cache_row_bytes(c, type_k)), mul_sat(rows, cache_row_bytes(c, type_v)));
}

Status check_kv_cache_type(const ModelConfig& c, DType type, const char* which) {
  if (type == DType::F32 || type == DType::F16) return Status::ok();
  if (type == DType::Q8_0) {
    // Heads are addressed inside a cache row, so a block must not straddle two of them; the
    // query head is quantized on the stack (at most kMaxQ8HeadDim values).
    if (c.head_dim % 32 != 0 || c.head_dim > 1024)
      return Status::error(std::string(which) + " cache type q8_0 needs a head size that is a "
                           "multiple of 32 (at most 1024); this model's is " +
                           std::to_string(c.head_dim) + ": use f16 or f32");
    return Status::ok();
  }
  return Status::error(std::string(which) + " cache type " + dtype_name(type) +
                       " is not supported (use f32, f16 or q8_0)");
}

uint64_t forward_buffer_bytes(const ModelConfig& c, int n_ctx, int n_threads) {
  const BufferSizes z = buffer_sizes(c, max_batch_for(n_ctx), n_ctx, n_threads);
  uint64_t floats = 0;
  // q and attn_out; k and v; gate, up, and the activation scratch counted as one more ff buffer
  // (Q8 blocks are about a byte per float of the widest input).
  for (uint64_t part : {z.x, z.xn, mul_sat(2, z.q), mul_sat(2, z.kv), mul_sat(3, z.ff), z.scores,
                        mul_sat(2, z.rope), z.out_logits})
    floats = add_sat(floats, part);
  return mul_sat(floats, sizeof(float));
}

Status allocate_forward_buffers(const Model& model, int n_ctx, int n_threads, ForwardBuffers& out) {
  const ModelConfig& c = model.config;
  const int max_batch = max_batch_for(n_ctx);
  const BufferSizes z = buffer_sizes(c, max_batch, n_ctx, n_threads);
  try {
    out.max_batch = max_batch;
    out.n_ctx = n_ctx;
    out.x.resize(z.x);
    out.xn.resize(z.xn);
    out.q.resize(z.q);
    out.k.resize(z.kv);
    out.v.resize(z.kv);
    out.attn_out.resize(z.q);
    out.gate.resize(z.ff);
    out.up.resize(z.ff);
    out.scores.resize(z.scores);
    out.rope_cos.resize(z.rope);
    out.rope_sin.resize(z.rope);
    out.out_logits.resize(z.out_logits);
  } catch (const std::exception&) {  // bad_alloc, or length_error for an absurd size
    return Status::error("not enough memory for the activations of a context of " +
                         std::to_string(n_ctx) + " tokens (" +
                         describe_bytes(forward_buffer_bytes(c, n_ctx, n_threads)) + ")");
  }
  rope_build_cache(out.rope_cos.data(), out.rope_sin.data(), n_ctx, c.n_rot, c.rope_freq_base,
                   model.rope_freq_factors.empty() ? nullptr : model.rope_freq_factors.data());
  return Status::ok();
}

Status allocate_kv_cache(const ModelConfig& c, int n_ctx, DType type_k, DType type_v,
                         KvCache& out) {
  if (Status st = check_kv_cache_type(c, type_k, "key"); !st) return st;
  if (Status st = check_kv_cache_type(c, type_v, "value"); !st) return st;
  const uint64_t rows = mul_sat(u(c.n_layer), u(n_ctx));
  try {
    out.k.assign(mul_sat(rows, cache_row_bytes(c, type_k)), 0);
    out.v.assign(mul_sat(rows, cache_row_bytes(c, type_v)), 0);
  } catch (const std::exception&) {
    return Status::error("not enough memory for a KV cache of " + std::to_string(n_ctx) +
                         " tokens (" + std::to_string(kv_cache_bytes(c, n_ctx, type_k, type_v)) +
                         " bytes)");
  }
  out.type_k = type_k;
  out.type_v = type_v;
  out.k_row_bytes = cache_row_bytes(c, type_k);
  out.v_row_bytes = cache_row_bytes(c, type_v);
  out.n_ctx = n_ctx;
  out.n_past = 0;
  return Status::ok();
}

}  // namespace loam
