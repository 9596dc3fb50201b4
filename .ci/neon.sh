#!/usr/bin/env bash
# Cross-builds the kernel tests for aarch64 (tools/aarch64-toolchain.cmake, build/aarch64) and runs
# them under qemu-user on two emulated CPUs side by side: one with the dot-product extension (-cpu max) and
# one without it (-cpu cortex-a53), so both NEON quantized paths (SDOT, SMULL) run. Installs
# g++-aarch64-linux-gnu and qemu-user with apt-get when missing. Exits non-zero on any failure.
#
# Environment: LOAM_NEON_TESTS="test_a test_b" replaces the default test list; LOAM_SHARED and CI
# pass through to the tests (fixtures are read from ../shared when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CI="${CI:-true}"
sysroot=/usr/aarch64-linux-gnu
build=build/aarch64

# --- toolchain -----------------------------------------------------------------------------------
missing=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
if [ "${#missing[@]}" -gt 0 ]; then
  echo ".ci/neon.sh: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- build ---------------------------------------------------------------------------------------
# Kernel tests, the golden logits tests (every kernel path against the reference) and other cheap
# ones that exercise code compiled for aarch64; each must exist as
# tests/NAME.cpp (test_kernels_quant_simd arrives with the AVX2 quant work).
default_tests="test_kernels_float test_kernels_neon test_kernels_quant_simd test_quant_dot test_quant_formats test_k_scale_search test_quantize_model test_ops test_golden_logits test_golden_logits_quantized test_multi_session"
tests=()
for t in ${LOAM_NEON_TESTS:-$default_tests}; do
  if [ -f "tests/$t.cpp" ]; then tests+=("$t"); else echo ".ci/neon.sh: no tests/$t.cpp, skipping $t"; fi
done
if [ "${#tests[@]}" -eq 0 ]; then echo ".ci/neon.sh: no tests to run" >&2; exit 1; fi

cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=tools/aarch64-toolchain.cmake \
  -DCMAKE_BUILD_TYPE=Release -DLOAM_NATIVE=OFF -DLOAM_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target "${tests[@]}" -j2

# --- run under qemu ------------------------------------------------------------------------------
# The two emulated CPUs run side by side (qemu-user is one thread a test: one core each), each
# writing its results to a summary file printed afterwards. On cortex-a53, test_multi_session runs
# only its quantized cases (": Q"): the float ones take the same kernels on both CPUs and were 100
# of its 133 s there.
run_cpu() {
  local cpu=$1 summary="$build/summary.$1" t log filter
  : >"$summary"
  for t in "${tests[@]}"; do
    log="$build/$t.$cpu.log"
    filter=()
    if [ "$cpu" = cortex-a53 ] && [ "$t" = test_multi_session ]; then filter=(": Q"); fi
    # The quantizers use ARMv8.0 instructions only, the same on both CPUs: the shorter lane runs
    # test_quantize_model (45 s here), which holds the NEON searches' files to llama-quantize's bytes.
    if [ "$cpu" = max ] && [ "$t" = test_quantize_model ]; then continue; fi
    echo "=== qemu-aarch64 -cpu $cpu $t ${filter[*]}" >>"$summary"
    if timeout 600 qemu-aarch64 -L "$sysroot" -cpu "$cpu" "$build/$t" "${filter[@]}" >"$log" 2>&1; then
      grep -E '^(ok|SKIP|FAIL) |passed, ' "$log" >>"$summary" || true
    else
      cat "$log" >>"$summary"
      echo "FAILED: $t on $cpu" >>"$summary"
    fi
  done
  # The emulated CPU must have selected the path this run is meant to cover.
  if [[ " ${tests[*]} " == *" test_kernels_neon "* ]]; then
    local want
    want=$([ "$cpu" = max ] && echo SDOT || echo SMULL)
    if ! grep -q "quantized kernels $want" "$build/test_kernels_neon.$cpu.log"; then
      echo ".ci/neon.sh: -cpu $cpu did not select the $want kernels" >>"$summary"
      echo "FAILED: path check on $cpu" >>"$summary"
    fi
  fi
}

run_cpu max &
run_max=$!
run_cpu cortex-a53
wait "$run_max"
failed=()
for cpu in max cortex-a53; do
  cat "$build/summary.$cpu"
  while IFS= read -r line; do failed+=("${line#FAILED: }"); done < <(grep '^FAILED: ' "$build/summary.$cpu" || true)
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo ".ci/neon.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo ".ci/neon.sh: all aarch64 tests passed on -cpu max (dotprod) and -cpu cortex-a53 (no dotprod)"
