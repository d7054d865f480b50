#!/usr/bin/env bash
# The test command: everything `cargo test` needs, then the whole suite.
#
#   scripts/test.sh            # set up (idempotent), build the binaries, run every test
#   scripts/test.sh -p tufd-core   # extra arguments go to `cargo test`
#
# Needs: a Rust toolchain, python3 with venv, and nginx (Debian: `apt-get install nginx-light`;
# `.ci/run` installs it). Creates `.venv/` with python-tuf 7 and bsdiff4 (the independent TUF
# client and patch tool the interop tests check against).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv"
if ! "$venv/bin/python" -c 'import tuf, bsdiff4' 2>/dev/null; then
  echo "==> creating $venv (python-tuf 7, bsdiff4)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'tuf>=7,<8' 'bsdiff4>=1.2'
fi
export TUFD_PYTHON="$venv/bin/python"

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "error: nginx not found; install it (Debian: apt-get install nginx-light)" >&2
  exit 1
fi

# The end-to-end tests run the real binaries; build them first so the tests find them.
echo "==> building binaries" >&2
cargo build --workspace --bins --quiet
echo "==> cargo test" >&2
cargo test --workspace "$@"
if [ $# -eq 0 ]; then
  echo "==> cargo test -p tufd-client --features async" >&2
  cargo test -p tufd-client --features async
fi
