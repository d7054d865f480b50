#!/usr/bin/env bash
# tufd side by side with what users would pick instead (tufup, python-tuf, bsdiff4, zstd, curl):
# one command that installs the tools, fetches the workload, builds the release binaries and runs
# bench/harness.py, which regenerates docs/performance.md.
#
#   bench/run.sh            # full run (about 45 min on 2 cores: the patch section's synthetic
#                           # 300 MB bundle takes about 30 min of it and 5.5 GB of memory for
#                           # Python bsdiff4; --no-synthetic skips it; 1 GiB download test)
#   bench/run.sh --quick    # development: fewer runs, smaller inputs (a few minutes); writes
#                           # bench/performance-quick.md instead
#   bench/run.sh --help     # every option of the driver
#   bench/run.sh --only checks --previous-tufd OLD/tufd --out FILE
#                           # the no-update check of an earlier tufd build beside this one
#                           # (one run, interleaved); FILE keeps docs/performance.md whole
#
# Environment (all optional): CARGO_TARGET_DIR (where cargo builds the release binaries, default
# $HOME/.cache/tufd-target as for scripts/test.sh), BENCH_DATA (bundle folders, default
# bench/data, fetched by bench/fetch-bundles.sh when missing), PYTHON (default python3).
# Needs: cargo, python3 (venv), and Debian's zstd, curl, nginx, time, binutils and eatmydata
# (installed with apt-get when missing). Section 6 (`--only publish`) also uses s3s-fs, the S3
# server scripts/test.sh installs ($HOME/.cache/tufd-tools/s3s-fs/bin/s3s-fs, or TUFD_S3S_FS);
# without it that section is skipped with a message.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
# One target folder for both workspaces (the main one and bench/codecs, which cargo would
# otherwise build into bench/codecs/target); exported so bench/harness.py finds the binaries.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tufd-target}"

missing=()
tools=(zstd:zstd curl:curl nginx:nginx-light /usr/bin/time:time strip:binutils eatmydata:eatmydata)
for pair in "${tools[@]}"; do
    cmd="${pair%%:*}" pkg="${pair#*:}"
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" apt-get install -y -q "${missing[@]}" >&2
fi
export PATH="$PATH:/usr/sbin"

# Two venvs: tufup pins its own python-tuf (4.x) and bsdiff4; the newest python-tuf goes apart.
venv() { # DIR PACKAGE...
    local dir="bench/.venv/$1"; shift
    [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
    "$dir/bin/python" -c "import ${IMPORTS}" 2>/dev/null ||
        "$dir/bin/pip" install -q --disable-pip-version-check "$@" >&2
}
IMPORTS="tufup, bsdiff4" venv tufup tufup bsdiff4
IMPORTS="tuf.ngclient, bsdiff4" venv tuf 'tuf>=7' bsdiff4
# HDiffPatch (C++) through its Python wrapper, a peer row of the patch section.
IMPORTS="hdiffpatch" venv hdiffpatch hdiffpatch==2.6.0

data="${BENCH_DATA:-$root/bench/data}"
TUFD_PYTHON="$root/bench/.venv/tufup/bin/python" bench/fetch-bundles.sh "$data" >/dev/null
export BENCH_DATA="$data"

echo "bench: building the release binaries" >&2
cargo build --release -q -p tufd -p tufd-repo
cargo build --release -q --manifest-path bench/codecs/Cargo.toml

exec "$python" bench/harness.py "$@"
