#!/usr/bin/env bash
# The test command: installs what `cargo test` needs, then runs the whole suite.
#
#   scripts/test.sh                # set up (idempotent), build the binaries, run every test
#   scripts/test.sh -p tufd-core   # extra arguments go to `cargo test`
#
# Needs only Rust (rustup) and python3 on Debian or Ubuntu; installs what is missing, and says
# nothing about what is already there:
# - Debian packages with apt-get (as root, else through `sudo -n` when sudo needs no password,
#   else it stops and prints the `sudo apt-get install ...` command to run): nginx-light (the
#   end-to-end tests serve repositories with a real nginx), python3-venv, gcc-mingw-w64-x86-64
#   and wine64 (the Windows build and its test under Wine);
# - s3s-fs 0.14.1 with `cargo install` into $HOME/.cache/tufd-tools/s3s-fs (the S3 server the
#   object-storage publishing test runs);
# - Rust targets with rustup: wasm32-wasip2 and wasm32-wasip1 (the tests build the example and
#   hostile hooks for them) and x86_64-pc-windows-gnu;
# - `.venv/` with python-tuf 7 and bsdiff4 (the independent TUF client and patch tool the
#   interop tests check against), and `.venv-tufup/` with tufup 0.10 (the end-to-end test of a
#   repository tufup made).
# Cargo builds into $CARGO_TARGET_DIR, by default $HOME/.cache/tufd-target (outside the clone,
# shared with CI, conformance/run.sh and bench/run.sh: a cold build takes long), and the Windows
# tufd.exe into $HOME/.cache/tufd-target-win (CI's cross-build folder).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tufd-target}"

die() {
  echo "error: $*" >&2
  exit 1
}

# ---- Debian packages ------------------------------------------------------------------------
missing_debs() { # prints the packages to install, space-separated
  local need=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
  command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
  command -v wine64 >/dev/null 2>&1 || [ -x /usr/lib/wine/wine64 ] ||
    dpkg-query -W -f='${db:Status-Abbrev}' wine64 2>/dev/null | grep -q '^ii' || need+=(wine64)
  echo "${need[*]}"
}

install_debs() { # PACKAGE...
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages (Debian/Ubuntu names): $*
  this script installs them only with apt-get; install the equivalents for your system
  (nginx, the python3 venv module, the x86_64 mingw-w64 gcc, 64-bit wine) and run it again"
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      die "missing system packages: $*
  not root and no sudo: install them as root (apt-get update && apt-get install -y $*)
  and run this script again"
    elif sudo -n true >/dev/null 2>&1; then
      sudo=(sudo -n)
    else
      die "missing system packages: $*
  sudo asks for a password, so this script does not install them; run
    sudo apt-get update && sudo apt-get install -y $*
  and run this script again"
    fi
  fi
  echo "==> apt-get install $*" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  local pkgs=() p
  for p in "$@"; do
    # Newer releases may drop nginx-light (nginx itself is as good for the tests).
    if [ "$p" = nginx-light ] && ! apt-cache show nginx-light >/dev/null 2>&1 &&
      apt-cache show nginx >/dev/null 2>&1; then
      p=nginx
    fi
    pkgs+=("$p")
  done
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2
}

# ---- Rust targets ---------------------------------------------------------------------------
rust_targets=(wasm32-wasip2 wasm32-wasip1 x86_64-pc-windows-gnu)

ensure_rust_targets() {
  command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install Rust with rustup (https://rustup.rs), then open a new shell"
  local need=() t
  if command -v rustup >/dev/null 2>&1; then
    local installed
    installed="$(rustup target list --installed)"
    for t in "${rust_targets[@]}"; do
      grep -qx "$t" <<<"$installed" || need+=("$t")
    done
    if [ ${#need[@]} -gt 0 ]; then
      echo "==> rustup target add ${need[*]}" >&2
      rustup target add "${need[@]}" >&2
    fi
  else
    local sysroot
    sysroot="$(rustc --print sysroot)"
    for t in "${rust_targets[@]}"; do
      [ -d "$sysroot/lib/rustlib/$t" ] || need+=("$t")
    done
    [ ${#need[@]} -eq 0 ] ||
      die "Rust targets missing: ${need[*]}, and rustup not found to add them;
  install Rust with rustup (https://rustup.rs), or add these targets' standard libraries to your toolchain"
  fi
}

read -r -a debs <<<"$(missing_debs)"
[ ${#debs[@]} -eq 0 ] || install_debs "${debs[@]}"
ensure_rust_targets

# ---- Python venv ----------------------------------------------------------------------------
venv="$root/.venv"
if ! "$venv/bin/python" -c 'import tuf, bsdiff4' 2>/dev/null; then
  echo "==> creating $venv (python-tuf 7, bsdiff4)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'tuf>=7,<8' 'bsdiff4>=1.2'
fi
export TUFD_PYTHON="$venv/bin/python"
# tufup 0.10 pins its own python-tuf (4.x), so it gets a venv of its own; the end-to-end test
# tests/e2e/tufup_repo.rs publishes a repository with it (TUFD_REQUIRE_TUFUP=1: fail, not skip).
tufup_venv="$root/.venv-tufup"
if ! "$tufup_venv/bin/python" -c 'import importlib.metadata as m, sys
sys.exit(not m.version("tufup").startswith("0.10."))' 2>/dev/null; then
  echo "==> creating $tufup_venv (tufup 0.10)" >&2
  python3 -m venv "$tufup_venv"
  "$tufup_venv/bin/pip" install --quiet --disable-pip-version-check 'tufup==0.10.*'
fi
export TUFD_TUFUP_PYTHON="$tufup_venv/bin/python"
export TUFD_REQUIRE_TUFUP=1

# ---- S3 server ------------------------------------------------------------------------------
# tests/e2e/object_storage.rs publishes to a real S3-protocol server on 127.0.0.1: s3s-fs from
# crates.io (0.14.1: the newest release that builds on Rust 1.95), installed into its own root
# under $HOME/.cache/tufd-tools (~3 minutes once). TUFD_REQUIRE_S3=1: fail, not skip.
s3s_root="$HOME/.cache/tufd-tools/s3s-fs"
if [ ! -x "$s3s_root/bin/s3s-fs" ]; then
  echo "==> cargo install s3s-fs 0.14.1 into $s3s_root" >&2
  CARGO_TARGET_DIR="$HOME/.cache/tufd-tools/s3s-fs-build" cargo install --quiet --locked \
    s3s-fs --version 0.14.1 --features binary --root "$s3s_root"
  rm -rf "$HOME/.cache/tufd-tools/s3s-fs-build"
fi
export TUFD_S3S_FS="$s3s_root/bin/s3s-fs"
export TUFD_REQUIRE_S3=1

# ---- Tests ----------------------------------------------------------------------------------
# The end-to-end tests run the real binaries; build them first so the tests find them.
echo "==> building binaries" >&2
cargo build --workspace --bins --quiet
# tests/e2e/windows.rs runs this tufd.exe under Wine; TUFD_REQUIRE_WINE=1 makes those tests fail,
# not skip, when something they need is missing.
win_target_dir="$HOME/.cache/tufd-target-win"
echo "==> cross-building tufd.exe (x86_64-pc-windows-gnu)" >&2
CARGO_TARGET_DIR="$win_target_dir" cargo build --quiet --target x86_64-pc-windows-gnu -p tufd
export TUFD_WINDOWS_EXE="$win_target_dir/x86_64-pc-windows-gnu/debug/tufd.exe"
export TUFD_REQUIRE_WINE=1
echo "==> cargo test $*" >&2
if [ $# -eq 0 ]; then
  cargo test --workspace
  echo "==> cargo test -p tufd-client --features async" >&2
  cargo test -p tufd-client --features async
else
  # No --workspace here: it would override a -p in the arguments. At the (virtual) workspace
  # root, `cargo test` without -p tests every member anyway.
  cargo test "$@"
fi

# ---- Windows unit tests under Wine ----------------------------------------------------------
# The unit tests of tufd-core (all of them) and of tufd-install's Windows-facing modules
# (sys::: process_alive through OpenProcess, rename retries on a sharing violation, read-only
# removal, paths past MAX_PATH; fsops::, journal::, cleanup::, tree_sync::), cross-built for
# x86_64-pc-windows-gnu and run under Wine. tufd-install's other unit tests assume Unix (they
# spawn `true`, compare device ids). Full runs only (no arguments). The shim
# tests/windows/bcryptprimitives.c supplies ProcessPrng, which Wine 8.0 lacks and Rust's
# standard library imports. `-p tufd` is in the build (its tests are not run) so that the
# dependencies get the features of the tufd.exe build above and are shared with it: without
# it a cold cache compiles wasmtime and cranelift for Windows a second time (minutes).
if [ $# -eq 0 ]; then
  echo "==> Windows unit tests under Wine (tufd-core, tufd-install)" >&2
  win_exes="$(CARGO_TARGET_DIR="$win_target_dir" cargo test --no-run --lib --quiet \
    --message-format=json --target x86_64-pc-windows-gnu -p tufd -p tufd-core -p tufd-install |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])')"
  wine_bin="${WINE:-}"
  [ -n "$wine_bin" ] || { [ -x /usr/lib/wine/wine64 ] && wine_bin=/usr/lib/wine/wine64; } ||
    wine_bin="$(command -v wine64 || command -v wine)"
  wineserver_bin="$(dirname "$wine_bin")/wineserver"
  [ -x "$wineserver_bin" ] || wineserver_bin="$(command -v wineserver)"
  wine_tmp="$(mktemp -d)"
  x86_64-w64-mingw32-gcc -shared -O2 -o "$wine_tmp/bcryptprimitives.dll" \
    tests/windows/bcryptprimitives.c -ladvapi32
  wine_status=0
  while read -r name exe; do
    case "$name" in
      tufd_core) filters=() ;;
      tufd_install) filters=(sys:: fsops:: journal:: cleanup:: tree_sync::) ;;
      *) continue ;;
    esac
    WINEPREFIX="$wine_tmp/prefix" WINEDEBUG=-all WINEPATH="Z:${wine_tmp//\//\\}" \
      "$wine_bin" "$exe" "${filters[@]}" || wine_status=1
  done <<<"$win_exes"
  WINEPREFIX="$wine_tmp/prefix" "$wineserver_bin" -k 2>/dev/null || true
  rm -rf "$wine_tmp"
  [ "$wine_status" -eq 0 ] || die "Windows unit tests failed under Wine"
fi
