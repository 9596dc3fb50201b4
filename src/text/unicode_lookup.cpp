// Lookups into the generated Unicode tables (unicode_tables.cpp). ASCII, the bulk of most text,
// is answered from a small table built once instead of a binary search.
#include <algorithm>

#include "text/unicode_tables.h"

namespace loam {
namespace unicode {

namespace {

Category search_category(uint32_t cp) {
  const CategoryRange* end = kCategoryRanges + kCategoryRangeCount;
  // The first run whose last code point is >= cp holds cp (the runs cover 0..0x10FFFF).
  const CategoryRange* it = std::lower_bound(
      kCategoryRanges, end, cp, [](const CategoryRange& r, uint32_t v) { return r.last < v; });
  return it == end ? Category::C : it->category;
}

struct AsciiTable {
  Category category[128];
  AsciiTable() {
    for (uint32_t cp = 0; cp < 128; ++cp) category[cp] = search_category(cp);
  }
};

}  // namespace

Category category(uint32_t cp) {
  static const AsciiTable ascii;
  if (cp < 128) return ascii.category[cp];
  return search_category(cp);
}

bool is_whitespace(uint32_t cp) {
  return std::binary_search(kWhiteSpace, kWhiteSpace + kWhiteSpaceCount, cp);
}

}  // namespace unicode
}  // namespace loam
