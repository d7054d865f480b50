//! Reference prediction for `bsdiff-lzma` version 2: the executable-aware step.
//!
//! When a release moves code, every instruction that reaches code or data through a relative
//! field — x86-64 `call`/`jmp`/`jcc rel32` and RIP-relative memory operands (`disp32`); A64
//! `b`/`bl`, `b.cond`, `cbz`/`cbnz`, `tbz`/`tbnz`, `ldr` literal, and `adrp` with the `add` or
//! load/store right after it that completes the address — changes its field even
//! where the instruction itself did not change, and a bsdiff difference carries those changes
//! as noise. Like Chromium's Zucchini, this module predicts each field from the base instead:
//! it decodes the base's executable code (x86-64 with the `iced-x86` crate; A64 words by their
//! fixed encodings), and for a reference inside an add region it maps the reference's target
//! through the patch's own add regions (the target's move) and subtracts the move of the
//! instruction itself:
//!
//! ```text
//! predicted = old displacement + (target move) − (instruction move)
//!             (x86-64: wrapping 32-bit bytes; A64: words, when it fits the immediate;
//!              adrp and its partner: the moved target's page distance and page offset)
//! ```
//!
//! The base bytes of the field are replaced by the prediction before the difference is taken
//! (creation) or added (application), so a correct prediction costs a zero difference. Both
//! sides compute the same predictions from the same inputs: the base, the code table in the
//! patch header (which ranges of the base are code, and how their virtual addresses map to
//! base offsets), and the add regions of the whole control stream (which version 2 sends before
//! the segments).
//!
//! A target inside an add region moves with it; a target in no add region takes the move of the
//! last add region starting before it. Positions are tar offsets, so a target and its
//! instruction may sit in different loadable segments as long as the segments' address-to-offset
//! distances did not change between the releases (a change only costs a constant difference).
//!
//! Measured when this step was added, with `bench/codecs` on the tars of ruff 0.6.0 → 0.6.1
//! and 0.6.1 → 0.6.2 (each bundle one executable, fetched by `bench/fetch-bundles.sh`) against
//! the same codec without it (`bench/` itself compares with the other tools):
//! version 2 patches are 0.90× and 0.91× of version 1's for the Linux x86-64 ELF build
//! (524,000 references decoded in 0.09 s), 0.81× and 0.81× for the Windows PE build, 0.72× and
//! 0.82× for the macOS x86-64 Mach-O build, 0.86× and 0.87× for the Linux ARM64 build, 0.79×
//! and 0.86× for the macOS ARM64 build (without `adrp` pairs: 0.91×, 0.91×, 0.88×, 0.91×).
//! An `adrp` whose address is completed further away than the next word is not predicted.
//!
//! Memory: 8 bytes a reference (ruff: 0.5 million in x86-64 code, 0.9 million in A64) and 12
//! an add region; applying ruff's patches peaks at 17–25 MiB.

use iced_x86::{Decoder, DecoderOptions, Instruction, OpKind};

/// Most executable members one patch describes.
pub const MAX_MEMBERS: usize = 16;
/// Most loadable ranges per member.
pub const MAX_LOADS: usize = 16;
/// Most references decoded from a base (2^21; 8 bytes each: 16 MiB; ruff's 28 MB executables
/// have 0.5 million (x86-64) to 0.9 million (AArch64)). Creation leaves out the members that
/// would pass it ([`Predictor::for_base`]).
pub const MAX_REFS: usize = 1 << 21;
/// Most add regions of a version 2 patch (2^20; 12 bytes each: 12 MiB). Creation writes version
/// 1 for a patch with more.
pub const MAX_REGIONS: usize = 1 << 20;
/// Bytes of one load in the code table: tar offset, length, virtual address (u64 LE each), flags.
pub const LOAD_BYTES: usize = 25;
/// Members smaller than this are not described (64 KiB).
const MIN_MEMBER_BYTES: u64 = 64 << 10;
/// Bytes of code read and decoded at a time (1 MiB), plus the longest x86 instruction.
const DECODE_CHUNK_BYTES: usize = 1 << 20;
/// The longest x86 instruction, in bytes.
const MAX_INSTRUCTION_BYTES: usize = 15;
/// `flags` bit of an executable load.
const EXECUTABLE: u8 = 1;

/// One loadable range of an executable member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// Where the range starts in the base tar, in bytes.
    pub tar_offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Virtual address of its first byte.
    pub vaddr: u64,
    /// Whether the range holds code (decoded for references).
    pub executable: bool,
}

/// The instruction set of a member's code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arch {
    /// x86-64: `call`/`jmp`/`jcc rel32` and RIP-relative `disp32` operands are predicted.
    #[default]
    X86_64,
    /// AArch64 (A64): the immediates of `b`/`bl` (26 bits), `b.cond`/`cbz`/`cbnz`/`ldr` literal
    /// (19 bits) and `tbz`/`tbnz` (14 bits), which count 4-byte words, and `adrp` with the
    /// `add` or load/store right after it (page distance and page offset).
    Aarch64,
}

impl Arch {
    /// The byte naming the instruction set in the code table.
    fn to_byte(self) -> u8 {
        match self {
            Self::X86_64 => 1,
            Self::Aarch64 => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::X86_64),
            2 => Some(Self::Aarch64),
            _ => None,
        }
    }
}

/// An executable member of the base: its instruction set and loadable ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// The instruction set of its code.
    pub arch: Arch,
    /// The ranges, at most [`MAX_LOADS`].
    pub loads: Vec<Load>,
}

impl Member {
    /// The base offset of virtual address `vaddr`, when a load of this member holds it.
    fn tar_offset_of(&self, vaddr: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|l| vaddr >= l.vaddr && vaddr - l.vaddr < l.len)
            .map(|l| l.tar_offset + (vaddr - l.vaddr))
    }
}

/// The code table of a version 2 header: `u8` member count (1 ..= [`MAX_MEMBERS`]), then per
/// member its instruction set (`u8`: 1 x86-64, 2 AArch64), a `u8` load count (1 ..=
/// [`MAX_LOADS`]) and its loads ([`LOAD_BYTES`] each).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeTable {
    /// The members, at most [`MAX_MEMBERS`].
    pub members: Vec<Member>,
}

impl CodeTable {
    /// The x86-64 and AArch64 executables and libraries in `tar` (a base), at most
    /// [`MAX_MEMBERS`]: regular members of at least 64 KiB that are ELF (loadable segments,
    /// `PT_LOAD`), PE32+ (sections) or Mach-O (`LC_SEGMENT_64` segments) files, whose ranges
    /// (at most [`MAX_LOADS`]) lie inside the member and include disjoint executable ones.
    pub fn of_tar(tar: &[u8]) -> Self {
        let mut members = Vec::new();
        let mut archive = tar::Archive::new(tar);
        let Ok(entries) = archive.entries() else {
            return Self::default();
        };
        for entry in entries {
            let Ok(entry) = entry else { break };
            let size = entry.size();
            if entry.header().entry_type() != tar::EntryType::Regular || size < MIN_MEMBER_BYTES {
                continue;
            }
            let start = entry.raw_file_position();
            let bytes = usize::try_from(start)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(s, n)| tar.get(s..s.checked_add(n)?));
            let member = bytes.and_then(|b| {
                let (arch, loads) = elf_loads(b)
                    .or_else(|| pe_loads(b))
                    .or_else(|| macho_loads(b))?;
                member_at(arch, loads, b.len() as u64, start)
            });
            if let Some(member) = member {
                members.push(member);
                if members.len() == MAX_MEMBERS {
                    break;
                }
            }
        }
        Self { members }
    }

    /// The table as written in a header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.members.len() as u8];
        for m in &self.members {
            out.push(m.arch.to_byte());
            out.push(m.loads.len() as u8);
            for l in &m.loads {
                out.extend_from_slice(&l.tar_offset.to_le_bytes());
                out.extend_from_slice(&l.len.to_le_bytes());
                out.extend_from_slice(&l.vaddr.to_le_bytes());
                out.push(if l.executable { EXECUTABLE } else { 0 });
            }
        }
        out
    }

    /// Reads a table with `read` (which fills the buffer it is given from the patch).
    ///
    /// # Errors
    /// The reason, for a count out of range, an unknown instruction set, an empty or
    /// overflowing load, unknown flags, or executable loads that overlap (each byte of the base
    /// is decoded at most once); or `read`'s error.
    pub fn read<E>(
        mut read: impl FnMut(&mut [u8]) -> Result<(), E>,
        corrupt: impl Fn(&'static str) -> E,
    ) -> Result<Self, E> {
        let mut count = [0u8; 1];
        read(&mut count)?;
        if !(1..=MAX_MEMBERS).contains(&usize::from(count[0])) {
            return Err(corrupt("code table member count out of range"));
        }
        let mut members = Vec::with_capacity(usize::from(count[0]));
        let mut executable = Vec::new();
        for _ in 0..count[0] {
            read(&mut count)?;
            let arch =
                Arch::from_byte(count[0]).ok_or_else(|| corrupt("unknown instruction set"))?;
            read(&mut count)?;
            if !(1..=MAX_LOADS).contains(&usize::from(count[0])) {
                return Err(corrupt("code table load count out of range"));
            }
            let mut loads = Vec::with_capacity(usize::from(count[0]));
            for _ in 0..count[0] {
                let mut b = [0u8; LOAD_BYTES];
                read(&mut b)?;
                let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
                let load = Load {
                    tar_offset: u(0),
                    len: u(8),
                    vaddr: u(16),
                    executable: b[24] == EXECUTABLE,
                };
                if b[24] & !EXECUTABLE != 0 {
                    return Err(corrupt("unknown code table flags"));
                }
                if load.len == 0
                    || load.tar_offset.checked_add(load.len).is_none()
                    || load.vaddr.checked_add(load.len).is_none()
                {
                    return Err(corrupt("empty or overflowing code table load"));
                }
                if load.executable {
                    executable.push((load.tar_offset, load.len));
                }
                loads.push(load);
            }
            members.push(Member { arch, loads });
        }
        executable.sort_unstable();
        if executable.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
            return Err(corrupt("executable code table loads overlap"));
        }
        Ok(Self { members })
    }
}

/// Little-endian readers of a file's bytes (`None` past its end).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u16(&self, o: usize) -> Option<u16> {
        Some(u16::from_le_bytes(
            self.0.get(o..o.checked_add(2)?)?.try_into().ok()?,
        ))
    }
    fn u32(&self, o: usize) -> Option<u32> {
        Some(u32::from_le_bytes(
            self.0.get(o..o.checked_add(4)?)?.try_into().ok()?,
        ))
    }
    fn u64(&self, o: usize) -> Option<u64> {
        Some(u64::from_le_bytes(
            self.0.get(o..o.checked_add(8)?)?.try_into().ok()?,
        ))
    }
}

/// A file's instruction set and ranges as (file offset, length, virtual address, executable).
type FileLoads = (Arch, Vec<(u64, u64, u64, bool)>);

/// The loadable segments of an x86-64 or AArch64 ELF file (ELF-64 object file format:
/// `e_machine` 62 or 183, program headers of type `PT_LOAD`, flag `PF_X`).
fn elf_loads(e: &[u8]) -> Option<FileLoads> {
    let b = Bytes(e);
    if e.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let arch = match b.u16(0x12)? {
        62 => Arch::X86_64,
        183 => Arch::Aarch64,
        _ => return None,
    };
    let phoff = usize::try_from(b.u64(0x20)?).ok()?;
    let (phentsize, phnum) = (usize::from(b.u16(0x36)?), usize::from(b.u16(0x38)?));
    let mut loads = Vec::new();
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if b.u32(ph)? == 1 {
            let executable = b.u32(ph + 4)? & 1 != 0;
            loads.push((b.u64(ph + 8)?, b.u64(ph + 32)?, b.u64(ph + 16)?, executable));
        }
    }
    Some((arch, loads))
}

/// The sections of an x86-64 or ARM64 PE32+ file (Microsoft PE format: machine 0x8664 or
/// 0xAA64, optional header magic 0x20B, section characteristic `IMAGE_SCN_MEM_EXECUTE`).
fn pe_loads(e: &[u8]) -> Option<FileLoads> {
    let b = Bytes(e);
    if e.get(..2)? != b"MZ" {
        return None;
    }
    let pe = usize::try_from(b.u32(0x3c)?).ok()?;
    if e.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let arch = match b.u16(pe + 4)? {
        0x8664 => Arch::X86_64,
        0xaa64 => Arch::Aarch64,
        _ => return None,
    };
    let sections = usize::from(b.u16(pe + 6)?);
    let optional = pe + 24;
    if b.u16(optional)? != 0x20b {
        return None;
    }
    let image_base = b.u64(optional + 24)?;
    let table = optional + usize::from(b.u16(pe + 20)?);
    let mut loads = Vec::new();
    for i in 0..sections {
        let h = table.checked_add(i.checked_mul(40)?)?;
        let (vaddr, raw_len, raw_at) = (b.u32(h + 12)?, b.u32(h + 16)?, b.u32(h + 20)?);
        let executable = b.u32(h + 36)? & 0x2000_0000 != 0;
        let vaddr = image_base.checked_add(u64::from(vaddr))?;
        loads.push((u64::from(raw_at), u64::from(raw_len), vaddr, executable));
    }
    Some((arch, loads))
}

/// The segments of an x86-64 or ARM64 Mach-O file (`MH_MAGIC_64`, CPU type 0x01000007 or
/// 0x0100000C, load commands `LC_SEGMENT_64` with `VM_PROT_EXECUTE` in their initial
/// protection).
fn macho_loads(e: &[u8]) -> Option<FileLoads> {
    let b = Bytes(e);
    if b.u32(0)? != 0xfeed_facf {
        return None;
    }
    let arch = match b.u32(4)? {
        0x0100_0007 => Arch::X86_64,
        0x0100_000c => Arch::Aarch64,
        _ => return None,
    };
    let commands = b.u32(16)?;
    let mut at = 32usize;
    let mut loads = Vec::new();
    for _ in 0..commands {
        let (cmd, size) = (b.u32(at)?, usize::try_from(b.u32(at + 4)?).ok()?);
        if cmd == 0x19 {
            let (vaddr, offset, len) = (b.u64(at + 24)?, b.u64(at + 40)?, b.u64(at + 48)?);
            let executable = b.u32(at + 60)? & 4 != 0;
            loads.push((offset, len, vaddr, executable));
        }
        if size < 8 {
            return None;
        }
        at = at.checked_add(size)?;
    }
    Some((arch, loads))
}

/// The member of instruction set `arch` made of a file's `loads` (the file is `len` bytes at
/// base offset `at`): its non-empty ranges inside the file, at most [`MAX_LOADS`]; `None` when
/// none is executable or executable ranges overlap.
fn member_at(
    arch: Arch,
    file_loads: Vec<(u64, u64, u64, bool)>,
    len: u64,
    at: u64,
) -> Option<Member> {
    let mut loads = Vec::new();
    for (offset, size, vaddr, executable) in file_loads {
        let inside = offset.checked_add(size).is_some_and(|end| end <= len);
        if size == 0 || !inside || vaddr.checked_add(size).is_none() {
            continue;
        }
        loads.push(Load {
            tar_offset: at + offset,
            len: size,
            vaddr,
            executable,
        });
        if loads.len() == MAX_LOADS {
            break;
        }
    }
    let mut code: Vec<_> = loads
        .iter()
        .filter(|l| l.executable)
        .map(|l| (l.tar_offset, l.len))
        .collect();
    code.sort_unstable();
    let disjoint = code.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0);
    (!code.is_empty() && disjoint).then_some(Member { arch, loads })
}

/// How a reference's 4 bytes hold its displacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A little-endian 32-bit displacement in bytes (x86-64 `rel32`, `disp32`).
    Rel32,
    /// An A64 instruction word whose signed immediate of `bits` bits at bit `shift` counts
    /// 4-byte words.
    A64 { bits: u8, shift: u8 },
    /// An A64 `adrp`: the distance in 4 KiB pages from its own page to its target's.
    A64Page,
    /// The A64 `add` (immediate) or load/store (unsigned offset) right after an `adrp`, on its
    /// register: the target's offset in its page, in units of 2^`scale` bytes.
    A64PageOffset { scale: u8 },
}

impl Kind {
    /// The 4 bytes of a reference of this kind whose old bytes are `value` (as a little-endian
    /// `i32`) once its target moved `delta` bytes further from it than before, and it sits at
    /// virtual address `at` and its target at `target` (what the page kinds use); `None` when
    /// the new displacement cannot be encoded.
    fn predict(self, value: i32, delta: i64, at: u64, target: u64) -> Option<[u8; 4]> {
        let word = value as u32;
        match self {
            Self::A64Page => {
                let pages = ((target >> 12) as i64).wrapping_sub((at >> 12) as i64);
                if !(-(1i64 << 20)..1i64 << 20).contains(&pages) {
                    return None;
                }
                let (lo, hi) = ((pages as u32) & 3, ((pages as u32) >> 2) & 0x7_ffff);
                Some(((word & 0x9f00_001f) | (lo << 29) | (hi << 5)).to_le_bytes())
            }
            Self::A64PageOffset { scale } => {
                let offset = (target & 0xfff) as u32;
                if !offset.is_multiple_of(1 << scale) {
                    return None;
                }
                Some(((word & !(0xfff << 10)) | ((offset >> scale) << 10)).to_le_bytes())
            }
            Self::Rel32 => Some(value.wrapping_add(delta as i32).to_le_bytes()),
            Self::A64 { bits, shift } => {
                if delta % 4 != 0 {
                    return None;
                }
                let mask = ((1u32 << bits) - 1) << shift;
                let old = sign_extend((word & mask) >> shift, bits);
                let new = old + delta / 4;
                let limit = 1i64 << (bits - 1);
                if !(-limit..limit).contains(&new) {
                    return None;
                }
                Some(((word & !mask) | (((new as u32) << shift) & mask)).to_le_bytes())
            }
        }
    }
}

#[cfg(test)]
impl Kind {
    /// [`Kind::predict`] for the kinds that need no addresses.
    fn predict_branch(self, value: i32, delta: i64) -> Option<[u8; 4]> {
        self.predict(value, delta, 0, 0)
    }
}

/// `value`'s low `bits` bits as a signed number.
fn sign_extend(value: u32, bits: u8) -> i64 {
    let unused = 64 - u32::from(bits);
    (i64::from(value) << unused) >> unused
}

/// A reference found in the base: where its 4 bytes are and where its target is (both base
/// offsets): 8 bytes a reference. Its bytes are read where they are predicted, and how they
/// hold the displacement ([`Kind`]) follows from the instruction set of the code holding them
/// and, for A64, the word itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reference {
    field: u32,
    target: u32,
}

/// Every reference in the executable loads of `table`, sorted by field, reading the base with
/// `read_at(offset, buf)` (fills `buf` from base offset `offset`). Only references whose field
/// and target both lie in the first 4 GiB of the base are kept.
///
/// # Errors
/// `read_at`'s error, or `too_many` when there are more than [`MAX_REFS`].
fn find_references<E>(
    table: &CodeTable,
    mut read_at: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
    too_many: impl Fn() -> E,
) -> Result<Vec<Reference>, E> {
    // Reserved ahead (one reference per 8 bytes of code at most is expected; pages are only
    // touched as they fill): growing by doubling would hold the old and the new list at once.
    let code_bytes: u64 = table
        .members
        .iter()
        .flat_map(|m| m.loads.iter().filter(|l| l.executable))
        .map(|l| l.len)
        .sum();
    let mut refs = Vec::with_capacity((code_bytes / 8).min(MAX_REFS as u64 + 1) as usize);
    let mut buf = vec![0u8; DECODE_CHUNK_BYTES + MAX_INSTRUCTION_BYTES];
    let mut ins = Instruction::default();
    for member in &table.members {
        for load in member.loads.iter().filter(|l| l.executable) {
            let mut pos = 0u64;
            while pos < load.len {
                let n = (load.len - pos).min(buf.len() as u64) as usize;
                read_at(load.tar_offset + pos, &mut buf[..n])?;
                let last = pos + n as u64 == load.len;
                let code = &buf[..n];
                let mut push = |at: usize, target_vaddr: u64| {
                    let Some(target) = member.tar_offset_of(target_vaddr) else {
                        return Ok(());
                    };
                    let field = load.tar_offset + pos + at as u64;
                    if let (Ok(field), Ok(target)) = (u32::try_from(field), u32::try_from(target)) {
                        refs.push(Reference { field, target });
                        if refs.len() > MAX_REFS {
                            return Err(too_many());
                        }
                    }
                    Ok(())
                };
                let ip = load.vaddr + pos;
                let decoded = match member.arch {
                    Arch::X86_64 => x86_references(code, ip, last, &mut ins, &mut push)?,
                    Arch::Aarch64 => a64_references(code, ip, &mut push)?,
                };
                if decoded == 0 {
                    break; // a final piece shorter than one A64 word
                }
                pos += decoded as u64;
            }
        }
    }
    refs.sort_unstable_by_key(|r| r.field);
    Ok(refs)
}

/// Decodes the x86-64 instructions of `code` (at virtual address `ip`; `last`: the end of the
/// code, otherwise instructions that may continue past `code` are left for the next call) and
/// calls `push(offset of the field, target address)` for each reference. Returns how many bytes
/// were decoded.
fn x86_references<E>(
    code: &[u8],
    ip: u64,
    last: bool,
    ins: &mut Instruction,
    push: &mut impl FnMut(usize, u64) -> Result<(), E>,
) -> Result<usize, E> {
    // Instructions starting before `limit` are whole in `code`.
    let limit = if last {
        code.len()
    } else {
        code.len() - MAX_INSTRUCTION_BYTES
    };
    let mut decoder = Decoder::with_ip(64, code, ip, DecoderOptions::NONE);
    while decoder.position() < limit {
        let start = decoder.position();
        decoder.decode_out(ins);
        if ins.is_invalid() {
            continue;
        }
        let offsets = decoder.get_constant_offsets(ins);
        if ins.is_ip_rel_memory_operand() && offsets.displacement_size() == 4 {
            let field = start + offsets.displacement_offset();
            push(field, ins.ip_rel_memory_address())?;
        } else if ins.op0_kind() == OpKind::NearBranch64 && offsets.immediate_size() == 4 {
            let field = start + offsets.immediate_offset();
            push(field, ins.near_branch64())?;
        }
    }
    Ok(decoder.position())
}

/// Scans the 4-byte words of A64 `code` (at virtual address `pc`) for PC-relative branches and
/// literal loads (Arm Architecture Reference Manual, A64 encodings: `b`/`bl` imm26; `b.cond`,
/// `cbz`/`cbnz`, `ldr` literal imm19; `tbz`/`tbnz` imm14), calling `push(offset of the word,
/// target address)` for each. Returns how many bytes were scanned (whole words).
fn a64_references<E>(
    code: &[u8],
    pc: u64,
    push: &mut impl FnMut(usize, u64) -> Result<(), E>,
) -> Result<usize, E> {
    let words = code.len() / 4;
    let word_at = |i: usize| u32::from_le_bytes(code[i * 4..i * 4 + 4].try_into().expect("4"));
    for i in 0..words {
        let (word, here) = (word_at(i), pc + (i * 4) as u64);
        match a64_kind(word) {
            Some(Kind::A64 { bits, shift }) => {
                let offset = sign_extend((word >> shift) & ((1 << bits) - 1), bits);
                push(i * 4, here.wrapping_add_signed(offset * 4))?;
            }
            Some(Kind::A64Page) => {
                // Only an `adrp` whose next word completes the address on its register.
                let next = if i + 1 < words { word_at(i + 1) } else { 0 };
                let Some(Kind::A64PageOffset { scale }) = a64_kind(next) else {
                    continue;
                };
                if (next >> 5) & 31 != word & 31 {
                    continue;
                }
                let pages = sign_extend(((word >> 3) & 0x1f_fffc) | ((word >> 29) & 3), 21);
                let page = (here & !0xfff).wrapping_add_signed(pages << 12);
                let target = page + (u64::from((next >> 10) & 0xfff) << scale);
                push(i * 4, target)?;
                push(i * 4 + 4, target)?;
            }
            _ => {}
        }
    }
    Ok(words * 4)
}

/// The kind of an A64 word that is a PC-relative branch or literal load, an `adrp`, or an
/// instruction that can complete an `adrp`'s address (`add` immediate of 64 bits without shift,
/// load/store of a general register with an unsigned offset), else `None`.
fn a64_kind(word: u32) -> Option<Kind> {
    if word & 0x9f00_0000 == 0x9000_0000 {
        return Some(Kind::A64Page);
    }
    if word & 0xffc0_0000 == 0x9100_0000 {
        return Some(Kind::A64PageOffset { scale: 0 });
    }
    if word & 0x3f00_0000 == 0x3900_0000 {
        return Some(Kind::A64PageOffset {
            scale: (word >> 30) as u8,
        });
    }
    let (bits, shift) = if word & 0x7c00_0000 == 0x1400_0000 {
        (26, 0) // b, bl
    } else if word & 0xff00_0010 == 0x5400_0000
        || word & 0x7e00_0000 == 0x3400_0000
        || word & 0xbf00_0000 == 0x1800_0000
    {
        (19, 5) // b.cond, cbz/cbnz, ldr (literal, 32/64-bit)
    } else if word & 0x7e00_0000 == 0x3600_0000 {
        (14, 5) // tbz/tbnz
    } else {
        return None;
    };
    Some(Kind::A64 { bits, shift })
}

/// An add region: `len` bytes of new at `new` made from the base at `old`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Base offset.
    pub old: u32,
    /// New offset.
    pub new: u32,
    /// Length in bytes (at least 1).
    pub len: u32,
}

/// The add regions of a patch, sorted by base offset, with the region reaching furthest among
/// each prefix (to find a region holding an offset in one binary search).
struct Regions {
    sorted: Vec<Region>,
    furthest: Vec<u32>,
}

impl Regions {
    fn new(mut sorted: Vec<Region>) -> Self {
        sorted.sort_unstable_by_key(|r| (r.old, r.new, r.len));
        let mut furthest = Vec::with_capacity(sorted.len());
        let mut best = 0usize;
        for (i, r) in sorted.iter().enumerate() {
            let end = |r: &Region| u64::from(r.old) + u64::from(r.len);
            if end(r) > end(&sorted[best]) {
                best = i;
            }
            furthest.push(best as u32);
        }
        Self { sorted, furthest }
    }

    /// The move (new − base offset) of base offset `t`: the move of a region holding it (the
    /// one reaching furthest), else of the last region starting before it; `None` before the
    /// first region.
    fn shift(&self, t: u32) -> Option<i64> {
        let i = self.sorted.partition_point(|r| r.old <= t);
        let holding = self.sorted[*self.furthest.get(i.checked_sub(1)?)? as usize];
        let r = if u64::from(t) < u64::from(holding.old) + u64::from(holding.len) {
            holding
        } else {
            self.sorted[i - 1]
        };
        Some(i64::from(r.new) - i64::from(r.old))
    }
}

/// The add regions described by a control stream of `(zigzag move, add, copy)` varints that
/// produces `new_size` bytes, read with `next`; the same walk as the applier's (the base
/// position moves before a non-empty add only).
///
/// # Errors
/// `next`'s error; `corrupt` for a record that does not fit `new_size`, a base position out of
/// range or above 4 GiB, or more than [`MAX_REGIONS`] regions.
pub fn regions_of_control<E>(
    new_size: u64,
    mut next: impl FnMut() -> Result<u64, E>,
    corrupt: impl Fn(&'static str) -> E,
) -> Result<Vec<Region>, E> {
    let (mut base_pos, mut new_pos) = (0u64, 0u64);
    let mut regions = Vec::new();
    while new_pos < new_size {
        let move_by = super::bsdiff_lzma::zz_decode(next()?);
        let (add, copy) = (next()?, next()?);
        let total = add
            .checked_add(copy)
            .filter(|&t| t > 0 && t <= new_size - new_pos)
            .ok_or_else(|| corrupt("a record does not fit the new size"))?;
        if add > 0 {
            base_pos = base_pos
                .checked_add_signed(move_by)
                .ok_or_else(|| corrupt("a record moves before the start of the base"))?;
            let (Ok(old), Ok(new), Ok(len)) = (
                u32::try_from(base_pos),
                u32::try_from(new_pos),
                u32::try_from(add),
            ) else {
                return Err(corrupt("an add region lies beyond 4 GiB"));
            };
            regions.push(Region { old, new, len });
            if regions.len() > MAX_REGIONS {
                return Err(corrupt("too many add regions"));
            }
            base_pos += add;
        }
        new_pos += total;
    }
    Ok(regions)
}

/// The predictions of one patch: the base's references and the patch's add regions.
pub struct Predictor {
    refs: Vec<Reference>,
    regions: Regions,
    /// The executable loads as (start, end, instruction set, virtual address), sorted and
    /// disjoint.
    code: Vec<(u64, u64, Arch, u64)>,
    /// Every load as (start, end, virtual address), sorted.
    loads: Vec<(u64, u64, u64)>,
}

impl Predictor {
    /// Decodes the references of `table`'s code in the base (read with `read_at`) and indexes
    /// `regions`.
    ///
    /// # Errors
    /// `read_at`'s error, or `too_many` above [`MAX_REFS`] references.
    pub fn new<E>(
        table: &CodeTable,
        regions: Vec<Region>,
        read_at: impl FnMut(u64, &mut [u8]) -> Result<(), E>,
        too_many: impl Fn() -> E,
    ) -> Result<Self, E> {
        let refs = find_references(table, read_at, too_many)?;
        Ok(Self::from_parts(table, refs, regions))
    }

    /// The predictor for making a patch from `base` (the whole base tar): the members of
    /// `table`, in order, whose references fit within [`MAX_REFS`] in all — a member that would
    /// pass it is left out, so that a bundle of several executables keeps the predictions of
    /// most — and the table of the members kept, for the header ([`Predictor::new`] on it finds
    /// the same references).
    pub fn for_base(table: CodeTable, regions: Vec<Region>, base: &[u8]) -> (CodeTable, Self) {
        let read_at = |at: u64, buf: &mut [u8]| {
            let at = usize::try_from(at).map_err(|_| ())?;
            let end = at.checked_add(buf.len()).ok_or(())?;
            buf.copy_from_slice(base.get(at..end).ok_or(())?);
            Ok(())
        };
        let mut kept = CodeTable::default();
        let mut refs = Vec::new();
        for member in table.members {
            let one = CodeTable {
                members: vec![member],
            };
            match find_references(&one, read_at, || ()) {
                Ok(found) if refs.len() + found.len() <= MAX_REFS => {
                    refs.extend(found);
                    kept.members.extend(one.members);
                }
                _ => {}
            }
        }
        // Fields are unique (code ranges are disjoint), so this is the order `new` finds.
        refs.sort_unstable_by_key(|r| r.field);
        let predictor = Self::from_parts(&kept, refs, regions);
        (kept, predictor)
    }

    /// The predictor of `table`'s references `refs` (sorted by field) and the add regions.
    fn from_parts(table: &CodeTable, refs: Vec<Reference>, regions: Vec<Region>) -> Self {
        let mut code: Vec<_> = table
            .members
            .iter()
            .flat_map(|m| {
                let code = m.loads.iter().filter(|l| l.executable);
                code.map(|l| (l.tar_offset, l.tar_offset + l.len, m.arch, l.vaddr))
            })
            .collect();
        code.sort_unstable_by_key(|&(start, ..)| start);
        let mut loads: Vec<_> = table
            .members
            .iter()
            .flat_map(|m| &m.loads)
            .map(|l| (l.tar_offset, l.tar_offset + l.len, l.vaddr))
            .collect();
        loads.sort_unstable();
        Self {
            refs,
            regions: Regions::new(regions),
            code,
            loads,
        }
    }

    /// How the reference at base offset `field` with value `value` holds its displacement, and
    /// the field's virtual address.
    fn kind(&self, field: u32, value: i32) -> Option<(Kind, u64)> {
        let field = u64::from(field);
        let i = self.code.partition_point(|&(start, ..)| start <= field);
        let &(start, end, arch, vaddr) = self.code.get(i.checked_sub(1)?)?;
        if field >= end {
            return None;
        }
        let kind = match arch {
            Arch::X86_64 => Kind::Rel32,
            Arch::Aarch64 => a64_kind(value as u32)?,
        };
        Some((kind, vaddr + (field - start)))
    }

    /// The virtual address of base offset `offset`, from the last load starting at or before
    /// it that holds it.
    fn vaddr_of(&self, offset: u32) -> Option<u64> {
        let offset = u64::from(offset);
        let i = self.loads.partition_point(|&(start, ..)| start <= offset);
        let &(start, end, vaddr) = self.loads[..i].iter().rev().find(|l| offset < l.1)?;
        (offset < end).then(|| vaddr + (offset - start))
    }

    /// The references whose fields lie wholly inside both `region` and the `len` bytes at base
    /// offset `at`.
    fn inside(&self, at: u64, len: usize, region: Region) -> &[Reference] {
        let r_end = u64::from(region.old) + u64::from(region.len);
        let lo = at.max(u64::from(region.old));
        let hi = (at + len as u64).min(r_end).saturating_sub(3);
        let first = self.refs.partition_point(|r| u64::from(r.field) < lo);
        let last = first + self.refs[first..].partition_point(|r| u64::from(r.field) < hi);
        &self.refs[first..last.max(first)]
    }

    /// The length, at most `len`, of the piece of `region` starting at base offset `at` to
    /// read and predict at once: shortened so that no reference field is cut in two (a field
    /// is predicted only whole, from its own bytes). Always at least 1 when `len` is.
    pub fn piece(&self, at: u64, len: usize, region: Region) -> usize {
        let end = at + len as u64;
        let wider = self.inside(at, len + 3, region);
        match wider.last() {
            Some(r) if u64::from(r.field) + 4 > end && u64::from(r.field) > at => {
                (u64::from(r.field) - at) as usize
            }
            _ => len,
        }
    }

    /// Replaces the reference fields in `buf` by their predictions. `buf` holds the base bytes
    /// at base offset `at`, part of the add region `region`; only fields wholly inside both
    /// are predicted (see [`Predictor::piece`]).
    pub fn predict(&self, at: u64, buf: &mut [u8], region: Region) {
        for r in self.inside(at, buf.len(), region) {
            let Some(target_move) = self.regions.shift(r.target) else {
                continue;
            };
            let own_move = i64::from(region.new) - i64::from(region.old);
            let i = (u64::from(r.field) - at) as usize;
            let value = i32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
            let Some((kind, field_vaddr)) = self.kind(r.field, value) else {
                continue;
            };
            // The page kinds work on virtual addresses: the field's and the target's, moved.
            let target_vaddr = match kind {
                Kind::A64Page | Kind::A64PageOffset { .. } => match self.vaddr_of(r.target) {
                    Some(target) => target,
                    None => continue,
                },
                _ => 0,
            };
            let Some(predicted) = kind.predict(
                value,
                target_move - own_move,
                field_vaddr.wrapping_add_signed(own_move),
                target_vaddr.wrapping_add_signed(target_move),
            ) else {
                continue;
            };
            buf[i..i + 4].copy_from_slice(&predicted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(old: u32, new: u32, len: u32) -> Region {
        Region { old, new, len }
    }

    #[test]
    fn a_target_moves_with_the_region_holding_it_else_the_last_before_it() {
        let r = Regions::new(vec![
            region(1000, 5000, 100),
            region(0, 0, 2000),
            region(3000, 2500, 10),
        ]);
        // 1050 is in [0, 2000) (reaching furthest) and in [1000, 1100): the furthest wins.
        assert_eq!(r.shift(1050), Some(0));
        // 2500 is in no region: the move of the last one starting before it, [1000, 1100).
        assert_eq!(r.shift(2500), Some(4000));
        assert_eq!(r.shift(3005), Some(-500));
        assert_eq!(r.shift(9000), Some(-500));
        let later = Regions::new(vec![region(10, 20, 5)]);
        assert_eq!(later.shift(5), None);
    }

    /// A `call rel32` at base offset 100 to offset 1000; the call moves by +16 and the target
    /// by +64, so the new field is the old one + 48.
    #[test]
    fn a_call_is_predicted_from_the_moves_of_its_target_and_itself() {
        let mut base = vec![0x90u8; 2000];
        let rel = 1000i32 - 105;
        base[100] = 0xE8;
        base[101..105].copy_from_slice(&rel.to_le_bytes());
        let table = CodeTable {
            members: vec![Member {
                arch: Arch::X86_64,
                loads: vec![Load {
                    tar_offset: 0,
                    len: 2000,
                    vaddr: 0x40_0000,
                    executable: true,
                }],
            }],
        };
        let regions = vec![region(0, 16, 900), region(900, 964, 1100)];
        let p = Predictor::new(
            &table,
            regions,
            |at, buf: &mut [u8]| {
                buf.copy_from_slice(&base[at as usize..at as usize + buf.len()]);
                Ok::<_, ()>(())
            },
            || (),
        )
        .unwrap();
        assert_eq!(p.refs.len(), 1);
        // The add region [0, 900) → new 16. A piece ending inside the field [101, 105) is cut
        // before it; the next piece holds it whole and predicts it.
        let add = region(0, 16, 900);
        assert_eq!(p.piece(96, 7, add), 5);
        assert_eq!(p.piece(96, 9, add), 9);
        assert_eq!(p.piece(101, 7, add), 7);
        let mut piece = base[101..108].to_vec();
        p.predict(101, &mut piece, add);
        assert_eq!(i32::from_le_bytes(piece[..4].try_into().unwrap()), rel + 48);
        // A region ending inside the field predicts nothing, and is not cut for it.
        let short = region(0, 16, 103);
        assert_eq!(p.piece(96, 7, short), 7);
        let mut cut = base[96..103].to_vec();
        p.predict(96, &mut cut, short);
        assert_eq!(cut, base[96..103]);
    }

    /// The encoder's member-by-member search finds what the applier's finds from the kept
    /// table: the same references in the same order, for x86-64 and A64 members together.
    #[test]
    fn creation_and_application_find_the_same_references() {
        // x86-64 calls (every 7 bytes) in [0, 100,000), A64 `bl`s and `nop`s in [150,000,
        // 250,000), each to a nearby target.
        let mut base = vec![0x90u8; 300_000];
        for (i, at) in (0..99_990).step_by(7).enumerate() {
            base[at] = 0xE8;
            let rel = (i % 200) as i32 - 100;
            base[at + 1..at + 5].copy_from_slice(&rel.to_le_bytes());
        }
        for (i, at) in (150_000..250_000).step_by(4).enumerate() {
            let word: u32 = if i % 3 == 0 {
                0x9400_0000 | (i % 50) as u32
            } else {
                0xd503_201f
            };
            base[at..at + 4].copy_from_slice(&word.to_le_bytes());
        }
        let member = |arch, tar_offset| Member {
            arch,
            loads: vec![Load {
                tar_offset,
                len: 100_000,
                vaddr: 0x40_0000,
                executable: true,
            }],
        };
        let table = CodeTable {
            members: vec![member(Arch::X86_64, 0), member(Arch::Aarch64, 150_000)],
        };
        let (kept, made) = Predictor::for_base(table.clone(), vec![], &base);
        assert_eq!(kept, table);
        let read_at = |at: u64, buf: &mut [u8]| {
            buf.copy_from_slice(&base[at as usize..at as usize + buf.len()]);
            Ok::<_, ()>(())
        };
        let applied = Predictor::new(&kept, vec![], read_at, || ()).unwrap();
        let in_a64 = made.refs.iter().filter(|r| r.field >= 150_000).count();
        // (Those whose targets fall outside their load, near its ends, are not references.)
        assert!(made.refs.len() - in_a64 > 14_000 && in_a64 > 8_000);
        assert_eq!(made.refs, applied.refs);
    }

    #[test]
    fn a_code_table_round_trips_and_overlapping_code_is_refused() {
        let load = |tar_offset, executable| Load {
            tar_offset,
            len: 100,
            vaddr: 0x1000,
            executable,
        };
        let table = CodeTable {
            members: vec![Member {
                arch: Arch::X86_64,
                loads: vec![load(0, true), load(50, false)],
            }],
        };
        let read_from = |bytes: Vec<u8>| {
            let mut pos = 0;
            CodeTable::read(
                move |buf: &mut [u8]| {
                    let b = bytes.get(pos..pos + buf.len()).ok_or("truncated")?;
                    buf.copy_from_slice(b);
                    pos += buf.len();
                    Ok(())
                },
                |reason| reason,
            )
        };
        assert_eq!(read_from(table.to_bytes()), Ok(table));
        let overlapping = CodeTable {
            members: vec![Member {
                arch: Arch::X86_64,
                loads: vec![load(0, true), load(50, true)],
            }],
        };
        assert!(read_from(overlapping.to_bytes()).is_err());
        assert!(read_from(vec![0]).is_err()); // no member
        assert!(read_from(vec![17]).is_err()); // too many
    }

    /// A PE32+ header with a `.text` section (executable) and a `.rdata` one.
    #[test]
    fn pe_sections_are_read_with_their_image_addresses() {
        let mut e = vec![0u8; 0x400];
        e[..2].copy_from_slice(b"MZ");
        e[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        e[0x80..0x84].copy_from_slice(b"PE\0\0");
        e[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        e[0x86..0x88].copy_from_slice(&2u16.to_le_bytes()); // sections
        e[0x94..0x96].copy_from_slice(&0xf0u16.to_le_bytes()); // optional header size
        e[0x98..0x9a].copy_from_slice(&0x20bu16.to_le_bytes());
        e[0x98 + 24..0x98 + 32].copy_from_slice(&0x1_4000_0000u64.to_le_bytes());
        let table = 0x98 + 0xf0;
        for (i, (vaddr, len, at, flags)) in [
            (0x1000u32, 0x200u32, 0x200u32, 0x6000_0020u32),
            (0x2000, 0x100, 0x400, 0x4000_0040),
        ]
        .into_iter()
        .enumerate()
        {
            let h = table + i * 40;
            e[h + 12..h + 16].copy_from_slice(&vaddr.to_le_bytes());
            e[h + 16..h + 20].copy_from_slice(&len.to_le_bytes());
            e[h + 20..h + 24].copy_from_slice(&at.to_le_bytes());
            e[h + 36..h + 40].copy_from_slice(&flags.to_le_bytes());
        }
        let (arch, loads) = pe_loads(&e).unwrap();
        assert_eq!(arch, Arch::X86_64);
        assert_eq!(
            loads,
            vec![
                (0x200, 0x200, 0x1_4000_1000, true),
                (0x400, 0x100, 0x1_4000_2000, false)
            ]
        );
        // The second section ends past this file: the member keeps the first only.
        let member = member_at(arch, loads, e.len() as u64, 512).unwrap();
        assert_eq!(member.loads.len(), 1);
        assert_eq!(member.loads[0].tar_offset, 512 + 0x200);
        e[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(pe_loads(&e).unwrap().0, Arch::Aarch64);
        e[0x84..0x86].copy_from_slice(&0x14cu16.to_le_bytes()); // i386
        assert_eq!(pe_loads(&e), None);
    }

    /// A Mach-O header with a `__TEXT` segment (executable) and a `__DATA` one.
    #[test]
    fn macho_segments_are_read_from_their_load_commands() {
        let mut e = vec![0u8; 32 + 2 * 72];
        e[..4].copy_from_slice(&0xfeed_facfu32.to_le_bytes());
        e[4..8].copy_from_slice(&0x0100_0007u32.to_le_bytes());
        e[16..20].copy_from_slice(&2u32.to_le_bytes());
        for (i, (vaddr, offset, len, prot)) in [
            (0x1_0000_0000u64, 0u64, 0x4000u64, 5u32),
            (0x1_0000_4000, 0x4000, 0x1000, 3),
        ]
        .into_iter()
        .enumerate()
        {
            let c = 32 + i * 72;
            e[c..c + 4].copy_from_slice(&0x19u32.to_le_bytes());
            e[c + 4..c + 8].copy_from_slice(&72u32.to_le_bytes());
            e[c + 24..c + 32].copy_from_slice(&vaddr.to_le_bytes());
            e[c + 40..c + 48].copy_from_slice(&offset.to_le_bytes());
            e[c + 48..c + 56].copy_from_slice(&len.to_le_bytes());
            e[c + 60..c + 64].copy_from_slice(&prot.to_le_bytes());
        }
        let loads = vec![
            (0, 0x4000, 0x1_0000_0000, true),
            (0x4000, 0x1000, 0x1_0000_4000, false),
        ];
        assert_eq!(macho_loads(&e), Some((Arch::X86_64, loads.clone())));
        e[4] = 0x0c; // arm64 (0x0100000c)
        assert_eq!(macho_loads(&e), Some((Arch::Aarch64, loads)));
        e[4] = 0x12; // powerpc64 (0x01000012)
        assert_eq!(macho_loads(&e), None);
    }

    /// `bl` (imm26), `b.ne` and `cbz` (imm19), `tbz` (imm14): each word's target is found and a
    /// move rewrites only its immediate; a move that is no whole word, or that leaves the
    /// immediate's range, predicts nothing.
    #[test]
    fn a64_branches_are_found_and_their_immediates_rewritten() {
        let words: [u32; 5] = [
            0x9400_0010, // bl +0x40
            0x5400_0041, // b.ne +8
            0xb400_0062, // cbz x2, +12
            0x3608_0043, // tbz w3, #1, +8
            0xd503_201f, // nop
        ];
        let code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut found = Vec::new();
        a64_references(&code, 0x1000, &mut |at, target| {
            found.push((at, target, a64_kind(words[at / 4]).unwrap()));
            Ok::<_, ()>(())
        })
        .unwrap();
        let a64 = |bits, shift| Kind::A64 { bits, shift };
        assert_eq!(
            found,
            vec![
                (0, 0x1040, a64(26, 0)),
                (4, 0x100c, a64(19, 5)),
                (8, 0x1014, a64(19, 5)),
                (12, 0x1014, a64(14, 5)),
            ]
        );
        assert_eq!(a64_kind(words[4]), None);
        let bl = words[0] as i32;
        assert_eq!(
            a64(26, 0).predict_branch(bl, 8),
            Some(0x9400_0012u32.to_le_bytes())
        );
        assert_eq!(
            a64(26, 0).predict_branch(bl, -0x48),
            Some(0x97ff_fffeu32.to_le_bytes()) // bl -8
        );
        assert_eq!(a64(26, 0).predict_branch(bl, 2), None);
        let tbz = words[3] as i32;
        assert_eq!(a64(14, 5).predict_branch(tbz, 4 << 13), None);
        assert_eq!(
            a64(14, 5).predict_branch(tbz, 4),
            Some(0x3608_0063u32.to_le_bytes())
        );
    }

    #[test]
    fn regions_follow_the_control_walk() {
        // Records: add 10 at 0; copy 5; add 4 after moving back 3 (base position 7).
        let control = [0u64, 10, 5, 5 /* zigzag(-3) */, 4, 0];
        let mut it = control.into_iter();
        let regions = regions_of_control(19, || it.next().ok_or("end"), |r| r).unwrap();
        assert_eq!(regions, vec![region(0, 0, 10), region(7, 15, 4)]);
        let mut short = [0u64, 30, 0].into_iter();
        assert!(regions_of_control(19, || short.next().ok_or("end"), |r| r).is_err());
    }
}
