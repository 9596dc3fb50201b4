// The pieces Session and MultiSession share: a sequence's KV cache, the scratch of one forward
// step, and the forward pass itself over tokens that may belong to different sequences.
#pragma once

#include <cstdint>
#include <vector>

#include "loam/model.h"
#include "loam/status.h"

namespace loam {

class ThreadPool;

// One sequence's keys and values (after RoPE) for every layer and position, each in its cache
// type (F32, F16 or Q8_0 rows of kv_dim values).
struct KvCache {
  int n_ctx = 0;
  int n_past = 0;                 // positions [0, n_past) hold valid keys and values
  DType type_k = DType::F32;
  DType type_v = DType::F32;
  size_t k_row_bytes = 0;         // bytes of kv_dim values in type_k
  size_t v_row_bytes = 0;
  std::vector<uint8_t> k;         // [n_layer][n_ctx][k_row_bytes]
  std::vector<uint8_t> v;         // [n_layer][n_ctx][v_row_bytes]
};

// Scratch for a forward step over up to max_batch tokens, and the rope tables; one per thread
// pool, shared by every sequence run on it.
struct ForwardBuffers {
  int max_batch = 0;
  int n_ctx = 0;                  // longest context of any cache used with these buffers
  std::vector<float> x;           // [max_batch][n_embd] residual stream
  std::vector<float> xn;          // [max_batch][max(n_embd, q_dim)] normed input to a matmul
  std::vector<float> q;           // [max_batch][q_dim]
  std::vector<float> k;           // [max_batch][kv_dim]
  std::vector<float> v;           // [max_batch][kv_dim]
  std::vector<float> attn_out;    // [max_batch][q_dim]
  std::vector<float> gate;        // [max_batch][n_ff]
  std::vector<float> up;          // [max_batch][n_ff]
  std::vector<float> scores;      // [n_threads][n_head / n_head_kv][n_ctx] attention weights
  std::vector<float> rope_cos;    // [n_ctx][n_rot/2]
  std::vector<float> rope_sin;    // [n_ctx][n_rot/2]
  std::vector<float> out_logits;  // [max_batch][n_vocab] logits rows of one step
  std::vector<uint8_t> act_scratch;  // activations converted to Q8_0 / Q8_K blocks
};

// Tokens run together per forward step: a multiple of 3, 4 and 6, the token groups of the AVX2
// gemm kernels (F16/F32/BF16 tiles take 3 tokens, the interleaved quantized kernels 4 or 6), so
// that no step leaves a partial group but the last. F16 pp512 on the AVX2 EPYC (2 threads):
// 81-82 tok/s with steps of 64 (each left two groups of 2), 82-85 with 96, 83-84 with 128 or
// 192; the quantized types were level. 96 keeps the activations of a 7B-shaped model (96 x 11008
// floats per FFN buffer) at a few MiB.
constexpr int kForwardMaxBatch = 96;

// Bytes of the buffers above (plus the activation scratch, estimated) and of one KV cache.
// Saturating: a context of 2^31 tokens of a large model needs more than 2^64 bytes.
uint64_t forward_buffer_bytes(const ModelConfig& config, int n_ctx, int n_threads);
uint64_t kv_cache_bytes(const ModelConfig& config, int n_ctx, DType type_k, DType type_v);

// Whether keys / values of this model can be cached in `type`: F32, F16, or Q8_0 when a head is
// a whole number of 32-value blocks. The message names the type and why.
Status check_kv_cache_type(const ModelConfig& config, DType type, const char* which);

// Allocate (zeroed cache; tables filled). Errors name the bytes that did not fit.
Status allocate_forward_buffers(const Model& model, int n_ctx, int n_threads, ForwardBuffers& out);
Status allocate_kv_cache(const ModelConfig& config, int n_ctx, DType type_k, DType type_v,
                         KvCache& out);

// A token of a step: its id, its position in its sequence, and that sequence's cache.
struct ForwardToken {
  int32_t id = 0;
  int pos = 0;
  KvCache* cache = nullptr;
};

// Runs n (<= max_batch) tokens through the network: writes their keys and values into their
// caches at their positions, and the logits of the tokens listed in out_rows (indexes into
// tokens, ascending) into logits_out ([n_out][n_vocab]). Tokens of one sequence must come in
// position order, and positions before a token's must already be in its cache or earlier in the
// step. Does not change n_past (the caller does). Ids and positions are the caller's to check.
void llama_forward(const Model& model, const ForwardToken* tokens, int n, const int* out_rows,
                   int n_out, float* logits_out, ForwardBuffers& buffers, ThreadPool& pool);

}  // namespace loam
