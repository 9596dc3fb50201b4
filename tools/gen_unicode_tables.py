#!/usr/bin/env python3
"""Generates src/text/unicode_tables.cpp: the Unicode character classes the byte-level BPE
pre-tokenizers need (the \\p{L}, \\p{N} and \\s of the Llama 3 and GPT-2 split regexes).

Usage (from the repository root):
    python3 tools/gen_unicode_tables.py > src/text/unicode_tables.cpp

The data comes from Python's own `unicodedata` module, so the Unicode version of the output is
the one of the Python that runs this script (it is written into the file's header). Only the
standard library is used.

Tables written:
- kCategoryRanges: every code point 0..0x10FFFF grouped into maximal runs of the same major
  general category (L, M, N, P, S, Z, C; unassigned code points are C). The C++ side finds a
  code point's run by binary search.
- kWhiteSpace: the code points of the Unicode White_Space property (what \\s matches in the
  regex engines the reference tokenizers use). unicodedata has no property lookup, so it is
  derived: every Zs/Zl/Zp code point plus U+0009..U+000D and U+0085, which is exactly the
  White_Space list of PropList.txt (U+001C..U+001F, which str.isspace() accepts, are not in it).
"""
import sys
import unicodedata

MAJOR = "LMNPSZC"  # the order of loam::unicode::Category


def major_category(cp):
    return unicodedata.category(chr(cp))[0]


def category_ranges():
    ranges = []
    start, current = 0, major_category(0)
    for cp in range(1, 0x110000):
        c = major_category(cp)
        if c != current:
            ranges.append((start, cp - 1, current))
            start, current = cp, c
    ranges.append((start, 0x10FFFF, current))
    return ranges


def white_space():
    cps = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp")]
    cps += list(range(0x09, 0x0E)) + [0x85]
    return sorted(set(cps))


def main():
    ranges = category_ranges()
    spaces = white_space()
    out = sys.stdout
    out.write("// GENERATED FILE, do not edit: Unicode %s character classes for the byte-level BPE\n"
              % unicodedata.unidata_version)
    out.write("// pre-tokenizers, from Python %s's unicodedata.\n" % sys.version.split()[0])
    out.write("// Regenerate from the repository root with:\n")
    out.write("//   python3 tools/gen_unicode_tables.py > src/text/unicode_tables.cpp\n")
    out.write("// (the Unicode version follows the Python that runs it; see the script's docstring).\n")
    out.write('#include "text/unicode_tables.h"\n\n')
    out.write("namespace loam {\nnamespace unicode {\n\n")
    out.write('const char kUnicodeVersion[] = "%s";\n\n' % unicodedata.unidata_version)
    out.write("// Maximal runs of code points sharing a major general category, in order, covering\n")
    out.write("// 0..0x10FFFF without gaps.\n")
    out.write("const CategoryRange kCategoryRanges[] = {\n")
    for lo, hi, c in ranges:
        out.write("    {0x%X, 0x%X, Category::%s},\n" % (lo, hi, c))
    out.write("};\n")
    out.write("const size_t kCategoryRangeCount = sizeof(kCategoryRanges) / sizeof(kCategoryRanges[0]);\n\n")
    out.write("// The White_Space property, sorted.\n")
    out.write("const uint32_t kWhiteSpace[] = {\n")
    for i in range(0, len(spaces), 8):
        out.write("    " + ", ".join("0x%X" % cp for cp in spaces[i:i + 8]) + ",\n")
    out.write("};\n")
    out.write("const size_t kWhiteSpaceCount = sizeof(kWhiteSpace) / sizeof(kWhiteSpace[0]);\n\n")
    out.write("}  // namespace unicode\n}  // namespace loam\n")


if __name__ == "__main__":
    main()
