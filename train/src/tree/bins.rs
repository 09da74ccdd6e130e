//! Quantile binning: each feature's f32 cut points and the u8 bin of every value.

use crate::frame::Matrix;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;

/// Rows sampled to place the cut points when there are more.
const SAMPLE: usize = 200_000;

/// Features as bins, one `u8` per value. A value's bin is the number of its feature's cuts
/// below it, so `x <= cuts[b]` exactly when the bin of `x` is at most `b`: a split after bin
/// `b` is the ONNX test `x <= cuts[b]` on the same f32.
pub struct Binned {
    pub rows: usize,
    /// Per feature, ascending thresholds (at most 255, so at most 256 bins).
    pub cuts: Vec<Vec<f32>>,
    /// Column-major: feature `f`'s bins are `bins[f * rows..(f + 1) * rows]`.
    bins: Vec<u8>,
}

impl Binned {
    /// Bins `x` into at most `max_bins` (2..=256) bins per feature.
    pub fn new(x: &Matrix, max_bins: usize, seed: u64) -> Binned {
        let sample: Vec<usize> = if x.rows > SAMPLE {
            let mut s = rand::seq::index::sample(&mut StdRng::seed_from_u64(seed), x.rows, SAMPLE).into_vec();
            s.sort_unstable();
            s
        } else {
            (0..x.rows).collect()
        };
        let cuts: Vec<Vec<f32>> = (0..x.cols)
            .into_par_iter()
            .map(|f| quantile_cuts(sample.iter().map(|&i| x.get(i, f)).collect(), max_bins))
            .collect();
        let mut bins = vec![0u8; x.rows * x.cols];
        if x.rows > 0 {
            bins.par_chunks_mut(x.rows).zip(&cuts).enumerate().for_each(|(f, (column, cuts))| {
                for (i, b) in column.iter_mut().enumerate() {
                    *b = bin(cuts, x.data[i * x.cols + f]);
                }
            });
        }
        Binned { rows: x.rows, cuts, bins }
    }

    pub fn features(&self) -> usize {
        self.cuts.len()
    }

    pub fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.rows..(f + 1) * self.rows]
    }
}

/// The bin of `x`: how many cuts lie below it.
fn bin(cuts: &[f32], x: f32) -> u8 {
    cuts.partition_point(|&c| c < x) as u8
}

/// Cuts between the `max_bins`-quantiles of `v` (between every distinct value when there
/// are few), each halfway between a value and the next distinct one, rounded to an f32
/// that stays strictly below the next.
fn quantile_cuts(mut v: Vec<f32>, max_bins: usize) -> Vec<f32> {
    v.sort_unstable_by(f32::total_cmp);
    let mut distinct = v.clone();
    distinct.dedup();
    let mut cuts = Vec::new();
    if distinct.len() <= max_bins {
        for pair in distinct.windows(2) {
            cuts.push(midpoint(pair[0], pair[1]));
        }
        return cuts;
    }
    for k in 1..max_bins {
        let below = v[k * v.len() / max_bins];
        let next = v.partition_point(|&y| y <= below);
        if next < v.len() {
            let cut = midpoint(below, v[next]);
            if cuts.last().is_none_or(|&last| cut > last) {
                cuts.push(cut);
            }
        }
    }
    cuts
}

fn midpoint(a: f32, b: f32) -> f32 {
    let m = ((a as f64 + b as f64) / 2.0) as f32;
    if m < b {
        m
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_separate_values_exactly() {
        let v = vec![1.0, 1.0, 2.0, 3.0, 3.0, f32::MAX, 1e-30, -0.0, 0.0];
        let cuts = quantile_cuts(v.clone(), 255);
        for (i, &a) in v.iter().enumerate() {
            for &b in &v[i..] {
                // Two values share a bin exactly when no threshold separates them.
                let same = bin(&cuts, a) == bin(&cuts, b);
                assert_eq!(same, cuts.iter().all(|&c| (a <= c) == (b <= c)), "{a} {b}");
                assert_eq!(same, a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn quantiles_cap_the_bins() {
        let v: Vec<f32> = (0..10_000).map(|i| (i % 1000) as f32 * 0.37).collect();
        let cuts = quantile_cuts(v, 16);
        assert_eq!(cuts.len(), 15);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
    }
}
