// `loam batch` end to end on real models from ../shared: the golden greedy continuation and stop
// strings spanning tokens, bad and hostile lines as error records in order, output independent of
// --parallel and of the thread count, a line equal to `loam run` with the same seed, chat
// messages, usage errors. Shards, kills and resumes: test_batch_resume_shared.cpp.
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "batch_cli_helpers.h"

using namespace loam_batch_test;

TEST_CASE("shared: batch greedy lines give the golden text; stop strings spanning tokens cut it") {
  const std::string golden = golden_text();
  const std::string in =
      "{\"id\":\"full\",\"prompt\":\"Once upon a time\"}\n"
      "{\"id\":\"span\",\"prompt\":\"Once upon a time\",\"stop\":[\"olding like\"]}\n"
      "{\"id\":\"first\",\"prompt\":\"Once upon a time\",\"stop\":[\"whispers\",\"petals\"]}\n"
      "{\"id\":\"flag\",\"prompt\":\"Once upon a time\",\"n_predict\":100}\n";
  const Result r = batch({"-m", aidreams(), "--temp", "0", "-n", "100", "--stop",
                          "Classification whispers", "--parallel", "3"}, in);
  CHECK_EQ(r.code, 0);
  const std::vector<loam::json::Value> recs = records(r.out);
  REQUIRE(recs.size() == 4u);
  // The flag's stop string applies to lines without their own list; a line's list replaces it.
  const std::string cut_flag = golden.substr(0, golden.find("Classification whispers"));
  CHECK_EQ(recs[0].find("text")->as_string(), cut_flag);
  CHECK_EQ(recs[0].find("stop_reason")->as_string(), std::string("stop"));
  CHECK_EQ(recs[1].find("text")->as_string(), golden.substr(0, golden.find("olding like")));
  CHECK_EQ(recs[1].find("stop_reason")->as_string(), std::string("stop"));
  CHECK_EQ(recs[2].find("text")->as_string(), golden.substr(0, golden.find("petals")));
  CHECK_EQ(recs[3].find("id")->as_string(), std::string("flag"));
  CHECK_EQ(recs[3].find("text")->as_string(), cut_flag);

  // Without stop strings: the whole golden text, 100 tokens, stop_reason length.
  const Result plain = batch({"-m", aidreams(), "--temp", "0", "-n", "100"},
                             "{\"prompt\":\"Once upon a time\"}\n");
  CHECK_EQ(plain.code, 0);
  const std::vector<loam::json::Value> p = records(plain.out);
  REQUIRE(p.size() == 1u);
  CHECK_EQ(p[0].find("text")->as_string(), golden);
  CHECK_EQ(p[0].find("tokens_generated")->as_int64(), 100);
  CHECK_EQ(p[0].find("tokens_prompt")->as_int64(), 13);  // prompt_tokens of golden p1.json
  CHECK_EQ(p[0].find("stop_reason")->as_string(), std::string("length"));
  CHECK_EQ(p[0].find("id")->as_int64(), 1);  // no id: the line number
  CHECK(plain.err.find("batch: 1 ok, 0 failed") != std::string::npos);
  CHECK(plain.err.find("generated tokens/s aggregate") != std::string::npos);
}

TEST_CASE("shared: 50 lines with 3 malformed give 47 results and 3 error records, in order") {
  std::string in;
  const std::set<int> bad = {4, 17, 41};
  for (int i = 0; i < 50; ++i) {
    if (i == 4) {
      in += "{\"id\":\"l4\",\"prompt\":\"x\"\n";  // unterminated object
    } else if (i == 17) {
      in += "{\"id\":\"l17\",\"prompt\":\"x\",\"temprature\":0.5}\n";  // unknown field
    } else if (i == 41) {
      in += "{\"id\":\"l41\",\"prompt\":42}\n";  // wrong type
    } else {
      in += "{\"id\":\"l" + std::to_string(i) + "\",\"prompt\":\"Once upon a time " +
            std::to_string(i) + "\",\"n_predict\":" + std::to_string(3 + i % 9) + "}\n";
    }
  }
  const Result r = batch({"-m", aidreams(), "-s", "3", "--parallel", "4"}, in);
  CHECK_EQ(r.code, 1);
  CHECK(r.err.find("3 of 50 lines failed") != std::string::npos);
  const std::vector<loam::json::Value> recs = records(r.out);
  REQUIRE(recs.size() == 50u);
  int errors = 0;
  for (int i = 0; i < 50; ++i) {
    const loam::json::Value& rec = recs[static_cast<size_t>(i)];
    if (i == 4) {
      CHECK_EQ(rec.find("id")->as_int64(), 5);  // unreadable line: its line number
    } else {
      CHECK_EQ(rec.find("id")->as_string(), "l" + std::to_string(i));
    }
    CHECK_EQ(rec.find("line")->as_int64(), i + 1);
    const bool is_error = rec.find("stop_reason")->as_string() == "error";
    CHECK_EQ(is_error, bad.count(i) == 1);
    if (is_error) {
      ++errors;
      CHECK(rec.find("error") != nullptr);
    } else {
      CHECK(rec.find("error") == nullptr);
      CHECK_EQ(rec.find("tokens_generated")->as_int64() <= 3 + i % 9, true);
    }
  }
  CHECK_EQ(errors, 3);
  CHECK(recs[17].find("error")->as_string().find("unknown field \"temprature\"") !=
        std::string::npos);
}

TEST_CASE("shared: hostile and impossible lines give error records, the rest go on") {
  std::string in;
  in += std::string(5000, '[') + "\n";                                   // deep nesting
  in += "{\"prompt\":\"x\",\"seed\":1e999}\n";                          // huge number
  in += "{\"prompt\":\"x\",\"n_predict\":" + std::string(400, '9') + "}\n";  // long number
  in += "{\"prompt\":\"bad \\q escape\"}\n";                            // bad escape
  in += "{\"prompt\":\"\xff\xfe\"}\n";                                  // invalid UTF-8
  in += "{\"prompt\":\"\\udc01 lone\"}\n";                              // lone surrogate
  in += "{\"prompt\":\"" + std::string(3000, 'z') + "\"}\n";            // longer than the context
  in += "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n";    // needs a chat template
  in += "\x01\x02\x03\n";                                               // binary garbage
  in += "{\"id\":\"ok\",\"prompt\":\"Once upon a time\",\"n_predict\":5}\n";
  const Result r = batch({"-m", aidreams(), "--temp", "0"}, in);
  CHECK_EQ(r.code, 1);
  const std::vector<loam::json::Value> recs = records(r.out);
  REQUIRE(recs.size() == 10u);
  for (size_t i = 0; i + 1 < recs.size(); ++i) {
    CHECK_EQ(recs[i].find("stop_reason")->as_string(), std::string("error"));
    CHECK_EQ(recs[i].find("id")->as_int64(), static_cast<int64_t>(i + 1));
  }
  CHECK(recs[6].find("error")->as_string().find("longer than the context of 128 tokens") !=
        std::string::npos);
  CHECK(recs[6].find("tokens_prompt")->as_int64() > 128);
  CHECK_EQ(recs[9].find("stop_reason")->as_string(), std::string("length"));
  CHECK_EQ(recs[9].find("tokens_generated")->as_int64(), 5);
  const std::string text = recs[9].find("text")->as_string();
  CHECK(!text.empty());
  CHECK_EQ(golden_text().compare(0, text.size(), text), 0);  // the golden text's first tokens
  CHECK(r.err.find("9 of 10 lines failed") != std::string::npos);
}

TEST_CASE("shared: output is byte-identical for --parallel 1, 3, 4 and for 1 and 2 threads") {
  const std::string in = sampling_input(16, 32);
  const std::string base = without_ms(batch({"-m", synth_q4(), "-s", "11", "--parallel", "1",
                                             "-t", "1"}, in).out);
  REQUIRE(split_lines(base).size() == 16u);
  CHECK_EQ(without_ms(batch({"-m", synth_q4(), "-s", "11", "--parallel", "4", "-t", "1"}, in).out),
           base);
  CHECK_EQ(without_ms(batch({"-m", synth_q4(), "-s", "11", "--parallel", "4", "-t", "2"}, in).out),
           base);
  CHECK_EQ(without_ms(batch({"-m", synth_q4(), "-s", "11", "--parallel", "3", "-t", "2"}, in).out),
           base);
  CHECK_EQ(without_ms(batch({"-m", synth_q4(), "-s", "11", "--parallel", "1", "-t", "2"}, in).out),
           base);
  // The seed matters (so the comparison above is not between constant outputs).
  CHECK(without_ms(batch({"-m", synth_q4(), "-s", "12", "--parallel", "4"}, in).out) != base);
}

TEST_CASE("shared: a line gives what loam run gives with seed + its line index") {
  const std::string in = "{\"prompt\":\"Once upon a time\",\"n_predict\":30}\n"
                         "{\"prompt\":\"The little dog\",\"n_predict\":30}\n"
                         "{\"prompt\":\"The little dog\",\"n_predict\":30,\"seed\":99}\n";
  const std::vector<loam::json::Value> recs =
      records(batch({"-m", aidreams(), "-s", "41", "--parallel", "3"}, in).out);
  REQUIRE(recs.size() == 3u);
  auto run_text = [](const std::string& prompt, const std::string& seed) {
    const Result r = run({"run", "-m", aidreams(), "-p", prompt, "-n", "30", "-s", seed});
    CHECK_EQ(r.code, 0);
    return r.out.substr(0, r.out.size() - 1);  // run ends with a newline
  };
  CHECK_EQ(recs[0].find("text")->as_string(), run_text("Once upon a time", "41"));
  CHECK_EQ(recs[1].find("text")->as_string(), run_text("The little dog", "42"));
  CHECK_EQ(recs[2].find("text")->as_string(), run_text("The little dog", "99"));
  CHECK(recs[1].find("text")->as_string() != recs[2].find("text")->as_string());
}

TEST_CASE("shared: the default f16 KV cache is -ctk/-ctv f16: --parallel 4 and 1 agree, and differ from the f32 cache") {
  const std::string in = sampling_input(8, 32);
  const std::vector<std::string> f16 = {"-m", synth_q4(), "-s", "5", "-ctk", "f16", "-ctv", "f16"};
  auto with = [](std::vector<std::string> args, const std::string& k) {
    args.push_back("--parallel");
    args.push_back(k);
    return args;
  };
  const std::string one = without_ms(batch(with(f16, "1"), in).out);
  REQUIRE(split_lines(one).size() == 8u);
  CHECK_EQ(without_ms(batch(with(f16, "4"), in).out), one);
  CHECK_EQ(without_ms(batch({"-m", synth_q4(), "-s", "5", "--parallel", "4"}, in).out), one);
  // synth-tiny amplifies the cache's rounding (test_kv_cache_types), so sampled text changes.
  CHECK(without_ms(batch({"-m", synth_q4(), "-s", "5", "--parallel", "4", "-ctk", "f32", "-ctv", "f32"},
                         in).out) != one);
  const Result bad = batch({"-m", synth_q4(), "-ctv", "q4_0"}, in);
  CHECK_EQ(bad.code, 2);
  CHECK(bad.err.find("--cache-type-v expects f32, f16 or q8_0") != std::string::npos);
}

TEST_CASE("shared: messages lines use the model's chat template, else give an error record") {
  const std::string dir = loam_test::temp_dir();
  const std::string conversation =
      R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}])";
  write_file(dir + "/messages.json", conversation);
  // The prompt tokens `loam tokenize --messages` gives for the same conversation.
  const Result t = run({"tokenize", "-m", loam_test::shared_file("models/l3-tiny-f16.gguf"),
                        "--messages", dir + "/messages.json", "--add-generation-prompt"});
  REQUIRE(t.code == 0);
  int64_t expected = 0;
  for (const std::string& line : split_lines(t.out)) expected += line.find(" -> ") != std::string::npos;
  REQUIRE(expected > 10);
  const std::string in = "{\"messages\":" + conversation + ",\"n_predict\":4,\"temperature\":0}\n";
  const Result r = batch({"-m", loam_test::shared_file("models/l3-tiny-f16.gguf"), "-c", "256"},
                         in);
  CHECK_EQ(r.code, 0);
  const std::vector<loam::json::Value> recs = records(r.out);
  REQUIRE(recs.size() == 1u);
  CHECK_EQ(recs[0].find("tokens_prompt")->as_int64(), expected);
  CHECK_EQ(recs[0].find("stop_reason")->as_string() == "error", false);

  // aidreams260K has no template: an error record naming the way out, the other line goes on.
  const Result no_template = batch({"-m", aidreams(), "-n", "3"},
                                   in + "{\"prompt\":\"Once upon a time\"}\n");
  CHECK_EQ(no_template.code, 1);
  const std::vector<loam::json::Value> nt = records(no_template.out);
  REQUIRE(nt.size() == 2u);
  CHECK(nt[0].find("error")->as_string().find("needs a chat template") != std::string::npos);
  CHECK(nt[0].find("error")->as_string().find("--chat-template") != std::string::npos);
  CHECK_EQ(nt[1].find("stop_reason")->as_string(), std::string("length"));
}

TEST_CASE("batch: usage errors and a foreign -o file") {
  Result r = batch({"-m", "none.gguf", "--shard", "2/2"}, "");
  CHECK_EQ(r.code, 2);
  CHECK(r.err.find("--shard expects I/N with 0 <= I < N") != std::string::npos);
  r = batch({"-m", "none.gguf", "--shard", "x"}, "");
  CHECK_EQ(r.code, 2);
  r = batch({"-m", "none.gguf", "--stop", ""}, "");
  CHECK_EQ(r.code, 2);
  const std::string foreign = loam_test::temp_dir() + "/notes.txt";
  write_file(foreign, "my precious notes\n");
  r = batch({"-m", "none.gguf", "-o", foreign}, "");
  CHECK_EQ(r.code, 1);
  CHECK(r.err.find("is not a loam batch record") != std::string::npos);
  CHECK_EQ(slurp(foreign), std::string("my precious notes\n"));
  r = batch({"-m", "none.gguf", "-i", "/nonexistent/in.jsonl"}, "");
  CHECK_EQ(r.code, 1);
  CHECK_EQ(r.out, std::string());
}
