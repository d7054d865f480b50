//! Fuzzes the `bsdiff-lzma` codec past its header: every input becomes a patch with a valid
//! header (4 KiB dictionaries, the new size from the input's first two bytes, 14 bits) followed
//! by the rest of the input as segments, applied to the corpus base tar
//! (`tests/hostile/cases/patch_base.tar`). When the top bit of the second byte is set, the
//! header is version 2 with a code table declaring the whole base executable code — AArch64
//! when the next bit is set, else x86-64 — (so every reference decoded from it is predicted),
//! and the rest of the input is the control stream's length and chunk, then segments. Besides "never panics": the output never passes
//! the limit, and `apply_stream` behaves exactly as `apply` on slices.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tufd_core::patch::bsdiff_lzma::{Header, MAGIC, VERSION, VERSION_REFERENCES};
use tufd_core::patch::references::{Arch, CodeTable, Load, Member};
use tufd_core::patch::{PatchCodec, bsdiff_lzma::BsdiffLzma};

const BASE: &[u8] = include_bytes!("../../tests/hostile/cases/patch_base.tar");
/// Output limit, in bytes.
const LIMIT_BYTES: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let header = Header {
        dict_logs: [12; 4],
        new_size_bytes: u64::from(u16::from_le_bytes([data[0], data[1] & 0x3f])),
    };
    let mut patch = header.to_bytes().to_vec();
    debug_assert!(patch.starts_with(MAGIC) && patch[8] == VERSION);
    if data[1] & 0x80 != 0 {
        patch[8] = VERSION_REFERENCES;
        let table = CodeTable {
            members: vec![Member {
                arch: if data[1] & 0x40 != 0 {
                    Arch::Aarch64
                } else {
                    Arch::X86_64
                },
                loads: vec![Load {
                    tar_offset: 0,
                    len: BASE.len() as u64,
                    vaddr: 0x40_0000,
                    executable: true,
                }],
            }],
        };
        patch.extend_from_slice(&table.to_bytes());
    }
    patch.extend_from_slice(&data[2..]);
    let mut out = Vec::new();
    let result = BsdiffLzma.apply(BASE, &patch, LIMIT_BYTES, &mut out);
    assert!(out.len() as u64 <= LIMIT_BYTES, "{} bytes", out.len());
    let mut streamed = Vec::new();
    let again = BsdiffLzma.apply_stream(
        &mut Cursor::new(BASE),
        &mut &*patch,
        LIMIT_BYTES,
        &mut streamed,
    );
    assert_eq!(streamed, out, "streamed output differs");
    assert_eq!(again.as_ref().ok(), result.as_ref().ok());
    if let Ok(n) = result {
        assert_eq!(n, header.new_size_bytes);
    }
});
