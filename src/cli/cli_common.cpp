#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/cli.h"
#include "kernels/kernels.h"
#include "model/load_hf.h"

namespace loam::cli {

namespace {

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

constexpr const char* kGetModelHint =
    "models/README.md lists downloadable models; models/download.sh NAME fetches one";

}  // namespace

int runtime_error(const std::string& message) {
  std::fprintf(stderr, "loam: error: %s\n", one_line(message).c_str());
  return kExitRuntime;
}

int usage_error(const std::string& command, const std::string& message) {
  const std::string help = command.empty() ? "loam --help" : "loam " + command + " --help";
  std::fprintf(stderr, "loam: error: %s (see '%s')\n", one_line(message).c_str(), help.c_str());
  return kExitUsage;
}

int finish_parse(const ArgParser& parser, ArgParser::Outcome outcome) {
  switch (outcome) {
    case ArgParser::Outcome::kHelp:
      std::fputs(parser.help_text().c_str(), stdout);
      return kExitOk;
    case ArgParser::Outcome::kError:
      return usage_error(parser.command(), parser.error());
    case ArgParser::Outcome::kOk:
      break;
  }
  return -1;
}

void log_line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

Status default_model_path(std::string& out) {
  if (const char* env = std::getenv("LOAM_MODEL"); env != nullptr && env[0] != '\0') {
    out = env;
    return Status::ok();
  }
  // The conventional place is ./models/ relative to where the user runs loam (the repo root).
  std::vector<std::string> found;
  if (DIR* dir = opendir("models")) {
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      struct stat st;
      const std::string path = "models/" + name;
      if (ends_with(name, ".gguf") && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        found.push_back(path);
      }
    }
    closedir(dir);
  }
  std::sort(found.begin(), found.end());
  if (found.size() == 1) {
    out = found[0];
    return Status::ok();
  }
  if (found.size() > 1) {
    std::string list;
    for (const std::string& f : found) list += (list.empty() ? "" : ", ") + f;
    return Status::error("several .gguf files in ./models/ (" + list + "): choose one with -m");
  }
  return Status::error(std::string("no model given: pass -m MODEL, set LOAM_MODEL, or put one "
                                   ".gguf file in ./models/; ") + kGetModelHint);
}

Status select_isa() {
  return select_kernels("");
}

Status load_model_timed(const std::string& path, const std::string& tokenizer_path, bool repack,
                        std::shared_ptr<Model>& out, double& ms) {
  Stopwatch clock;
  auto model = std::make_shared<Model>();
  LoadOptions options;
  options.tokenizer_path = tokenizer_path;
  options.interleave = repack;
  // A Hugging Face directory (or a .safetensors file beside its config.json) or a model file.
  LOAM_TRY(load_any_model(path, options, *model));
  ms = clock.ms();
  out = std::move(model);
  return Status::ok();
}

Status load_model_or_vocab_timed(const std::string& path, const std::string& tokenizer_path,
                                 std::shared_ptr<Model>& out, double& ms) {
  Stopwatch clock;
  auto model = std::make_shared<Model>();
  bool vocab_only = false;
  LOAM_TRY(load_vocab_only_gguf(path, *model, vocab_only));
  if (!vocab_only) return load_model_timed(path, tokenizer_path, false, out, ms);
  ms = clock.ms();
  out = std::move(model);
  return Status::ok();
}

std::string describe_repack(const Model& model) {
  if (model.interleaved_bytes == 0) return "";
  return "; repacked " + format_bytes(model.interleaved_bytes) +
         " of weights for faster kernels (--no-repack: keep them in the mapping)";
}

Status require_vocab(const Model& model, const std::string& command) {
  if (!model.vocab.empty()) return Status::ok();
  if (model.format == "llama2c") {
    return Status::error(model.path + " is a llama2.c checkpoint without a vocabulary: 'loam " +
                         command + "' needs --tokenizer TOKENIZER.bin (without one, only 'loam "
                         "logits --tokens ...' works)");
  }
  return Status::error(model.path + " has no vocabulary (tokenizer.ggml.tokens): 'loam " +
                       command + "' needs one (only 'loam logits --tokens ...' works)");
}

Status read_file_text(const std::string& path, std::string& out) {
  out.clear();
  FILE* f = stdin;
  if (path != "-") {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      return Status::error(path + ": " + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return Status::error(path + ": is a directory");
    f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Status::error(path + ": " + std::strerror(errno));
  }
  char buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  if (f != stdin) std::fclose(f);
  if (failed) return Status::error((path == "-" ? std::string("stdin") : path) + ": read error");
  return Status::ok();
}

Status parse_token_list(const std::string& text, std::vector<int32_t>& out) {
  out.clear();
  size_t i = 0;
  auto is_sep = [](char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); };
  while (i < text.size()) {
    while (i < text.size() && is_sep(text[i])) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && !is_sep(text[j])) ++j;
    const std::string item = text.substr(i, j - i);
    uint64_t id = 0;
    if (!parse_uint64(item, id) || id > 0x7fffffffull) {
      return Status::error("--tokens expects token ids (integers >= 0) separated by commas, got '" +
                           item + "'");
    }
    out.push_back(static_cast<int32_t>(id));
    i = j;
  }
  if (out.empty()) return Status::error("--tokens expects at least one token id");
  return Status::ok();
}

std::string format_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f %s" : "%.2f %s", bytes, kUnits[unit]);
  return buf;
}

std::string format_count(double count) {
  char buf[64];
  if (count >= 1e9) {
    std::snprintf(buf, sizeof(buf), "%.2f B", count / 1e9);
  } else if (count >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2f M", count / 1e6);
  } else if (count >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.2f K", count / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", count);
  }
  return buf;
}

}  // namespace loam::cli
