//! The histogram tree builder both ensembles share. Each row carries `k` gradients and a
//! hessian; a node's histogram sums them, and counts rows, per feature and bin; the best
//! split maximises `Σ G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)` (summed over the `k`);
//! rows are partitioned in place, so a leaf's rows are one range of [`Grown::rows`].
//!
//! With weighted class indicators as gradients and weights as hessians this gain is the
//! decrease of Gini impurity, with weighted values the decrease of variance: the forest
//! grows its trees here too.

use super::bins::Binned;
use rand::rngs::StdRng;
use rand::Rng;
use rayon::prelude::*;

/// Bins per feature in a histogram (bins are `u8`).
const BINS: usize = 256;
/// The fewest rows a thread gathers or partitions; fewer rows × features than this build
/// a histogram on one thread.
const ROWS_PER_THREAD: usize = 1 << 15;

pub struct Config {
    /// Levels of splits allowed (`usize::MAX`: no limit).
    pub max_depth: usize,
    pub min_leaf: usize,
    pub l2: f64,
    /// The least hessian sum on each side of a split.
    pub min_hessian: f64,
    /// Features tried per split: `None` tries all and gets the larger child's histogram by
    /// subtraction; `Some(m)` tries `m` random ones that vary in the node (more if the
    /// first `m` give no split), each histogram built afresh.
    pub features_per_split: Option<usize>,
    /// The gradients are class indicators: a node of one class is a leaf.
    pub indicators: bool,
    /// Spread histogram building over rayon's threads.
    pub parallel: bool,
}

/// What rows carry, indexed by row id: `k` gradients each (row-major) and a hessian.
pub struct Gradients<'a> {
    pub k: usize,
    pub g: &'a [f32],
    pub h: &'a [f32],
}

#[derive(Debug, PartialEq)]
pub enum Node {
    /// Rows whose bin of `feature` is at most `bin` go `left`.
    Split { feature: usize, bin: u8, left: usize, right: usize },
    /// `sums` holds the `k` gradient sums, the hessian sum and the row count of the rows
    /// `Grower::rows()[start..end]`.
    Leaf { sums: Vec<f64>, start: usize, end: usize },
}

/// A node waiting to be split, with its histogram when splits subtract.
struct Pending {
    id: usize,
    start: usize,
    end: usize,
    depth: usize,
    sums: Vec<f64>,
    hist: Option<Vec<f64>>,
}

struct Best {
    feature: usize,
    bin: u8,
    gain: f64,
    left: Vec<f64>,
}

/// Grows trees one after another, keeping its buffers from tree to tree.
pub struct Grower<'a> {
    binned: &'a Binned,
    config: &'a Config,
    /// Gradients per row.
    k: usize,
    /// Histogram entry width: `k` gradients, hessian, count.
    stride: usize,
    rows: Vec<u32>,
    /// Per thread, room for the right rows of a partition.
    scratch: Vec<Vec<u32>>,
    /// The current node's gradients and hessians in row order.
    og: Vec<f32>,
    oh: Vec<f32>,
    /// One feature's histogram, for splits that build histograms per feature.
    one: Vec<f64>,
    spare: Vec<Vec<f64>>,
    /// Reused per node: the order features are tried in, and a split's two sides.
    order: Vec<usize>,
    left: Vec<f64>,
    right: Vec<f64>,
}

impl<'a> Grower<'a> {
    /// A grower for trees whose rows carry `k` gradients.
    pub fn new(binned: &'a Binned, config: &'a Config, k: usize) -> Grower<'a> {
        let stride = k + 2;
        Grower {
            binned,
            config,
            k,
            stride,
            rows: Vec::new(),
            scratch: Vec::new(),
            og: Vec::new(),
            oh: Vec::new(),
            one: vec![0.0; BINS * stride],
            spare: Vec::new(),
            order: Vec::new(),
            left: vec![0.0; stride],
            right: vec![0.0; stride],
        }
    }

    /// The rows of the last tree, grouped by leaf.
    pub fn rows(&self) -> &[u32] {
        &self.rows
    }

    /// Grows one tree on `rows` (row ids into `grads` and the bins, at least one); node 0
    /// is the root.
    pub fn grow(&mut self, grads: &Gradients, rows: impl Iterator<Item = u32>, rng: &mut StdRng) -> Vec<Node> {
        self.rows.clear();
        self.rows.extend(rows);
        let (n, k, stride) = (self.rows.len(), self.k, self.stride);
        self.gather(grads, 0, n);
        let mut sums = vec![0.0; stride];
        for (j, &h) in self.oh.iter().enumerate() {
            for (s, &x) in sums.iter_mut().zip(&self.og[j * k..(j + 1) * k]) {
                *s += x as f64;
            }
            sums[k] += h as f64;
        }
        sums[k + 1] = n as f64;
        let hist = self.config.features_per_split.is_none().then(|| self.histogram(0, n));
        let mut nodes = vec![Node::Leaf { sums: Vec::new(), start: 0, end: 0 }];
        let mut stack = vec![Pending { id: 0, start: 0, end: n, depth: 0, sums, hist }];
        while let Some(p) = stack.pop() {
            let Some(best) = self.best_split(grads, &p, rng) else {
                nodes[p.id] = Node::Leaf { sums: p.sums, start: p.start, end: p.end };
                self.spare.extend(p.hist);
                continue;
            };
            let mid = self.partition(p.start, p.end, best.feature, best.bin);
            let right_sums: Vec<f64> = p.sums.iter().zip(&best.left).map(|(a, b)| a - b).collect();
            let (left, right) = (nodes.len(), nodes.len() + 1);
            nodes[p.id] = Node::Split { feature: best.feature, bin: best.bin, left, right };
            nodes.push(Node::Leaf { sums: Vec::new(), start: 0, end: 0 });
            nodes.push(Node::Leaf { sums: Vec::new(), start: 0, end: 0 });
            let depth = p.depth + 1;
            let (left_hist, right_hist) = match p.hist {
                Some(_) if self.terminal(depth, mid - p.start) && self.terminal(depth, p.end - mid) => {
                    self.spare.extend(p.hist);
                    (None, None)
                }
                Some(mut parent) => {
                    let left_smaller = mid - p.start <= p.end - mid;
                    let (from, to) = if left_smaller { (p.start, mid) } else { (mid, p.end) };
                    self.gather(grads, from, to);
                    let small = self.histogram(from, to);
                    for (a, b) in parent.iter_mut().zip(&small) {
                        *a -= b;
                    }
                    if left_smaller {
                        (Some(small), Some(parent))
                    } else {
                        (Some(parent), Some(small))
                    }
                }
                None => (None, None),
            };
            stack.push(Pending { id: right, start: mid, end: p.end, depth, sums: right_sums, hist: right_hist });
            stack.push(Pending { id: left, start: p.start, end: mid, depth, sums: best.left, hist: left_hist });
        }
        nodes
    }
    /// How many threads share work over `rows` rows.
    fn shares(&self, rows: usize) -> usize {
        let threads = if self.config.parallel { rayon::current_num_threads() } else { 1 };
        (rows / ROWS_PER_THREAD).clamp(1, threads)
    }

    /// Copies the gradients of `rows[start..end]` into row order.
    fn gather(&mut self, grads: &Gradients, start: usize, end: usize) {
        let share = (end - start).div_ceil(self.shares(end - start)).max(1);
        let Grower { rows, og, oh, .. } = self;
        let (k, g, h, rows) = (grads.k, grads.g, grads.h, &rows[start..end]);
        og.resize(rows.len() * k, 0.0);
        oh.resize(rows.len(), 0.0);
        let fill = |((og, oh), rows): ((&mut [f32], &mut [f32]), &[u32])| {
            for ((og, oh), &r) in og.chunks_exact_mut(k).zip(oh).zip(rows) {
                let r = r as usize;
                og.copy_from_slice(&g[r * k..(r + 1) * k]);
                *oh = h[r];
            }
        };
        if share == rows.len() {
            fill(((og, oh), rows));
        } else {
            og.par_chunks_mut(share * k).zip(oh.par_chunks_mut(share)).zip(rows.par_chunks(share)).for_each(fill);
        }
    }

    /// Every feature's histogram over the gathered rows `rows[start..end]`.
    fn histogram(&mut self, start: usize, end: usize) -> Vec<f64> {
        let width = BINS * self.stride;
        let mut hist = self.spare.pop().unwrap_or_else(|| vec![0.0; self.binned.features() * width]);
        hist.fill(0.0);
        let (rows, og, oh, k) = (&self.rows[start..end], &self.og[..], &self.oh[..], self.k);
        let binned = self.binned;
        let fill = |(f, hf): (usize, &mut [f64])| {
            accumulate(hf, binned.column(f), rows, og, oh, k, &mut ());
        };
        if self.config.parallel && rows.len() * binned.features() >= ROWS_PER_THREAD {
            hist.par_chunks_mut(width).enumerate().for_each(fill);
        } else {
            hist.chunks_mut(width).enumerate().for_each(fill);
        }
        hist
    }

    /// Whether a node at `depth` with `rows` rows is a leaf whatever its rows.
    fn terminal(&self, depth: usize, rows: usize) -> bool {
        depth >= self.config.max_depth || rows < self.config.min_leaf.max(1).saturating_mul(2)
    }

    fn best_split(&mut self, grads: &Gradients, p: &Pending, rng: &mut StdRng) -> Option<Best> {
        let c = self.config;
        let k = self.k;
        if self.terminal(p.depth, p.end - p.start) {
            return None;
        }
        if c.indicators && p.sums[..k].iter().all(|&g| g == 0.0 || g == p.sums[k]) {
            return None;
        }
        let parent = self.score(&p.sums);
        let mut best = Best { feature: 0, bin: 0, gain: 1e-10 * (1.0 + parent.abs()), left: Vec::new() };
        match (&p.hist, c.features_per_split) {
            (Some(hist), _) => {
                let width = BINS * self.stride;
                for f in 0..self.binned.features() {
                    let hi = self.binned.cuts[f].len();
                    self.scan(f, &hist[f * width..(f + 1) * width], 0, hi, &p.sums, parent, &mut best);
                }
            }
            (None, m) => {
                let d = self.binned.features();
                let want = m.unwrap_or(d);
                let mut order = std::mem::take(&mut self.order);
                order.clear();
                order.extend(0..d);
                let mut varied = 0;
                self.gather(grads, p.start, p.end);
                // A partial shuffle: features are drawn one at a time, as long as needed.
                for i in 0..d {
                    if varied >= want && !best.left.is_empty() {
                        break;
                    }
                    let j = rng.random_range(i..d);
                    order.swap(i, j);
                    let f = order[i];
                    let mut one = std::mem::take(&mut self.one);
                    let rows = &self.rows[p.start..p.end];
                    let mut seen = Seen { lo: u8::MAX, hi: 0 };
                    accumulate(&mut one, self.binned.column(f), rows, &self.og, &self.oh, k, &mut seen);
                    let (lo, hi) = (seen.lo as usize, seen.hi as usize);
                    if lo < hi {
                        varied += 1;
                        self.scan(f, &one, lo, hi, &p.sums, parent, &mut best);
                    }
                    if lo <= hi {
                        one[lo * self.stride..(hi + 1) * self.stride].fill(0.0);
                    }
                    self.one = one;
                }
                self.order = order;
            }
        }
        (!best.left.is_empty()).then_some(best)
    }

    /// `Σ G²/(H+λ)` of a node's sums.
    fn score(&self, sums: &[f64]) -> f64 {
        let k = self.k;
        let h = sums[k] + self.config.l2;
        sums[..k].iter().map(|g| g * g).sum::<f64>() / h
    }

    /// Tries the splits after bins `lo..hi` of feature `f`, whose histogram is `hist` and
    /// whose rows sum to `sums`, keeping the best in `best`.
    #[allow(clippy::too_many_arguments)]
    fn scan(&mut self, f: usize, hist: &[f64], lo: usize, hi: usize, sums: &[f64], parent: f64, best: &mut Best) {
        let (s, k, c) = (self.stride, self.k, self.config);
        let min_leaf = c.min_leaf as f64;
        let (mut left, mut right) = (std::mem::take(&mut self.left), std::mem::take(&mut self.right));
        left.fill(0.0);
        for b in lo..hi {
            let e = &hist[b * s..(b + 1) * s];
            if e[k + 1] == 0.0 {
                continue; // an empty bin splits the rows as the bin before it does
            }
            for (l, x) in left.iter_mut().zip(e) {
                *l += x;
            }
            if left[k + 1] < min_leaf {
                continue;
            }
            if sums[k + 1] - left[k + 1] < min_leaf {
                break;
            }
            for ((r, t), l) in right.iter_mut().zip(sums).zip(&left) {
                *r = t - l;
            }
            if left[k] < c.min_hessian || right[k] < c.min_hessian {
                continue;
            }
            let gain = self.score(&left) + self.score(&right) - parent;
            if gain > best.gain {
                best.left.clone_from(&left);
                (best.feature, best.bin, best.gain) = (f, b as u8, gain);
            }
        }
        (self.left, self.right) = (left, right);
    }

    /// Moves the rows of `start..end` that go left (bin of `f` at most `bin`) to the front,
    /// keeping their order; returns where the right ones begin. Big nodes are cut into
    /// shares partitioned in parallel, then joined.
    fn partition(&mut self, start: usize, end: usize, f: usize, bin: u8) -> usize {
        let column = self.binned.column(f);
        let shares = self.shares(end - start);
        let rows = &mut self.rows[start..end];
        self.scratch.resize_with(shares, Vec::new);
        if shares == 1 {
            return start + partition_rows(rows, &mut self.scratch[0], column, bin);
        }
        let share = rows.len().div_ceil(shares);
        let lefts: Vec<usize> = rows
            .par_chunks_mut(share)
            .zip(self.scratch.par_iter_mut())
            .map(|(part, scratch)| partition_rows(part, scratch, column, bin))
            .collect();
        // Each share is now [left | right]; rotating the rights seen so far past the next
        // share's left joins all lefts before all rights, each side in order.
        let mut mid = lefts[0];
        for (i, &l) in lefts.iter().enumerate().skip(1) {
            rows[mid..i * share + l].rotate_left(i * share - mid);
            mid += l;
        }
        start + mid
    }
}

/// Moves the `rows` that go left (bin in `column` at most `bin`) to the front, keeping
/// their order; returns how many go left.
fn partition_rows(rows: &mut [u32], scratch: &mut Vec<u32>, column: &[u8], bin: u8) -> usize {
    scratch.resize(rows.len(), 0);
    let (mut l, mut r) = (0, 0);
    // Without branches: each row is written to both sides, and one side keeps it.
    for i in 0..rows.len() {
        let row = rows[i];
        let left = column[row as usize] <= bin;
        rows[l] = row;
        scratch[r] = row;
        l += usize::from(left);
        r += usize::from(!left);
    }
    rows[l..].copy_from_slice(&scratch[..r]);
    l
}

/// Notes the bins rows fall in, or not (`()`), while a histogram is built.
trait Track {
    fn note(&mut self, bin: u8);
}

impl Track for () {
    fn note(&mut self, _: u8) {}
}

/// The lowest and highest bin seen.
struct Seen {
    lo: u8,
    hi: u8,
}

impl Track for Seen {
    fn note(&mut self, bin: u8) {
        self.lo = self.lo.min(bin);
        self.hi = self.hi.max(bin);
    }
}

/// Adds the rows' gradients (`og`, `oh`: in the order of `rows`) into one feature's
/// histogram `hist` by their bin in `column`.
fn accumulate(hist: &mut [f64], column: &[u8], rows: &[u32], og: &[f32], oh: &[f32], k: usize, seen: &mut impl Track) {
    if k == 1 {
        // Fixed size, so the bin (at most 255) indexes it without bounds checks.
        let hist: &mut [f64; BINS * 3] = (&mut hist[..BINS * 3]).try_into().expect("a histogram has 256 bins");
        for ((&r, &g), &h) in rows.iter().zip(og).zip(oh) {
            let b = column[r as usize];
            seen.note(b);
            let e = b as usize * 3;
            hist[e] += g as f64;
            hist[e + 1] += h as f64;
            hist[e + 2] += 1.0;
        }
    } else {
        let s = k + 2;
        for ((&r, g), &h) in rows.iter().zip(og.chunks_exact(k)).zip(oh) {
            let b = column[r as usize];
            seen.note(b);
            let e = &mut hist[b as usize * s..(b as usize + 1) * s];
            for (x, &g) in e.iter_mut().zip(g) {
                *x += g as f64;
            }
            e[k] += h as f64;
            e[k + 1] += 1.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Matrix;
    use rand::SeedableRng;

    /// Big nodes gather and partition in parallel; the tree must not change.
    #[test]
    fn threads_do_not_change_the_tree() {
        let (rows, cols) = (3 * ROWS_PER_THREAD, 3);
        let mut r = StdRng::seed_from_u64(1);
        let data: Vec<f32> = (0..rows * cols).map(|_| r.random_range(-1.0..1.0)).collect();
        let g: Vec<f32> = data.chunks(cols).map(|x| if x[0] + x[1] * x[2] > 0.0 { -1.0 } else { 1.0 }).collect();
        let h = vec![1.0; rows];
        let x = Matrix { rows, cols, data, names: Vec::new() };
        let binned = Binned::new(&x, 64, 1);
        let grads = Gradients { k: 1, g: &g, h: &h };
        let tree = |parallel| {
            let config = Config {
                max_depth: 4,
                min_leaf: 10,
                l2: 0.0,
                min_hessian: 0.0,
                features_per_split: None,
                indicators: false,
                parallel,
            };
            let mut grower = Grower::new(&binned, &config, 1);
            let nodes = grower.grow(&grads, 0..rows as u32, &mut StdRng::seed_from_u64(2));
            (nodes, grower.rows().to_vec())
        };
        let (one, all) = (tree(false), tree(true));
        assert_eq!(one, all);
        assert!(one.0.len() > 15);
    }
}
