#include "batch/batch_output.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "batch/batch_input.h"

namespace loam::batch {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kEos: return "eos";
    case StopReason::kLength: return "length";
    case StopReason::kStop: return "stop";
    case StopReason::kContext: return "context";
    case StopReason::kError: return "error";
  }
  return "error";
}

std::string format_record(const BatchRecord& r) {
  json::Object fields;
  fields.emplace_back("id", r.id);
  fields.emplace_back("line", r.line);
  fields.emplace_back("text", r.text);  // serialize() quotes it, replacing ill-formed bytes
  if (!json::is_valid_utf8(r.text)) {
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(r.text.size() * 2);
    for (unsigned char c : r.text) {
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    fields.emplace_back("text_hex", std::move(hex));
  }
  fields.emplace_back("tokens_prompt", r.tokens_prompt);
  fields.emplace_back("tokens_generated", r.tokens_generated);
  fields.emplace_back("stop_reason", stop_reason_name(r.stop_reason));
  fields.emplace_back("ms", std::round(r.ms * 10.0) / 10.0);
  if (r.stop_reason == StopReason::kError) fields.emplace_back("error", r.error);
  return json::serialize(json::Value(std::move(fields))) + "\n";
}

std::string id_key(const json::Value& id) { return json::serialize(id); }

Status scan_existing_output(const std::string& path, ExistingOutput& out) {
  out = ExistingOutput{};
  // A pipe, a terminal or /dev/null holds nothing to resume (and reading one could block).
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return Status::ok();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    if (errno == ENOENT) return Status::ok();
    return Status::error(path + ": cannot open the existing output to resume: " +
                         std::strerror(errno));
  }
  // Records can hold a whole context of text; 64 MiB bounds one line far above that.
  LineReader reader(file.get(), size_t(64) << 20);
  std::string line;
  uint64_t complete_bytes = 0;  // offset just after the last complete line
  for (;;) {
    const LineReader::Result res = reader.next(line);
    if (res == LineReader::Result::kEnd) break;
    if (res == LineReader::Result::kError) {
      return Status::error(path + ": reading the existing output failed: " + std::strerror(errno));
    }
    if (!reader.terminated()) {
      // Torn by a kill mid-write: the record's '\n' is its last byte, so a line without one
      // was never completely written.
      out.torn_bytes = reader.offset() - complete_bytes;
      break;
    }
    const std::string at = path + " line " + std::to_string(reader.line_number());
    if (res == LineReader::Result::kTooLong) {
      return Status::error(at + " is longer than any batch record: not a loam batch output, "
                           "not resuming into it");
    }
    complete_bytes = reader.offset();
    json::Value rec;
    const Status parsed = json::parse(line, rec);
    const json::Value* id = parsed ? rec.find("id") : nullptr;
    const json::Value* reason = parsed ? rec.find("stop_reason") : nullptr;
    if (id == nullptr || reason == nullptr || !reason->is_string()) {
      return Status::error(at + " is not a loam batch record (" +
                           (parsed ? std::string("no id or stop_reason") : parsed.message()) +
                           "): not resuming into this file; pick another -o");
    }
    ++out.ids[id_key(*id)];
    ++out.records;
    if (reason->as_string() == "error") ++out.failed;
    if (const json::Value* n = rec.find("tokens_prompt")) out.prompt_tokens += n->as_int64();
    if (const json::Value* n = rec.find("tokens_generated")) out.generated_tokens += n->as_int64();
  }
  file.reset();
  if (out.torn_bytes > 0 && ::truncate(path.c_str(), static_cast<off_t>(complete_bytes)) != 0) {
    return Status::error(path + ": cannot cut off the torn last line: " + std::strerror(errno));
  }
  return Status::ok();
}

Status OrderedWriter::complete(uint64_t ordinal, std::string line) {
  waiting_.emplace(ordinal, std::move(line));
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_;
       it = waiting_.erase(it)) {
    const std::string& text = it->second;
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0) {
      return Status::error(std::string("writing a record failed: ") + std::strerror(errno));
    }
    ++next_;
  }
  return Status::ok();
}

}  // namespace loam::batch
