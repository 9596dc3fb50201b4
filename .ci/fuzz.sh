#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer + UndefinedBehaviorSanitizer)
# in build/fuzz, writes their seed corpora into a temporary directory (fuzz_make_seeds: our own
# writers plus copies of ../shared fixtures) and runs each target for LOAM_FUZZ_SECONDS (default
# 30), two targets at a time. Installs clang and its sanitizer/fuzzer runtime with apt-get when missing. Prints one line
# per target; exits 1 on any crash, leak, timeout, out-of-memory or UB report, keeping the
# crashing input (path and hex dump in the log) to be added under tests/fuzz/regressions/.
#
# Environment: LOAM_FUZZ_SECONDS, LOAM_FUZZ_TARGETS="fuzz_json fuzz_args" (a subset),
# LOAM_FUZZ_BUILD (build directory), LOAM_SHARED (fixtures; default ../shared).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${LOAM_FUZZ_SECONDS:-30}"
build="${LOAM_FUZZ_BUILD:-build/fuzz}"
targets=(${LOAM_FUZZ_TARGETS:-fuzz_gguf fuzz_llama2c fuzz_tokenizer fuzz_json fuzz_args fuzz_hf})
shared="${LOAM_SHARED:-../shared}"
start=$(date +%s)

# --- toolchain -----------------------------------------------------------------------------------
# A compiler alone is not enough: libFuzzer and the sanitizer runtimes are a separate package.
fuzzer_links() {
  local src='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) {return 0;}'
  command -v clang++ >/dev/null 2>&1 && echo "$src" |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null >/dev/null 2>&1
}
if ! fuzzer_links; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  runtime=libclang-rt-dev  # Debian 12 has it; older releases only name the versioned package
  apt-cache show "$runtime" >/dev/null 2>&1 || runtime=libclang-rt-14-dev
  echo ".ci/fuzz.sh: installing clang $runtime"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    clang "$runtime"
  fuzzer_links || { echo ".ci/fuzz.sh: clang++ cannot link a libFuzzer target" >&2; exit 1; }
fi

# --- build ---------------------------------------------------------------------------------------
mkdir -p "$build"
build_log="$build/fuzz-build.log"
if ! { CC=clang CXX=clang++ cmake -S . -B "$build" -DLOAM_FUZZ=ON -DLOAM_SANITIZE=ON \
         -DLOAM_BUILD_TESTS=OFF -DLOAM_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$build" --target "${targets[@]}" fuzz_make_seeds -j2; } >"$build_log" 2>&1
then
  cat "$build_log"
  echo ".ci/fuzz.sh: build failed" >&2
  exit 1
fi
built=$(date +%s)

# --- seeds ---------------------------------------------------------------------------------------
work=$(mktemp -d /tmp/loam-fuzz.XXXXXX)
if [ -d "$shared" ]; then
  "$build/fuzz/fuzz_make_seeds" "$work/seeds" "$shared"
else
  echo ".ci/fuzz.sh: no $shared: seeds from our own writers only"
  "$build/fuzz/fuzz_make_seeds" "$work/seeds"
fi

# --- run -----------------------------------------------------------------------------------------
# libFuzzer handles ASan and LSan reports itself (it keeps the input and exits non-zero).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# One target: its result line to $work/NAME.result, its report (crash details) to $work/NAME.report,
# and $work/NAME.failed when it failed.
fuzz_one() {
  local t=$1 name=${1#fuzz_} log rc=0 runs rate added line
  # fuzz_hf has no generated seeds (test_fuzz_hf.cpp makes its own): it starts from nothing.
  mkdir -p "$work/corpus/$name" "$work/crashes" "$work/seeds/$name"
  # Model files are large: mutate at most their first 64 KiB (headers, metadata, vocabularies),
  # which keeps thousands of runs a second instead of hundreds.
  local max_len=()
  case "$name" in gguf|llama2c) max_len=(-max_len=65536) ;; esac
  log="$work/$name.log"
  # The first directory receives new inputs; the seed directory is only read.
  "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "${max_len[@]}" -artifact_prefix="$work/crashes/$name-" \
    "$work/corpus/$name" "$work/seeds/$name" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
  # With -fno-sanitize-recover a UB report aborts, but check the log too, in case it did not.
  local reports='runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)'
  : >"$work/$name.report"
  if [ "$rc" -ne 0 ] || grep -qE "$reports" "$log"; then
    line="$t: FAILED (exit $rc) after ${runs:-?} runs"
    touch "$work/$name.failed"
    {
      grep -E 'ERROR:|runtime error:|SUMMARY:|broken promise|^    #[0-9] ' "$log" | head -40 ||
        tail -30 "$log"
      for f in "$work/crashes/$name-"*; do
        [ -e "$f" ] || continue
        echo "--- input kept at $f ($(stat -c %s "$f") bytes), first 512 bytes:"
        head -c 512 "$f" | od -A d -t x1 | head -40
      done
    } >"$work/$name.report"
  else
    line="$t: ok, ${runs:-?} runs in ${seconds} s (${rate:-?}/s), ${added:-?} new inputs"
  fi
  echo "$line" >"$work/$name.result"
}

# Two targets at a time, one a core (a libFuzzer process runs on one thread): two lanes, each
# taking every other target in turn.
lane() {
  local i
  for ((i = $1; i < ${#targets[@]}; i += 2)); do fuzz_one "${targets[$i]}"; done
}
echo "=== ${targets[*]}: ${seconds} s each, two at a time"
lane 1 &
second_lane=$!
lane 0
wait "$second_lane"

failed=()
summary=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  cat "$work/$name.report"
  line=$(cat "$work/$name.result")
  echo "$line"
  summary+=("$line")
  if [ -e "$work/$name.failed" ]; then failed+=("$t"); fi
done

end=$(date +%s)
echo "=== .ci/fuzz.sh summary (build $((built - start)) s, total $((end - start)) s)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo ".ci/fuzz.sh: FAILED: ${failed[*]} (logs and inputs in $work)" >&2
  exit 1
fi
rm -rf "$work"
