// An independent double-precision LLaMA forward pass for tests, written with plain loops and
// sharing no code with the engine (nothing from src/ is included): the oracle the engine's
// logits are compared with. Also: random small models, llama2.c .bin reading/writing, and
// half / bfloat16 rounding of our own (so weight rounding does not trust the engine's fp16.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace loam_ref {

struct RefConfig {
  int dim = 0;         // embedding length
  int hidden = 0;      // feed-forward length
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab = 0;
  int seq_len = 0;
  bool shared_classifier = true;  // logits use the token embedding
  double rope_base = 10000.0;
  double rms_eps = 1e-5;          // llama2.c's value
  int n_rot = 0;                  // 0 = head_dim
  // [rot/2] Llama 3.1 rope scaling: pair i's angle is divided by factor i; empty = all 1.
  std::vector<double> rope_freq_factors;

  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return n_kv_heads * head_dim(); }
  int rot() const { return n_rot > 0 ? n_rot : head_dim(); }
};

// A config of the given shape (llama2.c defaults for RoPE base and epsilon).
inline RefConfig make_config(int dim, int hidden, int layers, int heads, int kv_heads, int vocab,
                             bool shared_classifier, int seq_len) {
  RefConfig c;
  c.dim = dim;
  c.hidden = hidden;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.vocab = vocab;
  c.seq_len = seq_len;
  c.shared_classifier = shared_classifier;
  return c;
}

// Weights in llama2.c export order; every matrix row-major [rows][cols], y = W x.
struct RefModel {
  RefConfig c;
  std::vector<float> tok_embd;   // [vocab][dim]
  std::vector<float> rms_att;    // [L][dim]
  std::vector<float> wq;         // [L][dim][dim]
  std::vector<float> wk;         // [L][kv_dim][dim]
  std::vector<float> wv;         // [L][kv_dim][dim]
  std::vector<float> wo;         // [L][dim][dim]
  std::vector<float> rms_ffn;    // [L][dim]
  std::vector<float> w1;         // [L][hidden][dim]  gate
  std::vector<float> w2;         // [L][dim][hidden]  down
  std::vector<float> w3;         // [L][hidden][dim]  up
  std::vector<float> rms_final;  // [dim]
  std::vector<float> wcls;       // [vocab][dim]; empty when shared_classifier
};

// Deterministic uniform numbers from a fixed seed (std distributions differ between libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform() { return static_cast<double>(gen_() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(gen_() % static_cast<uint64_t>(n)); }

 private:
  std::mt19937_64 gen_;
};

inline void fill_uniform(std::vector<float>& v, size_t n, Rng& rng, double lo, double hi) {
  v.resize(n);
  for (float& x : v) x = static_cast<float>(rng.uniform(lo, hi));
}

// Random weights scaled so activations stay O(1): matrices uniform with std 1/sqrt(fan_in),
// norm weights in [0.5, 1.5] (not all 1, so a missing norm weight shows), embeddings in [-1, 1].
inline RefModel make_random_model(const RefConfig& c, uint64_t seed) {
  RefModel m;
  m.c = c;
  Rng rng(seed);
  const size_t L = c.n_layers, d = c.dim, kv = c.kv_dim(), h = c.hidden, V = c.vocab;
  auto mat = [&](std::vector<float>& v, size_t n, size_t fan_in) {
    const double a = std::sqrt(3.0 / static_cast<double>(fan_in));  // uniform(-a,a) has std a/sqrt(3)
    fill_uniform(v, n, rng, -a, a);
  };
  fill_uniform(m.tok_embd, V * d, rng, -1.0, 1.0);
  fill_uniform(m.rms_att, L * d, rng, 0.5, 1.5);
  mat(m.wq, L * d * d, d);
  mat(m.wk, L * kv * d, d);
  mat(m.wv, L * kv * d, d);
  mat(m.wo, L * d * d, d);
  fill_uniform(m.rms_ffn, L * d, rng, 0.5, 1.5);
  mat(m.w1, L * h * d, d);
  mat(m.w2, L * d * h, h);
  mat(m.w3, L * h * d, d);
  fill_uniform(m.rms_final, d, rng, 0.5, 1.5);
  if (!c.shared_classifier) mat(m.wcls, V * d, d);
  return m;
}

// --- llama2.c legacy checkpoint ----------------------------------------------------------------
// Header: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len); a
// negative vocab_size means an unshared classifier. Then the f32 arrays in RefModel order with
// freq_cis_real / freq_cis_imag [seq_len][head_dim/2] between rms_final and wcls.

inline bool write_llama2c(const RefModel& m, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const RefConfig& c = m.c;
  const int32_t header[7] = {c.dim, c.hidden, c.n_layers, c.n_heads, c.n_kv_heads,
                             c.shared_classifier ? c.vocab : -c.vocab, c.seq_len};
  bool ok = std::fwrite(header, sizeof header, 1, f) == 1;
  auto put = [&](const std::vector<float>& v) {
    if (!v.empty()) ok = ok && std::fwrite(v.data(), sizeof(float), v.size(), f) == v.size();
  };
  put(m.tok_embd); put(m.rms_att); put(m.wq); put(m.wk); put(m.wv); put(m.wo);
  put(m.rms_ffn); put(m.w1); put(m.w2); put(m.w3); put(m.rms_final);
  // The legacy tables llama2.c's export wrote (run.c skips them): cos/sin of pos * freq.
  const int hs = c.head_dim(), half = hs / 2;
  std::vector<float> re(static_cast<size_t>(c.seq_len) * half), im(re.size());
  for (int p = 0; p < c.seq_len; ++p)
    for (int i = 0; i < half; ++i) {
      const double freq = 1.0 / std::pow(10000.0, (2.0 * i) / hs);
      re[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(p * freq));
      im[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(p * freq));
    }
  put(re); put(im);
  if (!c.shared_classifier) put(m.wcls);
  return std::fclose(f) == 0 && ok;
}

// Our own parse of a llama2.c checkpoint (legacy header); false on any size mismatch.
inline bool read_llama2c(const std::string& path, RefModel& m) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  int32_t h[7];
  bool ok = std::fread(h, sizeof h, 1, f) == 1;
  if (ok) {
    RefConfig& c = m.c;
    c = RefConfig();
    c.dim = h[0]; c.hidden = h[1]; c.n_layers = h[2]; c.n_heads = h[3]; c.n_kv_heads = h[4];
    c.shared_classifier = h[5] > 0;
    c.vocab = h[5] > 0 ? h[5] : -h[5];
    c.seq_len = h[6];
    ok = c.dim > 0 && c.n_heads > 0 && c.n_kv_heads > 0 && c.dim % c.n_heads == 0;
  }
  auto get = [&](std::vector<float>& v, size_t n) {
    v.resize(n);
    ok = ok && std::fread(v.data(), sizeof(float), n, f) == n;
  };
  if (ok) {
    const RefConfig& c = m.c;
    const size_t L = c.n_layers, d = c.dim, kv = c.kv_dim(), hd = c.hidden, V = c.vocab;
    get(m.tok_embd, V * d); get(m.rms_att, L * d); get(m.wq, L * d * d); get(m.wk, L * kv * d);
    get(m.wv, L * kv * d); get(m.wo, L * d * d); get(m.rms_ffn, L * d); get(m.w1, L * hd * d);
    get(m.w2, L * d * hd); get(m.w3, L * hd * d); get(m.rms_final, d);
    std::vector<float> skip;
    get(skip, static_cast<size_t>(c.seq_len) * c.head_dim());  // freq_cis real + imag
    if (!c.shared_classifier) get(m.wcls, V * d);
  }
  std::fclose(f);
  return ok;
}

// --- half and bfloat16, our own -------------------------------------------------------------

inline double half_bits_to_double(uint16_t h) {
  const int sign = (h >> 15) & 1, e = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (e == 0) v = std::ldexp(static_cast<double>(mant), -24);
  else if (e == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(1024.0 + mant, e - 25);
  return sign ? -v : v;
}

// Round to nearest, ties to even (std::nearbyint in the default rounding mode). Finite inputs
// whose magnitude is < 65504 only (test weights are small).
inline uint16_t double_to_half_bits(double x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  if (a == 0.0) return sign;
  int e2;
  std::frexp(a, &e2);  // a = m * 2^e2, m in [0.5, 1): leading bit has weight 2^(e2-1)
  int exponent = e2 - 1;
  if (exponent < -14) {  // subnormal: multiples of 2^-24 (1024 rounds up into the first normal)
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24))));
  }
  double mant = std::nearbyint(std::ldexp(a, 10 - exponent));  // in [1024, 2048]
  if (mant == 2048.0) { mant = 1024.0; ++exponent; }
  if (exponent > 15) return static_cast<uint16_t>(sign | 0x7c00);
  return static_cast<uint16_t>(sign | ((exponent + 15) << 10) | (static_cast<int>(mant) - 1024));
}

inline double bf16_bits_to_double(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bfloat16 keeps the top 16 bits of a float; round the dropped 16 bits to nearest even.
inline uint16_t float_to_bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t low = u & 0xffffu, keep = u >> 16;
  const bool up = low > 0x8000u || (low == 0x8000u && (keep & 1u));
  return static_cast<uint16_t>(keep + (up ? 1u : 0u));
}

// --- the forward pass --------------------------------------------------------------------------

// Logits for every position of `tokens` from `first_logits_row` on, teacher forced:
// [n_tokens - first_logits_row][vocab] in double. (With a large vocabulary the logits of a long
// prompt dominate time and memory, and only its last rows may need checking.)
inline std::vector<double> reference_forward(const RefModel& m, const std::vector<int32_t>& tokens,
                                             int first_logits_row = 0) {
  const RefConfig& c = m.c;
  const int d = c.dim, hd = c.head_dim(), kvd = c.kv_dim(), nh = c.n_heads, hid = c.hidden;
  const int group = c.n_heads / c.n_kv_heads;  // query heads per kv head
  const int n = static_cast<int>(tokens.size()), rot = c.rot();
  // y[r] = sum_c W[r][c] x[c] for the [rows][cols] matrix starting at w
  auto matvec = [](const float* w, int rows, int cols, const std::vector<double>& x,
                   std::vector<double>& y) {
    y.assign(rows, 0.0);
    for (int r = 0; r < rows; ++r) {
      double s = 0.0;
      for (int k = 0; k < cols; ++k) s += static_cast<double>(w[static_cast<size_t>(r) * cols + k]) * x[k];
      y[r] = s;
    }
  };
  auto rmsnorm = [&](const std::vector<double>& x, const float* w, std::vector<double>& out) {
    double ss = 0.0;
    for (int i = 0; i < d; ++i) ss += x[i] * x[i];
    const double scale = 1.0 / std::sqrt(ss / d + c.rms_eps);
    out.resize(d);
    for (int i = 0; i < d; ++i) out[i] = x[i] * scale * w[i];
  };
  // Adjacent pairs (v[2i], v[2i+1]) of each head rotated by pos * base^(-2i/rot) / factor_i,
  // i < rot/2.
  auto rope = [&](std::vector<double>& v, int heads, int pos) {
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < rot / 2; ++i) {
        const double factor = c.rope_freq_factors.empty() ? 1.0 : c.rope_freq_factors[i];
        const double angle = pos * std::pow(c.rope_base, -2.0 * i / rot) / factor;
        double& a = v[static_cast<size_t>(h) * hd + 2 * i];
        double& b = v[static_cast<size_t>(h) * hd + 2 * i + 1];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(angle) - b0 * std::sin(angle);
        b = a0 * std::sin(angle) + b0 * std::cos(angle);
      }
  };

  std::vector<std::vector<double>> k_cache(c.n_layers), v_cache(c.n_layers);  // [L][pos*kv_dim]
  std::vector<double> logits(static_cast<size_t>(std::max(0, n - first_logits_row)) * c.vocab);
  std::vector<double> x(d), xn, q, k, v, att(d), o, g, u, ff;
  for (int pos = 0; pos < n; ++pos) {
    const float* emb = &m.tok_embd[static_cast<size_t>(tokens[pos]) * d];
    for (int i = 0; i < d; ++i) x[i] = emb[i];
    for (int l = 0; l < c.n_layers; ++l) {
      rmsnorm(x, &m.rms_att[static_cast<size_t>(l) * d], xn);
      matvec(&m.wq[static_cast<size_t>(l) * d * d], d, d, xn, q);
      matvec(&m.wk[static_cast<size_t>(l) * kvd * d], kvd, d, xn, k);
      matvec(&m.wv[static_cast<size_t>(l) * kvd * d], kvd, d, xn, v);
      rope(q, nh, pos);
      rope(k, c.n_kv_heads, pos);
      k_cache[l].insert(k_cache[l].end(), k.begin(), k.end());
      v_cache[l].insert(v_cache[l].end(), v.begin(), v.end());
      for (int h = 0; h < nh; ++h) {
        const int kvh = h / group;
        std::vector<double> score(pos + 1);
        double mx = -INFINITY;
        for (int t = 0; t <= pos; ++t) {  // causal: positions 0..pos
          double s = 0.0;
          for (int i = 0; i < hd; ++i)
            s += q[static_cast<size_t>(h) * hd + i] * k_cache[l][static_cast<size_t>(t) * kvd + kvh * hd + i];
          score[t] = s / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, score[t]);
        }
        double sum = 0.0;
        for (double& s : score) sum += (s = std::exp(s - mx));
        for (int i = 0; i < hd; ++i) {
          double acc = 0.0;
          for (int t = 0; t <= pos; ++t)
            acc += score[t] / sum * v_cache[l][static_cast<size_t>(t) * kvd + kvh * hd + i];
          att[static_cast<size_t>(h) * hd + i] = acc;
        }
      }
      matvec(&m.wo[static_cast<size_t>(l) * d * d], d, d, att, o);
      for (int i = 0; i < d; ++i) x[i] += o[i];
      rmsnorm(x, &m.rms_ffn[static_cast<size_t>(l) * d], xn);
      matvec(&m.w1[static_cast<size_t>(l) * hid * d], hid, d, xn, g);
      matvec(&m.w3[static_cast<size_t>(l) * hid * d], hid, d, xn, u);
      for (int i = 0; i < hid; ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      matvec(&m.w2[static_cast<size_t>(l) * d * hid], d, hid, g, ff);
      for (int i = 0; i < d; ++i) x[i] += ff[i];
    }
    if (pos < first_logits_row) continue;
    rmsnorm(x, m.rms_final.data(), xn);
    const std::vector<float>& cls = c.shared_classifier ? m.tok_embd : m.wcls;
    std::vector<double> row;
    matvec(cls.data(), c.vocab, d, xn, row);
    std::copy(row.begin(), row.end(),
              logits.begin() + static_cast<size_t>(pos - first_logits_row) * c.vocab);
  }
  return logits;
}

}  // namespace loam_ref
