#!/usr/bin/env bash
# Runs the TUF conformance suite (theupdateframework/tuf-conformance) against tufd-conformance.
# A local check, not part of `cargo test` or CI (see README.md).
#
#   conformance/run.sh [SUITE_CHECKOUT]      (default /tmp/tuf-conformance)
#
# Environment: PROFILE=release|dev (default dev; dependencies are optimised in dev too),
# CALL_TIMEOUT seconds per client call (default 120), VENV (default /tmp/tufd-conformance-venv),
# BIN a prebuilt client (skips the build), PYTEST_ARGS extra pytest arguments (e.g. "-k test_basic -x").
# Prints "N passed, M failed" last (M = failures + errors); exit 0 only if M = 0. There is no
# expected-failures file: every test of the suite must pass.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(dirname "$here")"
suite="${1:-/tmp/tuf-conformance}"
profile="${PROFILE:-dev}"
timeout_s="${CALL_TIMEOUT:-120}"
venv="${VENV:-/tmp/tufd-conformance-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tufd-target}"

[[ -d "$suite/tuf_conformance" ]] || { echo "no tuf-conformance checkout in $suite" >&2; exit 2; }
echo "suite: $suite ($(git -C "$suite" rev-parse --short HEAD 2>/dev/null || echo 'commit unknown'))"

# The suite's pins (pyproject.toml of commit eec841c); Python >= 3.11.
if [[ ! -x "$venv/bin/pytest" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "securesystemslib[crypto]==1.4.0" "tuf==7.0.0" \
        "pytest==9.1.1" "pytest-json-report==1.5.0"
fi
if ! command -v faketime >/dev/null; then
    apt-get install -y faketime >/dev/null || { apt-get update >/dev/null && apt-get install -y faketime >/dev/null; }
fi

if [[ -n "${BIN:-}" ]]; then
    bin="$BIN"
elif [[ "$profile" == release ]]; then
    cargo build --release -p tufd-conformance
    bin="$CARGO_TARGET_DIR/release/tufd-conformance"
else
    cargo build -p tufd-conformance
    bin="$CARGO_TARGET_DIR/debug/tufd-conformance"
fi

# The suite splits --entrypoint on spaces and has no per-call timeout: a space-free wrapper with
# `timeout`.
work="$(mktemp -d /tmp/tufd-conformance-run.XXXXXX)"
trap 'rm -rf "$work"' EXIT
entry="$work/tufd-conformance"
cat >"$entry" <<WRAP
#!/bin/sh
exec timeout --kill-after=5 $timeout_s "$bin" "\$@"
WRAP
chmod +x "$entry"

report="$work/report.json"
set +e
(cd "$suite" && "$venv/bin/pytest" -rA tuf_conformance --entrypoint "$entry" \
    --json-report --json-report-file="$report" ${PYTEST_ARGS:-}) | tail -n 40
set -e
"$venv/bin/python" - "$report" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))["summary"]
passed = summary.get("passed", 0)
failed = summary.get("failed", 0) + summary.get("error", 0) + summary.get("xpassed", 0)
print(f"total {summary.get('total', 0)}")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
PY
