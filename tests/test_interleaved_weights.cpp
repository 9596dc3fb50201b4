// Weights interleaved at load time (src/quant/interleave.h): the layout itself (hand-placed bytes),
// the round trip, every kernel table's gemv over that layout against the same table's gemv over
// the file layout (bit for bit, as TypeKernels promises), matmul with row counts that leave a tail
// outside the interleaved groups, and whole-model logits with and without interleaving.
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "loam/model.h"
#include "loam/session.h"
#include "core/mmap_file.h"
#include "model/interleave_weights.h"
#include "model/matmul.h"
#include "quant/blocks.h"
#include "quant/interleave.h"
#include "quant/quantize.h"

using namespace loam;

#define FAIL(message) ::loam_test::record_failure(__FILE__, __LINE__, message)

namespace {

// n_rows rows of n_blocks random blocks of `type` (Q8_0, Q4_0, Q4_K, Q5_K or Q6_K): finite f16
// scales in [-4, 4], every other byte random (every code, every packed sub-block scale and min).
std::vector<uint8_t> random_rows(DType type, std::mt19937& rng, int64_t n_rows, int64_t n_blocks) {
  const size_t block = dtype_info(type).type_size;
  // Byte offsets of the f16 scales: d (and dmin for Q4_K / Q5_K) lead the block, Q6_K's d ends it.
  std::vector<size_t> halves = {0};
  if (type == DType::Q4_K || type == DType::Q5_K) halves = {0, 2};
  if (type == DType::Q6_K) halves = {offsetof(BlockQ6_K, d)};
  std::vector<uint8_t> out(static_cast<size_t>(n_rows * n_blocks) * block);
  std::uniform_real_distribution<float> scale(-4.0f, 4.0f);
  for (uint8_t& byte : out) byte = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n_rows * n_blocks; ++i)
    for (size_t off : halves) {
      const uint16_t v = fp32_to_fp16(scale(rng));
      std::memcpy(out.data() + i * block + off, &v, 2);
    }
  return out;
}

int block_elements(DType type) { return dtype_info(type).block_size; }
size_t block_bytes(DType type) { return static_cast<size_t>(dtype_info(type).type_size); }

// Activations quantized to the type's activation format.
std::vector<uint8_t> random_activations(DType type, std::mt19937& rng, int64_t n_cols) {
  std::vector<float> x(static_cast<size_t>(n_cols));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  if (block_elements(type) == kQK) {
    std::vector<uint8_t> q(static_cast<size_t>(n_cols / kQK) * sizeof(BlockQ8_0));
    quantize_row_q8_0(x.data(), reinterpret_cast<BlockQ8_0*>(q.data()), n_cols);
    return q;
  }
  std::vector<uint8_t> q(static_cast<size_t>(n_cols / kQKK) * sizeof(BlockQ8_K));
  quantize_row_q8_K(x.data(), reinterpret_cast<BlockQ8_K*>(q.data()), n_cols);
  return q;
}

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
    if (isa_supported(isa)) out.push_back(kernel_table_for(isa));
  return out;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("Q4_0 interleaved layout: scales first, then 4-byte code runs of the 8 rows per chunk") {
  // 8 rows x 2 blocks; row r, block b: d = 0x100 * b + r, qs[j] = 16 * (r + 8 * b) % 256 + j.
  const size_t rb = 2 * sizeof(BlockQ4_0);
  std::vector<uint8_t> rows(8 * rb), inter(8 * rb);
  for (int r = 0; r < 8; ++r)
    for (int b = 0; b < 2; ++b) {
      BlockQ4_0 blk;
      blk.d = static_cast<uint16_t>(0x100 * b + r);
      for (int j = 0; j < 16; ++j) blk.qs[j] = static_cast<uint8_t>((16 * (r + 8 * b) + j) & 0xFF);
      std::memcpy(rows.data() + r * rb + b * sizeof(BlockQ4_0), &blk, sizeof blk);
    }
  interleave_rows(DType::Q4_0, rows.data(), 2 * kQK, 1, inter.data());
  // Block column 1 starts at byte 144; its scale of row 3 is at 144 + 2 * 3 (little endian).
  CHECK_EQ(inter[144 + 6], 0x03);
  CHECK_EQ(inter[144 + 7], 0x01);
  // Column 0, chunk 2 (qs[8..11]) of row 5: bytes 16 + 32 * 2 + 4 * 5 .. +3 = qs 8..11 of row 5.
  for (int k = 0; k < 4; ++k) CHECK_EQ(inter[16 + 64 + 20 + k], (16 * 5 + 8 + k) & 0xFF);
  // Column 1, chunk 3 (qs[12..15]) of row 7: block 1 of row 7 has qs[j] = 16 * 15 + j.
  for (int k = 0; k < 4; ++k) CHECK_EQ(inter[144 + 16 + 96 + 28 + k], (16 * 15 + 12 + k) & 0xFF);
}

TEST_CASE("Q4_K interleaved layout: unpacked scales and mins, then 4-byte code runs") {
  // One group of 8 rows x 1 super-block. Row r: d = 0x3C00 + r, dmin = 0x4000 + r, 6-bit
  // sub-block scales sc_j = j + r and mins m_j = 40 + j - r packed the file's way by hand, and
  // code bytes qs[k] = k ^ r.
  std::vector<uint8_t> rows(8 * sizeof(BlockQ4_K)), inter(interleaved_group_bytes(DType::Q4_K, kQKK));
  for (int r = 0; r < 8; ++r) {
    BlockQ4_K b;
    b.d = static_cast<uint16_t>(0x3C00 + r);
    b.dmin = static_cast<uint16_t>(0x4000 + r);
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) sc[j] = j + r, m[j] = 40 + j - r;
    // Sub-blocks 0..3: six bits in bytes 0..3 / 4..7; 4..7: low nibbles in bytes 8..11 (scale
    // low, min high), top two bits in bits 6..7 of bytes 0..3 (scales) and 4..7 (mins).
    for (int j = 0; j < 4; ++j) {
      b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
      b.scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
      b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
    for (int k = 0; k < kQKK / 2; ++k) b.qs[k] = static_cast<uint8_t>(k ^ r);
    std::memcpy(rows.data() + r * sizeof(BlockQ4_K), &b, sizeof b);
  }
  interleave_rows(DType::Q4_K, rows.data(), kQKK, 1, inter.data());
  REQUIRE(inter.size() == 1184);
  CHECK_EQ(inter[2 * 5], 0x05);            // d of row 5, low byte
  CHECK_EQ(inter[2 * 5 + 1], 0x3C);
  CHECK_EQ(inter[16 + 2 * 6 + 1], 0x40);   // dmin of row 6, high byte
  CHECK_EQ(inter[32 + 8 * 6 + 3], 6 + 3);  // scale of sub-block 6, row 3
  CHECK_EQ(inter[96 + 16 * 2 + 2 * 7 + 0], 40 + 4 - 7);  // min of sub-block 4, row 7
  CHECK_EQ(inter[96 + 16 * 3 + 2 * 1 + 1], 40 + 7 - 1);  // min of sub-block 7, row 1
  // Run 8c + i = 8 * 2 + 5 holds qs[64 + 20 .. +3]; row 4's bytes at 4 * 4.
  for (int k = 0; k < 4; ++k) CHECK_EQ(inter[160 + 32 * 21 + 16 + k], (84 + k) ^ 4);
}

TEST_CASE("Q8_0 interleaved layout: scales, then 4-byte code runs of the 8 rows") {
  // Row r, block b: every byte is its offset in the row plus 16 r (mod 256).
  const size_t rb = 2 * sizeof(BlockQ8_0);
  std::vector<uint8_t> rows(8 * rb), inter(interleaved_group_bytes(DType::Q8_0, 2 * kQK));
  for (int r = 0; r < 8; ++r)
    for (size_t k = 0; k < rb; ++k) rows[r * rb + k] = static_cast<uint8_t>(k + 16 * r);
  interleave_rows(DType::Q8_0, rows.data(), 2 * kQK, 1, inter.data());
  REQUIRE(inter.size() == 2 * 272);
  CHECK_EQ(inter[272 + 2 * 3 + 1], (34 + 1 + 48) & 0xFF);        // d of row 3, block 1, high byte
  CHECK_EQ(inter[272 + 16 + 32 * 6 + 4 * 5 + 2], (34 + 2 + 24 + 2 + 80) & 0xFF);  // qs[26], row 5
}

TEST_CASE("Q6_K interleaved layout: d, scales by pairs, then three runs per 4-element step") {
  // One group of 8 rows x 1 super-block. Row r: every byte of the block is (its offset + 7 r) mod
  // 256, so ql at 0..127, qh at 128..191, scales at 192..207, d at 208..209.
  constexpr size_t kBlock = 210;
  std::vector<uint8_t> rows(8 * kBlock), inter(interleaved_group_bytes(DType::Q6_K, kQKK));
  for (int r = 0; r < 8; ++r)
    for (size_t k = 0; k < kBlock; ++k) rows[r * kBlock + k] = static_cast<uint8_t>(k + 7 * r);
  auto byte = [](size_t offset, int r) { return static_cast<int>((offset + 7 * r) & 0xFF); };
  interleave_rows(DType::Q6_K, rows.data(), kQKK, 1, inter.data());
  REQUIRE(inter.size() == 8 * kBlock);
  CHECK_EQ(inter[2 * 6 + 1], byte(209, 6));             // d of row 6, high byte
  CHECK_EQ(inter[16 + 16 * 5 + 2 * 3], byte(192 + 10, 3));  // scales[10] of row 3
  CHECK_EQ(inter[16 + 16 * 5 + 2 * 3 + 1], byte(192 + 11, 3));  // scales[11] of row 3
  // Step s = 8h + i = 8 + 6 (h = 1, i = 6): runs at 144 + 96 s; row 2's bytes at 4 * 2 of each.
  for (int k = 0; k < 4; ++k) {
    CHECK_EQ(inter[144 + 96 * 14 + 8 + k], byte(64 + 24 + k, 2));        // ql[64h + 4i + k]
    CHECK_EQ(inter[144 + 96 * 14 + 32 + 8 + k], byte(96 + 24 + k, 2));   // ql[64h + 32 + 4i + k]
    CHECK_EQ(inter[144 + 96 * 14 + 64 + 8 + k], byte(128 + 56 + k, 2));  // qh[32h + 4i + k]
  }
}

TEST_CASE("interleave then deinterleave gives back every row byte for byte") {
  std::mt19937 rng(7);
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    for (int64_t n_blocks : {1, 2, 5, 11}) {
      const int64_t n_cols = n_blocks * block_elements(type);
      const size_t rb = static_cast<size_t>(n_blocks) * block_bytes(type);
      const size_t gb = interleaved_group_bytes(type, n_cols);
      const std::vector<uint8_t> rows = random_rows(type, rng, 24, n_blocks);
      std::vector<uint8_t> inter(3 * gb), back(rb);
      interleave_rows(type, rows.data(), n_cols, 3, inter.data());
      for (int g = 0; g < 3; ++g)
        for (int r = 0; r < 8; ++r) {
          deinterleave_row(type, inter.data() + g * gb, n_cols, r, back.data());
          CHECK(std::memcmp(back.data(), rows.data() + (g * 8 + r) * rb, rb) == 0);
        }
    }
  }
}

TEST_CASE("every table's interleaved gemv equals the file-layout gemv it stands for, bit for bit") {
  std::mt19937 rng(11);
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    // 1025 blocks: past the Q4_0 kernels' 1024-block column chunk, whose sums continue from y.
    const std::vector<int64_t> block_counts =
        block_elements(type) == kQK ? std::vector<int64_t>{1, 2, 3, 5, 64, 1025} : std::vector<int64_t>{1, 2, 3, 11};
    for (int64_t n_blocks : block_counts) {
      for (int64_t n_rows : {8, 16, 24}) {
        const int64_t n_cols = n_blocks * block_elements(type);
        const size_t rb = static_cast<size_t>(n_blocks) * block_bytes(type);
        const std::vector<uint8_t> rows = random_rows(type, rng, n_rows, n_blocks);
        std::vector<uint8_t> inter(static_cast<size_t>(n_rows / 8) * interleaved_group_bytes(type, n_cols));
        interleave_rows(type, rows.data(), n_cols, n_rows / 8, inter.data());
        const std::vector<uint8_t> x = random_activations(type, rng, n_cols);
        for (const KernelTable* kt : tables()) {
          const TypeKernels& tk = kt->weights[static_cast<uint32_t>(type)];
          REQUIRE(tk.gemv_interleaved != nullptr);
          std::vector<float> want(n_rows), got(n_rows, -1.0f);
          // A preferred interleaved kernel matches its own table's gemv; the scalar fallback
          // the others keep matches the scalar gemv (kernel_table.h).
          const GemvFn reference = tk.prefer_interleaved
                                       ? tk.gemv
                                       : kernel_table_for(Isa::Scalar)->weights[static_cast<uint32_t>(type)].gemv;
          reference(rows.data(), rb, n_rows, x.data(), n_cols, want.data());
          tk.gemv_interleaved(inter.data(), rb, n_rows, x.data(), n_cols, got.data());
          int mismatches = 0;
          for (int64_t r = 0; r < n_rows; ++r) mismatches += same_bits(want[r], got[r]) ? 0 : 1;
          if (mismatches != 0)
            FAIL(std::string(kt->isa) + " " + dtype_name(type) + ": " + std::to_string(mismatches) +
                 " rows differ, " + std::to_string(n_rows) + " rows x " + std::to_string(n_blocks) + " blocks");
        }
      }
    }
  }
}

TEST_CASE("every table's interleaved gemm gives each token its gemv result bit for bit") {
  std::mt19937 rng(17);
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const std::vector<int64_t> block_counts =
        block_elements(type) == kQK ? std::vector<int64_t>{1, 3, 1025} : std::vector<int64_t>{1, 3};
    for (int64_t n_blocks : block_counts) {
      // 40 rows: the AVX-512 kernels take two 8-row groups per 512-bit register (twice here),
      // then one alone.
      const int64_t n_rows = 40, n_cols = n_blocks * block_elements(type);
      const size_t rb = static_cast<size_t>(n_blocks) * block_bytes(type);
      const std::vector<uint8_t> rows = random_rows(type, rng, n_rows, n_blocks);
      std::vector<uint8_t> inter(static_cast<size_t>(n_rows / 8) * interleaved_group_bytes(type, n_cols));
      interleave_rows(type, rows.data(), n_cols, n_rows / 8, inter.data());
      // 1..11 tokens: every block of 4 (AVX2) or 8 (AVX-512) and every remainder; y rows 3
      // floats wider than n_rows.
      for (int n_tokens = 1; n_tokens <= 11; ++n_tokens) {
        std::vector<uint8_t> x;
        for (int t = 0; t < n_tokens; ++t) {
          const std::vector<uint8_t> xt = random_activations(type, rng, n_cols);
          x.insert(x.end(), xt.begin(), xt.end());
        }
        const size_t x_stride = x.size() / n_tokens, y_stride = n_rows + 3;
        for (const KernelTable* kt : tables()) {
          const TypeKernels& tk = kt->weights[static_cast<uint32_t>(type)];
          if (tk.gemm_interleaved == nullptr) continue;
          std::vector<float> got(n_tokens * y_stride, -1.0f), want(n_rows);
          tk.gemm_interleaved(inter.data(), rb, n_rows, x.data(), x_stride, n_tokens, n_cols,
                              got.data(), y_stride);
          int mismatches = 0;
          for (int t = 0; t < n_tokens; ++t) {
            tk.gemv_interleaved(inter.data(), rb, n_rows, x.data() + t * x_stride, n_cols, want.data());
            for (int64_t r = 0; r < n_rows; ++r) mismatches += same_bits(want[r], got[t * y_stride + r]) ? 0 : 1;
            for (size_t r = n_rows; r < y_stride; ++r) mismatches += got[t * y_stride + r] == -1.0f ? 0 : 1;
          }
          if (mismatches != 0)
            FAIL(std::string(kt->isa) + " " + dtype_name(type) + ": " + std::to_string(mismatches) +
                 " outputs differ, " + std::to_string(n_tokens) + " tokens x " + std::to_string(n_blocks) + " blocks");
        }
      }
    }
  }
}

TEST_CASE("matmul over an interleaved weight with a tail of rows equals the file layout") {
  std::mt19937 rng(13);
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
  const int64_t n_rows = 8 * 5 + 3, n_blocks = 2, n_cols = n_blocks * block_elements(type);
  const std::vector<uint8_t> rows = random_rows(type, rng, n_rows, n_blocks);
  std::vector<uint8_t> inter(static_cast<size_t>(n_rows / 8) * interleaved_group_bytes(type, n_cols));
  interleave_rows(type, rows.data(), n_cols, n_rows / 8, inter.data());
  Tensor plain;
  plain.name = "w";
  plain.type = type;
  plain.n_dims = 2;
  plain.ne[0] = n_cols;
  plain.ne[1] = n_rows;
  plain.data = rows.data();
  plain.nbytes = rows.size();
  Tensor interleaved = plain;
  interleaved.interleaved = inter.data();
  const int n_tokens = 3;
  std::vector<float> x(static_cast<size_t>(n_tokens * n_cols));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  ThreadPool pool(2);
  std::vector<uint8_t> scratch;
  for (int nt : {1, n_tokens}) {
    std::vector<float> want(static_cast<size_t>(nt * n_rows)), got(want.size(), -1.0f);
    const MatmulJob a{&plain, x.data(), want.data()};
    const MatmulJob b{&interleaved, x.data(), got.data()};
    matmul(pool, &a, 1, nt, scratch);
    matmul(pool, &b, 1, nt, scratch);
    for (size_t i = 0; i < want.size(); ++i)
      if (!same_bits(want[i], got[i])) {
        FAIL(std::string(dtype_name(type)) + ", tokens " + std::to_string(nt) + ", output " + std::to_string(i) + ": " +
             std::to_string(want[i]) + " vs " + std::to_string(got[i]));
        break;
      }
  }
  }
}

// The two models give the same logits, bit for bit, on a 10-token prompt.
void check_same_model_logits(const std::shared_ptr<Model>& a, const std::shared_ptr<Model>& b) {
  const std::vector<int32_t> tokens = {1, 429, 491, 433, 295, 429, 444, 445, 265, 262};
  std::vector<float> x, y;
  for (auto* out : {&x, &y}) {
    std::unique_ptr<Session> s;
    SessionOptions so;
    so.n_ctx = 32;
    REQUIRE(Session::create(out == &x ? a : b, so, s));
    REQUIRE(s->eval(tokens, out));
  }
  REQUIRE(x.size() == y.size());
  int differ = 0;
  for (size_t i = 0; i < x.size(); ++i) differ += same_bits(x[i], y[i]) ? 0 : 1;
  CHECK_EQ(differ, 0);
}

void check_same_logits(const std::string& file, DType type) {
  const std::string path = loam_test::shared_file("models/synth/" + file);
  auto with = std::make_shared<Model>(), without = std::make_shared<Model>();
  LoadOptions on, off;
  off.interleave = false;
  REQUIRE(load_model(path, on, *with));
  REQUIRE(load_model(path, off, *without));
  CHECK_EQ(without->interleaved_bytes, size_t{0});
  if (kernels().weights[static_cast<uint32_t>(type)].prefer_interleaved) {
    CHECK(with->interleaved_bytes > 0);
    CHECK(with->layers[0].ffn_gate.type != type || with->layers[0].ffn_gate.interleaved);
  } else {
    CHECK_EQ(with->interleaved_bytes, size_t{0});
  }
  check_same_model_logits(with, without);
}

TEST_CASE("synth-tiny-Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K: the same logits with and without interleaved weights") {
  check_same_logits("synth-tiny-Q8_0.gguf", DType::Q8_0);
  check_same_logits("synth-tiny-Q4_0.gguf", DType::Q4_0);
  check_same_logits("synth-tiny-Q4_K_M.gguf", DType::Q4_K);
  check_same_logits("synth-tiny-Q5_K_M.gguf", DType::Q5_K);
  check_same_logits("synth-tiny-Q6_K.gguf", DType::Q6_K);
}

// F16 weight matrices are copied whole into anonymous memory at load (model/interleave_weights.cpp),
// the rest of the model staying in the mapping: the copies hold the file's bytes, are counted in
// interleaved_bytes (which the memory check uses), and give the same logits; --no-repack keeps them
// mapped.
TEST_CASE("synth-tiny-F16: F16 weights are copied out of the mapping, with the same bytes and logits") {
  const std::string path = loam_test::shared_file("models/synth/synth-tiny-F16.gguf");
  auto with = std::make_shared<Model>(), without = std::make_shared<Model>();
  LoadOptions on, off;
  off.interleave = false;
  REQUIRE(load_model(path, on, *with));
  REQUIRE(load_model(path, off, *without));
  REQUIRE(with->mapping != nullptr);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(with->mapping->data()), hi = lo + with->mapping->size();
  auto in_mapping = [&](const void* p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    return a >= lo && a < hi;
  };
  size_t copied = 0;
  for (size_t l = 0; l < with->layers.size(); ++l) {
    const LayerWeights& a = with->layers[l];
    const LayerWeights& b = without->layers[l];
    for (auto member : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                        &LayerWeights::ffn_gate, &LayerWeights::ffn_up, &LayerWeights::ffn_down}) {
      const Tensor& ta = a.*member;
      const Tensor& tb = b.*member;
      REQUIRE(ta.type == DType::F16);
      CHECK(!in_mapping(ta.data));
      CHECK(std::memcmp(ta.data, tb.data, tb.nbytes) == 0);
      copied += ta.nbytes;
    }
  }
  CHECK(in_mapping(with->tok_embd.data));
  const bool tied = without->output.data == without->tok_embd.data;
  if (!tied) copied += with->output.nbytes;
  CHECK_EQ(in_mapping(with->output.data), tied);
  CHECK_EQ(with->interleaved_bytes, copied);
  CHECK_EQ(interleaved_weight_bytes(*without), uint64_t{copied});
  CHECK_EQ(without->interleaved_bytes, size_t{0});
  REQUIRE(without->mapping != nullptr);
  const uintptr_t wq = reinterpret_cast<uintptr_t>(without->layers[0].wq.data);
  const uintptr_t base = reinterpret_cast<uintptr_t>(without->mapping->data());
  CHECK(wq >= base && wq < base + without->mapping->size());
  check_same_model_logits(with, without);
}
