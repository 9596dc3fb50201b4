#include "bench/bench_model.h"

#include <cstdlib>

#include "bench/bench_report.h"

namespace loam::bench {

std::string llama_cpp_ftype_name(FileType type) {
  switch (type) {
    case FileType::AllF32: return "all F32";
    case FileType::MostlyQ4_K_S: return "Q4_K - Small";
    case FileType::MostlyQ4_K_M: return "Q4_K - Medium";
    case FileType::MostlyQ5_K_S: return "Q5_K - Small";
    case FileType::MostlyQ5_K_M: return "Q5_K - Medium";
    default: return file_type_name(type);
  }
}

namespace {

// The file type most tensors suggest, when the file does not say.
FileType guess_file_type(const Model& m) {
  const DType t = m.layers.empty() ? m.tok_embd.type : m.layers[0].wq.type;
  switch (t) {
    case DType::F16: return FileType::MostlyF16;
    case DType::BF16: return FileType::MostlyBF16;
    case DType::Q8_0: return FileType::MostlyQ8_0;
    case DType::Q4_0: return FileType::MostlyQ4_0;
    case DType::Q4_1: return FileType::MostlyQ4_1;
    case DType::Q5_0: return FileType::MostlyQ5_0;
    case DType::Q5_1: return FileType::MostlyQ5_1;
    case DType::Q4_K: return FileType::MostlyQ4_K_M;
    case DType::Q5_K: return FileType::MostlyQ5_K_M;
    case DType::Q6_K: return FileType::MostlyQ6_K;
    default: return FileType::AllF32;
  }
}

FileType file_type_of(const Model& m) {
  for (const MetadataEntry& e : m.metadata) {
    if (e.key != "general.file_type") continue;
    char* end = nullptr;
    const long v = std::strtol(e.value.c_str(), &end, 10);
    if (end != e.value.c_str() && *end == '\0') {
      const FileType ft = static_cast<FileType>(v);
      // Only a number this build knows the name of; else guess.
      if (llama_cpp_ftype_name(ft) != "?") return ft;
    }
  }
  return guess_file_type(m);
}

}  // namespace

ModelSummary summarize_model(const Model& model, const std::string& label) {
  ModelSummary s;
  s.filename = model.path;
  s.label = label;
  for (const Tensor& t : model.tensors) {
    s.size += t.nbytes;
    s.n_params += static_cast<uint64_t>(t.elements());
  }
  s.type = model_type_name(s.n_params, llama_cpp_ftype_name(file_type_of(model)));
  s.weight_bytes_per_token = model.output.nbytes + model.tok_embd.row_bytes();
  for (const LayerWeights& l : model.layers) {
    s.weight_bytes_per_token += l.wq.nbytes + l.wk.nbytes + l.wv.nbytes + l.wo.nbytes +
                                l.ffn_gate.nbytes + l.ffn_up.nbytes + l.ffn_down.nbytes;
  }
  const ModelConfig& c = model.config;
  s.kv_bytes_per_position = 2ull * c.n_layer * static_cast<uint64_t>(c.kv_dim()) * sizeof(float);
  return s;
}

uint64_t bytes_per_generated_token(const ModelSummary& m, int depth, int n_gen) {
  // Token i of the test attends to depth + i + 1 positions; the mean over i = 0 .. n_gen - 1.
  const double positions = depth + (n_gen + 1) / 2.0;
  return m.weight_bytes_per_token +
         static_cast<uint64_t>(positions * static_cast<double>(m.kv_bytes_per_position));
}

}  // namespace loam::bench
