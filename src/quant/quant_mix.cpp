#include "quant/quant_mix.h"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace loam {

namespace {

struct FileTypeName {
  const char* name;
  FileType type;
  DType base;
};

// Canonical names first; the aliases after them are accepted but never printed.
constexpr FileTypeName kFileTypes[] = {
    {"F32", FileType::AllF32, DType::F32},
    {"F16", FileType::MostlyF16, DType::F16},
    {"BF16", FileType::MostlyBF16, DType::BF16},
    {"Q8_0", FileType::MostlyQ8_0, DType::Q8_0},
    {"Q4_0", FileType::MostlyQ4_0, DType::Q4_0},
    {"Q4_1", FileType::MostlyQ4_1, DType::Q4_1},
    {"Q5_0", FileType::MostlyQ5_0, DType::Q5_0},
    {"Q5_1", FileType::MostlyQ5_1, DType::Q5_1},
    {"Q4_K_S", FileType::MostlyQ4_K_S, DType::Q4_K},
    {"Q4_K_M", FileType::MostlyQ4_K_M, DType::Q4_K},
    {"Q5_K_S", FileType::MostlyQ5_K_S, DType::Q5_K},
    {"Q5_K_M", FileType::MostlyQ5_K_M, DType::Q5_K},
    {"Q6_K", FileType::MostlyQ6_K, DType::Q6_K},
};
constexpr FileTypeName kAliases[] = {
    {"Q4_K", FileType::MostlyQ4_K_M, DType::Q4_K},
    {"Q5_K", FileType::MostlyQ5_K_M, DType::Q5_K},
};

bool iequals(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return i == a.size() && b[i] == '\0';
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// The layer number of "blk.N.<rest>", or -1 (what llama.cpp's sscanf("blk.%d.") leaves).
int layer_of(const std::string& name) {
  if (name.compare(0, 4, "blk.") != 0) return -1;
  int layer = 0;
  size_t i = 4;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    if (layer > 100000000) return -1;  // beyond any model; avoids overflow
    layer = layer * 10 + (name[i] - '0');
  }
  return i > 4 ? layer : -1;
}

// Dimensions not counting trailing 1s (ggml_n_dims): a [4096, 1] tensor is a vector.
int effective_dims(const MixTensor& t) {
  for (int d = 3; d >= 1; --d) {
    if (t.ne[d] > 1) return d + 1;
  }
  return 1;
}

bool is_block_quantized(DType t) { return dtype_info(t).block_size > 1; }

bool fits(DType type, int64_t row_length) { return row_length % dtype_info(type).block_size == 0; }

// Whether llama-quantize converts this tensor at all: 2-D+ tensors named "*weight" other than
// norms and a few small special tensors of other architectures.
bool is_convertible(const MixTensor& t) {
  const std::string& n = t.name;
  if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return false;
  if (effective_dims(t) < 2) return false;
  static const char* const kKeep[] = {"_norm.weight",       "ffn_gate_inp.weight",
                                      "ssm_conv1d.weight",  "time_mix_first.weight",
                                      "time_mix_w1.weight", "time_mix_w2.weight",
                                      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
                                      "time_mix_lerp_fused.weight", "attn_rel_b.weight"};
  for (const char* k : kKeep) {
    if (contains(n, k)) return false;
  }
  return n != "position_embd.weight" && n != "token_types.weight";
}

// More bits for the first and last eighth of the layers and every third layer between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
         (i_layer - n_layers / 8) % 3 == 2;
}

// The running state of one planning pass (llama.cpp's quantize_state_impl).
class Planner {
 public:
  Planner(FileType ft, const MixModelInfo& model, const std::vector<MixTensor>& tensors)
      : ft_(ft), model_(model) {
    for (const MixTensor& t : tensors) {
      if (t.name == "output.weight") has_output_ = true;
      if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight") ||
          contains(t.name, "attn_kv_b.weight")) {
        ++n_attention_wv_;
      }
    }
    falcon_ = model.arch == "falcon";
    // llama.cpp names a dense llama with 80 layers and grouped-query attention "70B"; its 8
    // query heads per KV head make attn_v 8x smaller than attn_q, so it gets more bits.
    llama_70b_ = model.arch == "llama" && model.n_expert <= 1 && model.n_layer == 80 &&
                 model.n_head != model.n_head_kv;
  }

  // The type for a convertible tensor, starting from the file type's base (a block type).
  Status choose(const MixTensor& t, DType& type, bool& fallback) {
    const std::string& name = t.name;
    const int64_t nx = t.ne[0];
    const bool k_m = ft_ == FileType::MostlyQ4_K_M || ft_ == FileType::MostlyQ5_K_M;
    const int n_expert = std::max(1, model_.n_expert);
    if (name == "output.weight" || (!has_output_ && name == "token_embd.weight")) {
      // The output projection decides every logit: it gets 6 bits unless Q8_0 was asked for.
      if (falcon_ || !fits(type, nx)) {
        type = DType::Q8_0;
      } else if (type != DType::Q8_0) {
        type = DType::Q6_K;
      }
    } else if (name == "token_embd.weight") {
      // keeps the base type for these file types
    } else if (contains(name, "attn_v.weight")) {
      if (k_m && use_more_bits(i_attention_wv_, n_attention_wv_)) {
        type = DType::Q6_K;
      } else if (ft_ == FileType::MostlyQ4_K_S && i_attention_wv_ < 4) {
        type = DType::Q5_K;
      }
      if (llama_70b_ && type == DType::Q4_K) type = DType::Q5_K;
      if (model_.n_expert == 8) type = DType::Q8_0;
      ++i_attention_wv_;
    } else if (contains(name, "attn_k.weight")) {
      if (model_.n_expert == 8) type = DType::Q8_0;
    } else if (contains(name, "attn_q.weight")) {
      // nothing for these file types
    } else if (contains(name, "ffn_down")) {
      int i_layer = i_ffn_down_;
      const int n_layer = model_.n_layer;
      if (n_expert > 1) {
        // Experts are not stored in layer order; the layer comes from the name.
        i_layer = layer_of(name);
        if (i_layer < 0 || i_layer >= n_layer) {
          return Status::error("tensor '" + name + "': cannot tell its layer (expected blk.N. "
                               "with N below the block count " + std::to_string(n_layer) + ")");
        }
      }
      if (ft_ == FileType::MostlyQ4_K_M) {
        if (falcon_) {
          type = i_layer < n_layer / 16          ? DType::Q6_K
                 : use_more_bits(i_layer, n_layer) ? DType::Q5_K
                                                   : DType::Q4_K;
        } else if (use_more_bits(i_layer, n_layer)) {
          type = DType::Q6_K;
        }
      } else if (ft_ == FileType::MostlyQ5_K_M && use_more_bits(i_layer, n_layer)) {
        type = DType::Q6_K;
      } else if (ft_ == FileType::MostlyQ4_K_S && !falcon_ && i_layer < n_layer / 8) {
        type = DType::Q5_K;
      }
      ++i_ffn_down_;
    } else if (contains(name, "attn_output.weight")) {
      if (!falcon_ && model_.n_expert == 8 &&
          (ft_ == FileType::MostlyQ4_K_S || ft_ == FileType::MostlyQ4_K_M)) {
        type = DType::Q5_K;
      }
    } else if (contains(name, "attn_qkv.weight")) {
      if (ft_ == FileType::MostlyQ4_K_M) type = DType::Q5_K;
      if (ft_ == FileType::MostlyQ5_K_M) type = DType::Q6_K;
    }

    fallback = false;
    if (!fits(type, nx)) {
      // A row that does not fill a 256-element super-block takes the 32-element type of about
      // the same size; one that does not fill 32 elements either stays F16.
      switch (type) {
        case DType::Q4_K: type = DType::Q5_0; break;
        case DType::Q5_K: type = DType::Q5_1; break;
        case DType::Q6_K: type = DType::Q8_0; break;
        default:
          return Status::error("tensor '" + name + "': row length " + std::to_string(nx) +
                               " is not a multiple of the " + dtype_name(type) +
                               " block size " + std::to_string(dtype_info(type).block_size));
      }
      if (!fits(type, nx)) type = DType::F16;
      fallback = true;
    }
    return Status::ok();
  }

 private:
  FileType ft_;
  const MixModelInfo& model_;
  bool has_output_ = false;
  bool falcon_ = false;
  bool llama_70b_ = false;
  int n_attention_wv_ = 0;
  int i_attention_wv_ = 0;
  int i_ffn_down_ = 0;
};

}  // namespace

bool parse_file_type(const std::string& name, FileType& out) {
  for (const FileTypeName& f : kFileTypes) {
    if (iequals(name, f.name)) {
      out = f.type;
      return true;
    }
  }
  for (const FileTypeName& f : kAliases) {
    if (iequals(name, f.name)) {
      out = f.type;
      return true;
    }
  }
  return false;
}

const char* file_type_name(FileType type) {
  for (const FileTypeName& f : kFileTypes) {
    if (f.type == type) return f.name;
  }
  return "?";
}

std::string file_type_names() {
  std::string out;
  for (const FileTypeName& f : kFileTypes) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

DType file_type_base(FileType type) {
  for (const FileTypeName& f : kFileTypes) {
    if (f.type == type) return f.base;
  }
  return DType::F32;
}

std::vector<size_t> llama_quantize_order(const std::vector<MixTensor>& tensors) {
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    if (la != lb) return la < lb;
    return tensors[a].name < tensors[b].name;
  });
  return order;
}

Status plan_tensor_types(FileType file_type, const MixModelInfo& model,
                         const std::vector<MixTensor>& tensors, std::vector<MixChoice>& out) {
  const DType base = file_type_base(file_type);
  Planner planner(file_type, model, tensors);
  std::vector<MixChoice> plan(tensors.size());
  // The per-kind layer counters advance in llama.cpp's order, not the file's.
  for (size_t i : llama_quantize_order(tensors)) {
    const MixTensor& t = tensors[i];
    MixChoice& c = plan[i];
    c.type = t.type;
    if (!is_convertible(t)) continue;
    DType type = base;
    bool fallback = false;
    if (is_block_quantized(base)) LOAM_TRY(planner.choose(t, type, fallback));
    c.type = type;
    c.convert = type != t.type;
    c.fallback = fallback;
  }
  out = std::move(plan);
  return Status::ok();
}

}  // namespace loam
