// The generated Unicode tables (src/text/unicode_tables.cpp): their shape (sorted runs covering
// every code point) and the class of hand-picked code points, checked against the Unicode
// Character Database entries for them.
#include <string>

#include "harness/test.h"
#include "text/unicode_tables.h"

using loam::unicode::Category;

TEST_CASE("unicode_tables_cover_every_code_point_once") {
  using namespace loam::unicode;
  REQUIRE(kCategoryRangeCount > 100);
  CHECK_EQ(kCategoryRanges[0].first, 0u);
  CHECK_EQ(kCategoryRanges[kCategoryRangeCount - 1].last, 0x10FFFFu);
  for (size_t i = 0; i < kCategoryRangeCount; ++i) {
    CHECK(kCategoryRanges[i].first <= kCategoryRanges[i].last);
    if (i > 0) {
      CHECK_EQ(kCategoryRanges[i].first, kCategoryRanges[i - 1].last + 1);
      // Maximal runs: neighbours differ.
      CHECK(kCategoryRanges[i].category != kCategoryRanges[i - 1].category);
    }
  }
  for (size_t i = 1; i < kWhiteSpaceCount; ++i) CHECK(kWhiteSpace[i - 1] < kWhiteSpace[i]);
  CHECK(std::string(kUnicodeVersion).size() >= 5);
}

TEST_CASE("unicode_categories_of_chosen_code_points") {
  using loam::unicode::category;
  struct Expect {
    uint32_t cp;
    Category c;
  };
  const Expect cases[] = {
      {'A', Category::L},     {'z', Category::L},     {0xE9, Category::L},   // é Ll
      {0xAA, Category::L},                                                     // ª Lo
      {0x416, Category::L},   {0x4E2D, Category::L},  {0x01C5, Category::L},  // Ж, 中, ǅ Lt
      {0x02B0, Category::L},                                                   // ʰ Lm
      {0x1D538, Category::L},                                                  // 𝔸 Lu
      {'0', Category::N},     {'9', Category::N},     {0xBD, Category::N},    // ½ No
      {0x663, Category::N},   {0x216B, Category::N},  {0x2460, Category::N},  // ٣, Ⅻ, ①
      {0x301, Category::M},   {0x93F, Category::M},   // combining acute Mn, ि Mc
      {'!', Category::P},     {'(', Category::P},     {'_', Category::P},
      {0x2019, Category::P},  {'$', Category::S},     {'+', Category::S},
      {0x20AC, Category::S},  {0x1F999, Category::S},
      {' ', Category::Z},     {0xA0, Category::Z},    {0x3000, Category::Z},  {0x2028, Category::Z},
      {'\t', Category::C},    {0x85, Category::C},    {0xFEFF, Category::C},  {0x200D, Category::C},
      {0xD800, Category::C},  {0xE000, Category::C},  {0x10FFFF, Category::C},
      {0x110000, Category::C},  // beyond Unicode
  };
  for (const Expect& e : cases) {
    if (category(e.cp) != e.c) {
      loam_test::record_failure(__FILE__, __LINE__,
                                "category of U+" + std::to_string(e.cp) + " (decimal) is wrong");
    }
  }
  CHECK(loam::unicode::is_letter(0xE9));
  CHECK(!loam::unicode::is_letter('5'));
  CHECK(loam::unicode::is_number(0xBD));
}

TEST_CASE("unicode_white_space_property") {
  using loam::unicode::is_whitespace;
  for (uint32_t cp : {0x9u, 0xAu, 0xBu, 0xCu, 0xDu, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u,
                      0x200Au, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u}) {
    CHECK(is_whitespace(cp));
  }
  // Not White_Space: the information separators str.isspace() accepts, zero-width characters,
  // the BOM, letters.
  for (uint32_t cp : {0x1Cu, 0x1Fu, 0x200Bu, 0x200Du, 0xFEFFu, 0x180Eu, 0x61u, 0u}) {
    CHECK(!is_whitespace(cp));
  }
}
