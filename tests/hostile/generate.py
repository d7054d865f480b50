#!/usr/bin/env python3
"""Writes the hostile-input corpus of tufd (archives, patches and target names that tufd-core
must refuse) into tests/hostile/cases/.

Every case is a small file plus one entry in cases/manifest.json saying how to feed it to
tufd-core and which refusal to expect; core/tests/hostile.rs runs them all. README.md beside
this script is written from the same table, so the list, the recipe and the expectation of
each case cannot drift apart.

Only Python's standard library is used, and every byte is deterministic (mtime 0, uid/gid 0,
fixed data), so running the script again gives a byte-identical corpus:

- tars: header blocks from `tarfile.TarInfo.tobuf` where tarfile writes what we want, raw
  512-byte ustar headers (`raw_header`) where it refuses (PAX/ustar size desync, bad checksum,
  sparse type, a size the content does not hold); the script assembles the stream itself
  (no 10 KiB record padding, so cases stay tiny);
- gzip: `gzip.compress(..., mtime=0)` for the bomb (compared by content in `--check`, as
  zlib builds may deflate differently), stored blocks by hand (`gz_stored`) elsewhere;
- bsdiff4 patches: the BSDIFF40 format written by hand with `bz2` (`bsdiff4_patch`);
- bidiff-zstd patches: bidiff 1.0 records (magic 0xB1DF, LEB128 varints) in a zstd frame made
  of raw (stored) blocks (`zstd_raw_frame`), which every zstd decoder reads;
- `.tar.zst`: zstd frames of raw and RLE blocks (`zstd_rle_bomb`).

Usage: python3 tests/hostile/generate.py          # (re)write the corpus
       python3 tests/hostile/generate.py --check  # exit 1 if the files on disk differ
"""

import bz2
import gzip
import hashlib
import io
import json
import struct
import sys
import tarfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"

# Limits used when a case does not give its own (bytes, entries).
DEFAULT_LIMITS = {"max_total_bytes": 1 << 20, "max_entries": 1000}

# An absolute path a hostile entry aims at; the test checks it never appears.
ABSOLUTE_TARGET = "/tmp/tufd-hostile-absolute-evil.txt"

BLOCK = 512


# --------------------------------------------------------------------------------------------
# tar building blocks


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def end_of_archive() -> bytes:
    return b"\0" * (2 * BLOCK)


def info(name, kind=tarfile.REGTYPE, size=0, linkname="", mode=None, devmajor=0, devminor=0):
    """A deterministic TarInfo (mtime 0, root owner, no user/group names)."""
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.linkname = linkname
    ti.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.devmajor, ti.devminor = devmajor, devminor
    return ti


def member(name, data=b"", kind=tarfile.REGTYPE, linkname="", fmt=tarfile.USTAR_FORMAT, **kw):
    """Header block(s) from tarfile (GNU long names and PAX records included) plus padded data."""
    size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    ti = info(name, kind, size, linkname, **kw)
    header = ti.tobuf(fmt, "utf-8", "surrogateescape")
    return header + pad(data)


def file(name, data=b"", **kw):
    return member(name, data, **kw)


def folder(name):
    return member(name, kind=tarfile.DIRTYPE)


def symlink(name, target, **kw):
    return member(name, kind=tarfile.SYMTYPE, linkname=target, **kw)


def tar(*members) -> bytes:
    return b"".join(members) + end_of_archive()


def octal(value: int, width: int) -> bytes:
    """A NUL-terminated octal field of `width` bytes."""
    text = b"%0*o" % (width - 1, value)
    assert len(text) == width - 1, (value, width)
    return text + b"\0"


def raw_header(name: bytes, size: int, typeflag: bytes, linkname: bytes = b"", mode=0o644,
               checksum_delta: int = 0) -> bytes:
    """A ustar header written byte by byte, for what tarfile refuses to write.

    `checksum_delta` is added to the correct checksum (non-zero gives a corrupt header).
    """
    h = bytearray(BLOCK)
    h[0:len(name)] = name
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = octal(size, 12)
    h[136:148] = octal(0, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    checksum = sum(h) + checksum_delta
    h[148:156] = b"%06o\0 " % checksum
    return bytes(h)


def gnu_sparse_header(name: bytes) -> bytes:
    """A GNU header (magic `ustar  \\0`) of type `S` with an empty sparse map, real size 0."""
    h = bytearray(raw_header(name, 0, b"S"))
    h[257:265] = b"ustar  \0"
    h[483:495] = octal(0, 12)  # realsize
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pax_records(records) -> bytes:
    """PAX extended-header data: `"<len> <key>=<value>\\n"` with the length counting itself."""
    out = b""
    for key, value in records:
        body = b" %s=%s\n" % (key, value)
        length = len(body) + 1
        while len(b"%d" % length) + len(body) != length:
            length += 1
        out += b"%d" % length + body
    return out


def pax_header(records, name=b"PaxHeaders/x") -> bytes:
    data = pax_records(records)
    return raw_header(name, len(data), b"x") + pad(data)


# --------------------------------------------------------------------------------------------
# compression and patch formats


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def gz_stored(data: bytes) -> bytes:
    """gzip with stored (uncompressed) deflate blocks, written by hand: the same bytes from
    every zlib build."""
    out = b"\x1f\x8b\x08\x00" + b"\0" * 4 + b"\x00\xff"
    chunks = [data[i:i + 65535] for i in range(0, len(data), 65535)] or [b""]
    for i, chunk in enumerate(chunks):
        final = 1 if i == len(chunks) - 1 else 0
        out += bytes([final]) + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
    return out + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def offt(value: int) -> bytes:
    """bsdiff's 8-byte little-endian sign-magnitude integer."""
    if value < 0:
        return struct.pack("<Q", (-value) | (1 << 63))
    return struct.pack("<Q", value)


def bsdiff4_patch(old: bytes, new: bytes, declared_size=None, controls=None) -> bytes:
    """A BSDIFF40 patch turning `old` into `new`: one control triple (diff over the common
    length, the rest as extra bytes). `declared_size` overrides the header's new length;
    `controls` replaces the control triples (add, copy, seek) for hostile patches."""
    common = min(len(old), len(new))
    diff = bytes((new[i] - old[i]) & 0xFF for i in range(common))
    extra = new[common:]
    if controls is None:
        controls = [(common, len(extra), 0)]
    ctrl = b"".join(offt(a) + offt(b) + offt(c) for a, b, c in controls)
    cblock, dblock, eblock = bz2.compress(ctrl, 9), bz2.compress(diff, 9), bz2.compress(extra, 9)
    size = len(new) if declared_size is None else declared_size
    return b"BSDIFF40" + offt(len(cblock)) + offt(len(dblock)) + offt(size) + cblock + dblock + eblock


def varint(value: int) -> bytes:
    """Unsigned LEB128 (integer_encoding's VarInt for usize)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> bytes:
    """Signed varint (integer_encoding's VarInt for i64: zigzag, then LEB128)."""
    return varint((value << 1) ^ (value >> 63) if value >= 0 else ((-value) << 1) - 1)


def bidiff_raw(old: bytes, new: bytes, records=None) -> bytes:
    """A bidiff 1.0 patch (uncompressed): magic, version, then (add, copy, seek) records. By
    default one record: add over the common length (bytes added to the base), copy the rest."""
    out = struct.pack("<II", 0xB1DF, 0x1000)
    if records is None:
        common = min(len(old), len(new))
        add = bytes((new[i] - old[i]) & 0xFF for i in range(common))
        records = [(add, new[common:], 0)]
    for add, copy, seek in records:
        out += varint(len(add)) + add + varint(len(copy)) + copy + zigzag(seek)
    return out


def zstd_raw_frame(payload: bytes, window_log=None, block_bytes=4096) -> bytes:
    """A zstd frame of raw (stored) blocks. Without `window_log`: single segment with a 4-byte
    content size; with it: a window descriptor asking for 2^window_log bytes, no content size."""
    out = struct.pack("<I", 0xFD2FB528)
    if window_log is None:
        out += bytes([0b1010_0000]) + struct.pack("<I", len(payload))
    else:
        out += bytes([0]) + bytes([(window_log - 10) << 3])
    chunks = [payload[i:i + block_bytes] for i in range(0, len(payload), block_bytes)] or [b""]
    for i, chunk in enumerate(chunks):
        last = 1 if i == len(chunks) - 1 else 0
        out += struct.pack("<I", last | (0 << 1) | (len(chunk) << 3))[:3] + chunk
    return out


def zstd_rle_bomb(prefix: bytes, zeros: int) -> bytes:
    """A zstd frame: `prefix` as one raw block, then `zeros` zero bytes as RLE blocks (4 bytes
    of frame per 128 KiB of output: the zstd form of a decompression bomb)."""
    total = len(prefix) + zeros
    out = struct.pack("<I", 0xFD2FB528) + bytes([0b1010_0000]) + struct.pack("<I", total)
    out += struct.pack("<I", (0 << 1) | (len(prefix) << 3))[:3] + prefix
    left = zeros
    while left:
        n = min(left, 128 << 10)
        left -= n
        last = 0 if left else 1
        out += struct.pack("<I", last | (1 << 1) | (n << 3))[:3] + b"\0"
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# the cases


def extract(name, data, expect, how, why, limits=None):
    case = {"case": name, "file": f"{name}.tar", "kind": "extract", "expect": expect,
            "how": how, "why": why, "data": data}
    if limits:
        case["limits"] = limits
    return case


def patch_base_and_new():
    """A small base tar and the next release's tar (the patch cases' old and new)."""
    base = tar(folder("app/"),
               file("app/run.sh", b"#!/bin/sh\necho version 1\n", mode=0o755),
               file("app/data.bin", bytes(range(256)) * 4))
    new = tar(folder("app/"),
              file("app/run.sh", b"#!/bin/sh\necho version 2\n", mode=0o755),
              file("app/data.bin", bytes(range(256)) * 4),
              file("app/NEWS", b"version 2: fixes\n"))
    return base, new


def cases():
    out = []
    benign = file("app/readme.txt", b"hello\n")

    # -- positive control: the harness must accept a well-formed archive.
    out.append(extract("control_ok", tar(folder("app/"), benign, symlink("app/link", "readme.txt")),
                       {"ok": True}, "tarfile: a folder, a file and a relative symlink inside",
                       "control: proves the harness extracts a good tar (refusals are not vacuous)"))

    # -- paths that leave the staging folder
    out.append(extract("dotdot", tar(benign, file("../evil.txt", b"pwned\n")),
                       {"error": "ParentComponent", "entry": "../evil.txt"},
                       "tarfile header named `../evil.txt` after a good file",
                       "classic path traversal: would write next to the staging folder"))
    out.append(extract("dotdot_nested", tar(file("app/../../evil.txt", b"pwned\n")),
                       {"error": "ParentComponent", "entry": "app/../../evil.txt"},
                       "tarfile header named `app/../../evil.txt`",
                       "traversal hidden after a normal component"))
    out.append(extract("absolute", tar(file(ABSOLUTE_TARGET, b"pwned\n")),
                       {"error": "AbsolutePath", "entry": ABSOLUTE_TARGET},
                       f"tarfile header named `{ABSOLUTE_TARGET}`",
                       "absolute path: would write anywhere on the disk"))
    out.append(extract("absolute_backslash", tar(file("\\tmp\\evil.txt", b"pwned\n")),
                       {"error": "AbsolutePath", "entry": "\\tmp\\evil.txt"},
                       "tarfile header named `\\tmp\\evil.txt`",
                       "a Windows root written with backslashes; refused on every platform"))
    long_dotdot = "a" * 60 + "/" + "../" * 3 + "b" * 60 + "/evil.txt"
    out.append(extract("gnu_longname_dotdot",
                       tar(member(long_dotdot, b"pwned\n", fmt=tarfile.GNU_FORMAT)),
                       {"error": "ParentComponent", "entry": long_dotdot},
                       "tarfile GNU format: a 140-byte name with `..` goes into a `././@LongLink` "
                       "(type L) entry, the real header holds a truncated harmless-looking name",
                       "the `..` is only visible to parsers that honour GNU long names"))
    out.append(extract("pax_path_dotdot",
                       tar(pax_header([(b"path", b"../evil.txt")]),
                           raw_header(b"harmless.txt", 6, b"0") + pad(b"pwned\n")),
                       {"error": "ParentComponent", "entry": "../evil.txt"},
                       "raw bytes: a PAX `x` header with `path=../evil.txt`, then a ustar header "
                       "named `harmless.txt`",
                       "PAX path override: the ustar name looks safe, the effective name is not"))
    out.append(extract("dot_file", tar(file(".", b"x")),
                       {"error": "EmptyEntryPath", "entry": "."},
                       "tarfile: a regular file named `.`",
                       "an entry that names the staging folder itself as a file"))

    # -- links
    out.append(extract("symlink_escape_then_write",
                       tar(symlink("escape", ".."), file("escape/sentinel.txt", b"pwned\n")),
                       {"error": "SymlinkEscapes", "entry": "escape"},
                       "tarfile: symlink `escape -> ..`, then a file `escape/sentinel.txt`",
                       "write through a symlink pointing out of staging (overwrites the sentinel)"))
    out.append(extract("symlink_absolute_then_write",
                       tar(symlink("escape", "/tmp"), file("escape/tufd-hostile-evil.txt", b"x")),
                       {"error": "SymlinkAbsolute", "entry": "escape"},
                       "tarfile: symlink `escape -> /tmp`, then a file below it",
                       "absolute symlink target, then a write through it"))
    out.append(extract("symlink_deep_escape",
                       tar(folder("a/"), folder("a/b/"), symlink("a/b/up", "../../.."),
                           file("a/b/up/evil.txt", b"pwned\n")),
                       {"error": "SymlinkEscapes", "entry": "a/b/up"},
                       "tarfile: `a/b/up -> ../../..` (one level above staging)",
                       "a `..` chain one step longer than the link's depth"))
    out.append(extract("symlink_chain_escape",
                       tar(folder("d/"), symlink("d/up", ".."), symlink("out", "d/up/.."),
                           file("out/evil.txt", b"pwned\n")),
                       {"error": "SymlinkEscapes", "entry": "out"},
                       "tarfile: `d/up -> ..` (staging itself, allowed), then `out -> d/up/..`",
                       "each hop stays inside lexically, but the kernel follows `d/up` first and "
                       "lands above staging: `..` after a name is refused"))
    out.append(extract("symlink_inside_then_write",
                       tar(folder("real/"), symlink("link", "real"), file("link/evil.txt", b"x")),
                       {"error": "ThroughSymlink", "entry": "link/evil.txt"},
                       "tarfile: folder `real/`, symlink `link -> real`, file `link/evil.txt`",
                       "a file under a symlinked folder: refused even when the link stays inside, "
                       "so no write ever follows a link"))
    out.append(extract("symlink_then_replace",
                       tar(symlink("app", "."), folder("app/")),
                       {"error": "DuplicateEntry", "entry": "app/"},
                       "tarfile: symlink `app -> .`, then a folder entry `app/`",
                       "a folder entry that would reuse (and chmod through) a symlink"))
    out.append(extract("hardlink_outside", tar(member("evil", kind=tarfile.LNKTYPE,
                                                      linkname="../../../../etc/passwd")),
                       {"error": "Hardlink", "entry": "evil"},
                       "tarfile: hard link `evil` to `../../../../etc/passwd`",
                       "a hard link to a file outside staging (would expose or modify it)"))
    out.append(extract("hardlink_inside", tar(benign, member("app/copy", kind=tarfile.LNKTYPE,
                                                             linkname="app/readme.txt")),
                       {"error": "Hardlink", "entry": "app/copy"},
                       "tarfile: a file, then a hard link to it",
                       "tufd never writes hard links, so any hard link is refused"))

    # -- special files
    out.append(extract("chardev", tar(member("null", kind=tarfile.CHRTYPE, devmajor=1,
                                             devminor=3)),
                       {"error": "UnsupportedEntry", "entry": "null", "kind": "character device"},
                       "tarfile: character device 1,3 (`/dev/null`)", "device node"))
    out.append(extract("blockdev", tar(member("sda", kind=tarfile.BLKTYPE, devmajor=8)),
                       {"error": "UnsupportedEntry", "entry": "sda", "kind": "block device"},
                       "tarfile: block device 8,0", "device node giving raw disk access"))
    out.append(extract("fifo", tar(member("pipe", kind=tarfile.FIFOTYPE)),
                       {"error": "UnsupportedEntry", "entry": "pipe", "kind": "fifo"},
                       "tarfile: fifo", "a fifo blocks whoever opens it"))
    out.append(extract("gnu_sparse", tar(gnu_sparse_header(b"sparse.bin")),
                       {"error": "UnsupportedEntry", "entry": "sparse.bin",
                        "kind": "gnu sparse file"},
                       "raw bytes: GNU header (magic `ustar  `) with type `S`, an empty sparse "
                       "map and real size 0", "sparse maps are a parser risk"))
    out.append(extract("gnu_sparse_in_ustar", tar(raw_header(b"sparse.bin", 0, b"S")),
                       {"error": "MalformedTar"},
                       "raw bytes: a POSIX ustar header (no GNU magic) with type `S`",
                       "a sparse type in a header that cannot hold a sparse map"))
    out.append(extract("pax_global_header",
                       tar(raw_header(b"pax_global_header", 0, b"g"), benign),
                       {"error": "UnsupportedEntry", "entry": "pax_global_header",
                        "kind": "pax global header"},
                       "raw bytes: an empty PAX global header (type `g`)",
                       "global headers change how later entries are read"))

    # -- parser differentials and malformed tars
    smuggled = raw_header(b"smuggled.txt", 6, b"0") + pad(b"pwned\n")
    out.append(extract("pax_size_desync",
                       tar(pax_header([(b"size", b"%d" % len(smuggled))]),
                           raw_header(b"innocent.txt", 0, b"0"), smuggled),
                       {"error": "SizeMismatch", "entry": "innocent.txt", "header_size": 0,
                        "pax_size": len(smuggled)},
                       "raw bytes (CVE-2025-62518 shape): PAX `size=1024`, ustar header "
                       "`innocent.txt` with size 0, then 1024 bytes holding a whole second tar "
                       "header `smuggled.txt` and its content",
                       "TARmageddon: a parser honouring the ustar size sees `smuggled.txt`, one "
                       "honouring PAX sees a 1 KiB file; the two disagree on what was signed"))
    out.append(extract("pax_size_smaller",
                       tar(pax_header([(b"size", b"0")]),
                           raw_header(b"innocent.txt", len(smuggled), b"0"), smuggled),
                       {"error": "SizeMismatch", "entry": "innocent.txt",
                        "header_size": len(smuggled), "pax_size": 0},
                       "raw bytes: PAX `size=0`, ustar header size 1024, then a smuggled header",
                       "the reverse desync"))
    out.append(extract("pax_size_garbage",
                       tar(pax_header([(b"size", b"12abc")]),
                           raw_header(b"innocent.txt", 0, b"0")),
                       {"error": "MalformedTar"},
                       "raw bytes: PAX `size=12abc`, ustar size 0",
                       "an unparseable PAX size: the tar crate skips it (size 0), other readers "
                       "may read 12 (the tar crate lets it through; `check_pax` in tufd-core's "
                       "extraction refuses it)"))
    out.append(extract("pax_size_duplicate",
                       tar(pax_header([(b"size", b"0"), (b"size", b"%d" % len(smuggled))]),
                           raw_header(b"innocent.txt", 0, b"0"), smuggled),
                       {"error": "SizeMismatch", "entry": "innocent.txt", "header_size": 0,
                        "pax_size": len(smuggled)},
                       "raw bytes: PAX `size=0` then `size=1024`, ustar size 0, then a smuggled "
                       "header",
                       "TARmageddon through a repeated record: the tar crate honours the first "
                       "`size`, GNU tar and Python the last (the tar crate lets it through; "
                       "`check_pax` in tufd-core's extraction refuses it)"))
    out.append(extract("pax_path_duplicate",
                       tar(pax_header([(b"path", b"harmless.txt"), (b"path", b"../evil.txt")]),
                           raw_header(b"x.txt", 6, b"0") + pad(b"pwned\n")),
                       {"error": "MalformedTar"},
                       "raw bytes: PAX `path=harmless.txt` then `path=../evil.txt`",
                       "readers disagree on the name (first or last record wins)"))
    out.append(extract("bad_checksum",
                       tar(raw_header(b"evil.txt", 6, b"0", checksum_delta=1) + pad(b"pwned\n")),
                       {"error": "MalformedTar"},
                       "raw bytes: ustar header whose checksum is off by one",
                       "a corrupt header must stop extraction, not be skipped"))
    out.append(extract("truncated_content",
                       tar(benign)[:-2 * BLOCK] + raw_header(b"big.bin", 4000, b"0") + b"x" * 100,
                       {"error": "MalformedTar"},
                       "raw bytes: header says 4000 bytes, 100 follow, no end-of-archive blocks",
                       "a truncated download; the partial file must be removed"))
    out.append(extract("declared_huge_size",
                       tar(raw_header(b"huge.bin", 0o77777777777, b"0")),
                       {"error": "ContentTooLarge", "limit_bytes": DEFAULT_LIMITS["max_total_bytes"]},
                       "raw bytes: header declares 8 GiB - 1 bytes, none follow",
                       "refused from the declared size before a byte is written"))
    out.append(extract("too_many_entries",
                       tar(*[file(f"f{i:02}", b"") for i in range(20)]),
                       {"error": "TooManyEntries", "limit": 10},
                       "tarfile: 20 empty files, extracted with max_entries 10",
                       "inode exhaustion", {"max_total_bytes": 1 << 20, "max_entries": 10}))
    out.append(extract("content_over_limit",
                       tar(file("a.bin", b"a" * 3000), file("b.bin", b"b" * 3000)),
                       {"error": "ContentTooLarge", "limit_bytes": 4096},
                       "tarfile: two 3000-byte files, extracted with max_total_bytes 4096",
                       "disk exhaustion across several entries",
                       {"max_total_bytes": 4096, "max_entries": 1000}))

    # -- duplicates and conflicts
    out.append(extract("duplicate_file", tar(benign, file("app/readme.txt", b"second\n")),
                       {"error": "DuplicateEntry", "entry": "app/readme.txt"},
                       "tarfile: the same file twice", "last-one-wins tricks (content swap)"))
    out.append(extract("duplicate_normalised", tar(benign, file("./app//readme.txt", b"2\n")),
                       {"error": "DuplicateEntry", "entry": "./app//readme.txt"},
                       "tarfile: `app/readme.txt`, then `./app//readme.txt`",
                       "the same path spelt differently"))
    out.append(extract("file_then_folder_below", tar(file("app", b"x"), file("app/x", b"y")),
                       {"error": "ParentNotFolder", "entry": "app/x"},
                       "tarfile: file `app`, then file `app/x`",
                       "a folder on the way is not a folder"))

    # -- names that are not UTF-8
    out.append(extract("non_utf8_name", tar(file("caf\udce9.txt", b"x")),
                       {"error": "NonUtf8Entry"},
                       "tarfile with surrogateescape: name bytes `caf\\xe9.txt` (Latin-1)",
                       "names must survive every platform unchanged"))
    out.append(extract("non_utf8_link_target", tar(symlink("link", "caf\udce9")),
                       {"error": "NonUtf8Entry", "entry": "link"},
                       "tarfile with surrogateescape: symlink `link -> caf\\xe9`",
                       "link targets must be checkable text"))

    # -- decompression
    bomb_tar = tar(file("zeros.bin", b"\0" * (1 << 20)))
    signed_size = len(tar(benign))
    out.append({"case": "gzip_bomb", "file": "gzip_bomb.tar.gz", "kind": "decompress",
                "compression": "gzip", "max_bytes": signed_size,
                "expect": {"error": "TooLarge", "limit": signed_size},
                "how": f"gzip -9 of a tar holding 1 MiB of zeros; the signed tar_size is "
                       f"{signed_size} bytes",
                "why": "a decompression bomb: stops at the signed tar_size",
                "data": gz(bomb_tar)})
    out.append({"case": "gzip_truncated", "file": "gzip_truncated.tar.gz", "kind": "decompress",
                "compression": "gzip", "max_bytes": 4 << 20,
                "expect": {"error": "Decompress"},
                "how": "a small tar in gzip stored blocks (by hand), cut in half",
                "why": "a truncated archive",
                "data": gz_stored(tar(benign))[:len(gz_stored(tar(benign))) // 2]})
    zeros_tar = tar(file("zeros.bin", b"\0" * (1 << 20)))
    out.append({"case": "zstd_bomb", "file": "zstd_bomb.tar.zst", "kind": "decompress",
                "compression": "zstd", "max_bytes": signed_size,
                "expect": {"error": "TooLarge", "limit": signed_size},
                "how": "a zstd frame by hand: the tar header of a 1 MiB file as a raw block, "
                       "then its zeros as RLE blocks (4 bytes each per 128 KiB)",
                "why": "a zstd decompression bomb: stops at the signed tar_size",
                "data": zstd_rle_bomb(zeros_tar[:BLOCK], len(zeros_tar) - BLOCK)})
    out.append({"case": "zstd_window_too_large", "file": "zstd_window_too_large.tar.zst",
                "kind": "decompress", "compression": "zstd", "max_bytes": 1 << 20,
                "expect": {"error": "Decompress"},
                "how": "a small tar in a zstd frame whose window descriptor asks for 2^41 bytes",
                "why": "a memory bomb in the frame header: windows above 2^31 are refused",
                "data": zstd_raw_frame(tar(benign), window_log=41)})
    out.append({"case": "zstd_control_ok", "file": "zstd_control_ok.tar.zst",
                "kind": "decompress", "compression": "zstd", "max_bytes": len(zeros_tar),
                "expect": {"ok": True, "bytes": len(zeros_tar)},
                "how": "the zstd bomb's frame, with the limit at its real size",
                "why": "control: the hand-made RLE frame is valid zstd",
                "data": zstd_rle_bomb(zeros_tar[:BLOCK], len(zeros_tar) - BLOCK)})
    out.append({"case": "gzip_control_ok", "file": "gzip_control_ok.tar.gz",
                "kind": "decompress", "compression": "gzip", "max_bytes": signed_size,
                "expect": {"ok": True, "bytes": signed_size},
                "how": "a tar exactly the signed size in gzip stored blocks (by hand)",
                "why": "control: exactly at the limit is accepted (and the hand-made gzip is "
                       "valid)", "data": gz_stored(tar(benign))})

    # -- patches
    base, new = patch_base_and_new()
    out.append({"case": "patch_base", "file": "patch_base.tar", "kind": "base",
                "how": "tarfile: `app/`, `app/run.sh`, `app/data.bin` (the old release)",
                "why": "the base every patch case applies to", "data": base,
                "expect": {"ok": True}})
    signed = {"sha256": sha256(new), "size_bytes": len(new)}
    wrong = bytearray(new)
    wrong[BLOCK + 100] ^= 0xFF  # inside run.sh's content: same length, other bytes

    def patch(name, codec, data, expect, how, why, digest=signed):
        ext = "bsdiff4" if codec == "bsdiff4" else "bidiff"
        out.append({"case": name, "file": f"{name}.{ext}.patch", "kind": "patch",
                    "codec": codec, "base": "patch_base.tar", "signed": digest,
                    "expect": expect, "how": how, "why": why, "data": data})

    ok_bsdiff = bsdiff4_patch(base, new)
    patch("bsdiff4_control_ok", "bsdiff4", ok_bsdiff, {"ok": True},
          "BSDIFF40 by hand (bz2 blocks): one control triple, diff over the common length, "
          "the rest as extra", "control: a good patch gives the signed tar")
    patch("bsdiff4_truncated", "bsdiff4", ok_bsdiff[:len(ok_bsdiff) // 2],
          {"error": "Corrupt", "codec": "bsdiff4"},
          "the control patch cut in half", "a truncated download")
    patch("bsdiff4_truncated_trailer", "bsdiff4", ok_bsdiff[:-8], {"ok": True},
          "the control patch without its last 8 bytes: the end of the extra block's bz2 stream "
          "(end-of-stream marker and CRC) is cut, the data is all there",
          "accepted on purpose: qbsdiff stops reading once it has the declared bytes, and "
          "the output still matches the signed digest (Python bsdiff4 refuses this patch)")
    patch("bsdiff4_truncated_extra", "bsdiff4", ok_bsdiff[:-40],
          {"error": "Corrupt", "codec": "bsdiff4"},
          "the control patch without its last 40 bytes (header lengths still fit)",
          "truncation inside the extra block's data, past what the header checks cover")
    patch("bsdiff4_wrong_hash", "bsdiff4", bsdiff4_patch(base, bytes(wrong)),
          {"error": "Mismatch"},
          "a good patch to a tar with one byte flipped (same length)",
          "a wrong patch (or wrong base): the output differs from the signed tar_hash")
    patch("bsdiff4_short_output", "bsdiff4", bsdiff4_patch(base, new[:-BLOCK]),
          {"error": "Mismatch"}, "a good patch to the new tar minus its last 512 bytes",
          "output shorter than the signed tar_size")
    patch("bsdiff4_huge_size", "bsdiff4", bsdiff4_patch(base, new, declared_size=1 << 62),
          {"error": "TooLarge", "limit_bytes": len(new)},
          "the control patch with header new-size 2^62",
          "a patch claiming a huge output: refused from the header, nothing allocated")
    patch("bsdiff4_size_lie", "bsdiff4", bsdiff4_patch(base, new, declared_size=100),
          {"error": "Corrupt", "codec": "bsdiff4"},
          "the control patch with header new-size 100 (it really produces the whole tar)",
          "the header and the control data disagree")
    patch("bsdiff4_add_overflow", "bsdiff4",
          bsdiff4_patch(base, new, controls=[((1 << 62), 0, 0)]),
          {"error": "Corrupt", "codec": "bsdiff4"},
          "one control triple adding 2^62 bytes",
          "control lengths far beyond the blocks and the base (overflow and huge allocation bait)")
    patch("bsdiff4_seek_before_start", "bsdiff4",
          bsdiff4_patch(base, new, controls=[(0, 0, -(1 << 40)), (len(new), 0, 0)]),
          {"error": "Corrupt", "codec": "bsdiff4"},
          "control triples: seek -2^40, then add the whole tar",
          "a seek before the start of the base")
    patch("bsdiff4_garbage", "bsdiff4", b"BSDIFF41" + b"\x07" * 40,
          {"error": "Corrupt", "codec": "bsdiff4"}, "48 bytes with a wrong magic",
          "not a bsdiff4 patch at all")

    ok_bidiff = zstd_raw_frame(bidiff_raw(base, new))
    patch("bidiff_control_ok", "bidiff-zstd", ok_bidiff, {"ok": True},
          "bidiff 1.0 records by hand (one add over the common length, one copy of the rest) "
          "in a zstd frame of raw blocks", "control: a good patch gives the signed tar")
    patch("bidiff_truncated", "bidiff-zstd", ok_bidiff[:len(ok_bidiff) // 2],
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "the control patch cut in half (inside a zstd block)", "a truncated download")
    cut = bidiff_raw(base, new)
    boundary = zstd_raw_frame(cut, block_bytes=len(cut) // 2)
    boundary = boundary[:4 + 1 + 4 + 3 + len(cut) // 2]
    patch("bidiff_truncated_at_block", "bidiff-zstd", boundary,
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "the control patch in two raw blocks, cut exactly after the first block",
          "truncation at a zstd block boundary: the frame is unfinished, not ended")
    patch("bidiff_wrong_hash", "bidiff-zstd", zstd_raw_frame(bidiff_raw(base, bytes(wrong))),
          {"error": "Mismatch"}, "a good patch to a tar with one byte flipped (same length)",
          "the output differs from the signed tar_hash")
    patch("bidiff_too_long", "bidiff-zstd",
          zstd_raw_frame(bidiff_raw(base, new + b"\0" * 4096)),
          {"error": "TooLarge", "limit_bytes": len(new)},
          "a good patch to the new tar plus 4096 zero bytes",
          "output longer than the signed tar_size: stops at the limit")
    patch("bidiff_window_too_large", "bidiff-zstd",
          zstd_raw_frame(bidiff_raw(base, new), window_log=41),
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "the control records in a zstd frame whose window descriptor asks for 2^41 bytes",
          "a memory bomb in the frame header: the decoder refuses windows above 2^31")
    patch("bidiff_seek_before_start", "bidiff-zstd",
          zstd_raw_frame(bidiff_raw(base, new, records=[(b"", b"", -(1 << 40)),
                                                        (b"\0" * 10, b"", 0)])),
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "records: seek -2^40, then add 10 bytes", "a seek before the start of the base")
    patch("bidiff_read_past_base", "bidiff-zstd",
          zstd_raw_frame(bidiff_raw(base, new, records=[(b"\0" * (len(base) + 1), b"", 0)])),
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "one record adding base length + 1 bytes", "reads past the end of the base")
    patch("bidiff_huge_add_len", "bidiff-zstd",
          zstd_raw_frame(struct.pack("<II", 0xB1DF, 0x1000) + varint(1 << 60) + b"\0" * 16),
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "a record declaring an add of 2^60 bytes, 16 present",
          "a huge length must not be allocated up front")
    patch("bidiff_empty_records", "bidiff-zstd",
          zstd_raw_frame(struct.pack("<II", 0xB1DF, 0x1000) + b"\0" * 3000),
          {"error": "Mismatch", "actual_size": 0},
          "1,000 records (0 add, 0 copy, seek 0): 3,000 zero bytes",
          "work without output: ends (the patch length bounds it) and fails the digest")
    patch("bidiff_uncompressed", "bidiff-zstd", bidiff_raw(base, new),
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "the control records without the zstd frame", "not a zstd stream")
    patch("bidiff_bad_magic", "bidiff-zstd",
          zstd_raw_frame(b"\xde\xad\xbe\xef" + bidiff_raw(base, new)[4:]),
          {"error": "Corrupt", "codec": "bidiff-zstd"},
          "the control records with a wrong magic", "not a bidiff patch")

    # -- target names (no file: the input is the name itself)
    names = [
        ("name_latest", "my_app-latest.tar.gz", "no `-<PEP 440 version>` before the suffix",
         "a version that is not PEP 440 (tufup's reader ignores it)"),
        ("name_unknown_suffix", "my_app-1.0.exe", "unknown suffix", "not an archive or patch"),
        ("name_no_version", "my_app.tar.gz", "no `-<PEP 440 version>` before the suffix",
         "no version at all"),
        ("name_dotdot", "../evil-1.0.tar.gz", "the folder is not one <os>-<arch> platform name",
         "a path in the app name (would place the download outside the cache)"),
        ("name_slash", "a/b-1.0.patch", "the folder is not one <os>-<arch> platform name",
         "a folder that is not a platform (`<os>-<arch>`)"),
        ("name_empty_app", "-1.0.tar.gz", "bad characters in the app name", "an empty app name"),
        ("name_version_whitespace", "app- 1.0.tar.gz", "whitespace in the version",
         "whitespace around the version"),
        ("name_suffix_only", ".tar.gz", "no `-<PEP 440 version>` before the suffix",
         "nothing but a suffix"),
        ("name_nul", "app\u0000-1.0.tar.gz", "bad characters in the app name", "a NUL byte"),
        ("name_unicode", "\u0430pp-1.0.tar.gz", "bad characters in the app name",
         "a Cyrillic look-alike letter (homograph)"),
        ("name_double_suffix", "app-1.0.tar.gz.patch.exe", "unknown suffix",
         "a known suffix that is not the last"),
    ]
    for case, name, reason, why in names:
        out.append({"case": case, "kind": "target_name", "input": name,
                    "expect": {"error": "InvalidTargetName", "reason": reason},
                    "how": f"the name `{json.dumps(name)[1:-1]}`", "why": why})
    return out


# --------------------------------------------------------------------------------------------
# output


README_HEAD = """# Hostile inputs corpus

Generated by `python3 tests/hostile/generate.py` (standard library only; deterministic, so a
second run gives identical bytes; `--check` compares the files on disk with a fresh run).
Do not edit `cases/` or this file by hand: change the generator and run it again.

`core/tests/hostile.rs` (`cargo test -p tufd-core --test hostile`) runs every case listed in
`cases/manifest.json`, and fails if a file in `cases/` is not listed there:

- `extract`: `extract_tar` into a staging folder inside a temp dir that also holds an
  installed app folder and a sentinel file; the case is run twice (staging absent, staging an
  existing empty folder). Asserts the exact `ArchiveError` variant and its fields, that the
  temp dir outside staging is byte-identical afterwards (paths, types, contents, link
  targets, so the installed app is untouched), and that staging is absent or empty as before.
  Limits are 1 MiB of content and 1000 entries unless the case says otherwise.
- `decompress`: `decompress` with `max_bytes` = the signed `tar_size`; asserts the
  `ArchiveError` variant and that at most `max_bytes` were written.
- `patch`: `apply_verified` on `patch_base.tar` with the signed digest of the next release's
  tar; asserts the `PatchError` variant (and codec or limit) and that at most the signed
  size was written.
- `target_name`: `TargetName::parse`; asserts `InvalidTargetName` and its reason.

Cases marked *control* must succeed: they prove the harness does not refuse everything.

How the bytes are made: tar headers come from `tarfile.TarInfo.tobuf` (USTAR or GNU format),
or from `raw_header` (a ustar header written byte by byte) where tarfile will not write the
hostile shape; the script assembles the stream itself, without tarfile's 10 KiB record
padding. The gzip bomb uses `gzip.compress(mtime=0)` (`--check` compares it by content, as
zlib builds may deflate differently); other gzip cases are stored blocks written by hand. bsdiff4 patches are the `BSDIFF40` format
written by hand with `bz2`; the control patch was checked once to apply with Python `bsdiff4`
1.3.2 (tufup's codec), which the generator does not need. zstd frames are written by hand
from raw (stored) and RLE blocks, since Python 3.11 has no zstd module. bidiff-zstd patches are bidiff
1.0 records (magic `0xB1DF`, LEB128 varints) in a zstd frame of raw (stored) blocks.

| case | file | run as | how it is made | expected | why it is hostile |
|---|---|---|---|---|---|
"""


def expect_text(expect):
    if expect.get("ok"):
        return "accepted"
    fields = ", ".join(f"{k}: {json.dumps(v)}" for k, v in expect.items() if k != "error")
    return f"`{expect['error']}`" + (f" ({fields})" if fields else "")


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render():
    """All files of the corpus: {relative path: bytes}."""
    files = {}
    manifest = []
    rows = []
    for case in cases():
        data = case.pop("data", None)
        if data is not None:
            files[f"cases/{case['file']}"] = data
        manifest.append(case)
        rows.append("| {} | {} | {} | {} | {} | {} |".format(
            case["case"], f"`{case['file']}`" if "file" in case else "-", case["kind"],
            cell(case["how"]), cell(expect_text(case["expect"])), cell(case["why"])))
    manifest_doc = {"default_limits": DEFAULT_LIMITS, "absolute_target": ABSOLUTE_TARGET,
                    "cases": manifest}
    files["cases/manifest.json"] = (json.dumps(manifest_doc, indent=1, ensure_ascii=True)
                                    + "\n").encode()
    files["README.md"] = (README_HEAD + "\n".join(rows) + "\n").encode()
    return files


def same(rel: str, on_disk: bytes, generated: bytes) -> bool:
    """Byte equality, except gzip files compare by content: deflate output may differ between
    zlib builds (zlib-ng), and what a gzip case tests is its content and small size."""
    if on_disk == generated:
        return True
    if rel.endswith(".gz"):
        try:
            return gzip.decompress(on_disk) == gzip.decompress(generated)
        except (OSError, EOFError):
            return False  # the truncated case: only identical bytes will do
    return False


def main():
    check = "--check" in sys.argv[1:]
    files = render()
    stale = []
    for rel, data in sorted(files.items()):
        path = HERE / rel
        if check:
            if not path.exists() or not same(rel, path.read_bytes(), data):
                stale.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if CASES.exists():
        listed = {rel.split("/", 1)[1] for rel in files if rel.startswith("cases/")}
        extra = sorted(p.name for p in CASES.iterdir() if p.name not in listed)
        if extra and check:
            stale += [f"cases/{name} (not generated)" for name in extra]
        elif extra:
            for name in extra:
                (CASES / name).unlink()
    if stale:
        print("corpus differs from the generator:", *stale, sep="\n  ", file=sys.stderr)
        return 1
    total = sum(len(d) for d in files.values())
    print(f"{'checked' if check else 'wrote'} {len(files)} files, {total} bytes, in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
