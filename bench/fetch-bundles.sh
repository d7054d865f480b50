#!/usr/bin/env bash
# Fetches real release bundles for benchmarks: consecutive manylinux x86_64 wheels of ruff (a
# Rust-built tool, ~28 MB binary each) from the Python package index, unpacked into bundle
# folders `OUT/ruff-<version>/` (an executable `bin/ruff` plus its metadata), and the other
# builds of the last two as `OUT/ruff-<build>-<version>/` (build: windows, macos, linux-arm64,
# macos-arm64).
#
#   bench/fetch-bundles.sh [OUT]        # default OUT=bench/data
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bench/data}"
versions=(0.6.0 0.6.1 0.6.2)
python="${TUFD_PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3
mkdir -p "$out/wheels"
for v in "${versions[@]}"; do
  dest="$out/ruff-$v"
  [ -d "$dest" ] && continue
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_17_x86_64 --python-version 3.11 -d "$out/wheels" "ruff==$v"
  whl=$(ls "$out"/wheels/ruff-"$v"-*manylinux*x86_64*.whl)
  tmp="$dest.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  "$python" -m zipfile -e "$whl" "$tmp"
  mkdir -p "$tmp/bin"
  mv "$tmp"/ruff-"$v".data/scripts/ruff "$tmp/bin/ruff"
  rm -rf "$tmp"/ruff-"$v".data
  chmod 755 "$tmp/bin/ruff"
  echo "$v" > "$tmp/VERSION"
  mv "$tmp" "$dest"
done
# The Windows (PE) and macOS (Mach-O) x86-64 builds and the Linux and macOS ARM64 builds of the
# last two releases, for the patch section's executable formats: the wheel's files as they are.
for platform in win_amd64:windows macosx_10_12_x86_64:macos manylinux_2_17_aarch64:linux-arm64 \
    macosx_11_0_arm64:macos-arm64; do
  tag="${platform%%:*}" name="${platform#*:}"
  for v in "${versions[@]:1}"; do
    dest="$out/ruff-$name-$v"
    [ -d "$dest" ] && continue
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "$tag" --python-version 3.11 -d "$out/wheels" "ruff==$v"
    whl=$(ls "$out"/wheels/ruff-"$v"-*"$tag"*.whl)
    rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
    "$python" -m zipfile -e "$whl" "$dest.tmp"
    mv "$dest.tmp" "$dest"
  done
done
ls -d "$out"/ruff-*
