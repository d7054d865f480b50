"""python-tuf 7 against a tufd-repo repository with per-platform delegated roles.

    platforms.py read BASE_URL ROOT WORKDIR NAME...
        Refreshes from ROOT, then looks every NAME up through the delegations
        (ngclient's get_targetinfo: pre-order depth-first search, path patterns, terminating)
        and downloads the ones found (length and hashes checked). Prints one JSON object:
        {"top_level_targets": [...], "found": {name: length}, "missing": [name]}.

    platforms.py forge MODE REPOSITORY KEYSTORE
        What a compromised Linux build machine can do with the keys it holds (its platform key
        and the online snapshot and timestamp keys), written straight into REPOSITORY:
        linux-lists-windows      the linux-x86_64 role lists windows-x86_64/demo-3.0.tar.gz
        windows-signed-by-linux  the windows-x86_64 role lists windows-x86_64/demo-3.0.tar.gz,
                                 signed by the Linux key only
        then a new snapshot and timestamp. The 3.0 archive is a copy of windows 2.0's bytes.

Keys are the keystore's unencrypted PKCS#8 ed25519 files, signed with attack_repo's
pure-Python ed25519 (the venv has no `cryptography`).
"""

import hashlib
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from attack_repo import Ed25519Signer  # noqa: E402
from tuf.api.metadata import Metadata, MetaFile, TargetFile  # noqa: E402
from tuf.api.serialization.json import JSONSerializer  # noqa: E402
from tuf.ngclient import Updater  # noqa: E402


def read(base: str, root: str, workdir: str, names: list[str]) -> None:
    base = base.rstrip("/")
    meta_dir = os.path.join(workdir, "metadata")
    os.makedirs(meta_dir, exist_ok=True)
    with open(root, "rb") as f:
        bootstrap = f.read()
    updater = Updater(
        metadata_dir=meta_dir,
        metadata_base_url=base + "/metadata/",
        target_dir=os.path.join(workdir, "targets"),
        target_base_url=base + "/targets/",
        bootstrap=bootstrap,
    )
    updater.refresh()
    report = {
        "top_level_targets": sorted(updater._trusted_set.targets.targets),
        "found": {},
        "missing": [],
    }
    for i, name in enumerate(names):
        info = updater.get_targetinfo(name)
        if info is None:
            report["missing"].append(name)
            continue
        path = updater.download_target(info, os.path.join(workdir, f"download-{i}"))
        with open(path, "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != info.hashes["sha256"]:
            raise SystemExit(f"{name}: downloaded bytes differ from the metadata")
        report["found"][name] = info.length
    print(json.dumps(report))


def signer_from_der(path: str) -> Ed25519Signer:
    """An Ed25519Signer over the seed of a PKCS#8 ed25519 key (`04 20 <seed>`)."""
    with open(path, "rb") as f:
        der = f.read()
    at = der.index(bytes([0x04, 0x22, 0x04, 0x20])) + 4
    return Ed25519Signer(der[at : at + 32])


def write(md: Metadata, path: str, signer: Ed25519Signer) -> MetaFile:
    md.signatures.clear()
    md.sign(signer)
    data = md.to_bytes(JSONSerializer(compact=False))
    with open(path, "wb") as f:
        f.write(data)
    return MetaFile(
        version=md.signed.version,
        length=len(data),
        hashes={"sha256": hashlib.sha256(data).hexdigest()},
    )


def forge(mode: str, repository: str, keystore: str) -> None:
    meta = os.path.join(repository, "metadata")
    key = lambda name: signer_from_der(os.path.join(keystore, f"{name}.der"))  # noqa: E731
    linux = key("linux-x86_64")
    timestamp = Metadata.from_file(os.path.join(meta, "timestamp.json"))
    snap_v = timestamp.signed.snapshot_meta.version
    snapshot = Metadata.from_file(os.path.join(meta, f"{snap_v}.snapshot.json"))

    def role(name: str) -> Metadata:
        v = snapshot.signed.meta[f"{name}.json"].version
        return Metadata.from_file(os.path.join(meta, f"{v}.{name}.json"))

    windows = role("windows-x86_64")
    old = windows.signed.targets["windows-x86_64/demo-2.0.tar.gz"]
    sha = old.hashes["sha256"]
    targets_dir = os.path.join(repository, "targets", "windows-x86_64")
    shutil.copyfile(
        os.path.join(targets_dir, f"{sha}.demo-2.0.tar.gz"),
        os.path.join(targets_dir, f"{sha}.demo-3.0.tar.gz"),
    )
    forged = TargetFile(
        length=old.length,
        hashes=dict(old.hashes),
        path="windows-x86_64/demo-3.0.tar.gz",
        unrecognized_fields=dict(old.unrecognized_fields),
    )
    name = {"linux-lists-windows": "linux-x86_64", "windows-signed-by-linux": "windows-x86_64"}[mode]
    md = role(name)
    md.signed.targets[forged.path] = forged
    md.signed.version += 1
    snapshot.signed.meta[f"{name}.json"] = write(
        md, os.path.join(meta, f"{md.signed.version}.{name}.json"), linux
    )
    snapshot.signed.version += 1
    snap_meta = write(
        snapshot,
        os.path.join(meta, f"{snapshot.signed.version}.snapshot.json"),
        key("snapshot"),
    )
    timestamp.signed.version += 1
    timestamp.signed.snapshot_meta = snap_meta
    write(timestamp, os.path.join(meta, "timestamp.json"), key("timestamp"))


def main() -> int:
    if sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif sys.argv[1] == "forge":
        forge(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
