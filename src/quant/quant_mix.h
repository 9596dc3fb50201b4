// Which type each tensor of a model gets when it is quantized to a file type such as Q4_K_M:
// llama.cpp's llama-quantize rules (its llama_tensor_get_type) for the file types loam writes,
// restated so that `loam quantize` picks the same type per tensor as llama-quantize.
//
// The rules in short (TYPE's base type is the one most tensors get):
//  - only tensors named "*weight" with two or more dimensions are converted; norms ("*_norm.weight")
//    and 1-D tensors keep their type;
//  - for the quantized file types, output.weight (or token_embd.weight when the model has no
//    output.weight, as it then doubles as the output) becomes Q6_K, unless the base is Q8_0 or
//    its row length is not a multiple of the base's block (then Q8_0);
//  - Q4_K_M / Q5_K_M: attn_v and ffn_down become Q6_K in layers where use_more_bits(i, n):
//    i < n/8, or i >= 7n/8, or (i - n/8) % 3 == 2 (integer division; i counts that tensor kind
//    in llama.cpp's order, which for llama is the layer number);
//  - Q4_K_S: attn_v of the first 4 layers and ffn_down of the first n/8 become Q5_K;
//  - row lengths that do not fit the chosen type's block fall back: Q4_K -> Q5_0, Q5_K -> Q5_1,
//    Q6_K -> Q8_0, then F16 if even that does not fit; a 32-element type that does not fit is
//    an error (as in llama.cpp);
//  - llama.cpp's special cases for 8-expert models, 70B llama (GQA, 80 layers), fused attn_qkv
//    and Falcon are kept; the rules of its other file types (Q2_K, Q3_K, IQ*) are not here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loam/dtype.h"
#include "loam/status.h"

namespace loam {

// File types, numbered as llama.cpp's llama_ftype (the value of general.file_type).
enum class FileType : uint32_t {
  AllF32 = 0,
  MostlyF16 = 1,
  MostlyQ4_0 = 2,
  MostlyQ4_1 = 3,
  MostlyQ8_0 = 7,
  MostlyQ5_0 = 8,
  MostlyQ5_1 = 9,
  MostlyQ4_K_S = 14,
  MostlyQ4_K_M = 15,
  MostlyQ5_K_S = 16,
  MostlyQ5_K_M = 17,
  MostlyQ6_K = 18,
  MostlyBF16 = 32,
};

// "Q4_K_M" -> FileType (case-insensitive; "Q4_K" and "Q5_K" mean the _M mixes, as in
// llama-quantize). False for a name loam cannot write.
bool parse_file_type(const std::string& name, FileType& out);
const char* file_type_name(FileType type);  // "Q4_K_M"
// The names parse_file_type accepts, for help texts and errors: "F32, F16, BF16, Q8_0, ...".
std::string file_type_names();
// The type most tensors get (Q4_K for Q4_K_M, F16 for F16, ...).
DType file_type_base(FileType type);

// What the rules need to know about the model as a whole.
struct MixModelInfo {
  std::string arch = "llama";  // general.architecture
  int n_layer = 0;             // <arch>.block_count
  int n_expert = 0;            // <arch>.expert_count; 0 for a dense model
  int n_head = 0;              // <arch>.attention.head_count (for the 70B rule)
  int n_head_kv = 0;           // <arch>.attention.head_count_kv (for the 70B rule)
};

// One tensor as the rules see it.
struct MixTensor {
  std::string name;
  int n_dims = 0;                   // as stored (the rules count dims from ne, as ggml does)
  int64_t ne[4] = {1, 1, 1, 1};     // ne[0] = row length
  DType type = DType::F32;          // current type
};

struct MixChoice {
  DType type = DType::F32;  // the type to write
  bool convert = false;     // false: copy the tensor's bytes unchanged (same type, or not a weight)
  bool fallback = false;    // the row length forced a fallback type
};

// Chooses a type for every tensor (out[i] for tensors[i]). Fails, naming the tensor, when a row
// length fits no type the rules allow.
Status plan_tensor_types(FileType file_type, const MixModelInfo& model,
                         const std::vector<MixTensor>& tensors, std::vector<MixChoice>& out);

// llama.cpp's processing order: tensors sorted by layer number ("blk.N.", -1 for none), then by
// name. Its per-kind layer counters follow this order, and llama-quantize writes tensors in it.
std::vector<size_t> llama_quantize_order(const std::vector<MixTensor>& tensors);

}  // namespace loam
