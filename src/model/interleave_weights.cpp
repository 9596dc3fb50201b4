#include "model/interleave_weights.h"

#include <new>
#include <vector>

#include "core/mmap_file.h"
#include "kernels/kernels.h"
#include "quant/interleave.h"

namespace loam {

namespace {

Status interleave_tensor(Model& m, Tensor& t, bool keep_mapped) {
  const TypeKernels& tk = kernels().weights[static_cast<uint32_t>(t.type)];
  if (!tk.prefer_interleaved || !has_interleaved_layout(t.type) || t.interleaved != nullptr)
    return Status::ok();
  const int64_t n_groups = t.rows() / kInterleaveRows;
  if (n_groups == 0) return Status::ok();
  const size_t bytes = static_cast<size_t>(n_groups) * interleaved_group_bytes(t.type, t.cols());
  std::shared_ptr<std::vector<uint8_t>> buf;
  try {
    buf = std::make_shared<std::vector<uint8_t>>(bytes);
  } catch (const std::bad_alloc&) {
    return Status::error(m.path + ": out of memory interleaving " + t.name + " (" +
                         std::to_string(bytes >> 20) + " MiB); --no-repack avoids the copy");
  }
  interleave_rows(t.type, static_cast<const uint8_t*>(t.data), t.cols(), n_groups, buf->data());
  t.interleaved = buf->data();
  m.interleaved_bytes += bytes;
  // The file's copy of those rows is no longer read (the tail rows past the last group still are).
  if (!keep_mapped && m.mapping)
    m.mapping->release(t.data, static_cast<size_t>(n_groups) * kInterleaveRows * t.row_bytes());
  m.owned_buffers.push_back(std::move(buf));
  return Status::ok();
}

}  // namespace

Status interleave_weights(Model& m) {
  for (LayerWeights& l : m.layers) {
    for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      LOAM_TRY(interleave_tensor(m, *t, false));
  }
  // With tied embeddings the output matrix is also read row by row as the token embedding.
  const bool tied = m.output.data == m.tok_embd.data;
  return interleave_tensor(m, m.output, tied);
}

}  // namespace loam
