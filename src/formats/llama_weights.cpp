// Binds a tensor table (GGUF or llama2.c) to the llama weight slots, checking each tensor's
// presence, shape and type against the config.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "core/fp16.h"
#include "formats/llama_loader.h"
#include "kernels/kernels.h"
#include "quant/dequantize.h"

namespace loam {

std::string shape_string(const int64_t* ne, int n_dims) {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) {
    if (d) s += ", ";
    s += std::to_string(ne[d]);
  }
  return s + "]";
}

namespace {

enum class Role { Matmul, Embedding, Norm };

class Binder {
 public:
  Binder(const std::string& path, const std::vector<Tensor>& tensors, Model& model)
      : path_(path), model_(model) {
    for (const Tensor& t : tensors) by_name_.emplace(t.name, &t);
  }

  bool has(const std::string& name) const { return by_name_.count(name) != 0; }
  const Tensor* find(const std::string& name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }

  // Finds `name`, checks its shape is {cols, rows} (rows == 0: a 1-D vector) and that its type
  // suits its role.
  Status bind(const std::string& name, Role role, int64_t cols, int64_t rows, Tensor& out) {
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) return Status::error(path_ + ": missing tensor '" + name + "'");
    const Tensor& t = *it->second;
    const int64_t want[4] = {cols, rows == 0 ? 1 : rows, 1, 1};
    const int want_dims = rows == 0 ? 1 : 2;
    // Trailing dimensions of length 1 do not change the layout, so [64, 1] matches [64].
    if (std::memcmp(t.ne, want, sizeof want) != 0) {
      return Status::error(path_ + ": tensor '" + name + "' has shape " +
                           shape_string(t.ne, t.n_dims) + ", expected " +
                           shape_string(want, want_dims));
    }
    // Kernels load F32 weights as floats and 16-bit fields (F16/BF16 values, block scales) as
    // halves: a file with a tiny general.alignment could place them off those boundaries.
    const uintptr_t need = t.type == DType::F32 ? 4 : 2;
    if (reinterpret_cast<uintptr_t>(t.data) % need != 0) {
      return Status::error(path_ + ": tensor '" + name + "' data is not " +
                           std::to_string(need) + "-byte aligned");
    }
    out = t;
    switch (role) {
      case Role::Matmul: return check_matmul(t);
      case Role::Embedding: return check_embedding(t);
      case Role::Norm: return norm_to_f32(out);
    }
    return Status::ok();
  }

  Status check_matmul(const Tensor& t) const {
    const uint32_t type = static_cast<uint32_t>(t.type);
    if (type >= kDTypeCount || kernels().weights[type].gemv == nullptr) {
      return Status::error(path_ + ": tensor '" + t.name + "' has type " + type_name(t.type) +
                           ", which this build cannot compute with");
    }
    return Status::ok();
  }

 private:
  static std::string type_name(DType t) {
    const char* n = dtype_name(t);
    return n ? n : "#" + std::to_string(static_cast<uint32_t>(t));
  }

  // Embedding rows are converted to f32 one at a time; probe the converter on the first block.
  Status check_embedding(const Tensor& t) const {
    const DTypeInfo info = dtype_info(t.type);
    std::vector<float> probe(info.name ? static_cast<size_t>(info.block_size) : 1);
    if (info.name == nullptr ||
        !dequantize_row(t.type, t.data, probe.data(), static_cast<int64_t>(probe.size()))) {
      return Status::error(path_ + ": tensor '" + t.name + "' has type " + type_name(t.type) +
                           ", which this build cannot convert to f32");
    }
    return Status::ok();
  }

  // Norm weights are used as plain floats by the forward pass; F16/BF16 ones are widened once
  // into a buffer the Model owns.
  Status norm_to_f32(Tensor& t) {
    if (t.type == DType::F32) return Status::ok();
    if (t.type != DType::F16 && t.type != DType::BF16) {
      return Status::error(path_ + ": " + (t.name.find("_norm.") != std::string::npos ? "norm " : "") +
                           "tensor '" + t.name + "' has type " + type_name(t.type) +
                           ", expected F32, F16 or BF16");
    }
    const size_t n = static_cast<size_t>(t.elements());
    auto buf = std::make_shared<std::vector<uint8_t>>(n * sizeof(float));  // [n] f32
    const uint8_t* src = static_cast<const uint8_t*>(t.data);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, sizeof h);  // memcpy: the source need not be 2-byte aligned
      const float f = t.type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      std::memcpy(buf->data() + i * sizeof(float), &f, sizeof f);
    }
    t.type = DType::F32;
    t.data = buf->data();
    t.nbytes = buf->size();
    model_.owned_buffers.push_back(std::move(buf));
    return Status::ok();
  }

  const std::string& path_;
  Model& model_;
  std::unordered_map<std::string, const Tensor*> by_name_;
};

// Llama 3.1 rope scaling: rope_freqs.weight [n_rot/2] (one tensor for all layers, as llama.cpp
// reads it), copied into m.rope_freq_factors and multiplied by the linear scaling factor (both
// divide the angle). Each factor must be a positive finite number.
Status bind_rope_freq_factors(const std::string& path, Binder& b, Model& m) {
  const char* kName = "rope_freqs.weight";
  const float linear = m.config.rope_scale_linear;
  m.rope_freq_factors.clear();
  const Tensor* found = b.find(kName);
  if (found == nullptr) {
    if (linear != 1.0f) m.rope_freq_factors.assign(static_cast<size_t>(m.config.n_rot / 2), linear);
    return Status::ok();
  }
  const int64_t want = m.config.n_rot / 2;
  if (found->elements() != want) {
    return Status::error(path + ": tensor '" + kName + "' has shape " +
                         shape_string(found->ne, found->n_dims) + ", expected [" +
                         std::to_string(want) + "] (one factor per rotated pair: rope dimension "
                         "count " + std::to_string(m.config.n_rot) + " / 2)");
  }
  Tensor t;
  LOAM_TRY(b.bind(kName, Role::Norm, m.config.n_rot / 2, 0, t));  // Norm: a vector of floats
  const float* f = static_cast<const float*>(t.data);
  std::vector<float> factors(f, f + m.config.n_rot / 2);  // [n_rot/2]
  for (size_t i = 0; i < factors.size(); ++i) {
    if (!(std::isfinite(factors[i]) && factors[i] > 0.0f)) {
      return Status::error(path + ": tensor '" + kName + "' element " + std::to_string(i) +
                           " is " + std::to_string(factors[i]) +
                           ", expected a positive frequency factor");
    }
  }
  for (float& x : factors) x *= linear;
  m.rope_freq_factors = std::move(factors);
  return Status::ok();
}

}  // namespace

Status bind_llama_weights(const std::string& path, const std::vector<Tensor>& tensors,
                          Model& m) {
  ModelConfig& c = m.config;
  const int64_t d = c.n_embd, q_dim = int64_t{c.n_head} * c.head_dim, kv = c.kv_dim();
  Binder b(path, tensors, m);
  LOAM_TRY(b.bind("token_embd.weight", Role::Embedding, d, c.n_vocab, m.tok_embd));
  LOAM_TRY(b.bind("output_norm.weight", Role::Norm, d, 0, m.output_norm));
  c.tied_embeddings = !b.has("output.weight");
  if (c.tied_embeddings) {
    // The logits matmul then runs on the embedding table, which therefore needs a kernel too.
    LOAM_TRY(b.check_matmul(m.tok_embd));
    m.output = m.tok_embd;
  } else {
    LOAM_TRY(b.bind("output.weight", Role::Matmul, d, c.n_vocab, m.output));
  }
  LOAM_TRY(bind_rope_freq_factors(path, b, m));
  m.layers.assign(static_cast<size_t>(c.n_layer), LayerWeights{});
  for (int l = 0; l < c.n_layer; ++l) {
    LayerWeights& w = m.layers[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    LOAM_TRY(b.bind(p + "attn_norm.weight", Role::Norm, d, 0, w.attn_norm));
    LOAM_TRY(b.bind(p + "attn_q.weight", Role::Matmul, d, q_dim, w.wq));
    LOAM_TRY(b.bind(p + "attn_k.weight", Role::Matmul, d, kv, w.wk));
    LOAM_TRY(b.bind(p + "attn_v.weight", Role::Matmul, d, kv, w.wv));
    LOAM_TRY(b.bind(p + "attn_output.weight", Role::Matmul, q_dim, d, w.wo));
    LOAM_TRY(b.bind(p + "ffn_norm.weight", Role::Norm, d, 0, w.ffn_norm));
    LOAM_TRY(b.bind(p + "ffn_gate.weight", Role::Matmul, d, c.n_ff, w.ffn_gate));
    LOAM_TRY(b.bind(p + "ffn_up.weight", Role::Matmul, d, c.n_ff, w.ffn_up));
    LOAM_TRY(b.bind(p + "ffn_down.weight", Role::Matmul, c.n_ff, d, w.ffn_down));
  }
  return Status::ok();
}

}  // namespace loam
