#include "cli/args.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

namespace loam::cli {

bool parse_int64(const std::string& s, int64_t& out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

bool parse_uint64(const std::string& s, uint64_t& out) {
  // strtoull accepts "-1" (wrapping it); only plain digits are an unsigned number here.
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

bool parse_float(const std::string& s, float& out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  if (std::fabs(v) > std::numeric_limits<float>::max()) return false;
  out = static_cast<float>(v);
  return true;
}

ArgParser::ArgParser(std::string command, std::string usage, std::string about)
    : command_(std::move(command)), usage_(std::move(usage)), about_(std::move(about)) {}

void ArgParser::add(Option opt) { options_.push_back(std::move(opt)); }

void ArgParser::flag(const std::string& short_name, const std::string& long_name,
                     const std::string& help, bool* out) {
  add({short_name, long_name, "", help, [out](const std::string&) {
         *out = true;
         return Status::ok();
       }});
}

void ArgParser::text(const std::string& short_name, const std::string& long_name,
                     const std::string& metavar, const std::string& help, std::string* out) {
  add({short_name, long_name, metavar, help, [out](const std::string& v) {
         *out = v;
         return Status::ok();
       }});
}

namespace {
std::string flag_name(const std::string& short_name, const std::string& long_name) {
  return short_name.empty() ? long_name : short_name;
}
}  // namespace

void ArgParser::integer(const std::string& short_name, const std::string& long_name,
                        const std::string& metavar, const std::string& help, int* out,
                        int min_value, int max_value) {
  const std::string name = flag_name(short_name, long_name);
  add({short_name, long_name, metavar, help, [=](const std::string& v) {
         int64_t x = 0;
         if (!parse_int64(v, x) || x < min_value || x > max_value) {
           std::string range = "an integer >= " + std::to_string(min_value);
           if (max_value != std::numeric_limits<int>::max()) {
             range = "an integer in [" + std::to_string(min_value) + ", " +
                     std::to_string(max_value) + "]";
           }
           return Status::error(name + " expects " + range + ", got '" + v + "'");
         }
         *out = static_cast<int>(x);
         return Status::ok();
       }});
}

void ArgParser::number(const std::string& short_name, const std::string& long_name,
                       const std::string& metavar, const std::string& help, float* out,
                       float min_value, float max_value) {
  const std::string name = flag_name(short_name, long_name);
  add({short_name, long_name, metavar, help, [=](const std::string& v) {
         float x = 0.0f;
         if (!parse_float(v, x) || x < min_value || x > max_value) {
           std::string what = "a number";
           const bool has_min = min_value > -std::numeric_limits<float>::max();
           const bool has_max = max_value < std::numeric_limits<float>::max();
           auto fmt = [](float f) {
             std::string s = std::to_string(f);
             while (s.size() > 1 && s.back() == '0') s.pop_back();
             if (!s.empty() && s.back() == '.') s.pop_back();
             return s;
           };
           if (has_min && has_max) {
             what += " in [" + fmt(min_value) + ", " + fmt(max_value) + "]";
           } else if (has_min) {
             what += " >= " + fmt(min_value);
           }
           return Status::error(name + " expects " + what + ", got '" + v + "'");
         }
         *out = x;
         return Status::ok();
       }});
}

void ArgParser::custom(const std::string& short_name, const std::string& long_name,
                       const std::string& metavar, const std::string& help,
                       std::function<Status(const std::string& value)> set) {
  add({short_name, long_name, metavar, help, std::move(set)});
}

void ArgParser::positionals(const std::string& metavar, const std::string& help,
                            std::vector<std::string>* out, size_t max_count) {
  positional_metavar_ = metavar;
  positional_help_ = help;
  positionals_ = out;
  max_positionals_ = max_count;
}

ArgParser::Option* ArgParser::find(const std::string& name) {
  for (Option& opt : options_) {
    if (name == opt.long_name || (!opt.short_name.empty() && name == opt.short_name)) return &opt;
  }
  return nullptr;
}

bool ArgParser::given(const std::string& long_name) const {
  for (const Option& opt : options_) {
    if (opt.long_name == long_name) return opt.given;
  }
  return false;
}

ArgParser::Outcome ArgParser::parse(int argc, char** argv, int first) {
  auto fail = [this](std::string message) {
    error_ = std::move(message);
    return Outcome::kError;
  };
  auto positional = [&](const std::string& arg) {
    if (positionals_ == nullptr || positionals_->size() >= max_positionals_) {
      return fail("unexpected argument '" + arg + "'");
    }
    positionals_->push_back(arg);
    return Outcome::kOk;
  };

  bool only_positionals = false;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    if (only_positionals || arg.size() < 2 || arg[0] != '-') {
      if (positional(arg) == Outcome::kError) return Outcome::kError;
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") return Outcome::kHelp;

    std::string name = arg;
    std::string value;
    bool has_inline_value = false;
    const size_t eq = arg.find('=');
    if (arg.compare(0, 2, "--") == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_inline_value = true;
    }
    Option* opt = find(name);
    if (opt == nullptr) return fail("unknown option '" + name + "'");
    if (opt->metavar.empty()) {
      if (has_inline_value) return fail("option '" + name + "' takes no value");
    } else if (!has_inline_value) {
      if (i + 1 >= argc) return fail("option '" + name + "' needs a value (" + opt->metavar + ")");
      value = argv[++i];
    }
    const Status st = opt->set(value);
    if (!st) return fail(st.message());
    opt->given = true;
  }
  return Outcome::kOk;
}

std::string ArgParser::help_text() const {
  std::string out = "usage: " + usage_ + "\n";
  if (!about_.empty()) out += "\n" + about_ + "\n";

  std::vector<std::pair<std::string, std::string>> rows;
  if (positionals_ != nullptr && !positional_help_.empty()) {
    rows.emplace_back(positional_metavar_, positional_help_);
  }
  for (const Option& opt : options_) {
    std::string left = opt.short_name.empty() ? "    " : opt.short_name;
    if (!opt.short_name.empty() && !opt.long_name.empty()) left += ", ";
    left += opt.long_name;
    if (!opt.metavar.empty()) left += " " + opt.metavar;
    rows.emplace_back(left, opt.help);
  }
  rows.emplace_back("-h, --help", "show this help and exit");

  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  out += "\noptions:\n";
  for (const auto& r : rows) {
    out += "  " + r.first + std::string(width - r.first.size() + 2, ' ') + r.second + "\n";
  }
  if (!epilog_.empty()) out += "\n" + epilog_ + "\n";
  return out;
}

}  // namespace loam::cli
