"""Independent client check of a tufd-repo repository with python-tuf's ngclient.

Refreshes the repository at --base-url (serving metadata/ and targets/) starting from the
trusted root given with --root, downloads every target (ngclient verifies length and hashes),
then, for each patch whose codec is bsdiff4, rebuilds the new tar with Python's bsdiff4 from
the decompressed archive of the `from` release and checks it against the signed
tar_hash/tar_size. Archives' own tar_hash/tar_size are checked too (gzip archives).

Prints one JSON object on stdout: root/timestamp/snapshot/targets versions, the targets with
their lengths, and the list of checks done. Exits 1 (with a message on stderr) on any failure.
Used by repo-cli/tests/*.rs.
"""

import argparse
import gzip
import hashlib
import json
import os
import sys

import bsdiff4
from tuf.ngclient import Updater


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True, help="http://host:port/ serving metadata/ and targets/")
    ap.add_argument("--root", required=True, help="trusted root file (e.g. 1.root.json)")
    ap.add_argument("--workdir", required=True, help="empty folder for client metadata and downloads")
    args = ap.parse_args()

    base = args.base_url.rstrip("/")
    meta_dir = os.path.join(args.workdir, "metadata")
    target_dir = os.path.join(args.workdir, "targets")
    os.makedirs(meta_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    with open(args.root, "rb") as f:
        root_bytes = f.read()

    updater = Updater(
        metadata_dir=meta_dir,
        metadata_base_url=base + "/metadata/",
        target_dir=target_dir,
        target_base_url=base + "/targets/",
        bootstrap=root_bytes,
    )
    updater.refresh()
    trusted = updater._trusted_set  # versions only, for the report
    targets = trusted.targets.targets

    report = {
        "root_version": trusted.root.version,
        "timestamp_version": trusted.timestamp.version,
        "snapshot_version": trusted.snapshot.version,
        "targets_version": trusted.targets.version,
        "targets": {},
        "checks": [],
    }
    files = {}
    for name in sorted(targets):
        info = updater.get_targetinfo(name)
        if info is None:
            raise SystemExit(f"target {name} listed but get_targetinfo returned None")
        path = updater.download_target(info, os.path.join(target_dir, name))
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != info.length or hashlib.sha256(data).hexdigest() != info.hashes["sha256"]:
            raise SystemExit(f"target {name}: downloaded bytes differ from metadata")
        files[name] = data
        report["targets"][name] = {"length": info.length, "custom": info.custom}

    def tufup(name):
        custom = targets[name].custom or {}
        return custom.get("tufup", {}) if set(custom) == {"user", "tufup"} else custom

    def version_of(name, suffix):
        # <app>-<version><suffix>; tufd-repo never writes '-' inside the version.
        return name[: -len(suffix)].rsplit("-", 1)[1]

    tars = {}
    for name, data in files.items():
        if name.endswith(".tar.gz"):
            tar = gzip.decompress(data)
            meta = tufup(name)
            if "tar_hash" in meta:
                if hashlib.sha256(tar).hexdigest() != meta["tar_hash"] or len(tar) != meta["tar_size"]:
                    raise SystemExit(f"archive {name}: tar does not match tar_hash/tar_size")
                report["checks"].append(f"archive-tar:{name}")
            tars[version_of(name, ".tar.gz")] = tar
    for name, data in files.items():
        if not name.endswith(".patch"):
            continue
        meta = tufup(name)
        if meta.get("codec", "bsdiff4") != "bsdiff4":
            continue
        base_tar = tars.get(meta.get("from"))
        if base_tar is None:
            raise SystemExit(f"patch {name}: no gzip archive of release {meta.get('from')}")
        new_tar = bsdiff4.patch(base_tar, data)
        if hashlib.sha256(new_tar).hexdigest() != meta["tar_hash"] or len(new_tar) != meta["tar_size"]:
            raise SystemExit(f"patch {name}: bsdiff4 result does not match tar_hash/tar_size")
        report["checks"].append(f"bsdiff4-patch:{name}")

    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # one line for the Rust test's failure message
        print(f"ngclient check failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
