#include "model/interleave_weights.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <system_error>
#include <thread>
#include <vector>

#include "core/mmap_file.h"
#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "loam/session.h"
#include "quant/interleave.h"

namespace loam {

namespace {

// interleave_rows split by groups over the cores: the copy (and the first touch of every page of
// the new buffer and of the mapping) is most of the load time of a model with interleaved weights.
void interleave_rows_parallel(const Tensor& t, int64_t n_groups, uint8_t* dst) {
  constexpr int64_t kMinGroupsPerThread = 64;
  const int n = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(default_thread_count(), n_groups / kMinGroupsPerThread)));
  const uint8_t* src = static_cast<const uint8_t*>(t.data);
  const size_t src_group = kInterleaveRows * t.row_bytes();
  const size_t dst_group = interleaved_group_bytes(t.type, t.cols());
  auto part = [&](int i) {
    int64_t begin, end;
    ThreadPool::split(n_groups, 1, i, n, begin, end);
    interleave_rows(t.type, src + begin * src_group, t.cols(), end - begin, dst + begin * dst_group);
  };
  std::vector<std::thread> helpers;
  int started = 1;
  try {
    for (; started < n; ++started) helpers.emplace_back(part, started);
  } catch (const std::system_error&) {
    // No more threads to be had: the parts not handed out run here.
  }
  for (int i = started; i < n; ++i) part(i);
  part(0);
  for (std::thread& h : helpers) h.join();
}

// Memory for a copy of weights, in 2 MiB pages where the kernel gives them (transparent huge pages
// in "madvise" mode): decode streams every weight once per token, and 4 KiB pages cost a TLB miss
// every 4 KiB of that stream. Measured on the Intel Xeon of issue 8 (2 threads, TinyLlama shape,
// tg64, 3 alternating rounds): interleaved Q4_0 38.3 -> 40.8 tok/s, Q4_K_M 32.4 -> 33.4. Not
// zero-filled (the caller writes every byte); nullptr when the memory cannot be had.
// Only the whole 2 MiB pages get the advice: a huge page over the tail would take up to 2 MiB more
// resident memory per tensor than the copy's bytes (TinyLlama has 155 such tensors).
std::shared_ptr<uint8_t> weight_buffer(size_t bytes) {
  constexpr size_t kHuge = size_t{1} << 21;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, bytes) != 0) return nullptr;
  std::shared_ptr<uint8_t> buf(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
#ifdef MADV_HUGEPAGE
  if (bytes >= kHuge) (void)madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);
#endif
  return buf;
}

// Bytes of the interleaved copy of `t` that interleave_tensor makes; 0 when it makes none.
size_t interleaved_copy_bytes(const Tensor& t) {
  const TypeKernels& tk = kernels().weights[static_cast<uint32_t>(t.type)];
  if (!tk.prefer_interleaved || !has_interleaved_layout(t.type) || t.interleaved != nullptr)
    return 0;
  const int64_t n_groups = t.rows() / kInterleaveRows;
  return static_cast<size_t>(n_groups) * interleaved_group_bytes(t.type, t.cols());
}

Status interleave_tensor(Model& m, Tensor& t, bool keep_mapped) {
  const size_t bytes = interleaved_copy_bytes(t);
  if (bytes == 0) return Status::ok();
  const int64_t n_groups = t.rows() / kInterleaveRows;
  // Not zero-filled first (every byte is written below, by several threads).
  std::shared_ptr<uint8_t> buf = weight_buffer(bytes);
  if (!buf) {
    return Status::error(m.path + ": out of memory interleaving " + t.name + " (" +
                         std::to_string(bytes >> 20) + " MiB); --no-repack avoids the copy");
  }
  interleave_rows_parallel(t, n_groups, buf.get());
  t.interleaved = buf.get();
  m.interleaved_bytes += bytes;
  // The file's copy of those rows is no longer read (the tail rows past the last group still are).
  if (!keep_mapped && m.mapping)
    m.mapping->release(t.data, static_cast<size_t>(n_groups) * kInterleaveRows * t.row_bytes());
  m.interleaved_buffers.push_back(std::move(buf));
  return Status::ok();
}

// Bytes of the plain copy of `t` that copy_tensor makes: an F16 weight matrix read from a model
// file's mapping is copied whole (the one type this was measured on; the others with no
// interleaved copy, F32, BF16, Q4_1, Q5_0 and Q5_1, stay in the mapping). Not weights already in
// anonymous memory (a model built in memory, or converted at load), nor an output matrix that is
// also the token embedding (the mapping stays for that, and a copy would only add memory).
size_t plain_copy_bytes(const Model& m, const Tensor& t) {
  if (t.type != DType::F16 || t.data == nullptr || t.interleaved != nullptr) return 0;
  if (&t == &m.output && m.output.data == m.tok_embd.data) return 0;
  if (!m.mapping || m.mapping->anonymous_memory()) return 0;
  const uintptr_t p = reinterpret_cast<uintptr_t>(t.data), lo = reinterpret_cast<uintptr_t>(m.mapping->data());
  if (p < lo || p - lo > m.mapping->size() || t.nbytes > m.mapping->size() - (p - lo)) return 0;
  return t.nbytes;
}

// The kernels then read `t` from anonymous memory in huge pages (weight_buffer) instead of the
// file's page cache. F16 TinyLlama shape on the Intel Xeon of issue 8, tg64, 2 threads, 3
// alternating rounds: 12.8 -> 14.2 tok/s.
Status copy_tensor(Model& m, Tensor& t, bool keep_mapped) {
  const size_t bytes = plain_copy_bytes(m, t);
  if (bytes == 0) return Status::ok();
  std::shared_ptr<uint8_t> buf = weight_buffer(bytes);
  if (!buf) {
    return Status::error(m.path + ": out of memory copying " + t.name + " (" + std::to_string(bytes >> 20) +
                         " MiB); --no-repack avoids the copy");
  }
  std::memcpy(buf.get(), t.data, bytes);
  if (!keep_mapped && m.mapping) m.mapping->release(t.data, bytes);
  t.data = buf.get();
  m.interleaved_bytes += bytes;
  m.interleaved_buffers.push_back(std::move(buf));
  return Status::ok();
}

// Interleaved where the kernels prefer that layout, else copied as it is.
Status repack_tensor(Model& m, Tensor& t, bool keep_mapped) {
  LOAM_TRY(interleave_tensor(m, t, keep_mapped));
  return copy_tensor(m, t, keep_mapped);
}

}  // namespace

Status interleave_weights(Model& m) {
  for (LayerWeights& l : m.layers) {
    for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      LOAM_TRY(repack_tensor(m, *t, false));
  }
  // With tied embeddings the output matrix is also read row by row as the token embedding.
  const bool tied = m.output.data == m.tok_embd.data;
  return repack_tensor(m, m.output, tied);
}

uint64_t interleaved_weight_bytes(const Model& m) {
  uint64_t total = 0;
  for (const LayerWeights& l : m.layers) {
    for (const Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      total += interleaved_copy_bytes(*t) + plain_copy_bytes(m, *t);
  }
  return total + interleaved_copy_bytes(m.output) + plain_copy_bytes(m, m.output);
}

}  // namespace loam
