// SentencePiece BPE merge loop with a priority queue of candidate pairs.
//
// Symbols form a doubly linked list over the text; merging always folds the right symbol into
// the left one. A queued pair is stale once either side has been merged into something else:
// the right side then has length 0, or one side grew so the lengths no longer add up to the
// length recorded when the pair was queued (lengths only grow until a symbol is emptied).
#include "text/spm_bpe.h"

#include <queue>

#include "text/utf8.h"

namespace loam {

namespace {

struct Symbol {
  size_t begin;  // byte offset in the text
  size_t size;   // bytes; 0 once merged into its left neighbour
  int64_t prev;  // index of the neighbouring live symbols, -1 at the ends
  int64_t next;
};

struct Pair {
  float score;
  int64_t left;
  int64_t right;
  size_t size;  // left.size + right.size when queued

  // Priority: higher score first; on equal scores the leftmost pair first (as SentencePiece
  // and llama.cpp do, which the Llama-2 vectors depend on for the many tied whitespace pieces).
  bool operator<(const Pair& o) const {
    if (score != o.score) return score < o.score;
    return left > o.left;
  }
};

class Merger {
 public:
  Merger(const std::string& text, const SpmTables& t) : text_(text), t_(t) {}

  void run(std::vector<int32_t>& out) {
    split_characters();
    for (int64_t i = 1; i < static_cast<int64_t>(symbols_.size()); ++i) try_queue(i - 1, i);
    while (!queue_.empty()) {
      const Pair p = queue_.top();
      queue_.pop();
      Symbol& l = symbols_[p.left];
      Symbol& r = symbols_[p.right];
      if (l.size == 0 || r.size == 0 || l.size + r.size != p.size) continue;  // stale
      l.size += r.size;
      r.size = 0;
      l.next = r.next;
      if (r.next >= 0) symbols_[r.next].prev = p.left;
      try_queue(l.prev, p.left);
      try_queue(p.left, l.next);
    }
    emit(out);
  }

 private:
  void split_characters() {
    const size_t n = text_.size();
    symbols_.reserve(n);
    for (size_t pos = 0; pos < n;) {
      size_t len = utf8::sequence_length_from_lead(static_cast<uint8_t>(text_[pos]));
      if (len > n - pos) len = n - pos;  // a truncated sequence at the end stays one symbol
      const int64_t index = static_cast<int64_t>(symbols_.size());
      symbols_.push_back({pos, len, index - 1, pos + len < n ? index + 1 : -1});
      pos += len;
    }
  }

  // Looks up `size` bytes at `begin`; -1 when not a piece text may produce.
  int32_t lookup(size_t begin, size_t size) {
    key_.assign(text_, begin, size);  // reused buffer: no allocation per lookup
    const auto it = t_.piece_to_id->find(key_);
    return it == t_.piece_to_id->end() ? -1 : it->second;
  }

  void try_queue(int64_t left, int64_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols_[left];
    const Symbol& r = symbols_[right];
    const int32_t id = lookup(l.begin, l.size + r.size);
    if (id < 0) return;
    // A hand-built Vocab may carry fewer scores than pieces; missing scores count as 0.
    const float score = static_cast<size_t>(id) < t_.scores->size() ? (*t_.scores)[id] : 0.0f;
    queue_.push(Pair{score, left, right, l.size + r.size});
  }

  void emit(std::vector<int32_t>& out) {
    // SentencePiece without byte fallback folds a run of unknown characters into one <unk>
    // (so decoding can restore the run as a whole); keep that for vocabularies without bytes.
    bool last_was_unk = false;
    for (int64_t i = symbols_.empty() ? -1 : 0; i >= 0; i = symbols_[i].next) {
      const Symbol& s = symbols_[i];
      const int32_t id = lookup(s.begin, s.size);
      if (id >= 0) {
        out.push_back(id);
        last_was_unk = false;
        continue;
      }
      for (size_t k = 0; k < s.size; ++k) {
        const int32_t byte_id = t_.byte_ids[static_cast<uint8_t>(text_[s.begin + k])];
        if (byte_id >= 0) {
          out.push_back(byte_id);
          last_was_unk = false;
        } else if (t_.unk_id >= 0 && !last_was_unk) {
          out.push_back(t_.unk_id);
          last_was_unk = true;
        }
      }
    }
  }

  const std::string& text_;
  const SpmTables& t_;
  std::vector<Symbol> symbols_;  // [n characters]
  std::priority_queue<Pair> queue_;
  std::string key_;
};

}  // namespace

void spm_encode(const std::string& text, const SpmTables& tables, std::vector<int32_t>& out) {
  Merger(text, tables).run(out);
}

}  // namespace loam
