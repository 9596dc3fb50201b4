// How much memory this process may still take, read before anything large is allocated, so that
// a request that cannot fit is refused with a message instead of ending in the OOM killer.
#pragma once

#include <cstdint>
#include <string>

#include "loam/status.h"

namespace loam {

struct MemoryBudget {
  uint64_t available = 0;  // bytes this process can allocate without the system running out
  std::string source;      // where the figure comes from: "MemAvailable", "cgroup memory.max", ...
};

// The smallest of: the kernel's MemAvailable, the room left under the cgroup's memory limit
// (v2 memory.max minus memory.current, or v1 limit_in_bytes minus usage_in_bytes), and
// `max_memory` when it is non-zero (a user's cap, e.g. --max-memory). A limit that cannot be read
// is ignored; when none can be read, available is UINT64_MAX and source "unknown".
MemoryBudget available_memory(uint64_t max_memory = 0);

// Fails with "WHAT needs 13.5 GiB (14495514624 bytes) but 8.0 GiB are available (MemAvailable)"
// when `needed` exceeds the budget.
Status check_memory(const std::string& what, uint64_t needed, const MemoryBudget& budget);

// Parses a size such as "512M", "8G", "1.5GiB", "4096" (bytes); K/M/G/T are powers of 1024.
bool parse_byte_size(const std::string& text, uint64_t& out);

// "13.5 GiB", "880 MiB".
std::string describe_bytes(uint64_t bytes);

}  // namespace loam
