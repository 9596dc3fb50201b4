#!/usr/bin/env bash
# Rule 1 of docs/ARCHITECTURE.md, checked on the object files: code compiled with ISA flags
# (src/kernels/x86_avx2, x86_avx512, arm_neon) must not define a symbol that generic code could
# end up using. The danger is the weak / COMDAT definition (an inline function, a template
# instantiation, a static local of one): every translation unit that uses it emits a copy and the
# linker keeps any one of them, possibly the one compiled with -mavx512f, for all callers: SIGILL
# on an older CPU. Without inlining (-O0, sanitizers) such copies are always emitted, so run this
# on a -O0 build (e.g. build/debug-clang) as well as on optimized ones.
#
# Usage: .ci/check_isa_symbols.sh BUILD_DIR...   (CMake build directories; NM=... picks nm)
#
# The rule, per object file of an ISA directory:
#   - a weak / COMDAT / unique symbol (nm types W, V, u, i) must be inside the namespace of that
#     object's flag set: loam::avx2 (x86_avx2), loam::avx512 (x86_avx512), loam::neon (arm_neon,
#     ARMv8.0). Other objects with the same flags are the only ones that can emit the same name.
#     arm_neon/*_dotprod.cpp is compiled with +dotprod but shares loam::neon with the ARMv8.0
#     files, so there no weak symbol is allowed at all.
#   - a strong global symbol (T, D, B, R, ...) must be inside loam::avx2 / avx512 / neon: only
#     dispatch may call into ISA code, through names that say which ISA they need.
#   - std:: is not exempt: std::min<float> or std::vector<float>::operator[] instantiated in an ISA
#     file is the same COMDAT as the generic code's, and at -O0 with -mavx2 its float moves are
#     already VEX-encoded (vmovss). ISA files keep to intrinsics, raw pointers and their own
#     anonymous-namespace helpers (internal linkage: nm type t, never merged).
# The one exception is DW.ref.__gxx_personality_v0: data (a pointer to the C++ personality
# routine, the same bytes whatever the flags), emitted by PIC code with exception tables.
# Exits 1 and prints every offending symbol, or 1 when no ISA object file was found at all.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 BUILD_DIR..." >&2
  exit 2
fi
nm_tool=${NM:-nm}
checked=0
failed=0

for build in "$@"; do
  kernels="$build/CMakeFiles/loam_core.dir/src/kernels"
  for obj in "$kernels"/x86_avx2/*.o "$kernels"/x86_avx512/*.o "$kernels"/arm_neon/*.o; do
    [ -e "$obj" ] || continue
    case "$obj" in
      */x86_avx2/*) ns=avx2 weak_ok=1 ;;
      */x86_avx512/*) ns=avx512 weak_ok=1 ;;
      */arm_neon/*_dotprod.cpp.o) ns=neon weak_ok=0 ;;
      */arm_neon/*) ns=neon weak_ok=1 ;;
    esac
    checked=$((checked + 1))
    # Mangled names: loam::<ns>::x is _ZN<cv/ref qualifiers>4loam<len><ns>..., possibly behind
    # a special-name prefix (vtable, typeinfo, guard variable, thunk, local entity _ZZ).
    in_ns="^_Z(T[VTISHW]|G[VR]|Thn?[0-9]+_|Tvn?[0-9]+_n?[0-9]+_|Z)?N[rVK]*[RO]?4loam${#ns}${ns}"
    bad=$("$nm_tool" --defined-only -P "$obj" | awk -v in_ns="$in_ns" -v weak_ok="$weak_ok" '
      $2 !~ /^[TDBRGSCWVui]$/ { next }                # local symbols (t, d, b, r, ...)
      $1 == "DW.ref.__gxx_personality_v0" { next }
      $2 ~ /^[WVui]$/ && !weak_ok { print $2, $1; next }
      $1 !~ in_ns { print $2, $1 }')
    if [ -n "$bad" ]; then
      failed=$((failed + 1))
      echo "check_isa_symbols: $obj defines symbols outside loam::$ns$([ "$weak_ok" = 0 ] && echo " or weak ones") (compiled with ISA flags):" >&2
      printf '%s\n' "$bad" | while read -r type sym; do
        printf '  %s %s\n' "$type" "$(printf '%s' "$sym" | c++filt)" >&2
      done
    fi
  done
done

if [ "$checked" -eq 0 ]; then
  echo "check_isa_symbols: no ISA object files under CMakeFiles/loam_core.dir/src/kernels/{x86_avx2,x86_avx512,arm_neon} in: $*" >&2
  exit 1
fi
if [ "$failed" -gt 0 ]; then
  echo "check_isa_symbols: FAILED: $failed of $checked ISA object files leak symbols (docs/ARCHITECTURE.md rule 1)" >&2
  exit 1
fi
echo "check_isa_symbols: $checked ISA object files, no weak or global symbol outside their ISA namespace"
