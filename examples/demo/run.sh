#!/usr/bin/env bash
# tufd quick start: publish a demo app in three releases with tufd-repo, serve the repository on
# 127.0.0.1, "install" version 1.0 by copying its bundle, and let tufd update it to 3.0 through
# two binary patches. Prints every step and what went over the wire.
#
# Usage (from the repository root):   examples/demo/run.sh [WORK_DIR]
#   WORK_DIR        where everything is written (default ./demo-work; wiped first)
#   DEMO_PROFILE    cargo profile for the binaries: debug (default) or release
#   DEMO_BLOB_MIB   size of the demo app's data file in MiB (default 8)
#   DEMO_SERVER     nginx | tufd-repo (default: nginx when installed, else tufd-repo serve)
#
# Needs: cargo, bash, coreutils; nginx is optional.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK_ARG="${1:-./demo-work}"
PROFILE="${DEMO_PROFILE:-debug}"
BLOB_MIB="${DEMO_BLOB_MIB:-8}"
export RUST_LOG="${RUST_LOG:-warn}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------
step "1. build tufd and tufd-repo ($PROFILE)"
cargo_flags=(-p tufd -p tufd-repo)
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
# The same build folder as scripts/test.sh and bench/run.sh, so running one after the other
# builds once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tufd-target}"
(cd "$ROOT" && cargo build "${cargo_flags[@]}")
TARGET_DIR="$CARGO_TARGET_DIR"
TUFD="$TARGET_DIR/$PROFILE/tufd"
TUFD_REPO="$TARGET_DIR/$PROFILE/tufd-repo"
note "tufd:      $TUFD"
note "tufd-repo: $TUFD_REPO"

# ---------------------------------------------------------------------------------------------
step "2. fresh work folder"
rm -rf "$WORK_ARG"
mkdir -p "$WORK_ARG"
WORK="$(cd "$WORK_ARG" && pwd)"
mkdir -p "$WORK/bundles" "$WORK/publisher" "$WORK/server"
note "$WORK"

# A bundle: the app script, a VERSION file, a README and a data file that changes a little
# between releases (so the patches are small while the archives are not).
make_bundle() {
    local version="$1" dir="$WORK/bundles/$1"
    mkdir -p "$dir/bin" "$dir/data"
    cat >"$dir/bin/demo-app" <<EOF
#!/bin/sh
# The demo app: prints its version.
echo "demo-app version $version"
EOF
    chmod 755 "$dir/bin/demo-app"
    echo "$version" >"$dir/VERSION"
    printf 'Demo app %s, published by tufd-repo, updated by tufd.\n' "$version" >"$dir/README.txt"
    if [[ "$version" == 1.0 ]]; then
        # Random bytes do not compress: the archive is as large as a real app's binaries.
        head -c $((BLOB_MIB << 20)) /dev/urandom >"$dir/data/blob.bin"
    else
        cp "$WORK/bundles/1.0/data/blob.bin" "$dir/data/blob.bin"
        # Rewrite 4 KiB in the middle, a different block per version.
        printf "%04096d" "${version%%.*}" | dd of="$dir/data/blob.bin" bs=4096 \
            seek=$(( (BLOB_MIB << 8) / 2 + ${version%%.*} )) conv=notrunc status=none
    fi
    chmod 644 "$dir/data/blob.bin"
}

# ---------------------------------------------------------------------------------------------
step "3. publisher: tufd-repo init --app-name demo"
cd "$WORK/publisher"
"$TUFD_REPO" init --app-name demo
note "created: $(ls | tr '\n' ' ')"
note "the root the app ships: repository/metadata/1.root.json"

step "4. build three releases of the demo app and publish them"
for v in 1.0 2.0 3.0; do
    make_bundle "$v"
    note "tufd-repo add ../bundles/$v --version $v"
    "$TUFD_REPO" add "$WORK/bundles/$v" --version "$v"
done
note "published targets (consistent snapshots: <sha256>.<name>):"
ls -l "$WORK/publisher/repository/targets" | awk 'NR > 1 { printf "      %10d  %s\n", $5, $9 }'

target_size() { # size in bytes of published target $1
    local f
    f="$(ls "$WORK/publisher/repository/targets/"*".$1" 2>/dev/null | head -n 1 || true)"
    [[ -n "$f" ]] || f="$WORK/publisher/repository/targets/$1"
    stat -c %s "$f"
}

# ---------------------------------------------------------------------------------------------
step "5. serve the repository on 127.0.0.1"
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    echo 38080
}
PORT="$(free_port)"
NGINX="$(command -v nginx || true)"
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
SERVER="${DEMO_SERVER:-$([[ -n "$NGINX" ]] && echo nginx || echo tufd-repo)}"
SERVER_PID=""
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT
ACCESS_LOG="$WORK/server/access.log"
if [[ "$SERVER" == nginx ]]; then
    S="$WORK/server"
    # Temp folders inside the work folder, so nginx runs as any user (only for modules it has).
    TEMP_PATHS=""
    for module in fastcgi uwsgi scgi; do
        if ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${module}_module"; then
            TEMP_PATHS+="    ${module}_temp_path $S/$module;"$'\n'
        fi
    done
    cat >"$S/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $S/nginx.pid;
error_log $S/error.log notice;
events { worker_connections 64; }
http {
    log_format demo '\$request_uri \$status \$body_bytes_sent';
    access_log $ACCESS_LOG demo;
    client_body_temp_path $S/body;
    proxy_temp_path $S/proxy;
$TEMP_PATHS    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/publisher/repository;
    }
}
EOF
    "$NGINX" -p "$S" -c "$S/nginx.conf" -e "$S/error.log" &
    SERVER_PID=$!
else
    # `serve --port 0` picks a free port and prints `serving http://ADDR:PORT/` once bound.
    "$TUFD_REPO" serve --port 0 >"$WORK/server/serve.out" 2>"$WORK/server/serve.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        grep -q '^serving http' "$WORK/server/serve.out" 2>/dev/null && break
        sleep 0.1
    done
    PORT="$(sed -n 's|^serving http://[^:]*:\([0-9]*\).*|\1|p' "$WORK/server/serve.out")"
fi
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "the $SERVER server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
note "$SERVER serving $WORK/publisher/repository at $URL"

# ---------------------------------------------------------------------------------------------
step "6. install version 1.0 by copying its bundle (tufd's data folder starts empty)"
cp -a "$WORK/bundles/1.0" "$WORK/app"
note "\$ app/bin/demo-app"
note "$("$WORK/app/bin/demo-app")"

TUFD_FLAGS=(
    --app-name demo --version-file VERSION
    --install-dir "$WORK/app" --data-dir "$WORK/tufd-data"
    --metadata-url "$URL/metadata/" --targets-url "$URL/targets/"
    --trusted-root "$WORK/publisher/repository/metadata/1.root.json"
)

step "7. tufd check --json"
CHECK="$("$TUFD" check --json "${TUFD_FLAGS[@]}")"
note "$CHECK"

step "8. tufd update --yes"
START_NS=$(date +%s%N)
"$TUFD" update --yes "${TUFD_FLAGS[@]}"
END_NS=$(date +%s%N)

step "9. run the app again"
note "\$ app/bin/demo-app"
note "$("$WORK/app/bin/demo-app")"

# ---------------------------------------------------------------------------------------------
step "what happened"
PLAN="$(printf '%s' "$CHECK" | grep -o '"plan": *{[^}]*}' || printf '%s' "$CHECK")"
note "plan:              $PLAN"
ARCHIVE="$(target_size demo-3.0.tar.gz)"
PATCHES=$(( $(target_size demo-2.0.patch) + $(target_size demo-3.0.patch) ))
note "patch 1.0 -> 2.0:  $(target_size demo-2.0.patch) bytes"
note "patch 2.0 -> 3.0:  $(target_size demo-3.0.patch) bytes"
note "full archive 3.0:  $ARCHIVE bytes"
if [[ -f "$ACCESS_LOG" ]]; then
    FETCHED=$(awk '$1 ~ /^\/targets\// { s += $3 } END { print s + 0 }' "$ACCESS_LOG")
    META=$(awk '$1 ~ /^\/metadata\// { s += $3 } END { print s + 0 }' "$ACCESS_LOG")
    note "downloaded:        $FETCHED bytes of targets + $META bytes of signed metadata (nginx access log)"
    note "requests:"
    awk '{ printf "      %s %s %s bytes\n", $2, $1, $3 }' "$ACCESS_LOG"
else
    note "downloaded:        $PATCHES bytes of patches (from the published sizes)"
fi
note "update took:       $(( (END_NS - START_NS) / 1000000 )) ms"
note "installed version: $(cat "$WORK/app/VERSION"); previous kept in tufd-data/backup/"
