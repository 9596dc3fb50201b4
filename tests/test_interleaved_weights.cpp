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
#include "model/matmul.h"
#include "quant/blocks.h"
#include "quant/interleave.h"
#include "quant/quantize.h"

using namespace loam;

#define FAIL(message) ::loam_test::record_failure(__FILE__, __LINE__, message)

namespace {

// n_rows rows of n_blocks random Q4_0 blocks (finite scales in [-4, 4], every code possible).
std::vector<uint8_t> random_q4_0_rows(std::mt19937& rng, int64_t n_rows, int64_t n_blocks) {
  std::vector<uint8_t> out(static_cast<size_t>(n_rows * n_blocks) * sizeof(BlockQ4_0));
  std::uniform_real_distribution<float> scale(-4.0f, 4.0f);
  for (int64_t i = 0; i < n_rows * n_blocks; ++i) {
    BlockQ4_0 b;
    b.d = fp32_to_fp16(scale(rng));
    for (uint8_t& q : b.qs) q = static_cast<uint8_t>(rng());
    std::memcpy(out.data() + i * sizeof(BlockQ4_0), &b, sizeof b);
  }
  return out;
}

std::vector<BlockQ8_0> random_activations(std::mt19937& rng, int64_t n_cols) {
  std::vector<float> x(static_cast<size_t>(n_cols));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<BlockQ8_0> q(static_cast<size_t>(n_cols / kQK));
  quantize_row_q8_0(x.data(), q.data(), n_cols);
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
  interleave_rows(DType::Q4_0, rows.data(), rb, 1, inter.data());
  // Block column 1 starts at byte 144; its scale of row 3 is at 144 + 2 * 3 (little endian).
  CHECK_EQ(inter[144 + 6], 0x03);
  CHECK_EQ(inter[144 + 7], 0x01);
  // Column 0, chunk 2 (qs[8..11]) of row 5: bytes 16 + 32 * 2 + 4 * 5 .. +3 = qs 8..11 of row 5.
  for (int k = 0; k < 4; ++k) CHECK_EQ(inter[16 + 64 + 20 + k], (16 * 5 + 8 + k) & 0xFF);
  // Column 1, chunk 3 (qs[12..15]) of row 7: block 1 of row 7 has qs[j] = 16 * 15 + j.
  for (int k = 0; k < 4; ++k) CHECK_EQ(inter[144 + 16 + 96 + 28 + k], (16 * 15 + 12 + k) & 0xFF);
}

TEST_CASE("interleave then deinterleave gives back every row byte for byte") {
  std::mt19937 rng(7);
  for (int64_t n_blocks : {1, 2, 5, 64}) {
    const size_t rb = static_cast<size_t>(n_blocks) * sizeof(BlockQ4_0);
    const std::vector<uint8_t> rows = random_q4_0_rows(rng, 24, n_blocks);
    std::vector<uint8_t> inter(rows.size()), back(rb);
    interleave_rows(DType::Q4_0, rows.data(), rb, 3, inter.data());
    for (int g = 0; g < 3; ++g)
      for (int r = 0; r < 8; ++r) {
        deinterleave_row(DType::Q4_0, inter.data() + g * 8 * rb, rb, r, back.data());
        CHECK(std::memcmp(back.data(), rows.data() + (g * 8 + r) * rb, rb) == 0);
      }
  }
}

TEST_CASE("every table's interleaved Q4_0 gemv equals its file-layout gemv bit for bit") {
  std::mt19937 rng(11);
  // 1025 blocks: past the kernels' 1024-block column chunk, whose sums continue from y.
  for (int64_t n_blocks : {1, 2, 3, 5, 64, 1025}) {
    for (int64_t n_rows : {8, 16, 24}) {
      const int64_t n_cols = n_blocks * kQK;
      const size_t rb = static_cast<size_t>(n_blocks) * sizeof(BlockQ4_0);
      const std::vector<uint8_t> rows = random_q4_0_rows(rng, n_rows, n_blocks);
      std::vector<uint8_t> inter(rows.size());
      interleave_rows(DType::Q4_0, rows.data(), rb, n_rows / 8, inter.data());
      const std::vector<BlockQ8_0> x = random_activations(rng, n_cols);
      for (const KernelTable* kt : tables()) {
        const TypeKernels& tk = kt->weights[static_cast<uint32_t>(DType::Q4_0)];
        REQUIRE(tk.gemv_interleaved != nullptr);
        std::vector<float> want(n_rows), got(n_rows, -1.0f);
        tk.gemv(rows.data(), rb, n_rows, x.data(), n_cols, want.data());
        tk.gemv_interleaved(inter.data(), rb, n_rows, x.data(), n_cols, got.data());
        int mismatches = 0;
        for (int64_t r = 0; r < n_rows; ++r) mismatches += same_bits(want[r], got[r]) ? 0 : 1;
        if (mismatches != 0)
          FAIL(std::string(kt->isa) + ": " + std::to_string(mismatches) + " rows differ, " +
               std::to_string(n_rows) + " rows x " + std::to_string(n_blocks) + " blocks");
      }
    }
  }
}

TEST_CASE("matmul over an interleaved weight with a tail of rows equals the file layout") {
  std::mt19937 rng(13);
  const int64_t n_rows = 8 * 5 + 3, n_blocks = 8, n_cols = n_blocks * kQK;
  const size_t rb = static_cast<size_t>(n_blocks) * sizeof(BlockQ4_0);
  const std::vector<uint8_t> rows = random_q4_0_rows(rng, n_rows, n_blocks);
  std::vector<uint8_t> inter(static_cast<size_t>(n_rows / 8 * 8) * rb);
  interleave_rows(DType::Q4_0, rows.data(), rb, n_rows / 8, inter.data());
  Tensor plain;
  plain.name = "w";
  plain.type = DType::Q4_0;
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
        FAIL("tokens " + std::to_string(nt) + ", output " + std::to_string(i) + ": " +
             std::to_string(want[i]) + " vs " + std::to_string(got[i]));
        break;
      }
  }
}

TEST_CASE("synth-tiny-Q4_0: the same logits with and without interleaved weights") {
  const std::string path = loam_test::shared_file("models/synth/synth-tiny-Q4_0.gguf");
  auto with = std::make_shared<Model>(), without = std::make_shared<Model>();
  LoadOptions on, off;
  off.interleave = false;
  REQUIRE(load_model(path, on, *with));
  REQUIRE(load_model(path, off, *without));
  CHECK_EQ(without->interleaved_bytes, size_t{0});
  if (kernels().weights[static_cast<uint32_t>(DType::Q4_0)].prefer_interleaved) {
    CHECK(with->interleaved_bytes > 0);
    CHECK(with->layers[0].ffn_down.type != DType::Q4_0 || with->layers[0].ffn_down.interleaved);
  } else {
    CHECK_EQ(with->interleaved_bytes, size_t{0});
  }
  const std::vector<int32_t> tokens = {1, 429, 491, 433, 295, 429, 444, 445, 265, 262};
  std::vector<float> a, b;
  for (auto* pair : {&a, &b}) {
    std::unique_ptr<Session> s;
    SessionOptions so;
    so.n_ctx = 32;
    REQUIRE(Session::create(pair == &a ? with : without, so, s));
    REQUIRE(s->eval(tokens, pair));
  }
  REQUIRE(a.size() == b.size());
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += same_bits(a[i], b[i]) ? 0 : 1;
  CHECK_EQ(differ, 0);
}
