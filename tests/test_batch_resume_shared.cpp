// `loam batch` output files across interruptions, on real models from ../shared: shards that
// merge to the whole, SIGKILL at random moments followed by resumes, Ctrl-C (exit 130, only
// complete records, a resume completes the file), a torn last line, a resume after an error record.
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "batch_cli_helpers.h"

using namespace loam_batch_test;

TEST_CASE("shared: shards cover every line once and merge to the unsharded output") {
  const std::string dir = loam_test::temp_dir();
  const std::string in_path = dir + "/shard_in.jsonl";
  write_file(in_path, sampling_input(11, 8));
  const std::string whole = without_ms(batch({"-m", aidreams(), "-s", "5", "-i", in_path}, "").out);
  std::vector<std::string> merged(11);
  for (int s = 0; s < 3; ++s) {
    const Result r = batch({"-m", aidreams(), "-s", "5", "-i", in_path, "--shard",
                            std::to_string(s) + "/3"}, "");
    CHECK_EQ(r.code, 0);
    for (const std::string& line : split_lines(without_ms(r.out))) {
      const int64_t n = parse_record(line).find("line")->as_int64();
      CHECK_EQ((n - 1) % 3, s);
      merged[static_cast<size_t>(n - 1)] = line + "\n";
    }
  }
  std::string joined;
  for (const std::string& m : merged) joined += m;
  CHECK_EQ(joined, whole);
}

TEST_CASE("shared: killed with SIGKILL at random moments and resumed, every id exactly once") {
  const std::string dir = loam_test::temp_dir();
  const std::string in_path = dir + "/kill_in.jsonl", out_path = dir + "/kill_out.jsonl";
  const int n_lines = 32;
  write_file(in_path, sampling_input(n_lines, 40));
  const std::vector<std::string> args = {"batch", "-m", synth_q4(), "-s", "9", "-i", in_path,
                                         "-o", out_path, "--parallel", "4", "-t", "1"};
  // The uninterrupted run, timed.
  const std::string ref_path = dir + "/kill_ref.jsonl";
  std::vector<std::string> ref_args = args;
  ref_args[ref_args.size() - 5] = ref_path;
  const auto t0 = std::chrono::steady_clock::now();
  RunSpec ref_spec;
  ref_spec.args.assign(ref_args.begin() + 0, ref_args.end());
  const Result ref = run(ref_spec);
  const double full_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(ref.code == 0);
  const std::string expected = without_ms(slurp(ref_path));
  REQUIRE(split_lines(expected).size() == static_cast<size_t>(n_lines));

  std::mt19937 rng(20261205);
  std::uniform_real_distribution<double> fraction(0.05, 0.35);
  int killed = 0, partial_seen = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    Child c;
    c.start(args, dir + "/kill_err.txt");
    std::this_thread::sleep_for(
        std::chrono::microseconds(static_cast<long>(full_ms * fraction(rng) * 1000.0)));
    kill(c.pid, SIGKILL);
    c.wait();
    if (WIFSIGNALED(c.wait_status)) ++killed;
    const std::string now = slurp(out_path);
    const size_t complete = split_lines(now.substr(0, now.rfind('\n') + 1)).size();
    if (complete > 0 && complete < static_cast<size_t>(n_lines)) ++partial_seen;
  }
  CHECK(killed >= 3);
  CHECK(partial_seen >= 1);
  // Resume to the end.
  const Result last = run(RunSpec{std::vector<std::string>(args.begin(), args.end()), "", "", {}});
  CHECK_EQ(last.code, 0);
  const std::string final_text = slurp(out_path);
  std::set<std::string> ids;
  for (const loam::json::Value& rec : records(final_text)) {
    CHECK(ids.insert(rec.find("id")->as_string()).second);
  }
  CHECK_EQ(ids.size(), static_cast<size_t>(n_lines));
  CHECK_EQ(without_ms(final_text), expected);
}

TEST_CASE("shared: SIGINT and SIGTERM mid-run exit 130 with complete records; a resume completes") {
  const std::string dir = loam_test::temp_dir();
  const std::string in_path = dir + "/int_in.jsonl";
  const int n_lines = 32;
  write_file(in_path, sampling_input(n_lines, 40));
  const std::string ref = without_ms(
      batch({"-m", synth_q4(), "-s", "4", "-i", in_path, "--parallel", "2", "-t", "1"}, "").out);
  REQUIRE(split_lines(ref).size() == static_cast<size_t>(n_lines));
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string out_path = dir + "/int_out" + std::to_string(sig) + ".jsonl";
    const std::vector<std::string> args = {"batch", "-m", synth_q4(), "-s", "4", "-i", in_path,
                                           "-o", out_path, "--parallel", "2", "-t", "1"};
    Child c;
    const std::string err_path = dir + "/int_err.txt";
    c.start(args, err_path);
    // Signal once the first record is out, so the handler is surely installed.
    for (int i = 0; i < 2000 && slurp(out_path).find('\n') == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(c.pid, sig);
    c.wait();
    REQUIRE(WIFEXITED(c.wait_status));
    CHECK_EQ(WEXITSTATUS(c.wait_status), 130);
    const std::string partial = slurp(out_path);
    CHECK(!partial.empty() && partial.back() == '\n');
    const size_t n_partial = records(partial).size();
    CHECK(n_partial >= 1u);
    CHECK(n_partial < static_cast<size_t>(n_lines));
    CHECK(ref.compare(0, without_ms(partial).size(), without_ms(partial)) == 0);  // a prefix
    CHECK(slurp(err_path).find("stop: interrupted by SIG") != std::string::npos);
    const Result resumed = run(RunSpec{args, "", "", {}});
    CHECK_EQ(resumed.code, 0);
    CHECK(resumed.err.find("resume: " + std::to_string(n_partial) + " records already") !=
          std::string::npos);
    CHECK_EQ(without_ms(slurp(out_path)), ref);
  }
}

TEST_CASE("shared: a torn last line (a kill mid-write) is cut off and redone, not duplicated") {
  const std::string dir = loam_test::temp_dir();
  const std::string in_path = dir + "/torn_in.jsonl", out_path = dir + "/torn_out.jsonl";
  write_file(in_path, sampling_input(6, 12));
  const std::vector<std::string> args = {"-m", aidreams(), "-s", "8", "-i", in_path, "-o",
                                         out_path};
  REQUIRE(batch(args, "").code == 0);
  const std::string whole = slurp(out_path);
  const std::vector<std::string> lines = split_lines(whole);
  REQUIRE(lines.size() == 6u);
  // Three records, then the first half of the fourth without its newline.
  write_file(out_path, lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n" +
                           lines[3].substr(0, lines[3].size() / 2));
  const Result r = batch(args, "");
  CHECK_EQ(r.code, 0);
  CHECK(r.err.find("resume: 3 records already") != std::string::npos);
  CHECK(r.err.find("torn last line was cut off") != std::string::npos);
  CHECK(r.err.find("batch: 3 ok, 0 failed, 3 already done") != std::string::npos);
  CHECK_EQ(without_ms(slurp(out_path)), without_ms(whole));
}

TEST_CASE("shared: a resume after an error record keeps it and still reports the failure") {
  const std::string dir = loam_test::temp_dir();
  const std::string out_path = dir + "/err_out.jsonl";
  const std::string in = "{\"id\":1,\"prompt\":\"Once\",\"n_predict\":4}\n{\"id\":2,\"bad\":1}\n";
  CHECK_EQ(batch({"-m", aidreams(), "-o", out_path}, in).code, 1);
  const Result again = batch({"-m", aidreams(), "-o", out_path}, in);
  CHECK_EQ(again.code, 1);
  CHECK(again.err.find("2 already done") != std::string::npos);
  CHECK_EQ(records(slurp(out_path)).size(), 2u);
}
