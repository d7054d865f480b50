#!/usr/bin/env bash
# Smoke-fuzzes tufd-core's parsers of untrusted input (targets listed in fuzz/README.md): runs
# every cargo-fuzz target of fuzz/ for N seconds each (default 60), one after the other. Not part
# of scripts/test.sh or .ci/run: with 5 targets it takes about N x 5 seconds plus a first build
# of ~4 minutes.
#
#   scripts/fuzz.sh              # every target, 60 s each
#   scripts/fuzz.sh 300          # every target, 5 minutes each
#   scripts/fuzz.sh 60 extract_tar apply_patch
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`, installed on first use) and a C++
# compiler (libFuzzer). Works on the stable toolchain: no sanitizer is used (`-s none`; the
# code under test forbids `unsafe`, and the C parts, zstd, are not instrumented by cargo-fuzz
# anyway); if a future cargo-fuzz insists on nightly flags, RUSTC_BOOTSTRAP=1 is set for it.
# Builds are release with debug assertions and overflow checks (cargo-fuzz's default).
#
# Seeds: the hostile corpus (tests/hostile/cases) for extract_tar and apply_patch,
# fuzz/seeds/<target> for the parsers. Inputs found along the way go to fuzz/corpus/<target>
# (git-ignored); a crash leaves its input in fuzz/artifacts/<target>/ and makes this script
# exit 1 after the remaining targets ran. Add a crash's input to tests/hostile/ once fixed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
shift || true
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tufd-target-fuzz}"
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
fi
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

echo "==> cargo fuzz build (${targets[*]})"
cargo fuzz build -s none

failed=()
for target in "${targets[@]}"; do
  case "$target" in
    extract_tar | apply_patch | apply_bsdiff_lzma) seeds=(tests/hostile/cases) ;;
    *) seeds=(fuzz/seeds/"$target") ;;
  esac
  mkdir -p fuzz/corpus/"$target"
  echo "==> $target for ${seconds}s"
  # -rss_limit_mb: a decoder asking for gigabytes counts as a crash. -timeout: one input
  # taking longer than 10 s is a hang.
  if ! cargo fuzz run -s none "$target" fuzz/corpus/"$target" "${seeds[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs in fuzz/artifacts/" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash"
