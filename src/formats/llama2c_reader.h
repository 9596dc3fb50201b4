// Karpathy llama2.c legacy checkpoints (.bin): a 7-int32 header followed by fp32 arrays.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loam/model.h"
#include "loam/status.h"

namespace loam {

struct Llama2cHeader {
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;         // absolute value; see shared_classifier
  int32_t seq_len = 0;
  bool shared_classifier = true;  // false when the file stores vocab_size negated and a wcls
};

constexpr size_t kLlama2cHeaderBytes = 7 * sizeof(int32_t);

// Decodes and checks the header in the first 28 bytes (sizes positive and below sanity limits,
// n_heads divides dim, n_kv_heads divides n_heads, even head size). The message explains what is
// wrong without naming the file.
Status parse_llama2c_header(const uint8_t* data, size_t size, Llama2cHeader& out);

// Bytes the whole checkpoint must have for this header.
uint64_t llama2c_expected_bytes(const Llama2cHeader& h);

// Reads the checkpoint in `file`: checks the header and the exact file size, then returns views
// of every weight in export order with GGUF names (token_embd.weight, blk.N.attn_q.weight, ...,
// output_norm.weight, and output.weight only for an unshared classifier). The RoPE tables
// freq_cis_real/imag are skipped. Tensors alias the mapping (fp32, 4-byte aligned).
Status read_llama2c(const MappedFile& file, Llama2cHeader& header, std::vector<Tensor>& tensors);

}  // namespace loam
