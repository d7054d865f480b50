"""Independent TUF repository writer (python-tuf's Metadata API) for tufd's attack tests.

Writes one attack scenario as numbered stages, each a complete repository metadata folder:

    OUT/stage-1/metadata/   the honest repository the client trusts first
    OUT/stage-2/metadata/   what the attacker (or a later honest publisher) serves next
    OUT/stage-3/metadata/   (some scenarios) a further step

Metadata use consistent snapshots (N.root.json, N.snapshot.json, N.targets.json,
timestamp.json), ed25519 keys and whole-second expiries; the initial trusted root is
OUT/stage-1/metadata/1.root.json. Scenarios:

    rollback-timestamp  stage 2 serves timestamp v1 after the client trusted v2
    rollback-snapshot   stage 2: timestamp v3 (validly signed) lists snapshot v1 (trusted: v2)
    rollback-targets    stage 2: snapshot v3 (validly signed) lists targets v1 (trusted: v2)
    mix-and-match       stage 2: snapshot v2 lists targets v2, but 2.targets.json holds v1's bytes
    freeze-timestamp    stage 2: a new, validly signed timestamp that has already expired
    freeze-snapshot     likewise for snapshot   (timestamp fresh)
    freeze-targets      likewise for targets    (snapshot, timestamp fresh)
    freeze-root         likewise for root v2
    rotate-root         root keys 2 of 3; stage 2: root v2 with 3 new keys (2 of 3) signed by
                        2 old + 2 new keys (accepted); stage 3: root v3 signed only by v3's new
                        keys (refused)
    rotate-root-below-threshold
                        stage 2: root v2 signed by 1 of the old keys (threshold 2) + 2 new keys
    duplicate-key-root  stage 2: root v2 lists its one root key under a second key id too,
                        threshold 2, signed by that one key under both ids
    duplicate-key-timestamp
                        stage 2: root v2 (honestly signed) lists the timestamp key under two
                        ids, timestamp threshold 2; timestamp v3 signed under both ids
    duplicate-key-delegation
                        stage 2: targets v3 delegates `team` to one key listed under two ids,
                        threshold 2; team v1 signed under both ids
    unknown-keytype     stage 2: root v2 adds a key of keytype `x-unknown` to the root role
                        (threshold 1) and carries a signature by it (accepted: the real key
                        meets the threshold); stage 3: root v3, root threshold 2 over the real
                        and the unknown key, signed by both (refused: only one key counts)
    delegation-cycle    stage 2: targets v3 delegates `a` (paths *), `a` delegates `b`, `b`
                        delegates `a` again; no role lists a release of the app
    refused-archive BUNDLE
                        stage 1: a signed demo-2.0.tar.gz whose tar holds ../evil.txt; stage 2:
                        the fixed demo-2.0.tar.gz made of the folder BUNDLE (targets in
                        OUT/stage-N/targets/, named <sha256>.demo-2.0.tar.gz)

Usage: attack_repo.py SCENARIO OUT [BUNDLE]
"""

import copy
import gzip
import hashlib
import io
import os
import sys
import tarfile
from datetime import datetime, timedelta, timezone

from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Signature, Signer, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "timestamp", "snapshot", "targets")


def whole_seconds(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def fresh() -> datetime:
    return whole_seconds(datetime.now(timezone.utc) + timedelta(days=30))


def expired() -> datetime:
    return whole_seconds(datetime.now(timezone.utc) - timedelta(days=1))


# Ed25519 (RFC 8032, section 5.1) in pure Python: the test venv has python-tuf but not the
# `cryptography` package, and only signing is needed (tough verifies).
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_GY = 4 * pow(5, _P - 2, _P) % _P


def _recover_x(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if x % 2 != sign:
        x = _P - x
    return x


_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(k: int, point):
    result = (0, 1, 1, 0)
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _encode(point) -> bytes:
    x, y, z, _ = point
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _sha512_int(data: bytes) -> int:
    return int.from_bytes(hashlib.sha512(data).digest(), "little")


class Ed25519Signer(Signer):
    """A securesystemslib signer over an ed25519 seed, `seed` (32 bytes) or a random one (pure
    Python)."""

    def __init__(self, seed: bytes | None = None) -> None:
        digest = hashlib.sha512(os.urandom(32) if seed is None else seed).digest()
        scalar = int.from_bytes(digest[:32], "little")
        scalar &= (1 << 254) - 8
        scalar |= 1 << 254
        self._scalar = scalar
        self._prefix = digest[32:]
        self._public = _encode(_mul(scalar, _G))
        keyval = {"public": self._public.hex()}
        keyid = hashlib.sha256(
            encode_canonical({"keytype": "ed25519", "scheme": "ed25519", "keyval": keyval}).encode()
        ).hexdigest()
        self._key = SSlibKey(keyid, "ed25519", "ed25519", keyval)

    @property
    def public_key(self) -> SSlibKey:
        return self._key

    @classmethod
    def from_priv_key_uri(cls, priv_key_uri, public_key, secrets_handler=None):
        raise NotImplementedError

    def sign(self, payload: bytes) -> Signature:
        r = _sha512_int(self._prefix + payload) % _L
        big_r = _encode(_mul(r, _G))
        k = _sha512_int(big_r + self._public + payload) % _L
        s = (r + k * self._scalar) % _L
        sig = big_r + int.to_bytes(s, 32, "little")
        return Signature(self._key.keyid, sig.hex())


def new_signer() -> Ed25519Signer:
    return Ed25519Signer()


def twin(signer: Ed25519Signer) -> Ed25519Signer:
    """The same private key as `signer`, declared under another key id."""
    other = copy.copy(signer)
    key = signer.public_key
    other._key = SSlibKey("twin-" + key.keyid[:56], key.keytype, key.scheme, dict(key.keyval))
    return other


def twin_role_key(repo, role: str) -> list[Ed25519Signer]:
    """Lists the one key of top-level `role` under a second key id too and sets the role's
    threshold to 2; returns the signer under both ids."""
    [signer] = repo.signers[role]
    other = twin(signer)
    repo.root.signed.add_key(other.public_key, role)
    repo.root.signed.roles[role].threshold = 2
    return [signer, other]


def unknown_key() -> SSlibKey:
    """A key of a type no TUF client knows."""
    return SSlibKey("x-unknown-key", "x-unknown", "x-unknown", {"public": "00" * 32})


def add_signature(md: Metadata, keyid: str) -> None:
    """A signature attributed to `keyid` (bytes no key verifies)."""
    md.signatures[keyid] = Signature(keyid, "00" * 64)


class Repo:
    """The newest signed version of each role, the keys, and a writer of stages."""

    def __init__(self, out: str, root_keys: int = 1, root_threshold: int = 1):
        self.out = out
        self.stage = 0
        self.signers = {role: [new_signer()] for role in ROLES}
        self.signers["root"] = [new_signer() for _ in range(root_keys)]
        root = Root(expires=fresh(), consistent_snapshot=True)
        for role in ROLES:
            for signer in self.signers[role]:
                root.add_key(signer.public_key, role)
        root.roles["root"].threshold = root_threshold
        self.root = Metadata(root)
        self.sign(self.root, self.signers["root"])
        self.roots = [copy.deepcopy(self.root)]
        targets = Targets(expires=fresh())
        data = b"attack test payload\n"
        targets.targets["notes.txt"] = TargetFile.from_data("notes.txt", data)
        self.targets = Metadata(targets)
        self.sign(self.targets, self.signers["targets"])
        self.snapshot = Metadata(Snapshot(expires=fresh()))
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=1)
        self.sign(self.snapshot, self.signers["snapshot"])
        self.timestamp = Metadata(Timestamp(expires=fresh()))
        self.timestamp.signed.snapshot_meta = MetaFile(version=1)
        self.sign(self.timestamp, self.signers["timestamp"])
        # Every version ever written, by file name, carried into each later stage.
        self.files: dict[str, bytes] = {}
        self.keep("root", self.root)
        self.keep("targets", self.targets)
        self.keep("snapshot", self.snapshot)
        self.keep("timestamp", self.timestamp)

    @staticmethod
    def sign(md: Metadata, signers) -> None:
        md.signatures.clear()
        for signer in signers:
            md.sign(signer, append=True)

    @staticmethod
    def to_bytes(md: Metadata) -> bytes:
        return md.to_bytes(JSONSerializer(compact=False))

    def keep(self, role: str, md: Metadata) -> None:
        data = self.to_bytes(md)
        if role == "timestamp":
            self.files["timestamp.json"] = data
        else:
            self.files[f"{md.signed.version}.{role}.json"] = data
        if role == "root":
            self.files["root.json"] = data

    def bump(self, role: str, expires: datetime | None = None) -> None:
        """New version of `role` (targets, snapshot or timestamp), re-signed."""
        md = getattr(self, role)
        md.signed.version += 1
        md.signed.expires = expires or fresh()
        if role == "snapshot":
            md.signed.meta["targets.json"] = MetaFile(version=self.targets.signed.version)
        if role == "timestamp":
            md.signed.snapshot_meta = MetaFile(version=self.snapshot.signed.version)
        self.sign(md, self.signers[role])
        self.keep(role, md)

    def new_root(self, signers) -> None:
        """Root v+1 of the edited `self.root.signed`, signed by `signers`."""
        self.root.signed.version += 1
        self.root.signed.expires = fresh()
        self.sign(self.root, signers)
        self.keep("root", self.root)

    def delegate(self, delegations: dict, signers: dict) -> None:
        """Targets v+1 delegating as `delegations` ({role: (delegated roles, keys)}, `targets`
        included), each delegated role v1 signed by `signers[role]`, snapshot listing them all."""
        roles = {}
        for name, (children, keys) in delegations.items():
            md = self.targets if name == "targets" else Metadata(Targets(expires=fresh()))
            md.signed.delegations = Delegations(
                keys={k.keyid: k for k in keys}, roles={c.name: c for c in children}
            )
            roles[name] = md
        self.targets.signed.version += 1
        self.targets.signed.expires = fresh()
        self.sign(self.targets, self.signers["targets"])
        self.keep("targets", self.targets)
        names = {c.name for children, _ in delegations.values() for c in children}
        for name in sorted(names):
            md = roles.get(name) or Metadata(Targets(expires=fresh()))
            self.sign(md, signers[name])
            self.keep(name, md)
            self.snapshot.signed.meta[f"{name}.json"] = MetaFile(version=1)
        self.bump("snapshot")
        self.bump("timestamp")

    def publish_all(self) -> None:
        """Honest publish: targets, snapshot, timestamp each one version up."""
        self.bump("targets")
        self.bump("snapshot")
        self.bump("timestamp")

    def write_stage(self) -> None:
        self.stage += 1
        folder = os.path.join(self.out, f"stage-{self.stage}", "metadata")
        os.makedirs(folder)
        for name, data in self.files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)

    def rotate_root(self, new_keys: int, threshold: int, old_signers, expires=None) -> list:
        """Root v+1 with `new_keys` fresh root keys (threshold), signed by `old_signers` and
        by every new key. Returns the new signers."""
        signers = [new_signer() for _ in range(new_keys)]
        root = self.root.signed
        for signer in self.signers["root"]:
            root.revoke_key(signer.public_key.keyid, "root")
        for signer in signers:
            root.add_key(signer.public_key, "root")
        root.roles["root"].threshold = threshold
        root.version += 1
        root.expires = expires or fresh()
        self.sign(self.root, list(old_signers) + signers)
        self.signers["root"] = signers
        self.keep("root", self.root)
        return signers


def archive_bytes(members) -> bytes:
    """A gzip-compressed GNU tar of `members` ((name, data, mode, link) tuples: `link` is a
    symlink's target, else None), mtime 0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member, data, mode, link in members:
            info = tarfile.TarInfo(member)
            info.mode = mode
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def bundle_members(bundle: str):
    """Every file and symlink of the folder `bundle` (links not followed) as
    (relative name, bytes, mode, link target or None)."""
    members = []
    for folder, dirs, files in sorted(os.walk(bundle)):
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, bundle)
            if os.path.islink(path):
                members.append((rel, b"", 0o777, os.readlink(path)))
            else:
                with open(path, "rb") as f:
                    data = f.read()
                members.append((rel, data, os.lstat(path).st_mode & 0o777, None))
    return members


def refused_archive(repo: "Repo", bundle: str) -> None:
    """Stage 1: demo-2.0.tar.gz, correctly signed, whose tar holds `../evil.txt` (a client
    refuses to extract it). Stage 2: a fixed demo-2.0.tar.gz (the bundle), new bytes."""
    for good in (False, True):
        if good:
            data = archive_bytes(bundle_members(bundle))
        else:
            data = archive_bytes(
                [("readme.txt", b"fine\n", 0o644, None), ("../evil.txt", b"x\n", 0o644, None)]
            )
        target = TargetFile.from_data("demo-2.0.tar.gz", data)
        target.unrecognized_fields["custom"] = {"user": None, "tufup": {"required": False}}
        repo.targets.signed.targets = {"demo-2.0.tar.gz": target}
        repo.publish_all()
        repo.write_stage()
        folder = os.path.join(repo.out, f"stage-{repo.stage}", "targets")
        os.makedirs(folder)
        with open(os.path.join(folder, f"{target.hashes['sha256']}.demo-2.0.tar.gz"), "wb") as f:
            f.write(data)


def scenario(name: str, out: str, extra: list) -> None:
    if name == "refused-archive":
        refused_archive(Repo(out), extra[0])
        return
    if name.startswith("rotate-root"):
        repo = Repo(out, root_keys=3, root_threshold=2)
    else:
        repo = Repo(out)
    repo.publish_all()  # v2 of targets, snapshot, timestamp
    if name == "rollback-timestamp":
        older = repo.files["timestamp.json"]  # v2
        repo.bump("timestamp")  # v3, trusted in stage 1
        repo.write_stage()
        repo.files["timestamp.json"] = older
        repo.write_stage()
        return
    repo.write_stage()
    if False:
        pass
    elif name == "rollback-snapshot":
        repo.timestamp.signed.version += 1
        repo.timestamp.signed.snapshot_meta = MetaFile(version=1)
        repo.sign(repo.timestamp, repo.signers["timestamp"])
        repo.keep("timestamp", repo.timestamp)
        repo.write_stage()
    elif name == "rollback-targets":
        repo.snapshot.signed.version += 1
        repo.snapshot.signed.meta["targets.json"] = MetaFile(version=1)
        repo.sign(repo.snapshot, repo.signers["snapshot"])
        repo.keep("snapshot", repo.snapshot)
        repo.bump("timestamp")
        repo.write_stage()
    elif name == "mix-and-match":
        repo.files["2.targets.json"] = repo.files["1.targets.json"]
        repo.write_stage()
    elif name.startswith("freeze-"):
        role = name.removeprefix("freeze-")
        if role == "root":
            repo.rotate_root(1, 1, repo.signers["root"], expires=expired())
        else:
            order = ["targets", "snapshot", "timestamp"]
            for r in order[order.index(role):]:
                repo.bump(r, expires=expired() if r == role else None)
        repo.write_stage()
    elif name == "rotate-root":
        old = repo.signers["root"]
        repo.rotate_root(3, 2, old[:2])
        repo.write_stage()
        # Root v3 signed only by its own new keys: not by a threshold of v2's keys.
        repo.rotate_root(3, 2, [])
        repo.write_stage()
    elif name == "rotate-root-below-threshold":
        old = repo.signers["root"]
        repo.rotate_root(3, 2, old[:1])
        repo.write_stage()
    elif name == "duplicate-key-root":
        repo.new_root(twin_role_key(repo, "root"))
        repo.write_stage()
    elif name == "duplicate-key-timestamp":
        both = twin_role_key(repo, "timestamp")
        repo.new_root(repo.signers["root"])
        repo.signers["timestamp"] = both
        repo.bump("timestamp")
        repo.write_stage()
    elif name == "duplicate-key-delegation":
        signer = new_signer()
        other = twin(signer)
        keys = [signer.public_key, other.public_key]
        team = DelegatedRole("team", [k.keyid for k in keys], 2, False, paths=["*"])
        repo.delegate({"targets": ([team], keys)}, {"team": [signer, other]})
        repo.write_stage()
    elif name == "unknown-keytype":
        [signer] = repo.signers["root"]
        unknown = unknown_key()
        repo.root.signed.add_key(unknown, "root")
        repo.new_root([signer])
        add_signature(repo.root, unknown.keyid)
        repo.keep("root", repo.root)
        repo.write_stage()
        repo.root.signed.roles["root"].threshold = 2
        repo.new_root([signer])
        add_signature(repo.root, unknown.keyid)
        repo.keep("root", repo.root)
        repo.write_stage()
    elif name == "delegation-cycle":
        signer = new_signer()
        key = signer.public_key
        role = lambda n: DelegatedRole(n, [key.keyid], 1, False, paths=["*"])
        repo.delegate(
            {
                "targets": ([role("a")], [key]),
                "a": ([role("b")], [key]),
                "b": ([role("a")], [key]),
            },
            {"a": [signer], "b": [signer]},
        )
        repo.write_stage()
    else:
        raise SystemExit(f"unknown scenario {name}")


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    scenario(sys.argv[1], sys.argv[2], sys.argv[3:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
