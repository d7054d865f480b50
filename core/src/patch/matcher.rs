//! bsdiff-class matching over a suffix array of the base: a port of qbsdiff 1.4's `SaDiff`
//! search (MIT licence, Copyright (c) hucsmn), on the `suffix_array` crate qbsdiff uses.
//!
//! [`matches`] turns (base, new) into bsdiff control records: for each, `add` bytes of new are
//! the base (at the running base position) plus a byte-wise difference, then `copy` bytes are new
//! literal bytes, then the base position moves by `seek`. The search scans new for exact matches
//! of more than [`SMALL_MATCH`] bytes (suffix array longest-prefix search) that are not already
//! covered by the current alignment, and extends each match both ways over similar bytes.

use std::ops::Range;

use suffix_array::SuffixArray;

/// Exact matches of this many bytes or fewer are ignored (qbsdiff's default).
pub(crate) const SMALL_MATCH: usize = 12;
/// A match must differ from the current alignment in more than this many bytes to start a new
/// record (qbsdiff's default).
const MISMATCH_COUNT: usize = 8;
/// Above this length, the end of a similar run is found by binary search (qbsdiff's default).
const LONG_SUFFIX: usize = 256;

/// One bsdiff control record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Control {
    /// Bytes of new made as base + difference.
    pub add: u64,
    /// Bytes of new copied literally from the patch.
    pub copy: u64,
    /// Move of the base position after the record, in bytes.
    pub seek: i64,
}

/// The control records turning `s` (base) into `t` (new); the adds and copies cover `t`
/// exactly, in order. `s` must not be longer than `suffix_array::MAX_LENGTH`.
pub(crate) fn matches(s: &[u8], t: &[u8]) -> Vec<Control> {
    let mut sa = SuffixArray::new(s);
    sa.enable_buckets();
    let mut diff = SaDiff {
        s,
        t,
        sa: &sa,
        i0: 0,
        j0: 0,
        n0: 0,
        b0: 0,
    };
    let mut out = Vec::new();
    while let Some(c) = diff.next_control() {
        out.push(c);
    }
    out
}

struct SaDiff<'s, 't> {
    s: &'s [u8],
    t: &'t [u8],
    sa: &'s SuffixArray<'s>,
    i0: usize,
    j0: usize,
    n0: usize,
    b0: usize,
}

impl SaDiff<'_, '_> {
    fn search_next(&mut self) -> Option<(usize, usize, usize)> {
        if self.j0 == self.t.len() && self.b0 == 0 {
            return None;
        }
        let mut j = self.j0 + self.n0;
        let mut k = j;
        let mut m = 0;
        while j < self.t.len().saturating_sub(SMALL_MATCH) {
            let (i, n) = extent(self.sa.search_lcp(&self.t[j..]));
            while k < j + n {
                let i = self.i0.saturating_add(k - self.j0);
                if i < self.s.len() && self.s[i] == self.t[k] {
                    m += 1;
                }
                k += 1;
            }
            if n == 0 {
                j += 1;
                m = 0;
            } else if m == n || n <= SMALL_MATCH {
                j += n;
                m = 0;
            } else if n <= m + MISMATCH_COUNT {
                let next = if n <= LONG_SUFFIX {
                    j + 1
                } else {
                    let (mut x, mut y) = (0, n);
                    while x < y {
                        let z = x + (y - x) / 2;
                        let (iz, nz) = extent(self.sa.search_lcp(&self.t[j + z..]));
                        if i + n == iz + nz && j + n == j + z + nz {
                            x = z + 1;
                        } else {
                            y = z;
                        }
                    }
                    j + x.max(1)
                };
                let mut i = self.i0.saturating_add(j - self.j0);
                while j < next {
                    if i < self.s.len() && self.s[i] == self.t[j] {
                        m -= 1;
                    }
                    i += 1;
                    j += 1;
                }
            } else {
                return Some((i, j, n));
            }
        }
        Some((self.s.len(), self.t.len(), 0))
    }

    fn shrink_gap(&self, i: usize, j: usize) -> (usize, usize) {
        let gap = &self.t[self.j0 + self.n0..j];
        let suffix = &self.s[(self.i0 + self.n0).min(self.s.len())..];
        let prefix = &self.s[..i];
        let mut a0 = scan_similar(gap.iter(), suffix.iter());
        let mut b = scan_similar(gap.iter().rev(), prefix.iter().rev());
        if a0 + b > gap.len() {
            let n = a0 + b - gap.len();
            let xs = gap[gap.len() - b..a0].iter();
            let ys = suffix[gap.len() - b..a0].iter();
            let zs = prefix[prefix.len() - b..prefix.len() - b + n].iter();
            let i = scan_divide(xs, ys, zs);
            a0 -= n - i;
            b -= i;
        }
        (a0, b)
    }

    fn next_control(&mut self) -> Option<Control> {
        let (i, j, n) = self.search_next()?;
        let (i0, j0, n0, b0) = (self.i0, self.j0, self.n0, self.b0);
        let (a0, b) = self.shrink_gap(i, j);
        let add = (b0 + n0 + a0) as u64;
        let copy = ((j - b) - (j0 + n0 + a0)) as u64;
        let seek = (i - b).wrapping_sub(i0 + n0 + a0) as isize as i64;
        (self.i0, self.j0, self.n0, self.b0) = (i, j, n, b);
        Some(Control { add, copy, seek })
    }
}

fn extent(range: Range<usize>) -> (usize, usize) {
    (range.start, range.end.saturating_sub(range.start))
}

/// The length of the prefix of `xs` against `ys` where matches most outnumber mismatches.
fn scan_similar<'a, I: Iterator<Item = &'a u8>>(xs: I, ys: I) -> usize {
    let (mut best, mut matched, mut max_score) = (0, 0usize, 0isize);
    for (n, eq) in (1..).zip(xs.zip(ys).map(|(x, y)| x == y)) {
        matched += usize::from(eq);
        let score = matched as isize - (n - matched) as isize;
        if score > max_score {
            best = n;
            max_score = score;
        }
    }
    best
}

/// Where an overlap of two similar runs is best divided between them.
fn scan_divide<'a, I: Iterator<Item = &'a u8>>(xs: I, ys: I, zs: I) -> usize {
    let (mut best, mut y_matched, mut z_matched, mut max_score) = (0, 0usize, 0usize, 0isize);
    let eqs = xs.zip(ys).zip(zs).map(|((x, y), z)| (x == y, x == z));
    for (n, (y_eq, z_eq)) in (1..).zip(eqs) {
        y_matched += usize::from(y_eq);
        z_matched += usize::from(z_eq);
        let score = y_matched as isize - z_matched as isize;
        if score > max_score {
            best = n;
            max_score = score;
        }
    }
    best
}
