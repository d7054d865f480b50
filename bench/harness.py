#!/usr/bin/env python3
"""tufd side by side with what users would pick instead (tufup, python-tuf, bsdiff4, zstd, curl).

Run through `bench/run.sh` (which installs the tools, fetches the bundles and builds the release
binaries first); this driver uses only the standard library. It builds one workload for every
tool (three consecutive ruff releases as bundle folders, served by nginx on 127.0.0.1), runs the
tools in turns (interleaved, repetition by repetition) and writes `docs/performance.md`:

1. patch creation and application (tufd codecs, Python bsdiff4, zstd --patch-from);
2. no-update check latency (tufd one-shot and warm sidecar, python-tuf ngclient, tufup);
3. whole update v1 -> v3 (tufd vs tufup's client);
4. download of a large target (tufd vs curl) and resume after SIGKILL at 50%;
5. footprint (idle sidecar polling every second, RSS during an update, binary sizes);
6. `tufd-repo publish` to a local S3 server (`s3s-fs`, skipped with a message when absent).

Every figure is a median over the repetitions with min and max; every ratio is computed pair by
pair (peer / tufd within one repetition), then its median is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_TUFUP = BENCH / ".venv" / "tufup" / "bin" / "python"
VENV_TUF = BENCH / ".venv" / "tuf" / "bin" / "python"
VENV_HDIFF = BENCH / ".venv" / "hdiffpatch" / "bin" / "python"
# The synthetic bundle of section 1: this many files of this many bytes (10 × 30 MiB).
SYNTHETIC_FILES = 10
SYNTHETIC_FILE_BYTES = 30 * (1 << 20)
GNU_TIME = "/usr/bin/time"
VERSIONS = ["0.6.0", "0.6.1", "0.6.2"]
MIB = 1 << 20


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Measuring processes


@dataclass
class Run:
    """One measured process: wall seconds, CPU seconds (user + sys), peak RSS in KiB."""

    wall: float
    cpu: float
    rss_kib: int
    rc: int
    stdout: str = ""
    stderr: str = ""


def parse_gnu_time(text: str) -> tuple[float, int]:
    user = system = 0.0
    rss = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("User time (seconds):"):
            user = float(line.rsplit(":", 1)[1])
        elif line.startswith("System time (seconds):"):
            system = float(line.rsplit(":", 1)[1])
        elif line.startswith("Maximum resident set size (kbytes):"):
            rss = int(line.rsplit(":", 1)[1])
    return user + system, rss


def measure(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None,
            check: bool = True, stdin: str | None = None) -> Run:
    """Runs `cmd` under GNU `time -v`; wall time is taken here around the whole process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        start = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-v", "-o", tf.name, *map(str, cmd)], cwd=cwd,
                              env=env, input=stdin, capture_output=True, text=True)
        wall = time.perf_counter() - start
        cpu, rss = parse_gnu_time(Path(tf.name).read_text())
    run = Run(wall, cpu, rss, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return run


def sh(cmd: list, **kw) -> str:
    return subprocess.run(list(map(str, cmd)), check=True, capture_output=True, text=True,
                          **kw).stdout


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    return h.hexdigest()


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------------------------
# Statistics and formatting


@dataclass
class Series:
    values: list[float] = field(default_factory=list)

    def add(self, v: float) -> None:
        self.values.append(v)

    @property
    def med(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def fmt(self, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
        if not self.values:
            return "n/a"
        lo, hi, md = min(self.values) * scale, max(self.values) * scale, self.med * scale
        if len(self.values) == 1 or fmt.format(lo) == fmt.format(hi):
            return fmt.format(md)
        return f"{fmt.format(md)} ({fmt.format(lo)}–{fmt.format(hi)})"


def ratio_fmt(s: Series) -> str:
    if not s.values:
        return "n/a"
    return s.fmt("{:.2f}") + "×"


def table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(headers) - 1))
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def s3_operations(log_text: str) -> dict[str, int]:
    """The S3 operations in an `s3s-fs` log (`RUST_LOG=s3s::ops=debug`), by name: one
    `resolved route, op: NAME, …` line per request."""
    ops: dict[str, int] = {}
    for line in log_text.splitlines():
        if "resolved route, op: " in line:
            op = line.split("resolved route, op: ", 1)[1].split(",")[0].strip()
            ops[op] = ops.get(op, 0) + 1
    return ops


def thousands(n: float) -> str:
    return f"{int(round(n)):,}"


# --------------------------------------------------------------------------------------------
# nginx on 127.0.0.1 (as tests/support/nginx.rs: generated config, a user process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, root: Path, work: Path):
        self.dir = work / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        d = self.dir
        opts = subprocess.run(["nginx", "-V"], capture_output=True, text=True).stderr
        temp_paths = f'client_body_temp_path "{d}/body";\n    proxy_temp_path "{d}/proxy";\n'
        for module in ("fastcgi", "uwsgi", "scgi"):
            if f"--without-http_{module}_module" not in opts:
                temp_paths += f'    {module}_temp_path "{d}/{module}";\n'
        conf = f"""daemon off;
master_process off;
worker_processes 1;
pid "{d}/nginx.pid";
error_log "{d}/error.log" notice;
events {{ worker_connections 256; }}
http {{
    log_format bench escape=json '{{"request":"$request","status":$status,"bytes":$body_bytes_sent,"range":"$http_range"}}';
    access_log "{d}/access.log" bench;
    {temp_paths}
    types {{ application/json json; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        root "{root}";
    }}
}}
"""
        (d / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(
            ["nginx", "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.2):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("nginx did not start: " + (d / "error.log").read_text())
        self.url = f"http://127.0.0.1:{self.port}"

    def log_offset(self) -> int:
        p = self.dir / "access.log"
        return p.stat().st_size if p.exists() else 0

    def entries_since(self, offset: int) -> list[dict]:
        time.sleep(0.05)  # nginx logs a request when it completes
        with open(self.dir / "access.log", "rb") as f:
            f.seek(offset)
            data = f.read().decode()
        out = []
        for line in data.splitlines():
            if line.strip():
                e = json.loads(line)
                e["path"] = e["request"].split()[1] if " " in e["request"] else ""
                out.append(e)
        return out

    def bytes_since(self, offset: int, prefix: str = "") -> tuple[int, int]:
        """(metadata bytes, target bytes) served under `prefix` since `offset`."""
        meta = targets = 0
        for e in self.entries_since(offset):
            if not e["path"].startswith(prefix):
                continue
            if "/metadata/" in e["path"]:
                meta += e["bytes"]
            else:
                targets += e["bytes"]
        return meta, targets

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


# --------------------------------------------------------------------------------------------
# The sidecar over JSON-RPC


class Sidecar:
    """`tufd sidecar` as a child; requests written to stdin, answers read from stdout."""

    def __init__(self, cmd: list, stderr_path: Path):
        self.stderr = open(stderr_path, "ab")
        self.proc = subprocess.Popen(list(map(str, cmd)), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.next_id = 1

    def _lines(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise TimeoutError("no answer from the sidecar")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError("the sidecar closed its stdout")
            self.buf += chunk

    def request(self, method: str, timeout: float = 600.0, on_note=None) -> dict:
        rid = self.next_id
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": rid,
                                          "method": method}).encode() + b"\n")
        self.proc.stdin.flush()
        for msg in self._lines(timeout):
            if msg.get("id") == rid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            if on_note is not None and on_note(msg):
                return {}

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.request("shutdown", timeout=30)
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.stderr.close()


# --------------------------------------------------------------------------------------------
# Python peers: small scripts run with the venvs' interpreters

PY_TUFUP_REPO = r"""
import json, logging, os, sys, pathlib
from tufup.repo import Repository
work, app, bundles = pathlib.Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
os.chdir(work)
repo = Repository(app_name=app, repo_dir=work / "repository", keys_dir=work / "keystore")
repo.initialize()
for version, bundle in bundles:
    repo.add_bundle(new_bundle_dir=bundle, new_version=version)
    repo.publish_changes(private_key_dirs=[work / "keystore"])
"""

PY_CHECK_WORKER = r"""
# Answers one no-update check per input line with a line "ok <update found>"; `tool` is
# "ngclient" (python-tuf Updater.refresh) or "tufup" (tufup Client.check_for_updates).
import pathlib, sys, time
tool, meta_dir, meta_url, targets_url, target_dir = sys.argv[1:6]
if tool == "ngclient":
    from tuf.ngclient import Updater
    def check():
        Updater(metadata_dir=meta_dir, metadata_base_url=meta_url, target_dir=target_dir,
                target_base_url=targets_url, bootstrap=None).refresh()
        return False
else:
    from tufup.client import Client
    def check():
        c = Client(app_name="ruff", app_install_dir=pathlib.Path(target_dir),
                   current_version=sys.argv[6], metadata_dir=pathlib.Path(meta_dir),
                   metadata_base_url=meta_url, target_dir=pathlib.Path(target_dir),
                   target_base_url=targets_url, refresh_required=True)
        return c.check_for_updates() is not None
once = len(sys.argv) > 7 and sys.argv[7] == "once"
if once:
    print("ok", check(), flush=True)
    sys.exit(0)
print("ready", flush=True)
for line in sys.stdin:
    print("ok", check(), flush=True)
"""

PY_TUFUP_UPDATE = r"""
# tufup's client, as an app embeds it: check, download, patch, extract, install (copy into the
# install folder, as tufup's macOS installer does; tufup has no Linux installer).
import pathlib, shutil, sys
from tufup.client import Client
install_dir, meta_dir, meta_url, target_dir, targets_url, extract_dir, current = sys.argv[1:8]
def install(src_dir, dst_dir, **kwargs):
    shutil.copytree(src_dir, dst_dir, symlinks=True, dirs_exist_ok=True)
c = Client(app_name="ruff", app_install_dir=pathlib.Path(install_dir), current_version=current,
           metadata_dir=pathlib.Path(meta_dir), metadata_base_url=meta_url,
           target_dir=pathlib.Path(target_dir), target_base_url=targets_url,
           extract_dir=pathlib.Path(extract_dir), refresh_required=True)
new = c.check_for_updates()
assert new is not None, "no update found"
kinds = sorted(str(t.path) for t in c.new_targets)
c.download_and_apply_update(skip_confirmation=True, install=install)
print("updated", new.version, kinds)
"""

PY_TUFUP_POLLER = r"""
# An app thread polling with tufup every second (the idle-footprint peer of the sidecar).
import pathlib, sys, time
from tufup.client import Client
meta_dir, meta_url, target_dir, targets_url, current = sys.argv[1:6]
print("ready", flush=True)
while True:
    Client(app_name="ruff", app_install_dir=pathlib.Path(target_dir), current_version=current,
           metadata_dir=pathlib.Path(meta_dir), metadata_base_url=meta_url,
           target_dir=pathlib.Path(target_dir), target_base_url=targets_url).check_for_updates()
    time.sleep(1)
"""


class Worker:
    """A persistent Python check worker (warm: imports done, metadata cached on disk)."""

    def __init__(self, cmd: list):
        self.proc = subprocess.Popen(list(map(str, cmd)), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"worker did not start: {line}{self.proc.stderr.read()}")

    def check(self) -> float:
        start = time.perf_counter()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        took = time.perf_counter() - start
        if not line.startswith("ok False"):
            raise RuntimeError(f"worker check failed: {line!r} {self.proc.stderr.read()}")
        return took

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# --------------------------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.work = Path(args.work)
        self.data = Path(args.data)
        # bench/run.sh builds both workspaces into $CARGO_TARGET_DIR, by default the same folder.
        target_dir = os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache" / "tufd-target"
        target = Path(target_dir) / "release"
        bins = Path(args.bin_dir) if args.bin_dir else target
        self.tufd = bins / "tufd"
        self.tufd_repo = bins / "tufd-repo"
        self.codecs = target / "tufd-bench-codecs"
        # An earlier tufd binary measured beside this one in the no-update check (optional).
        self.previous = Path(args.previous_tufd) if args.previous_tufd else None
        needed = [self.codecs] if args.only == "patches" else [
            self.tufd, self.tufd_repo, self.codecs, *filter(None, [self.previous])]
        for exe in needed:
            if not exe.is_file():
                raise SystemExit(f"missing {exe}: build it with bench/run.sh (or set "
                                 "CARGO_TARGET_DIR to the folder cargo built it in)")
        self.env = dict(os.environ, RUST_LOG="warn")
        self.sections: list[str] = []
        self.behind: list[str] = []
        self.nginx: Nginx | None = None

    # ---------------------------------------------------------------- setup
    def setup(self) -> None:
        self.load_start = Path("/proc/loadavg").read_text().split()[:3]
        for v in VERSIONS:
            if not (self.data / f"ruff-{v}").is_dir():
                raise SystemExit(f"missing bundle {self.data}/ruff-{v} (bench/fetch-bundles.sh)")
        self.work.mkdir(parents=True, exist_ok=True)
        self.tars = {}
        tdir = self.work / "tars"
        tdir.mkdir(exist_ok=True)
        for v in VERSIONS:
            out = tdir / f"ruff-{v}.tar"
            size, sha = sh([self.codecs, "tar", self.data / f"ruff-{v}", out]).split()
            self.tars[v] = (out, int(size), sha)
        self.publish_times = {}
        if self.args.only == "patches":  # the patch section needs only the tars
            return
        log("publishing the three releases with tufd-repo and with tufup")
        self.publish_times = {}
        pub = self.work / "tufd-pub"
        pub.mkdir()
        sh([self.tufd_repo, "init", "--app-name", "ruff"], cwd=pub, env=self.env)
        for v in VERSIONS:
            r = measure([self.tufd_repo, "add", self.data / f"ruff-{v}", "--version", v],
                        cwd=pub, env=self.env)
            self.publish_times[("tufd-repo add", v)] = r
            if v == VERSIONS[-2]:
                # The working folder one release back: section 6 publishes it, then the rest.
                shutil.copytree(pub, self.work / "tufd-pub-prev", symlinks=True)
        tu = self.work / "tufup-pub"
        tu.mkdir()
        bundles = json.dumps([[v, str(self.data / f"ruff-{v}")] for v in VERSIONS])
        r = measure([VENV_TUFUP, "-c", PY_TUFUP_REPO, tu, "ruff", bundles], cwd=tu)
        self.publish_times[("tufup add_bundle + publish_changes", "all three")] = r
        self.nginx = Nginx(self.work, self.work)
        base = self.nginx.url
        self.tufd_meta = f"{base}/tufd-pub/repository/metadata/"
        self.tufd_targets = f"{base}/tufd-pub/repository/targets/"
        self.tufd_root = pub / "repository" / "metadata" / "1.root.json"
        self.tufup_meta = f"{base}/tufup-pub/repository/metadata/"
        self.tufup_targets = f"{base}/tufup-pub/repository/targets/"
        self.tufup_root = tu / "repository" / "metadata" / "root.json"
        self.tufup_targets_dir = tu / "repository" / "targets"
        self.tufd_targets_dir = pub / "repository" / "targets"

    def tufd_flags(self, install: Path, data: Path, current: str | None = None) -> list:
        flags = ["--app-name", "ruff", "--install-dir", install, "--data-dir", data,
                 "--metadata-url", self.tufd_meta, "--targets-url", self.tufd_targets,
                 "--trusted-root", self.tufd_root]
        if current:
            flags += ["--current-version", current]
        else:
            flags += ["--version-file", "VERSION"]
        return flags

    def copy_bundle(self, version: str, dest: Path) -> Path:
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(self.data / f"ruff-{version}", dest, symlinks=True)
        return dest

    # ---------------------------------------------------------------- 1. patches
    def synthetic_tars(self, d: Path) -> tuple[Path, Path]:
        """A synthetic pair of about 300 MB bundles (tars of SYNTHETIC_FILES files of pseudo-random
        bytes, deterministic): the new one edits 16 bytes every MiB of each file, replaces one
        file, inserts 1 MiB into another and adds a 5 MiB file."""
        import random
        old_dir, new_dir = d / "synthetic-old", d / "synthetic-new"
        for folder in (old_dir, new_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for i in range(SYNTHETIC_FILES):
            data = bytearray(random.Random(i).randbytes(SYNTHETIC_FILE_BYTES))
            (old_dir / f"part{i:02}.bin").write_bytes(data)
            edits = random.Random(1000 + i)
            for at in range(0, len(data) - MIB, MIB):
                off = at + edits.randrange(MIB - 16)
                data[off:off + 16] = edits.randbytes(16)
            if i == 3:
                data = bytearray(random.Random(2000 + i).randbytes(SYNTHETIC_FILE_BYTES))
            if i == 7:
                data[len(data) // 2:len(data) // 2] = random.Random(3000).randbytes(MIB)
            (new_dir / f"part{i:02}.bin").write_bytes(data)
        (new_dir / "added.bin").write_bytes(random.Random(4000).randbytes(5 * MIB))
        tars = []
        for folder in (old_dir, new_dir):
            out = d / f"{folder.name}.tar"
            sh([self.codecs, "tar", folder, out])
            shutil.rmtree(folder)
            tars.append(out)
        return tars[0], tars[1]

    def bench_patches(self) -> None:
        reps = 1 if self.quick else self.args.patch_reps
        d = self.work / "patches"
        d.mkdir()
        pairs = []  # (label, old tar, new tar, reps, zstd --long)
        for old_v, new_v in zip(VERSIONS, VERSIONS[1:]):
            old, new = self.tars[old_v][0], self.tars[new_v][0]
            if self.quick:  # the first 8 MiB of each tar: same kind of data, a fraction of the time
                cut = []
                for name, src in ((f"{old_v}-cut", old), (f"{new_v}-cut", new)):
                    with open(src, "rb") as f, open(d / f"{name}.tar", "wb") as g:
                        g.write(f.read(8 * MIB))
                    cut.append(d / f"{name}.tar")
                old, new = cut
            pairs.append((f"ruff {old_v} → {new_v}", old, new, reps, 27))
        if not self.quick:  # the other executable formats and ARM64, last two releases
            old_v, new_v = VERSIONS[-2:]
            for build in ("windows", "macos", "linux-arm64", "macos-arm64"):
                tars = []
                for v in (old_v, new_v):
                    folder = self.data / f"ruff-{build}-{v}"
                    if not folder.is_dir():
                        raise SystemExit(f"missing bundle {folder} (bench/fetch-bundles.sh)")
                    tars.append(d / f"ruff-{build}-{v}.tar")
                    sh([self.codecs, "tar", folder, tars[-1]])
                pairs.append((f"ruff {old_v} → {new_v}, {build} build", *tars, reps, 27))
        if not self.quick and self.args.synthetic:
            log("patch: writing the synthetic ~300 MB bundles")
            old, new = self.synthetic_tars(d)
            pairs.append(("synthetic ~300 MB bundle", old, new, 1, 29))
        py, hd = VENV_TUFUP, VENV_HDIFF

        def tufd(codec):
            return (lambda o, n, p, z: [self.codecs, "diff", codec, o, n, p],
                    lambda o, p, size, sha, out, z: [self.codecs, "apply", codec, o, p, size, sha,
                                                     out])

        def hdiff(compression):
            return (lambda o, n, p, z: [hd, "-c", PY_HDIFF_DIFF, compression, o, n, p],
                    lambda o, p, size, sha, out, z: [hd, "-c", PY_HDIFF_APPLY, o, p, out])

        tools = {
            "tufd bidiff-zstd": tufd("bidiff-zstd"),
            "tufd bsdiff4": tufd("bsdiff4"),
            "tufd bsdiff-lzma": tufd("bsdiff-lzma"),
            "HDiffPatch lzma2": hdiff("lzma2"),
            "HDiffPatch zstd": hdiff("zstd"),
            "Python bsdiff4 (tufup)": (
                lambda o, n, p, z: [py, "-c",
                                    "import bsdiff4,sys; bsdiff4.file_diff(*sys.argv[1:])", o, n,
                                    p],
                lambda o, p, size, sha, out, z: [
                    py, "-c", "import bsdiff4,sys; bsdiff4.file_patch(*sys.argv[1:])", o, out, p]),
            "zstd --patch-from -19 --long": (
                lambda o, n, p, z: ["zstd", "-q", "-f", "-19", f"--long={z}", f"--patch-from={o}",
                                    n, "-o", p],
                lambda o, p, size, sha, out, z: ["zstd", "-q", "-f", "-d", f"--long={z}",
                                                 f"--patch-from={o}", p, "-o", out]),
        }
        base = "tufd bsdiff-lzma"
        keys = [("bytes", "patch bytes"), ("ccpu", "create CPU"), ("crss", "create RSS"),
                ("acpu", "apply CPU"), ("awall", "apply wall"), ("arss", "apply RSS")]
        parts = []
        for label, old, new, pair_reps, zlong in pairs:
            new_size, new_sha = new.stat().st_size, sha256_file(new)
            stats = {t: {k: Series() for k in ("bytes", "ccpu", "cwall", "crss", "acpu", "awall",
                                                 "arss")} for t in tools}
            for rep in range(pair_reps):
                for tool, (diff, apply) in tools.items():
                    log(f"patch {label} {rep + 1}/{pair_reps}: {tool}")
                    patch, out = d / "patch", d / "out.tar"
                    c = measure(diff(old, new, patch, zlong))
                    a = measure(apply(old, patch, new_size, new_sha, out, zlong))
                    if out.stat().st_size != new_size or sha256_file(out) != new_sha:
                        raise RuntimeError(f"{tool}: the patched tar differs from the new tar")
                    log(f"  {patch.stat().st_size:,} B, create {c.cpu:.2f} s CPU "
                        f"{c.rss_kib / 1024:.0f} MiB, apply {a.cpu:.2f} s CPU "
                        f"{a.rss_kib / 1024:.0f} MiB")
                    s = stats[tool]
                    s["bytes"].add(patch.stat().st_size)
                    s["ccpu"].add(c.cpu)
                    s["cwall"].add(c.wall)
                    s["crss"].add(c.rss_kib / 1024)
                    s["acpu"].add(a.cpu)
                    s["awall"].add(a.wall)
                    s["arss"].add(a.rss_kib / 1024)
                    patch.unlink()
                    out.unlink()
            rows = []
            for tool, s in stats.items():
                rows.append([tool, s["bytes"].fmt("{:,.0f}"), s["ccpu"].fmt(), s["cwall"].fmt(),
                             s["crss"].fmt("{:.0f}"), s["acpu"].fmt(), s["awall"].fmt(),
                             s["arss"].fmt("{:.0f}")])
            ratio_rows = []
            for tool in tools:
                if tool == base:
                    continue
                cells = [tool]
                for k, name in keys:
                    r = Series([p / b for p, b in zip(stats[tool][k].values,
                                                      stats[base][k].values)])
                    cells.append(ratio_fmt(r))
                    if r.med < 0.95 and not tool.startswith("tufd"):
                        self.behind.append(("patch-" + k, f"patches ({label}): {tool} {name} "
                                                          f"is {r.med:.2f}× tufd bsdiff-lzma's"))
                ratio_rows.append(cells)
            size_note = (" (the first 8 MiB of each tar, `--quick`)" if self.quick else
                         f" ({thousands(old.stat().st_size)} B → {thousands(new_size)} B)")
            parts.append(f"""### {label}{size_note}, {pair_reps} run(s) per tool

{table(["tool", "patch B", "create CPU s", "create wall s", "create RSS MiB", "apply CPU s",
        "apply wall s", "apply RSS MiB"], rows)}

Ratios peer / tufd `bsdiff-lzma` (lower = the peer is smaller or cheaper):

{table(["peer"] + [k[1] for k in keys], ratio_rows)}
""")
        body = "\n".join(parts)
        self.sections.append(f"""## 1. Patch creation and application

Uncompressed deterministic tars of consecutive ruff releases and of a synthetic ~300 MB bundle
(pseudo-random files with scattered edits, one file replaced, one grown, one added; made by
`bench/harness.py`); tools interleaved. Each step is its own process under GNU `time -v`:
CPU = user + sys seconds, RSS = peak resident set in MiB. tufd's codecs run through
`bench/codecs` (`tufd_core::patch`, the code `tufd-repo add` and the daemon call); apply checks
the output's sha256 and length. HDiffPatch runs through its Python wrapper (`hdiffpatch`,
`diff(old, new, compression, validate=False)` and `apply`, inputs read whole). Every output
was compared with the real new tar. The Python and zstd figures include interpreter/process
start (about 0.03–0.1 s); `zstd --patch-from` uses `--long=27` on ruff and `--long=29` on the
synthetic bundle (its window must cover the base).

{body}""")

    # ---------------------------------------------------------------- 2. checks
    def bench_checks(self) -> None:
        n = 5 if self.quick else self.args.check_runs
        d = self.work / "checks"
        d.mkdir()
        app = self.copy_bundle(VERSIONS[-1], d / "app")
        tufd_data = d / "tufd-data"
        flags = self.tufd_flags(app, tufd_data, VERSIONS[-1])
        # python-tuf ngclient reads the tufd repository (same metadata as tufd).
        ng_meta = d / "ngclient-meta"
        ng_meta.mkdir()
        shutil.copy(self.tufd_root, ng_meta / "root.json")
        ng_targets = d / "ngclient-targets"
        ng_targets.mkdir()
        ng_args = ["ngclient", ng_meta, self.tufd_meta, self.tufd_targets, ng_targets]
        # tufup's client reads the tufup repository made from the same bundles.
        tu_meta = d / "tufup-meta"
        tu_meta.mkdir()
        shutil.copy(self.tufup_root, tu_meta / "root.json")
        tu_targets = d / "tufup-targets"
        tu_targets.mkdir()
        tu_args = ["tufup", tu_meta, self.tufup_meta, self.tufup_targets, tu_targets,
                   VERSIONS[-1]]

        # The earlier tufd, if given, keeps its own data folder (its metadata store may differ).
        prev_flags = self.tufd_flags(app, d / "tufd-previous-data", VERSIONS[-1])

        def tufd_once(exe=self.tufd, flags=flags) -> float:
            r = measure([exe, "check", "--json", *flags], env=self.env)
            if json.loads(r.stdout)["update_available"]:
                raise RuntimeError(f"{exe} check found an update")
            return r.wall

        def py_once(py, argv) -> float:
            argv = argv + ([""] if len(argv) == 5 else []) + ["once"]
            r = measure([py, "-c", PY_CHECK_WORKER, *argv])
            if not r.stdout.startswith("ok False"):
                raise RuntimeError(f"check failed: {r.stdout} {r.stderr}")
            return r.wall

        # Warm-up: first runs fetch and cache the metadata for every tool.
        tufd_once()
        if self.previous:
            tufd_once(self.previous, prev_flags)
        py_once(VENV_TUF, ng_args)
        py_once(VENV_TUFUP, tu_args)
        kinds = ("tufd", *(["previous"] if self.previous else []), "ngclient", "tufup")
        one = {k: Series() for k in kinds}
        log(f"checks: {n} one-shot processes per tool")
        for _ in range(n):
            one["tufd"].add(tufd_once())
            if self.previous:
                one["previous"].add(tufd_once(self.previous, prev_flags))
            one["ngclient"].add(py_once(VENV_TUF, ng_args))
            one["tufup"].add(py_once(VENV_TUFUP, tu_args))
        log(f"checks: {n} warm checks per tool")
        side = Sidecar([self.tufd, "sidecar", *flags, "--poll-interval", "0"],
                       d / "sidecar.log")
        prev = Sidecar([self.previous, "sidecar", *prev_flags, "--poll-interval", "0"],
                       d / "sidecar-previous.log") if self.previous else None
        ng = Worker([VENV_TUF, "-c", PY_CHECK_WORKER, *ng_args])
        tu = Worker([VENV_TUFUP, "-c", PY_CHECK_WORKER, *tu_args])
        warm = {k: Series() for k in kinds}
        side.request("check")
        if prev:
            prev.request("check")
        ng.check()
        tu.check()
        for _ in range(n):
            start = time.perf_counter()
            res = side.request("check", timeout=60)
            warm["tufd"].add(time.perf_counter() - start)
            if res["update_available"]:
                raise RuntimeError("sidecar check found an update")
            if prev:
                start = time.perf_counter()
                res = prev.request("check", timeout=60)
                warm["previous"].add(time.perf_counter() - start)
                if res["update_available"]:
                    raise RuntimeError("previous sidecar check found an update")
            warm["ngclient"].add(ng.check())
            warm["tufup"].add(tu.check())
        side.shutdown()
        if prev:
            prev.shutdown()
        ng.close()
        tu.close()
        rows = []
        labels = {"tufd": "tufd (`tufd check` / sidecar `check`)",
                  "previous": f"earlier tufd ({self.args.previous_label or self.previous})",
                  "ngclient": f"python-tuf ngclient {self.versions.get('tuf', '')} `refresh()`",
                  "tufup": f"tufup {self.versions.get('tufup', '')} `check_for_updates()`"}
        for k in one:
            r1 = Series([p / b for p, b in zip(one[k].values, one["tufd"].values)])
            r2 = Series([p / b for p, b in zip(warm[k].values, warm["tufd"].values)])
            rows.append([labels[k], one[k].fmt("{:.1f}", 1000), "—" if k == "tufd" else
                         ratio_fmt(r1), warm[k].fmt("{:.1f}", 1000),
                         "—" if k == "tufd" else ratio_fmt(r2)])
            if k != "tufd":
                for what, r in (("one-shot", r1), ("warm", r2)):
                    if r.med < 0.95:
                        who = "the earlier tufd's" if k == "previous" else k
                        self.behind.append((f"check-{what}", f"check: {who} {what} latency is "
                                                               f"{r.med:.2f}× tufd's"))
        self.sections.append(f"""## 2. No-update check

The app is at {VERSIONS[-1]}, the newest release; metadata already cached by a first run.
**One-shot**: a fresh process per check (`tufd check --json`; `python -c` with the peer), wall
time of the process, so interpreter start and imports count. **Warm**: a long-running process
per tool answering one check per request — the tufd sidecar over JSON-RPC on stdio (`check`), a
Python worker that has imported the library and builds a new `Updater`/`Client` per check
(ngclient's `Updater` refreshes once per instance) — round trip measured by this driver.
ngclient reads the tufd repository; tufup reads the tufup repository of the same bundles.
{"The earlier tufd (`--previous-tufd`) reads the tufd repository with its own data folder." +
 chr(10) if self.previous else ""}{n} runs per tool, interleaved; milliseconds.

{table(["client", "one-shot ms", "× tufd", "warm ms", "× tufd"], rows)}
""")

    # ---------------------------------------------------------------- 3. whole update
    def bench_updates(self) -> None:
        reps = 2 if self.quick else self.args.update_reps
        d = self.work / "updates"
        d.mkdir()
        stats = {t: {k: Series() for k in ("wall", "cpu", "rss", "meta", "targets")}
                 for t in ("tufd", "tufup")}
        kinds = {}
        new_bin = sha256_file(self.data / f"ruff-{VERSIONS[-1]}" / "bin" / "ruff")
        for rep in range(reps):
            log(f"update {rep + 1}/{reps}: tufd")
            app = self.copy_bundle(VERSIONS[0], d / f"tufd-app-{rep}")
            data = d / f"tufd-data-{rep}"
            off = self.nginx.log_offset()
            r = measure([self.tufd, "update", "--yes", *self.tufd_flags(app, data)],
                        env=self.env)
            meta, targets = self.nginx.bytes_since(off, "/tufd-pub/")
            kinds["tufd"] = sorted({e["path"].rsplit("/", 1)[1].split(".", 1)[1]
                                    for e in self.nginx.entries_since(off)
                                    if "/targets/" in e["path"]})
            if sha256_file(app / "bin" / "ruff") != new_bin:
                raise RuntimeError("tufd did not install the new release")
            for k, v in (("wall", r.wall), ("cpu", r.cpu), ("rss", r.rss_kib / 1024),
                         ("meta", meta), ("targets", targets)):
                stats["tufd"][k].add(v)
            self.update_rss_tufd = stats["tufd"]["rss"]
            shutil.rmtree(app)
            shutil.rmtree(data)

            log(f"update {rep + 1}/{reps}: tufup")
            app = self.copy_bundle(VERSIONS[0], d / f"tufup-app-{rep}")
            meta_dir = d / f"tufup-meta-{rep}"
            meta_dir.mkdir()
            shutil.copy(self.tufup_root.parent / "1.root.json", meta_dir / "root.json")
            tdir = d / f"tufup-targets-{rep}"
            tdir.mkdir()
            # A deployed tufup app keeps its current archive in the cache (the patch base).
            shutil.copy(self.tufup_targets_dir / f"ruff-{VERSIONS[0]}.tar.gz", tdir)
            extract = d / f"tufup-extract-{rep}"
            extract.mkdir()
            off = self.nginx.log_offset()
            r = measure([VENV_TUFUP, "-c", PY_TUFUP_UPDATE, app, meta_dir, self.tufup_meta, tdir,
                         self.tufup_targets, extract, VERSIONS[0]])
            meta, targets = self.nginx.bytes_since(off, "/tufup-pub/")
            kinds["tufup"] = sorted({e["path"].rsplit("/", 1)[1]
                                     for e in self.nginx.entries_since(off)
                                     if "/targets/" in e["path"]})
            if sha256_file(app / "bin" / "ruff") != new_bin:
                raise RuntimeError("tufup did not install the new release")
            for k, v in (("wall", r.wall), ("cpu", r.cpu), ("rss", r.rss_kib / 1024),
                         ("meta", meta), ("targets", targets)):
                stats["tufup"][k].add(v)
            for p in (app, meta_dir, tdir, extract):
                shutil.rmtree(p)
        rows = []
        for t in ("tufd", "tufup"):
            s = stats[t]
            rows.append([t, s["wall"].fmt(), s["cpu"].fmt(), s["rss"].fmt("{:.0f}"),
                         s["targets"].fmt("{:,.0f}"), s["meta"].fmt("{:,.0f}"),
                         ", ".join(kinds.get(t, []))])
        ratio = []
        for k, label in (("wall", "wall"), ("cpu", "CPU"), ("rss", "peak RSS"),
                         ("targets", "target bytes"), ("meta", "metadata bytes")):
            r = Series([p / b for p, b in zip(stats["tufup"][k].values,
                                              stats["tufd"][k].values) if b])
            ratio.append(ratio_fmt(r))
            if r.values and r.med < 0.95:
                self.behind.append((f"update-{k}",
                                    f"update: tufup {label} is {r.med:.2f}× tufd's"))
        self.sections.append(f"""## 3. Whole update {VERSIONS[0]} → {VERSIONS[-1]}

A fresh install of {VERSIONS[0]} (a copy of its bundle), fresh client state holding only the
trusted root (tufup's cache also holds `ruff-{VERSIONS[0]}.tar.gz`, the base a deployed tufup
app keeps), then one process: check, download, patch, verify, extract, install. tufd: `tufd
update --yes` (bidiff-zstd patches, journaled folder swap). tufup: `Client.check_for_updates()`
+ `download_and_apply_update()` with an install callable copying the extracted tree into the
install folder (what its macOS installer does; tufup has no Linux installer). Bytes from the
nginx access log. {reps} run(s), interleaved.

{table(["client", "wall s", "CPU s", "peak RSS MiB", "target bytes", "metadata bytes",
        "targets fetched"], rows, "lrrrrrl")}

tufup / tufd: wall {ratio[0]}, CPU {ratio[1]}, peak RSS {ratio[2]}, target bytes {ratio[3]},
metadata bytes {ratio[4]}.
""")

    # ---------------------------------------------------------------- 6. publish
    def bench_publish(self) -> None:
        title = "## 6. Publishing to object storage"
        s3s = Path(os.environ.get("TUFD_S3S_FS")
                   or Path.home() / ".cache" / "tufd-tools" / "s3s-fs" / "bin" / "s3s-fs")
        if not s3s.is_file():
            why = (f"no s3s-fs at {s3s} (scripts/test.sh installs it: cargo install s3s-fs "
                   "--version 0.14.1 --features binary; or set TUFD_S3S_FS)")
            log(f"publish: skipped: {why}")
            self.sections.append(f"{title}\n\nSkipped in this run: {why}.\n")
            return
        reps = 1 if self.quick else self.args.publish_reps
        s3s_version = subprocess.run([s3s, "--version"], capture_output=True,
                                     text=True).stdout.strip() or "s3s-fs"
        d = self.work / "publish"
        store = d / "s3"
        bucket = store / "tufd-bench"
        bucket.mkdir(parents=True)
        server_log = d / "s3s-fs.log"
        key, secret = "tufd-bench", "tufd-bench-secret"
        with open(server_log, "w") as out:
            server = subprocess.Popen(
                [s3s, "--host", "127.0.0.1", "--port", "0", "--access-key", key,
                 "--secret-key", secret, store], stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, RUST_LOG="s3s_fs=info,s3s::ops=debug", NO_COLOR="1"))
        try:
            port = None
            deadline = time.time() + 30
            while port is None and time.time() < deadline:
                for line in server_log.read_text().splitlines():
                    if "server is running at http://127.0.0.1:" in line:
                        port = int(line.rsplit(":", 1)[1].strip())
                time.sleep(0.1)
            if port is None:
                raise RuntimeError(f"s3s-fs did not start: {server_log.read_text()[-2000:]}")
            env = dict(self.env, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
                       AWS_REGION="us-east-1")
            dest = ["s3://tufd-bench/ruff", "--endpoint", f"http://127.0.0.1:{port}"]
            prev, full = self.work / "tufd-pub-prev", self.work / "tufd-pub"
            steps = [
                ("three releases, empty bucket", full, True),
                ("the same again (nothing to do)", full, False),
                (f"{VERSIONS[0]} and {VERSIONS[1]}, empty bucket", prev, True),
                (f"then {VERSIONS[2]} (incremental)", full, False),
            ]
            stats = {name: {k: Series() for k in ("wall", "cpu", "rss")} for name, _, _ in steps}
            counts: dict[str, tuple[int, int, dict]] = {}
            for rep in range(reps):
                for name, folder, empty in steps:
                    log(f"publish {rep + 1}/{reps}: {name}")
                    if empty:
                        shutil.rmtree(bucket)
                        bucket.mkdir()
                    offset = server_log.stat().st_size
                    r = measure([self.tufd_repo, "publish", *dest], cwd=folder, env=env)
                    with open(server_log) as f:
                        f.seek(offset)
                        ops = s3_operations(f.read())
                    summary = r.stdout.strip().splitlines()[-1]
                    objects = int(summary.split("published ", 1)[1].split(" ", 1)[0])
                    sent = int(summary.split("object(s), ", 1)[1].split(" ", 1)[0])
                    counts[name] = (objects, sent, ops)
                    for k, v in (("wall", r.wall), ("cpu", r.cpu), ("rss", r.rss_kib / 1024)):
                        stats[name][k].add(v)
        finally:
            server.terminate()
            server.wait()
        rows = []
        for name, _, _ in steps:
            objects, sent, ops = counts[name]
            s = stats[name]
            rows.append([name, s["wall"].fmt(), s["cpu"].fmt(), s["rss"].fmt("{:.0f}"),
                         thousands(objects), thousands(sent), thousands(sum(ops.values())),
                         ", ".join(f"{op} {n}" for op, n in sorted(ops.items()))])
        self.sections.append(f"""{title}

`tufd-repo publish s3://tufd-bench/ruff --endpoint http://127.0.0.1:PORT` of the workload's
tufd repository (the three releases published with `tufd-repo add`, see "Publishing" below) to
`{s3s_version}` on 127.0.0.1 (path-style, signed requests; the bucket is a folder on the same
disk): the whole tree to an empty bucket, the same publish again, then the working folder as it
was after {VERSIONS[1]} to an empty bucket and the one after {VERSIONS[2]} on top of it.
Requests are the S3 operations `s3s-fs` routed (its log); bytes are the object bytes uploaded.
{reps} run(s) of each step, in that order.

{table(["step", "wall s", "CPU s", "peak RSS MiB", "objects uploaded", "bytes uploaded",
        "requests", "by operation"], rows, "lrrrrrrl")}

The publish lists the bucket once, reads `1.root.json` (is it ours?) and, when `timestamp.json`
or `root.json` has the size of ours, the object to compare; every other object it lacks is one
`PutObject` (multipart above 16 MiB), up to 4 at a time within an upload group.
""")

    # ---------------------------------------------------------------- 4. download
    def bench_download(self) -> None:
        size_mib = self.args.download_mib if not self.quick else 64
        reps = 1 if self.quick else self.args.download_reps
        d = self.work / "download"
        d.mkdir()
        bundle = d / "bundle-1.0"
        bundle.mkdir()
        log(f"download: generating {size_mib} MiB of pseudo-random data")
        with open(bundle / "blob.bin", "wb") as f:
            for _ in range(size_mib // 16):
                f.write(os.urandom(16 * MIB))
        (bundle / "VERSION").write_text("1.0\n")
        pub = d / "pub"
        pub.mkdir()
        sh([self.tufd_repo, "init", "--app-name", "big"], cwd=pub, env=self.env)
        log("download: tufd-repo add (archive + sign)")
        self.big_add = measure([self.tufd_repo, "add", bundle, "--version", "1.0"], cwd=pub,
                               env=self.env)
        (bundle / "blob.bin").unlink()
        archive = next((pub / "repository" / "targets").glob("*big-1.0.tar.gz"))
        total = archive.stat().st_size
        url = f"{self.nginx.url}/download/pub/repository/targets/{archive.name}"
        flags = ["--app-name", "big", "--current-version", "0.9",
                 "--metadata-url", f"{self.nginx.url}/download/pub/repository/metadata/",
                 "--targets-url", f"{self.nginx.url}/download/pub/repository/targets/",
                 "--trusted-root", pub / "repository" / "metadata" / "1.root.json",
                 "--poll-interval", "0"]
        stats = {k: Series() for k in ("tufd_dl", "tufd_all", "curl", "ratio", "tufd_rss",
                                       "curl_rss", "nosync_dl", "nosync_ratio", "curl_sha",
                                       "ratio_sha")}
        # Diagnosis: the same download with fsync made a no-op (Debian's eatmydata).
        eatmydata = shutil.which("eatmydata")

        def tufd_session(run: int, kill_at: float | None, prefix: tuple = ()):
            app = d / f"app-{run}"
            app.mkdir(exist_ok=True)
            data = d / f"data-{run}"
            cmd = [*prefix, self.tufd, "sidecar", *flags, "--install-dir", app,
                   "--data-dir", data]
            if kill_at is None:
                cmd = [GNU_TIME, "-v", "-o", d / "sidecar.time", *cmd]
            side = Sidecar(cmd, d / "sidecar.log")
            marks = {}

            def note(msg):
                p = msg.get("params") or {}
                if msg.get("method") == "progress" and p.get("total_bytes"):
                    if p["done_bytes"] >= p["total_bytes"]:
                        marks.setdefault("done", time.perf_counter())
                    if kill_at is not None and p["done_bytes"] >= kill_at * p["total_bytes"]:
                        marks["killed_at"] = p["done_bytes"]
                        return True
                return False

            start = time.perf_counter()
            side.request("download", timeout=1800, on_note=note)
            end = time.perf_counter()
            if kill_at is not None and "killed_at" in marks:
                # The sidecar runs directly (no time wrapper), so this kills tufd itself.
                side.kill()
                return marks
            side.shutdown()
            cpu, rss = parse_gnu_time((d / "sidecar.time").read_text())
            marks.update(start=start, end=end, rss=rss)
            return marks

        for rep in range(reps):
            log(f"download {rep + 1}/{reps}: tufd")
            m = tufd_session(rep, None)
            dl = m["done"] - m["start"]
            stats["tufd_dl"].add(dl)
            stats["tufd_all"].add(m["end"] - m["start"])
            stats["tufd_rss"].add(m["rss"] / 1024)
            shutil.rmtree(d / f"data-{rep}")
            shutil.rmtree(d / f"app-{rep}")
            log(f"download {rep + 1}/{reps}: curl")
            out = d / "curl.out"
            r = measure(["curl", "-sS", "-f", "-o", out, url])
            if out.stat().st_size != total:
                raise RuntimeError("curl fetched a different length")
            out.unlink()
            stats["curl"].add(r.wall)
            stats["curl_rss"].add(r.rss_kib / 1024)
            stats["ratio"].add((total / dl) / (total / r.wall))
            # The same promise as tufd's: the file checked against its sha256 (streamed through
            # sha256sum while it is written, as a careful script would).
            log(f"download {rep + 1}/{reps}: curl | tee | sha256sum")
            r = measure(["sh", "-c", f"curl -sS -f '{url}' | tee '{out}' | sha256sum"])
            if out.stat().st_size != total:
                raise RuntimeError("curl | tee fetched a different length")
            out.unlink()
            stats["curl_sha"].add(r.wall)
            stats["ratio_sha"].add(r.wall / dl)
            if eatmydata:
                log(f"download {rep + 1}/{reps}: tufd under eatmydata (diagnosis)")
                m = tufd_session(rep, None, (eatmydata,))
                stats["nosync_dl"].add(m["done"] - m["start"])
                stats["nosync_ratio"].add((m["done"] - m["start"]) / dl)
                shutil.rmtree(d / f"data-{rep}")
                shutil.rmtree(d / f"app-{rep}")

        # Resume after SIGKILL at 50%.
        log("download: resume after SIGKILL at 50% (tufd)")
        off = self.nginx.log_offset()
        m = tufd_session(99, 0.5)
        first = sum(e["bytes"] for e in self.nginx.entries_since(off) if "big-1.0" in e["path"])
        part = sum(p.stat().st_size for p in (d / "data-99").rglob("*") if p.is_file()
                   and p.stat().st_size > MIB)
        off = self.nginx.log_offset()
        tufd_session(99, None)
        again_tufd = sum(e["bytes"] for e in self.nginx.entries_since(off)
                         if "big-1.0" in e["path"])
        ranges_tufd = [e["range"] for e in self.nginx.entries_since(off)
                       if "big-1.0" in e["path"]]
        log("download: resume after SIGKILL at 50% (curl)")
        out = d / "curl.out"
        off = self.nginx.log_offset()
        p = subprocess.Popen(["curl", "-sS", "-f", "-o", out, url])
        while p.poll() is None:
            if out.exists() and out.stat().st_size >= total / 2:
                p.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        p.wait()
        curl_kept = out.stat().st_size
        first_curl = sum(e["bytes"] for e in self.nginx.entries_since(off))
        off = self.nginx.log_offset()
        sh(["curl", "-sS", "-f", "-C", "-", "-o", out, url])
        if out.stat().st_size != total or sha256_file(out) != sha256_file(archive):
            raise RuntimeError("curl resume gave a different file")
        again_curl = sum(e["bytes"] for e in self.nginx.entries_since(off))
        out.unlink()
        shutil.rmtree(d / "data-99")
        shutil.rmtree(d / "app-99")
        thr = Series([total / MIB / v for v in stats["tufd_dl"].values])
        thr_curl = Series([total / MIB / v for v in stats["curl"].values])
        thr_nosync = Series([total / MIB / v for v in stats["nosync_dl"].values])
        nosync_note = ""
        if stats["nosync_dl"].values:
            gap = stats["tufd_dl"].med - stats["curl"].med
            saved = stats["tufd_dl"].med - stats["nosync_dl"].med
            if gap > 0 and saved <= gap:
                share = (f"the checkpoints' fsyncs account for {100 * saved / gap:.0f}% of "
                         f"the gap to curl (medians)")
            elif gap > 0:
                share = "without the checkpoints' fsyncs tufd would be ahead of curl (medians)"
            else:
                share = "tufd is not behind curl (medians)"
            nosync_note = (f" Without fsync the tufd download takes "
                           f"{ratio_fmt(stats['nosync_ratio'])} the time of the normal one "
                           f"(pair by pair): {share}.")
        self.download_rss_tufd = stats["tufd_rss"]
        if stats["ratio"].med < 0.95:
            self.behind.append(("download", f"download: tufd throughput is "
                                             f"{stats['ratio'].med:.2f}× curl's"))
        # Bytes nginx sent twice: sent before the kill but lost with the process (socket
        # buffers, user-space buffers) or cut off on resume. The kill points differ a little,
        # so this, not "fetched again", compares the two fairly.
        twice_tufd = first + again_tufd - total
        twice_curl = first_curl + again_curl - total
        if twice_tufd > max(2 * twice_curl, 8 * MIB):
            self.behind.append(("resume", f"download resume: nginx sent {twice_tufd:,} B twice "
                                f"to tufd, {twice_curl:,} B to curl"))
        size_note = "" if size_mib >= 1024 else (
            f" ({size_mib} MiB instead of 1 GiB: " +
            ("`--quick`)" if self.quick else "`--download-mib`)"))
        self.sections.append(f"""## 4. Download

One target of {size_mib} MiB of pseudo-random bytes{size_note}, published with `tufd-repo add`
(a `.tar.gz` of {thousands(total)} B; `add` took {self.big_add.wall:.1f} s wall,
{self.big_add.rss_kib / 1024:.0f} MiB peak RSS), from nginx on 127.0.0.1. tufd: the sidecar's
`download` request from a fresh data folder; *download* is request → the last `progress`
notification (metadata refresh, download with on-the-fly sha256 into the `.part` file),
*whole* adds verifying and extracting into the staging folder. curl: `curl -o FILE`, process
wall time. {reps} run(s), interleaved. Throughput ratio = tufd / curl, pair by pair.

{table(["client", "seconds", "MiB/s", "peak RSS MiB"], [
            ["tufd download", stats["tufd_dl"].fmt(), thr.fmt("{:.0f}"),
             stats["tufd_rss"].fmt("{:.0f}")],
            ["tufd whole `download` request", stats["tufd_all"].fmt(), "", ""],
            ["curl", stats["curl"].fmt(), thr_curl.fmt("{:.0f}"), stats["curl_rss"].fmt("{:.0f}")],
            ["curl piped through `tee FILE` into `sha256sum`", stats["curl_sha"].fmt(),
             Series([total / MIB / v for v in stats["curl_sha"].values]).fmt("{:.0f}"), ""],
        ] + ([["*diagnosis*: tufd download with fsync a no-op (`eatmydata`)",
               stats["nosync_dl"].fmt(), thr_nosync.fmt("{:.0f}"), ""]]
             if stats["nosync_dl"].values else []))}

Throughput tufd / curl: {ratio_fmt(stats["ratio"])}; tufd / (curl piped into `sha256sum`), which
also checks the sha256 as tufd does: {ratio_fmt(stats["ratio_sha"])}.{nosync_note}

**Resume**: the download is killed with SIGKILL once half the target is in (tufd: at the first
`progress` notification past 50%; curl: once its output file passes 50%), then run again.

{table(["client", "served before the kill B", "kept on disk B", "fetched again B",
        "served twice B", "ranges asked on restart"], [
            ["tufd", thousands(first), thousands(part), thousands(again_tufd),
             thousands(twice_tufd), ", ".join(r or "(whole)" for r in ranges_tufd) or "—"],
            ["curl `-C -`", thousands(first_curl), thousands(curl_kept), thousands(again_curl),
             thousands(twice_curl), f"bytes={curl_kept}-"],
        ], "lrrrrl")}

*Served twice* = served before the kill + fetched again − the target's length: what the kill
cost in bytes (the kill points differ a little between the clients, so compare this column).
""")

    # ---------------------------------------------------------------- 5. footprint
    def bench_footprint(self) -> None:
        secs = 10 if self.quick else self.args.idle_seconds
        d = self.work / "footprint"
        d.mkdir()
        app = self.copy_bundle(VERSIONS[-1], d / "app")
        side = Sidecar([self.tufd, "sidecar", *self.tufd_flags(app, d / "data", VERSIONS[-1]),
                        "--poll-interval", "1"], d / "sidecar.log")
        side.request("status")
        tu_meta = d / "tufup-meta"
        tu_meta.mkdir()
        shutil.copy(self.tufup_root, tu_meta / "root.json")
        tu_t = d / "tufup-targets"
        tu_t.mkdir()
        poller = subprocess.Popen([VENV_TUFUP, "-c", PY_TUFUP_POLLER, tu_meta, self.tufup_meta,
                                   tu_t, self.tufup_targets, VERSIONS[-1]],
                                  stdout=subprocess.PIPE, text=True)
        poller.stdout.readline()
        time.sleep(3)  # both settle: first poll done, caches warm
        log(f"footprint: sampling for {secs} s")
        pids = {"tufd": side.proc.pid, "tufup": poller.pid}
        rss = {k: Series() for k in pids}
        cpu0 = {k: proc_cpu_seconds(p) for k, p in pids.items()}
        off = self.nginx.log_offset()
        t0 = time.monotonic()
        for i in range(secs):
            for k, p in pids.items():
                rss[k].add(proc_rss_kib(p) / 1024)
            time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
        elapsed = time.monotonic() - t0
        cpu = {k: proc_cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        entries = self.nginx.entries_since(off)
        reqs = {"tufd": sum(1 for e in entries if e["path"].startswith("/tufd-pub/")),
                "tufup": sum(1 for e in entries if e["path"].startswith("/tufup-pub/"))}
        side.shutdown()
        poller.kill()
        poller.wait()
        sizes = []
        for b in (self.tufd, self.tufd_repo):
            stripped = d / (b.name + ".stripped")
            sh(["strip", "-o", stripped, b])
            sizes.append([f"`{b.name}`", thousands(b.stat().st_size),
                          f"{b.stat().st_size / MIB:.1f}", thousands(stripped.stat().st_size),
                          f"{stripped.stat().st_size / MIB:.1f}"])
        upd = getattr(self, "update_rss_tufd", Series())
        if rss["tufup"].med < rss["tufd"].med * 0.95:
            self.behind.append(("idle", "footprint: the tufup poller's idle RSS is below "
                                         "the sidecar's"))
        if cpu["tufup"] < cpu["tufd"] * 0.95:
            self.behind.append(("idle", "footprint: the tufup poller's idle CPU is below "
                                         "the sidecar's"))
        self.sections.append(f"""## 5. Footprint

**Idle**: the tufd sidecar with `--poll-interval 1` (the app at the newest release, so every
poll is a no-update check against nginx), next to its peer, a Python process polling with tufup's
`check_for_updates()` every second; RSS sampled from `/proc` once a second for {secs} s after 3 s
of settling; CPU = user + sys seconds over the window.

{table(["process", "RSS MiB", "CPU s", "CPU % of one core", "requests served"], [
            ["tufd sidecar", rss["tufd"].fmt("{:.1f}"), f"{cpu['tufd']:.2f}",
             f"{100 * cpu['tufd'] / elapsed:.1f}", str(reqs["tufd"])],
            ["tufup poller", rss["tufup"].fmt("{:.1f}"), f"{cpu['tufup']:.2f}",
             f"{100 * cpu['tufup'] / elapsed:.1f}", str(reqs["tufup"])],
        ])}

tufup / tufd: RSS {rss['tufup'].med / rss['tufd'].med:.2f}×, CPU
{(cpu['tufup'] / cpu['tufd']) if cpu['tufd'] else float('nan'):.2f}×.

**During an update**: peak RSS of `tufd update` in section 3 (two patches applied to a 28 MB
tar): {upd.fmt("{:.0f}")} MiB; of the sidecar downloading, verifying and extracting the large
target in section 4: {getattr(self, "download_rss_tufd", Series()).fmt("{:.0f}")} MiB.

**Release binaries** (`cargo build --release`, no LTO; `strip -o`):

{table(["binary", "bytes", "MiB", "stripped bytes", "stripped MiB"], sizes)}
""")

    # ---------------------------------------------------------------- report
    def collect_versions(self) -> None:
        def first_line(cmd, stderr=False):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True)
                return ((p.stderr if stderr else p.stdout) or p.stderr).strip().splitlines()[0]
            except (OSError, IndexError):
                return "n/a"

        def pyver(py, pkg):
            return first_line([py, "-c", f"import importlib.metadata as m; "
                               f"print(m.version('{pkg}'))"])

        git = first_line(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        self.versions = {
            "tufd": first_line([self.tufd, "--version"]),
            "tufd-repo": first_line([self.tufd_repo, "--version"]),
            "source": f"git {git}" + (" + uncommitted changes" if dirty else ""),
            "rustc": first_line(["rustc", "--version"]),
            "python": first_line([VENV_TUFUP, "--version"]),
            "tufup": pyver(VENV_TUFUP, "tufup"),
            "tuf (tufup's venv)": pyver(VENV_TUFUP, "tuf"),
            "bsdiff4 (tufup's venv)": pyver(VENV_TUFUP, "bsdiff4"),
            "tuf": pyver(VENV_TUF, "tuf"),
            "hdiffpatch (Python wrapper of HDiffPatch)": pyver(VENV_HDIFF, "hdiffpatch"),
            "zstd": first_line(["zstd", "--version"]),
            "curl": first_line(["curl", "--version"]),
            "nginx": first_line(["nginx", "-v"], stderr=True),
            "GNU time (Debian package)": first_line(["dpkg-query", "-W", "-f",
                                                     "${Version}\n", "time"]),
        }

    def machine(self) -> str:
        cpu = "unknown"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        load_end = Path("/proc/loadavg").read_text().split()[:3]
        return textwrap.dedent(f"""\
            - CPU: {cpu}, `nproc` = {os.cpu_count()}
            - memory: {int(mem) / 1024 / 1024:.1f} GiB
            - OS: {platform.platform()}
            - load average (1, 5, 15 min) at start: {' '.join(self.load_start)}; at end:
              {' '.join(load_end)} (a shared machine: other builds ran alongside; CPU time and
              the pair-by-pair ratios are steadier than wall times)
            - work folder: {self.work} ({shutil.disk_usage(self.work).free / 2**30:.0f} GiB
              free)""")

    def write(self, started: float) -> None:
        v = self.versions
        pub = "\n".join(f"| {k[0]} {k[1]} | {r.wall:.1f} | {r.cpu:.1f} | {r.rss_kib / 1024:.0f} |"
                        for k, r in self.publish_times.items())
        behind = "\n".join(f"- {b}" for _, b in self.behind) or "- none: tufd leads every line."
        keys = {k for k, _ in self.behind}
        causes = "\n".join(text for key, text in EXPLANATIONS if any(k.startswith(key)
                                                                       for k in keys))
        causes = causes or "Nothing to explain in this run."
        mode = "`bench/run.sh --quick` (development mode: fewer runs, smaller inputs)" \
            if self.quick else "`bench/run.sh`"
        doc = f"""# Performance: tufd side by side with its alternatives

<!-- Generated by bench/harness.py ({mode}); do not edit by hand. -->

Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by {mode} in
{(time.time() - started) / 60:.0f} min. Workload: three consecutive releases of ruff
({', '.join(VERSIONS)}; manylinux x86_64 wheels from PyPI unpacked into bundle folders by
`bench/fetch-bundles.sh`, about 28 MB each, one ELF binary), published once with `tufd-repo`
(default: bsdiff-lzma patches, `.tar.gz` archives, consistent snapshots) and once with tufup
(bsdiff4 patches), served by Debian's nginx on 127.0.0.1. Figures are medians over the runs
with (min–max); ratios are computed pair by pair within one run (peer / tufd) and their median
is shown. Runs alternate tool by tool.

## Machine

{self.machine()}

## Versions

{table(["tool", "version"], [[k, f"`{x}`"] for k, x in v.items()], "ll")}

{"".join(s + chr(10) for s in self.sections)}
## Publishing (one run each, informative)

| step | wall s | CPU s | peak RSS MiB |
|---|---:|---:|---:|
{pub}

## Where tufd is behind

{behind}

### Causes and proposed fixes

Found by profiling (`perf record -g`, `strace -f`) the lines above; the text lives in
`bench/harness.py` (`EXPLANATIONS`) and is printed for the lines that trail in this run.
Fixed in the engine from these figures (`git log` has the before/after of each):
downloads write, hash and checkpoint off the socket's task and resume from the end of the
`.part` (0.26× curl → on a par with it); `bidiff-zstd` applies file to file in bounded memory
(apply RSS 61 → about 17 MiB); archives are hashed while decompressing and the cached tar is
not fsync'd (it is verified before use); the warm check no longer rebuilds tough's datastore
and writes nothing when nothing changed (about 5 → 3 ms).

{causes}
"""
        out = Path(self.args.out)
        out.write_text(doc)
        log(f"wrote {out}")


# HDiffPatch through its Python wrapper: argv compression (lzma2 | zstd), old, new, patch.
PY_HDIFF_DIFF = """\
import sys, hdiffpatch
compression = {"lzma2": hdiffpatch.COMPRESSION_LZMA2, "zstd": hdiffpatch.COMPRESSION_ZSTD}
kind, old, new, out = sys.argv[1:]
with open(old, "rb") as f, open(new, "rb") as g, open(out, "wb") as h:
    h.write(hdiffpatch.diff(f.read(), g.read(), compression[kind], validate=False))
"""
# argv old, patch, out.
PY_HDIFF_APPLY = """\
import sys, hdiffpatch
old, patch, out = sys.argv[1:]
with open(old, "rb") as f, open(patch, "rb") as g, open(out, "wb") as h:
    h.write(hdiffpatch.apply(f.read(), g.read()))
"""

# Why tufd trails on the lines where it does, and what would close the gap: (key prefix of a
# trailing line, text). Found by profiling on 2026-11-29 (perf record -g, strace -f); keep it in
# step with the engine. Only the entries whose lines trail in a run are printed.
EXPLANATIONS = [
    ("patch-ccpu", """\
- **Patch creation CPU (`bsdiff-lzma`)**: `perf record` on ruff 0.6.1 → 0.6.2 (2026-12-05):
  about 30 % in the suffix-array searches of the bsdiff scan (LCP-bounded, two-byte bucket
  table, both next probes loaded ahead; mostly cache misses), 15 % building the suffix array
  (libsais) and 35 % in LZMA2 (xz's bt4 match finder); version 2's reference decoding adds
  0.1 s. Proposed next steps (`core/src/patch/matcher.rs`): search only where the current
  alignment breaks (as HDiffPatch does), and the stream coders on separate threads for wall
  time."""),
    ("patch-crss", """\
- **Patch creation memory**: both tars in memory, a suffix array of the base (4 B per byte, at
  most 256 MiB: bases above 64 MiB are matched in windows) and the four LZMA2 encoders (their
  dictionaries sized to each stream, at most 8 MiB). Peers that hold less use smaller
  dictionaries or no suffix array."""),
    ("patch-a", """\
- **Patch application CPU vs `zstd -d --patch-from` and HDiffPatch**: `bsdiff-lzma` decodes
  four LZMA2 streams (LZMA decoding is several times slower per byte than zstd's), its version 2
  first decodes the base's executable code to find the references it predicts (about 0.1 s for
  ruff's 16–20 MB of code), and it checks the sha256 of the whole output against the signed
  `tar_hash` (about 15 ms for 28 MB); zstd's patch-from is one decompression pass against the
  old file held in memory and checks only its frame's xxhash; HDiffPatch holds both files in
  memory (88–100 MiB against tufd's 18–24 MiB). Still a third of a second for 28 MB;
  `bidiff-zstd` stays the codec for the cheapest apply."""),
    ("check-warm", """\
- **Warm no-update check (sidecar)**: both sides make the same two requests (`N+1.root.json` →
  404, `timestamp.json`). Since this harness first ran, tufd no longer rebuilds tough's
  datastore per check, does the store's file work in one blocking section before and one after
  tough's load, writes nothing when nothing changed (`state.json` included) and remembers parsed
  roots by their exact bytes (`net/src/trusted_store/`). What remains (timed per part: 0.2 ms
  before, 1.8 ms inside tough's load, 0.2 ms after): tough re-verifies root, timestamp, snapshot
  and targets on every load (4 ed25519 signatures and canonical JSON; it must, to check expiry
  and the chain), hops its own 9 datastore file operations through tokio's blocking pool, and
  rewrites its `timestamp.json`/`snapshot.json` (a flush each on ext4). Closing more means
  changes in tough (an in-memory datastore, or a refresh that keeps a loaded `Repository`)."""),
    ("check-one-shot", """\
- **One-shot check**: process start, loading the trusted store from disk and TLS set-up
  (rustls with aws-lc) dominate; see the warm-check fix."""),
    ("update-meta", """\
- **Metadata bytes of an update**: tufd's repository carries `length` and `hashes` in
  snapshot/timestamp meta (TUF 1.0 recommends them; tufup writes only `version`), consistent
  snapshots, and the patch `custom` fields `codec`/`from`: about 1.4 KB more per first update,
  against megabytes of targets. By design; nothing to fix."""),
    ("update-targets", """\
- **Target bytes of an update**: tufd's `bidiff-zstd` patches and tufup's `bsdiff4` patches
  land within a few percent of each other (see section 1); choose `bsdiff4` in `tufd-repo init
  --codec` if the smaller one matters for a given app."""),
    ("download", """\
- **Download throughput vs curl**: since this harness first ran, the socket is read on one task
  while a writer thread appends and hashes (`net/src/download/writer.rs`, fed through a
  channel bounded to 4 MiB) and a syncer thread fdatasyncs and records the offset every 64 MiB
  or 2 s without stopping either (it was: one task doing receive → `tokio::fs` write → sha256 →
  synchronous fsync every 1 MiB, 0.26× curl). What is left: tufd hashes every byte (sha256 with
  SHA-NI, about half a core-second per GiB; curl hashes nothing), and on two cores that CPU is
  shared with nginx and the kernel's loopback copies; the checkpoints' write-back also competes
  for the disk, which the diagnosis row (`eatmydata`) isolates. Both are the price of the two
  promises: a download is verified against its signed sha256 without a second read, and a
  crash never costs more than the bytes since the last checkpoint."""),
    ("resume", """\
- **Resume**: tufd resumes from the end of its `.part` (like `curl -C -`). What nginx sent
  twice is what died with the process: the kernel's socket buffers (the receive buffer may grow
  up to `tcp_rmem` max, 32 MiB here, when the reader falls behind for a moment), the writer
  channel (≤ 4 MiB) and the 512 KiB write buffer; curl writes each read straight to its file.
  Shrinking the channel trades throughput for this, and only a kill during a download pays it."""),
    ("idle", """\
- **Idle footprint**: every poll is a warm check (above): tough's full load each time."""),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, smaller inputs")
    ap.add_argument("--data", default=os.environ.get("BENCH_DATA", str(BENCH / "data")))
    ap.add_argument("--work", default=None, help="work folder (default: a new temp folder)")
    ap.add_argument("--bin-dir", default=None,
                    help="folder of tufd and tufd-repo (default: $CARGO_TARGET_DIR/release, "
                         "$CARGO_TARGET_DIR defaulting to $HOME/.cache/tufd-target)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--out", default=None,
                    help="the document to write (default docs/performance.md; with --quick "
                         "bench/performance-quick.md, so a development run never replaces it)")
    ap.add_argument("--only", default="patches,checks,updates,download,footprint,publish")
    ap.add_argument("--previous-tufd", default=None,
                    help="an earlier tufd binary, measured beside this one in the no-update "
                         "check (side by side in one run)")
    ap.add_argument("--previous-label", default=None,
                    help="how the table names the earlier tufd (default: its path)")
    ap.add_argument("--patch-reps", type=int, default=3)
    ap.add_argument("--no-synthetic", dest="synthetic", action="store_false",
                    help="skip the synthetic ~300 MB bundle in the patch section")
    ap.add_argument("--check-runs", type=int, default=30)
    ap.add_argument("--update-reps", type=int, default=3)
    ap.add_argument("--download-mib", type=int, default=1024)
    ap.add_argument("--download-reps", type=int, default=3)
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--publish-reps", type=int, default=3)
    args = ap.parse_args()
    if args.out is None:
        args.out = str(BENCH / "performance-quick.md" if args.quick
                       else ROOT / "docs" / "performance.md")
    tmp = None
    if args.work is None:
        tmp = tempfile.mkdtemp(prefix="tufd-bench-")
        args.work = tmp
    started = time.time()
    b = Bench(args)
    try:
        b.collect_versions()
        b.setup()
        for part in args.only.split(","):
            getattr(b, f"bench_{part}")()
        b.write(started)
    finally:
        if b.nginx:
            b.nginx.stop()
        if tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
