// Measures how fast this machine streams memory into the cores, for reporting decode speed as a
// fraction of what the hardware allows (measured in the same run as the thing compared with it).
#pragma once

#include <cstddef>

namespace loam {

class ThreadPool;

struct BandwidthResult {
  double read_gbs = 0;  // best of the passes, GB/s (1e9 bytes per second)
  size_t bytes = 0;     // size of the buffer streamed per pass
};

// Streams a buffer of `bytes` (rounded down to 4 KiB) `passes` times with every thread of the
// pool reading its own contiguous part, in three patterns (one stream, four streams, and the
// selected F32 matrix-vector kernel), and keeps the fastest pass. Use a buffer far larger than
// the last-level cache (1 GiB or more).
BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes);

}  // namespace loam
