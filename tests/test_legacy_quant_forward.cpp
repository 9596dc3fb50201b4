// Q4_1, Q5_0 and Q5_1 through a whole model. ../shared has no such files, so synth-tiny-F16 is
// quantized to each here with `loam quantize` (the binary at LOAM_BINARY). For every kernel set
// the CPU runs, the prompt in one step (the gemm kernels, over matmul's row chunks and strides)
// must give the logits of one token at a time (the gemv kernels) bit for bit.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"
#include "kernels/kernels.h"
#include "reference/run_engine.h"

namespace {

// Sets the kernel table for the lifetime of the guard (loading and running a model both read it).
struct TableGuard {
  explicit TableGuard(const loam::KernelTable* t) { loam::use_kernel_table_for_testing(t); }
  ~TableGuard() { loam::use_kernel_table_for_testing(nullptr); }
};

size_t differing(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return a.size() + b.size();
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) == 0 ? 0 : 1;
  return n;
}

}  // namespace

TEST_CASE("shared: Q4_1, Q5_0 and Q5_1 models: the prompt in one step gives the token-by-token logits bit for bit") {
  using loam::DType;
  using loam::Isa;
  const std::string in = loam_test::shared_file("models/synth/synth-tiny-F16.gguf");
  const struct {
    const char* name;
    DType type;
  } types[] = {{"Q4_1", DType::Q4_1}, {"Q5_0", DType::Q5_0}, {"Q5_1", DType::Q5_1}};
  for (const auto& ty : types) {
    const std::string out = loam_test::temp_dir() + "/legacy-" + ty.name + ".gguf";
    const loam_cli_test::Result r = loam_cli_test::run({"quantize", in, out, ty.name, "-t", "2"});
    REQUIRE(r.code == 0);
    // 43 tokens: the gemm's token groups (4, or 8 then 4 for Q5_1) and a remainder of 3.
    std::vector<int32_t> ids;
    for (int i = 0; i < 43; ++i) ids.push_back((i * 37 + 11) % 512);
    int sets = 0;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
      if (!loam::isa_supported(isa)) continue;
      const loam::KernelTable* table = loam::kernel_table_for(isa);
      // On x86 the AVX2 and AVX-512 tables run this type's gemm (else the test would not reach it).
      if (isa == Isa::Avx2 || isa == Isa::Avx512) CHECK(table->weights[static_cast<uint32_t>(ty.type)].gemm != nullptr);
      const TableGuard guard(table);
      auto model = loam_test::load_or_stop(out);
      REQUIRE(model->config.n_vocab == 512);
      const std::vector<float> one_step = loam_test::engine_logits(model, ids, 2, 0, 64);
      const std::vector<float> by_token = loam_test::engine_logits(model, ids, 1, 1, 64);
      const size_t n = differing(one_step, by_token);
      if (n != 0)
        loam_test::record_failure(__FILE__, __LINE__, std::string(ty.name) + " on " + loam::isa_name(isa) + ": " +
                                                          std::to_string(n) + " of " + std::to_string(by_token.size()) +
                                                          " logits differ between one step and token by token");
      ++sets;
    }
    CHECK(sets >= 1);
  }
}
