#include "model/synthetic_model.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "core/mmap_file.h"
#include "core/thread_pool.h"
#include "loam/sampler.h"
#include "formats/llama_loader.h"
#include "model/interleave_weights.h"
#include "model/model_shapes.h"
#include "quant/blocks.h"
#include "quant/interleave.h"

namespace loam {

namespace {

constexpr size_t kTensorAlign = 64;
// Tensors are filled in pieces of about this many bytes, each from its own generator seeded by
// (seed, tensor, piece): the bytes do not depend on how pieces are spread over threads.
constexpr size_t kPieceBytes = size_t(1) << 18;

// One splitmix64 step (the sampler's generator): turns (seed, tensor, piece) into independent
// generator states.
uint64_t mix(uint64_t z) { return Rng(z).next_u64(); }

// xorshift64*: one multiply per 8 bytes, so filling 4 GB of weights takes about a second per core.
struct Xorshift {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

// A 16-bit float field of a block and the power of two its values get: block scales sized so
// that a dequantized weight stays below about 0.25 (e.g. Q4_K: d x 63 x 15 with d ~ 2^-14).
struct HalfField {
  size_t offset;
  int exponent;  // value = 2^exponent x (1 + random mantissa / 1024)
};

std::vector<HalfField> half_fields(DType type) {
  switch (type) {
    case DType::Q8_0: return {{offsetof(BlockQ8_0, d), -12}};
    case DType::Q4_0: return {{offsetof(BlockQ4_0, d), -8}};
    case DType::Q4_1: return {{offsetof(BlockQ4_1, d), -8}, {offsetof(BlockQ4_1, m), -6}};
    case DType::Q5_0: return {{offsetof(BlockQ5_0, d), -9}};
    case DType::Q5_1: return {{offsetof(BlockQ5_1, d), -9}, {offsetof(BlockQ5_1, m), -6}};
    case DType::Q4_K: return {{offsetof(BlockQ4_K, d), -14}, {offsetof(BlockQ4_K, dmin), -14}};
    case DType::Q5_K: return {{offsetof(BlockQ5_K, d), -14}, {offsetof(BlockQ5_K, dmin), -14}};
    case DType::Q6_K: return {{offsetof(BlockQ6_K, d), -14}};
    default: return {};
  }
}

uint16_t half_with_exponent(int exponent, uint64_t random) {
  // F16: 5-bit exponent biased by 15, 10-bit mantissa; positive.
  return static_cast<uint16_t>(((exponent + 15) << 10) | (random & 0x3ff));
}

// Fills [dst, dst + n) of a tensor of `type` starting at element or block `first`.
void fill_piece(DType type, bool is_norm, uint8_t* dst, size_t n, uint64_t state) {
  Xorshift rng{state | 1};
  if (is_norm) {  // F32 ones
    const float one = 1.0f;
    for (size_t i = 0; i + 4 <= n; i += 4) std::memcpy(dst + i, &one, 4);
    return;
  }
  // Plain types: sign, an exponent from 4 values (|w| in [2^-8, 2^-4)), a random mantissa.
  if (type == DType::F32) {
    for (size_t i = 0; i + 4 <= n; i += 4) {
      const uint32_t r = static_cast<uint32_t>(rng.next() >> 32);
      const uint32_t bits = (r & 0x80000000u) | ((119u + ((r >> 23) & 3u)) << 23) | (r & 0x7fffffu);
      std::memcpy(dst + i, &bits, 4);
    }
    return;
  }
  if (type == DType::F16 || type == DType::BF16) {
    const bool f16 = type == DType::F16;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t r = rng.next();
      for (int k = 0; k < 4; ++k, r >>= 16) {
        const uint16_t v = static_cast<uint16_t>(r);
        const uint16_t bits =
            f16 ? static_cast<uint16_t>((v & 0x8000u) | ((7u + ((v >> 10) & 3u)) << 10) | (v & 0x3ffu))
                : static_cast<uint16_t>((v & 0x8000u) | ((119u + ((v >> 7) & 3u)) << 7) | (v & 0x7fu));
        std::memcpy(dst + i + 2 * k, &bits, 2);
      }
    }
    return;
  }
  // Block types: random codes and sub-block scales, then sane 16-bit scales.
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t r = rng.next();
    std::memcpy(dst + i, &r, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<uint8_t>(rng.next());
  const size_t block = static_cast<size_t>(dtype_info(type).type_size);
  const std::vector<HalfField> fields = half_fields(type);
  for (size_t b = 0; b + block <= n; b += block) {
    for (const HalfField& f : fields) {
      const uint16_t h = half_with_exponent(f.exponent, rng.next());
      std::memcpy(dst + b + f.offset, &h, 2);
    }
  }
}

bool is_norm_name(const std::string& name) {
  return name.size() > 12 && name.compare(name.size() - 12, 12, "_norm.weight") == 0;
}

}  // namespace

Status plan_synthetic_model(const std::string& spec, SyntheticPlan& out) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    return Status::error("--synthetic expects SHAPE:TYPE (e.g. tinyllama-1.1b:q4_0), got '" + spec +
                         "'");
  }
  const std::string shape_name = spec.substr(0, colon), type_name = spec.substr(colon + 1);
  const ModelShape* shape = find_model_shape(shape_name);
  if (!shape) {
    return Status::error("unknown model shape '" + shape_name + "' (known: " +
                         model_shape_names() + ")");
  }
  FileType ft;
  if (!parse_file_type(type_name, ft)) {
    return Status::error("unknown weight type '" + type_name + "' (known: " + file_type_names() +
                         ")");
  }
  SyntheticPlan p;
  p.shape_name = shape->name;
  p.file_type = ft;
  p.spec = p.shape_name + ":" + file_type_name(ft);
  p.config = shape->config;
  const ModelConfig& c = p.config;

  // The tensor table a GGUF converter writes for this shape, every tensor F32 before quantizing.
  std::vector<MixTensor> mix;
  auto add = [&](const std::string& name, int64_t cols, int64_t rows) {
    MixTensor t;
    t.name = name;
    t.n_dims = rows > 1 ? 2 : 1;
    t.ne[0] = cols;
    t.ne[1] = rows;
    t.type = DType::F32;
    mix.push_back(t);
  };
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim, kv_dim = c.kv_dim();
  add("token_embd.weight", c.n_embd, c.n_vocab);         // [n_vocab][n_embd]
  for (int l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", c.n_embd, 1);             // [n_embd]
    add(b + "attn_q.weight", c.n_embd, q_dim);            // [q_dim][n_embd]
    add(b + "attn_k.weight", c.n_embd, kv_dim);           // [kv_dim][n_embd]
    add(b + "attn_v.weight", c.n_embd, kv_dim);           // [kv_dim][n_embd]
    add(b + "attn_output.weight", q_dim, c.n_embd);       // [n_embd][q_dim]
    add(b + "ffn_norm.weight", c.n_embd, 1);              // [n_embd]
    add(b + "ffn_gate.weight", c.n_embd, c.n_ff);         // [n_ff][n_embd]
    add(b + "ffn_up.weight", c.n_embd, c.n_ff);           // [n_ff][n_embd]
    add(b + "ffn_down.weight", c.n_ff, c.n_embd);         // [n_embd][n_ff]
  }
  add("output_norm.weight", c.n_embd, 1);                 // [n_embd]
  if (!c.tied_embeddings) add("output.weight", c.n_embd, c.n_vocab);  // [n_vocab][n_embd]

  MixModelInfo info;
  info.n_layer = c.n_layer;
  info.n_head = c.n_head;
  info.n_head_kv = c.n_head_kv;
  std::vector<MixChoice> choices;
  LOAM_TRY(plan_tensor_types(ft, info, mix, choices));
  size_t offset = 0;
  for (size_t i = 0; i < mix.size(); ++i) {
    SyntheticTensor t;
    t.name = mix[i].name;
    t.type = choices[i].convert ? choices[i].type : mix[i].type;
    t.n_dims = mix[i].n_dims;
    t.ne[0] = mix[i].ne[0];
    t.ne[1] = mix[i].ne[1];
    t.nbytes = dtype_row_bytes(t.type, t.ne[0]) * static_cast<size_t>(t.ne[1]);
    t.offset = offset;
    offset = (offset + t.nbytes + kTensorAlign - 1) / kTensorAlign * kTensorAlign;
    p.n_params += static_cast<uint64_t>(t.ne[0]) * static_cast<uint64_t>(t.ne[1]);
    p.weight_bytes += t.nbytes;
    if (has_interleaved_layout(t.type) && !is_norm_name(t.name))
      p.interleave_peak_bytes = std::max<uint64_t>(p.interleave_peak_bytes, t.nbytes);
    p.tensors.push_back(t);
  }
  p.buffer_bytes = offset;
  out = std::move(p);
  return Status::ok();
}

Status build_synthetic_model(const SyntheticPlan& plan, uint64_t seed, int n_threads,
                             bool interleave, Model& out) {
  const std::string path = "synthetic:" + plan.spec;
  LOAM_TRY(check_llama_config(path, plan.config));
  std::shared_ptr<MappedFile> buffer;
  LOAM_TRY(MappedFile::anonymous(plan.buffer_bytes, path, buffer));
  uint8_t* base = buffer->writable_data();

  ThreadPool pool(std::max(1, n_threads));
  for (size_t ti = 0; ti < plan.tensors.size(); ++ti) {
    const SyntheticTensor& t = plan.tensors[ti];
    const bool norm = is_norm_name(t.name);
    // Pieces hold whole blocks (and whole 8-byte words of plain values).
    const size_t unit = static_cast<size_t>(dtype_info(t.type).type_size) * 8;
    const size_t piece = std::max(unit, kPieceBytes / unit * unit);
    const int64_t n_pieces = static_cast<int64_t>((t.nbytes + piece - 1) / piece);
    pool.parallel_for(n_pieces, [&](int64_t k, int) {
      const size_t begin = static_cast<size_t>(k) * piece;
      const size_t n = std::min(piece, t.nbytes - begin);
      const uint64_t state = mix(mix(mix(seed) ^ (ti + 1)) ^ static_cast<uint64_t>(k));
      fill_piece(t.type, norm, base + t.offset + begin, n, state);
    });
  }

  Model m;
  m.path = path;
  m.format = "synthetic";
  m.config = plan.config;
  m.mapping = buffer;
  m.metadata.push_back({"general.name", plan.spec});
  m.tensors.reserve(plan.tensors.size());
  for (const SyntheticTensor& st : plan.tensors) {
    Tensor t;
    t.name = st.name;
    t.type = st.type;
    t.n_dims = st.n_dims;
    t.ne[0] = st.ne[0];
    t.ne[1] = st.ne[1];
    t.data = base + st.offset;
    t.nbytes = st.nbytes;
    m.tensors.push_back(t);
  }
  LOAM_TRY(bind_llama_weights(path, m.tensors, m));
  if (interleave) LOAM_TRY(interleave_weights(m));
  out = std::move(m);
  return Status::ok();
}

}  // namespace loam
