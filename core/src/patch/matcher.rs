//! bsdiff-class matching over a suffix array of the base: a port of qbsdiff 1.4's `SaDiff`
//! search (MIT licence, Copyright (c) hucsmn); the suffix array is built by libsais (the
//! `libsais` crate).
//!
//! [`matches`] turns (base, new) into bsdiff control records: for each, `add` bytes of new are
//! the base (at the running base position) plus a byte-wise difference, then `copy` bytes are new
//! literal bytes, then the base position moves by `seek`. The search scans new for exact matches
//! of more than [`SMALL_MATCH`] bytes (suffix array longest-prefix search) that are not already
//! covered by the current alignment, and extends each match both ways over similar bytes.
//!
//! qbsdiff's licence, which covers the ported search:
//!
//! > Copyright 2019-2022 hucsmn <hucsmn@hotmail.com>
//! >
//! > Permission is hereby granted, free of charge, to any person obtaining a copy of this
//! > software and associated documentation files (the "Software"), to deal in the Software
//! > without restriction, including without limitation the rights to use, copy, modify, merge,
//! > publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
//! > to whom the Software is furnished to do so, subject to the following conditions:
//! >
//! > The above copyright notice and this permission notice shall be included in all copies or
//! > substantial portions of the Software.
//! >
//! > THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
//! > INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
//! > PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
//! > FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
//! > OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
//! > DEALINGS IN THE SOFTWARE.

/// Exact matches of this many bytes or fewer are ignored (qbsdiff's default).
pub(crate) const SMALL_MATCH: usize = 12;
/// A match must differ from the current alignment in more than this many bytes to start a new
/// record (qbsdiff's default).
const MISMATCH_COUNT: usize = 8;
/// Runs of at least this many bytes that continue the current alignment are skipped without a
/// search.
const ALIGNED_RUN: usize = 64;
/// Above this length, the end of a similar run is found by binary search instead of one search
/// per byte (qbsdiff uses 256; 32 took 2 % less CPU on the ruff pairs of `bench/`, for 0.03 %
/// more bytes).
const LONG_SUFFIX: usize = 32;

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
/// exactly, in order. `s` must be shorter than 2 GiB (`i32` suffix positions); callers match
/// bases in windows of [`MATCH_WINDOW_BYTES`](super::bsdiff_lzma::MATCH_WINDOW_BYTES).
pub(crate) fn matches(s: &[u8], t: &[u8]) -> Vec<Control> {
    let sa = Index::new(s);
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
    sa: &'s Index<'s>,
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
            // Bytes that continue the current alignment exactly need no search: skipping a run
            // of ALIGNED_RUN or more is what the search would conclude (an exact match, already
            // aligned), without its cost.
            let aligned = self.i0.saturating_add(j - self.j0);
            if aligned < self.s.len() {
                let run = common_prefix(&self.s[aligned..], &self.t[j..]);
                if run >= ALIGNED_RUN {
                    j += run;
                    k = k.max(j);
                    m = 0;
                    continue;
                }
            }
            let (i, n) = self.sa.longest(&self.t[j..]);
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
                        let (iz, nz) = self.sa.longest(&self.t[j + z..]);
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

/// The suffix array of the base (built by libsais) with a table of where each two-byte prefix
/// starts, searched for longest matches.
///
/// Why not the `suffix_array` crate's `search_lcp`: it compares every probe of its binary search
/// from the first byte and counts the final match byte by byte, which was 58 % of the CPU of a
/// patch of ruff (28 MB); this search starts each comparison after the prefix both bounds share
/// with the pattern (the classic "mlr" acceleration), compares 32 bytes at a time, and loads
/// both possible next probes ahead (5 % of the patch's CPU).
struct Index<'s> {
    s: &'s [u8],
    /// Suffix start positions in sorted order; `sa[0]` is the empty suffix (`s.len()`).
    sa: Vec<i32>,
    /// `buckets[r]`: the first index of `sa` whose suffix has rank at least `r` (see [`rank`]).
    buckets: Vec<u32>,
}

/// Every suffix start of `s`, in sorted order, after the empty suffix (`s.len()`).
///
/// # Panics
/// When `s` is 2 GiB or longer, or libsais cannot allocate its working memory.
fn suffix_array(s: &[u8]) -> Vec<i32> {
    let len = i32::try_from(s.len()).expect("bases are matched in windows below 2 GiB");
    let mut sa = vec![0i32; s.len() + 1];
    sa[0] = len;
    if !s.is_empty() {
        libsais::SuffixArrayConstruction::for_text(s)
            .in_borrowed_buffer(&mut sa[1..])
            .single_threaded()
            .run()
            .expect("libsais builds the suffix array of a base below 2 GiB");
    }
    sa
}

/// Ranks of suffixes by their first two bytes, in suffix order: the empty suffix 0, a one-byte
/// suffix `c` 1 + 257c, a longer one 2 + 257c + d.
fn rank(suffix: &[u8]) -> usize {
    match suffix {
        [] => 0,
        [c] => 1 + 257 * *c as usize,
        [c, d, ..] => 2 + 257 * *c as usize + *d as usize,
    }
}

/// Number of ranks.
const RANKS: usize = 1 + 257 * 256;

impl<'s> Index<'s> {
    fn new(s: &'s [u8]) -> Self {
        let sa = suffix_array(s);
        let mut buckets = vec![0u32; RANKS + 1];
        let mut next = 0;
        for (i, &pos) in sa.iter().enumerate() {
            let r = rank(&s[pos as usize..]);
            while next <= r {
                buckets[next] = i as u32;
                next += 1;
            }
        }
        while next <= RANKS {
            buckets[next] = sa.len() as u32;
            next += 1;
        }
        Self { s, sa, buckets }
    }

    /// Common prefix length of the suffix at `sa[index]` and `pat`, knowing that at least `known`
    /// bytes are common.
    fn lcp_at(&self, index: usize, pat: &[u8], known: usize) -> usize {
        let suffix = &self.s[self.sa[index] as usize..];
        let known = known.min(suffix.len()).min(pat.len());
        known + common_prefix(&suffix[known..], &pat[known..])
    }

    /// The longest prefix of `pat` that occurs in the base: (position, length); length 0 when
    /// none does.
    fn longest(&self, pat: &[u8]) -> (usize, usize) {
        let sa = &self.sa;
        // Invariant: suffix(lo) < pat <= suffix(hi) (hi = sa.len() is past every suffix); every
        // suffix between them shares min(lo_lcp, hi_lcp) bytes with pat.
        let (mut lo, mut hi) = (0usize, sa.len());
        if pat.len() >= 2 {
            let r = rank(pat);
            lo = (self.buckets[r] as usize).saturating_sub(1);
            hi = self.buckets[r + 1] as usize;
        }
        let mut lo_lcp = self.lcp_at(lo, pat, 0);
        let mut hi_lcp = if hi < sa.len() {
            self.lcp_at(hi, pat, 0)
        } else {
            0
        };
        if lo_lcp == pat.len() {
            return (sa[lo] as usize, lo_lcp);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            // Load both possible next probes now: their cache misses overlap this comparison's
            // instead of following it.
            std::hint::black_box((sa[lo + (mid - lo) / 2], sa[mid + (hi - mid) / 2]));
            let l = self.lcp_at(mid, pat, lo_lcp.min(hi_lcp));
            if l == pat.len() {
                return (sa[mid] as usize, l);
            }
            let suffix = &self.s[sa[mid] as usize..];
            if l == suffix.len() || suffix[l] < pat[l] {
                lo = mid;
                lo_lcp = l;
            } else {
                hi = mid;
                hi_lcp = l;
            }
        }
        if hi < sa.len() && hi_lcp > lo_lcp {
            (sa[hi] as usize, hi_lcp)
        } else {
            (sa[lo] as usize, lo_lcp)
        }
    }
}

/// Length of the common prefix of `a` and `b`, compared 32 bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut n = 0;
    while n + 32 <= len && a[n..n + 32] == b[n..n + 32] {
        n += 32;
    }
    while n < len && a[n] == b[n] {
        n += 1;
    }
    n
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest match by brute force: its length.
    fn brute(s: &[u8], pat: &[u8]) -> usize {
        (0..=s.len())
            .map(|i| common_prefix(&s[i..], pat))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn longest_finds_the_longest_prefix_match() {
        let s = tufd_testkit::rng::binary_like(3_000, 9);
        let index = Index::new(&s);
        let mut pats: Vec<Vec<u8>> = vec![vec![], vec![s[5]], b"zz".to_vec(), s.clone()];
        for start in (0..2_900).step_by(97) {
            let mut p = s[start..start + 40].to_vec();
            p[(start / 97) % 40] ^= 0x20; // a mismatch somewhere
            pats.push(p);
            pats.push(s[start..].to_vec());
        }
        for pat in &pats {
            let (pos, len) = index.longest(pat);
            assert_eq!(len, brute(&s, pat), "{pat:?}");
            assert_eq!(&s[pos..pos + len], &pat[..len]);
        }
        let empty = Index::new(&[]);
        assert_eq!(empty.longest(b"abc").1, 0);
    }

    #[test]
    fn controls_cover_the_new_bytes() {
        let s = tufd_testkit::rng::binary_like(50_000, 2);
        let mut t = s.clone();
        t.splice(10_000..10_000, b"inserted bytes".iter().copied());
        t[30_000] ^= 1;
        let controls = matches(&s, &t);
        let covered: u64 = controls.iter().map(|c| c.add + c.copy).sum();
        assert_eq!(covered, t.len() as u64);
    }
}
