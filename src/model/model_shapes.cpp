#include "model/model_shapes.h"

namespace loam {

namespace {

ModelConfig shape(int n_embd, int n_layer, int n_head, int n_head_kv, int n_ff, int n_vocab,
                  int n_ctx_train, float rope_base, bool tied) {
  ModelConfig c;
  c.n_embd = n_embd;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_head_kv = n_head_kv;
  c.n_ff = n_ff;
  c.n_vocab = n_vocab;
  c.head_dim = n_embd / n_head;
  c.n_rot = c.head_dim;
  c.n_ctx_train = n_ctx_train;
  c.rope_freq_base = rope_base;
  c.rms_eps = 1e-5f;
  c.tied_embeddings = tied;
  return c;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

// Sources: the llama2.c model cards (stories*), and each model's config.json on Hugging Face
// (hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, intermediate_size,
// vocab_size, max_position_embeddings, rope_theta, tie_word_embeddings). Llama 3.2's rope scaling
// factors (rope_freqs.weight) change no cost and are not modelled here.
const std::vector<ModelShape>& model_shapes() {
  static const std::vector<ModelShape> shapes = {
      {"stories15M", "llama2.c TinyStories 15M (shared classifier)",
       shape(288, 6, 6, 6, 768, 32000, 256, 10000.0f, true)},
      {"stories110M", "llama2.c TinyStories 110M (shared classifier)",
       shape(768, 12, 12, 12, 2048, 32000, 1024, 10000.0f, true)},
      {"tinyllama-1.1b", "TinyLlama 1.1B (GQA 8:1)",
       shape(2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, false)},
      {"llama3.2-1b", "Llama 3.2 1B (GQA 4:1, tied embeddings, 128k vocab)",
       shape(2048, 16, 32, 8, 8192, 128256, 131072, 500000.0f, true)},
      {"llama3.2-3b", "Llama 3.2 3B (GQA 3:1, tied embeddings, 128k vocab)",
       shape(3072, 28, 24, 8, 8192, 128256, 131072, 500000.0f, true)},
      {"llama2-7b", "Llama 2 7B (no GQA)",
       shape(4096, 32, 32, 32, 11008, 32000, 4096, 10000.0f, false)},
      {"mistral-7b", "Mistral 7B v0.1 (GQA 4:1)",
       shape(4096, 32, 32, 8, 14336, 32000, 32768, 10000.0f, false)},
      {"llama3-8b", "Llama 3 8B (GQA 4:1, 128k vocab)",
       shape(4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, false)},
  };
  return shapes;
}

const ModelShape* find_model_shape(const std::string& name) {
  for (const ModelShape& s : model_shapes()) {
    const std::string n = s.name;
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i) same = ascii_lower(n[i]) == ascii_lower(name[i]);
    if (same) return &s;
  }
  return nullptr;
}

std::string model_shape_names() {
  std::string out;
  for (const ModelShape& s : model_shapes()) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

}  // namespace loam
