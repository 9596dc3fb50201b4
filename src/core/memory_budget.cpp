#include "core/memory_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

namespace loam {

namespace {

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

// The first number in a file ("max" or a missing file gives kUnlimited).
uint64_t read_u64_file(const std::string& path) {
  std::ifstream f(path);
  std::string word;
  if (!(f >> word) || word == "max") return kUnlimited;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(word.c_str(), &end, 10);
  return (end && *end == '\0') ? v : kUnlimited;
}

uint64_t mem_available_from_proc() {
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  uint64_t kib = 0;
  while (f >> key >> kib) {
    std::getline(f, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return kUnlimited;
}

// This process's cgroup path relative to the hierarchy root: "0::/user.slice/..." (v2) or the
// "memory" controller's line (v1).
std::string own_cgroup(bool v2) {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (v2 ? controllers.empty() : (controllers.find("memory") != std::string::npos))
      return line.substr(b + 1);
  }
  return "";
}

// Room left under a limit; kUnlimited when there is no limit.
uint64_t room(uint64_t limit, uint64_t usage) {
  if (limit == kUnlimited) return kUnlimited;
  if (usage == kUnlimited) usage = 0;
  return limit > usage ? limit - usage : 0;
}

// The room under one controller's limit, checking this process's own cgroup directory and each
// ancestor up to the mount point (a limit on an ancestor binds too). Inside a container the mount
// may already be the process's cgroup, in which case the path from /proc/self/cgroup does not
// exist under it and only the mount's own files are read.
uint64_t cgroup_room_under(const std::string& mount, const std::string& own, const char* limit_file,
                           const char* usage_file) {
  uint64_t best = kUnlimited;
  std::string dir = own;
  while (true) {
    const std::string base = mount + (dir == "/" ? std::string() : dir);
    uint64_t limit = read_u64_file(base + "/" + limit_file);
    // v1 reports "no limit" as a huge page-aligned number.
    if (limit >= (uint64_t(1) << 62)) limit = kUnlimited;
    best = std::min(best, room(limit, read_u64_file(base + "/" + usage_file)));
    if (dir.empty() || dir == "/") break;
    const size_t slash = dir.rfind('/');
    dir = slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
  }
  return best;
}

uint64_t cgroup_room(std::string& source) {
  uint64_t best = kUnlimited;
  const std::string v2 = own_cgroup(true);
  if (!v2.empty()) {
    const uint64_t r = cgroup_room_under("/sys/fs/cgroup", v2, "memory.max", "memory.current");
    if (r < best) {
      best = r;
      source = "cgroup memory.max";
    }
  }
  const std::string v1 = own_cgroup(false);
  if (!v1.empty()) {
    const uint64_t r = cgroup_room_under("/sys/fs/cgroup/memory", v1, "memory.limit_in_bytes",
                                         "memory.usage_in_bytes");
    if (r < best) {
      best = r;
      source = "cgroup memory.limit_in_bytes";
    }
  }
  return best;
}

}  // namespace

MemoryBudget available_memory(uint64_t max_memory) {
  MemoryBudget b;
  b.available = kUnlimited;
  b.source = "unknown";
  const uint64_t meminfo = mem_available_from_proc();
  if (meminfo < b.available) {
    b.available = meminfo;
    b.source = "MemAvailable";
  }
  std::string cg_source;
  const uint64_t cg = cgroup_room(cg_source);
  if (cg < b.available) {
    b.available = cg;
    b.source = cg_source;
  }
  if (max_memory != 0 && max_memory < b.available) {
    b.available = max_memory;
    b.source = "--max-memory";
  }
  return b;
}

std::string describe_bytes(uint64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

Status check_memory(const std::string& what, uint64_t needed, const MemoryBudget& budget) {
  if (needed <= budget.available) return Status::ok();
  return Status::error(what + " needs " + describe_bytes(needed) + " (" + std::to_string(needed) +
                       " bytes) but " + describe_bytes(budget.available) + " (" +
                       std::to_string(budget.available) + " bytes) are available (" +
                       budget.source + ")");
}

bool parse_byte_size(const std::string& text, uint64_t& out) {
  if (text.empty() || !(text[0] >= '0' && text[0] <= '9')) return false;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  std::string unit(end);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) {
    unit.pop_back();
    if (!unit.empty() && (unit.back() == 'i')) unit.pop_back();
  }
  double scale = 1;
  if (unit == "") scale = 1;
  else if (unit == "K" || unit == "k") scale = 1024.0;
  else if (unit == "M" || unit == "m") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t") scale = 1024.0 * 1024 * 1024 * 1024;
  else return false;
  const double bytes = v * scale;
  if (!std::isfinite(bytes) || bytes < 1 || bytes >= 1.8e19) return false;
  out = static_cast<uint64_t>(bytes);
  return true;
}

}  // namespace loam
