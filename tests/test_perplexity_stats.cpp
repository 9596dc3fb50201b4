// Perplexity and KL statistics on values computed by hand, the window plan, and the KL base file
// (round trip, and refusals of damaged files with a message naming the file).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "eval/kl_base_file.h"
#include "eval/perplexity.h"
#include "harness/test.h"

using namespace loam::eval;

TEST_CASE("log_softmax_at: logits {0, ln 3} give probabilities 1/4 and 3/4") {
  const float logits[2] = {0.0f, static_cast<float>(std::log(3.0))};
  CHECK_NEAR(log_softmax_at(logits, 2, 1), std::log(0.75), 1e-7);
  CHECK_NEAR(log_softmax_at(logits, 2, 0), std::log(0.25), 1e-7);
  // Large logits do not overflow (the maximum is subtracted first).
  const float big[3] = {1000.0f, 1000.0f, 1000.0f};
  CHECK_NEAR(log_softmax_at(big, 3, 2), -std::log(3.0), 1e-9);
  float row[3];
  log_softmax_row(big, 3, row);
  CHECK_NEAR(row[0], -std::log(3.0), 1e-6);
}

TEST_CASE("NllStats: nll 1, 2, 3 give PPL e^2 with error e^2 * sqrt((2/3) / 2)") {
  NllStats s;
  s.add(1.0);
  s.add(2.0);
  s.add(3.0);
  CHECK_NEAR(s.ppl(), std::exp(2.0), 1e-12);
  // variance of {1,2,3} = 14/3 - 4 = 2/3; standard error of the mean = sqrt((2/3) / (3 - 1))
  CHECK_NEAR(s.ppl_error(), std::exp(2.0) * std::sqrt(1.0 / 3.0), 1e-12);
  NllStats one;
  one.add(0.5);
  CHECK_EQ(one.ppl_error(), 0.0);
}

TEST_CASE("plan_windows: 739 tokens at -c 128 give 5 windows scored on positions 64..126") {
  WindowPlan p;
  REQUIRE(plan_windows(739, 128, -1, p).is_ok());
  CHECK_EQ(p.n_chunk, 5);
  CHECK_EQ(p.first, 64);
  CHECK_EQ(p.scored_per_chunk(), 63);
  REQUIRE(plan_windows(739, 128, 2, p).is_ok());
  CHECK_EQ(p.n_chunk, 2);
  REQUIRE(plan_windows(256, 128, -1, p).is_ok());
  CHECK_EQ(p.n_chunk, 2);
  const loam::Status short_text = plan_windows(255, 128, -1, p);
  CHECK(!short_text);
  CHECK(short_text.message().find("needs at least 256") != std::string::npos);
  CHECK(!plan_windows(1000, 3, -1, p));
}

TEST_CASE("percentile and median interpolate like llama.cpp") {
  const std::vector<float> v = {1, 2, 3, 4};
  CHECK_NEAR(percentile(v, 0.5), 2.5, 1e-12);   // position 1.5
  CHECK_NEAR(percentile(v, 0.9), 3.7, 1e-6);    // position 2.7
  CHECK_EQ(percentile(v, 0.0), 1.0);
  CHECK_EQ(percentile(v, 1.0), 4.0);
  CHECK_NEAR(median(v), 2.5, 1e-12);
  CHECK_NEAR(median({1, 5, 9}), 5.0, 1e-12);
}

TEST_CASE("KlStats: base (1/2, 1/2) against Q (1/4, 3/4): KL = ln(4/3) / 2, dp = 1/4") {
  const float base[2] = {static_cast<float>(std::log(0.5)), static_cast<float>(std::log(0.5))};
  const float q_logits[2] = {0.0f, static_cast<float>(std::log(3.0))};
  KlStats kl;
  kl.add(q_logits, base, 2, 1);
  CHECK_EQ(kl.count(), int64_t{1});
  // 1/2 ln((1/2)/(1/4)) + 1/2 ln((1/2)/(3/4)) = 1/2 ln(4/3)
  CHECK_NEAR(kl.kl_divergence().value, 0.5 * std::log(4.0 / 3.0), 1e-6);
  CHECK_NEAR(kl.p_diff().value, 0.25, 1e-6);
  CHECK_NEAR(kl.ppl().value, 4.0 / 3.0, 1e-6);  // 1 / p_Q(token 1)
  CHECK_NEAR(kl.ppl_base().value, 2.0, 1e-6);
  CHECK_EQ(kl.same_top().value, 0.0);  // base argmax: 0 (first of a tie); Q argmax: 1
}

TEST_CASE("KlStats: a model against its own log-softmax gives exactly 0 and full agreement") {
  const std::vector<float> logits = {0.3f, -1.2f, 2.5f, 0.0f, 7.25f, -3.0f};
  std::vector<float> base(logits.size());
  log_softmax_row(logits.data(), 6, base.data());
  KlStats kl;
  for (int t = 0; t < 6; ++t) kl.add(logits.data(), base.data(), 6, t);
  CHECK_EQ(kl.kl_divergence().value, 0.0);
  CHECK_EQ(kl.same_top().value, 1.0);
  CHECK_EQ(kl.p_diff().value, 0.0);
  CHECK_NEAR(kl.ppl().value, kl.ppl_base().value, 0.0);
  const std::vector<float> sorted = kl.sorted_kl();
  CHECK_EQ(sorted.back(), 0.0f);
}

namespace {

KlBaseHeader small_header() {
  KlBaseHeader h;
  h.n_vocab = 3;
  h.n_ctx = 4;  // scores positions 2 (only): 4 - 1 - 2 = 1 row per window
  h.n_chunk = 2;
  return h;
}

std::string write_small(const std::string& name) {
  const std::string path = loam_test::temp_dir() + "/" + name;
  KlBaseWriter w;
  REQUIRE(w.open(path, small_header(), {1, 2, 0, 1, 1, 0, 2, 2}).is_ok());
  REQUIRE(w.write_rows({-1.0f, -2.0f, -0.5f}).is_ok());
  REQUIRE(w.write_rows({-0.25f, -3.0f, -4.0f}).is_ok());
  REQUIRE(w.close().is_ok());
  return path;
}

}  // namespace

TEST_CASE("KL base file: header size as documented, round trip of tokens and rows") {
  const std::string path = write_small("ok.kld");
  // 32 header bytes + 8 tokens * 4 + 2 rows * 3 floats * 4
  CHECK_EQ(small_header().file_bytes(), uint64_t{32 + 32 + 24});
  const std::string bytes = loam_cli_test::slurp(path);
  CHECK_EQ(bytes.size(), size_t{88});
  CHECK_EQ(bytes.substr(0, 8), std::string("LOAMKLD1"));
  CHECK_EQ(static_cast<int>(bytes[12]), 3);  // n_vocab, little-endian
  KlBaseReader r;
  REQUIRE(r.open(path).is_ok());
  CHECK_EQ(r.header().n_chunk, 2u);
  CHECK_EQ(r.tokens().size(), size_t{8});
  CHECK_EQ(r.tokens()[6], 2);
  std::vector<float> rows;
  REQUIRE(r.read_rows(rows).is_ok());
  CHECK_EQ(rows.size(), size_t{3});
  CHECK_EQ(rows[2], -0.5f);
  REQUIRE(r.read_rows(rows).is_ok());
  CHECK_EQ(rows[0], -0.25f);
  CHECK(!r.read_rows(rows));  // no third window
}

TEST_CASE("KL base file: damaged files are refused with the file named") {
  const std::string good = loam_cli_test::slurp(write_small("src.kld"));
  const std::string dir = loam_test::temp_dir();
  auto refused = [&dir](const std::string& name, const std::string& bytes,
                        const std::string& mention) {
    const std::string path = dir + "/" + name;
    loam_cli_test::write_file(path, bytes);
    KlBaseReader r;
    const loam::Status st = r.open(path);
    CHECK(!st);
    CHECK(st.message().find(path) != std::string::npos);
    CHECK(st.message().find(mention) != std::string::npos);
    if (st.message().find(mention) == std::string::npos) std::fprintf(stderr, "  %s\n",
                                                                      st.message().c_str());
  };
  refused("truncated.kld", good.substr(0, good.size() - 1), "truncated");
  refused("empty.kld", "", "not a KL-divergence base file");
  refused("text.kld", std::string(100, 'x'), "not a KL-divergence base file");
  std::string v2 = good;
  v2[8] = 2;
  refused("v2.kld", v2, "version 2");
  std::string enc = good;
  enc[24] = 1;
  refused("enc.kld", enc, "encoding 1");
  std::string vocab0 = good;
  vocab0[12] = 0;
  refused("vocab0.kld", vocab0, "n_vocab 0");
  std::string huge = good;
  huge[23] = 0x7f;  // n_chunk ~ 2^30
  refused("huge.kld", huge, "n_chunk");
  std::string bad_token = good;
  bad_token[32] = 9;  // token 0 = 9, outside a vocabulary of 3
  refused("token.kld", bad_token, "outside the vocabulary");
  KlBaseReader missing;
  CHECK(!missing.open(dir + "/no-such.kld"));
}
