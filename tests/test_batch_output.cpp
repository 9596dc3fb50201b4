// `loam batch` output records (field order, text_hex for invalid UTF-8, error field), the ordered
// writer, and the resume scan of an existing output (torn last line cut off, foreign files
// refused untouched).
#include <cstdio>
#include <string>

#include "batch/batch_output.h"
#include "cli_runner.h"
#include "harness/test.h"

using loam::batch::BatchRecord;
using loam::batch::ExistingOutput;
using loam::batch::StopReason;

TEST_CASE("a record: fields in order, ms rounded to 0.1") {
  BatchRecord r;
  r.id = "a\"b";
  r.line = 3;
  r.text = "Hello\n\xc3\xa9";
  r.tokens_prompt = 4;
  r.tokens_generated = 2;
  r.stop_reason = StopReason::kEos;
  r.ms = 12.345;
  CHECK_EQ(loam::batch::format_record(r),
           std::string("{\"id\":\"a\\\"b\",\"line\":3,\"text\":\"Hello\\n\xc3\xa9\","
                       "\"tokens_prompt\":4,\"tokens_generated\":2,\"stop_reason\":\"eos\","
                       "\"ms\":12.3}\n"));
}

TEST_CASE("text that is not UTF-8: U+FFFD in text, the exact bytes in text_hex") {
  BatchRecord r;
  // Read, not assigned: GCC 12 -O1 with ASan warns (-Wmaybe-uninitialized, a false positive)
  // about the temporary Value of `r.id = 5`.
  REQUIRE(loam::json::parse("5", r.id).is_ok());
  r.line = 5;
  r.text = std::string("a\xe2\x82", 3);  // a truncated euro sign
  r.stop_reason = StopReason::kLength;
  CHECK_EQ(loam::batch::format_record(r),
           std::string("{\"id\":5,\"line\":5,\"text\":\"a\xef\xbf\xbd\",\"text_hex\":\"61e282\","
                       "\"tokens_prompt\":0,\"tokens_generated\":0,\"stop_reason\":\"length\","
                       "\"ms\":0}\n"));
}

TEST_CASE("an error record carries the message") {
  BatchRecord r;
  REQUIRE(loam::json::parse("9", r.id).is_ok());  // as above
  r.line = 9;
  r.error = "line 9: bad";
  r.stop_reason = StopReason::kError;
  CHECK_EQ(loam::batch::format_record(r),
           std::string("{\"id\":9,\"line\":9,\"text\":\"\",\"tokens_prompt\":0,"
                       "\"tokens_generated\":0,\"stop_reason\":\"error\",\"ms\":0,"
                       "\"error\":\"line 9: bad\"}\n"));
  CHECK_EQ(std::string(loam::batch::stop_reason_name(StopReason::kStop)), std::string("stop"));
  CHECK_EQ(std::string(loam::batch::stop_reason_name(StopReason::kContext)),
           std::string("context"));
}

TEST_CASE("the ordered writer writes in order whatever order records complete in") {
  const std::string path = loam_test::temp_dir() + "/ordered.jsonl";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  loam::batch::OrderedWriter w(f);
  REQUIRE(w.complete(2, "c\n").is_ok());
  REQUIRE(w.complete(1, "b\n").is_ok());
  CHECK_EQ(w.written(), 0u);
  CHECK_EQ(w.waiting(), 2u);
  CHECK_EQ(loam_cli_test::slurp(path), std::string(""));  // nothing before record 0
  REQUIRE(w.complete(0, "a\n").is_ok());
  CHECK_EQ(w.written(), 3u);
  CHECK_EQ(loam_cli_test::slurp(path), std::string("a\nb\nc\n"));  // flushed at once
  REQUIRE(w.complete(4, "e\n").is_ok());
  REQUIRE(w.complete(3, "d\n").is_ok());
  CHECK_EQ(loam_cli_test::slurp(path), std::string("a\nb\nc\nd\ne\n"));
  std::fclose(f);
}

TEST_CASE("resume scan: ids counted, a torn last line cut off") {
  const std::string dir = loam_test::temp_dir();
  ExistingOutput e;
  REQUIRE(loam::batch::scan_existing_output(dir + "/missing.jsonl", e).is_ok());
  CHECK_EQ(e.records, 0u);
  REQUIRE(loam::batch::scan_existing_output("/dev/null", e).is_ok());  // not a regular file
  CHECK_EQ(e.records, 0u);

  const std::string path = dir + "/out.jsonl";
  const std::string complete =
      "{\"id\":\"a\",\"line\":1,\"text\":\"x\",\"tokens_prompt\":3,\"tokens_generated\":1,"
      "\"stop_reason\":\"length\",\"ms\":1}\n"
      "{\"id\":7,\"line\":2,\"text\":\"\",\"tokens_prompt\":0,\"tokens_generated\":0,"
      "\"stop_reason\":\"error\",\"ms\":0,\"error\":\"e\"}\n"
      "{\"id\":\"a\",\"line\":3,\"text\":\"y\",\"tokens_prompt\":2,\"tokens_generated\":5,"
      "\"stop_reason\":\"eos\",\"ms\":1}\n";
  loam_cli_test::write_file(path, complete + "{\"id\":\"b\",\"line\":4,\"te");
  REQUIRE(loam::batch::scan_existing_output(path, e).is_ok());
  CHECK_EQ(e.records, 3u);
  CHECK_EQ(e.failed, 1u);
  CHECK_EQ(e.prompt_tokens, 5u);
  CHECK_EQ(e.generated_tokens, 6u);
  CHECK_EQ(e.ids[std::string("\"a\"")], 2u);
  CHECK_EQ(e.ids[std::string("7")], 1u);
  CHECK_EQ(e.ids.count("\"7\""), 0u);  // the string "7" is another id
  CHECK_EQ(e.torn_bytes, 22u);  // {"id":"b","line":4,"te
  CHECK_EQ(loam_cli_test::slurp(path), complete);

  // A clean file is left as it is.
  REQUIRE(loam::batch::scan_existing_output(path, e).is_ok());
  CHECK_EQ(e.torn_bytes, 0u);
  CHECK_EQ(loam_cli_test::slurp(path), complete);
}

TEST_CASE("resume scan refuses a file that is not a batch output, changing nothing") {
  const std::string path = loam_test::temp_dir() + "/foreign.txt";
  const std::string text = "{\"id\":1,\"line\":1,\"text\":\"\",\"stop_reason\":\"eos\"}\n"
                           "hello world\nmore";
  loam_cli_test::write_file(path, text);
  ExistingOutput e;
  const loam::Status st = loam::batch::scan_existing_output(path, e);
  REQUIRE(!st.is_ok());
  CHECK(st.message().find(path + " line 2 is not a loam batch record") != std::string::npos);
  CHECK_EQ(loam_cli_test::slurp(path), text);

  loam_cli_test::write_file(path, "{\"line\":1}\n");
  CHECK(!loam::batch::scan_existing_output(path, e).is_ok());
}
