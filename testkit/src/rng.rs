//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
//! a tiny, fast, seeded generator, so a failing test can be replayed from its seed. Not for
//! secrets.

/// The generator; any `u64` is a valid seed.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; modulo bias is fine for tests).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// `len` incompressible bytes from `seed`.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0; len];
    SplitMix64(seed).fill(&mut out);
    out
}

/// `len` bytes from `seed` that compress somewhat, like executables and tars: every other
/// 8-byte word is drawn from a 16-letter alphabet.
pub fn binary_like(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        let word = rng.next_u64();
        let bytes = word.to_le_bytes();
        if word & 1 == 0 {
            out.extend(bytes.iter().map(|b| b % 16));
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(bytes(100, 7), bytes(100, 7));
        assert_ne!(bytes(100, 7), bytes(100, 8));
        assert_eq!(binary_like(1001, 3).len(), 1001);
        // The first output of seed 0 is the published SplitMix64 reference value.
        assert_eq!(SplitMix64(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }
}
