//! Reference and current samples as frequencies over shared bins, as Evidently's `get_binned_data` makes them:
//! one bin per distinct value, or numpy's Sturges histogram over both samples for numerical columns with more
//! than 20 distinct reference values.

use std::collections::BTreeMap;

/// Counts per bin, aligned: `reference[i]` and `current[i]` are the same bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

impl Counts {
    /// One bin per distinct value of two sorted samples.
    pub fn of_values(reference: &[f64], current: &[f64]) -> Counts {
        let mut out = Counts::default();
        let (mut i, mut j) = (0, 0);
        while i < reference.len() || j < current.len() {
            let v = match (reference.get(i), current.get(j)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => break,
            };
            let (i0, j0) = (i, j);
            while i < reference.len() && reference[i] == v {
                i += 1;
            }
            while j < current.len() && current[j] == v {
                j += 1;
            }
            out.reference.push((i - i0) as u64);
            out.current.push((j - j0) as u64);
        }
        out
    }

    /// One bin per distinct label.
    pub fn of_labels<'a>(reference: impl Iterator<Item = &'a str>, current: impl Iterator<Item = &'a str>) -> Counts {
        let mut bins: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        reference.for_each(|l| bins.entry(l).or_default().0 += 1);
        current.for_each(|l| bins.entry(l).or_default().1 += 1);
        let (reference, current) = bins.into_values().unzip();
        Counts { reference, current }
    }

    /// Sturges bins over both sorted samples, counted as `np.histogram` counts them (the last bin closed).
    /// `integer`: numpy widens bins narrower than 1 to 1 for integer data.
    pub fn sturges(reference: &[f64], current: &[f64], integer: bool) -> Counts {
        let edges = sturges_edges(reference, current, integer);
        Counts { reference: histogram(reference, &edges), current: histogram(current, &edges) }
    }

    pub fn bins(&self) -> usize {
        self.reference.len()
    }

    /// Each bin's share of its sample.
    pub fn shares(&self) -> (Vec<f64>, Vec<f64>) {
        let share = |c: &[u64]| {
            let n = c.iter().sum::<u64>() as f64;
            c.iter().map(|&x| x as f64 / n).collect()
        };
        (share(&self.reference), share(&self.current))
    }
}

/// `np.histogram_bin_edges(concat(reference, current), bins="sturges")` for sorted, non-empty samples.
fn sturges_edges(reference: &[f64], current: &[f64], integer: bool) -> Vec<f64> {
    let ends = |s: &[f64]| s.first().copied().zip(s.last().copied());
    let (lo, hi) = match (ends(reference), ends(current)) {
        (Some((a, b)), Some((c, d))) => (a.min(c), b.max(d)),
        (Some(e), None) | (None, Some(e)) => e,
        (None, None) => return vec![-0.5, 0.5],
    };
    let (first, last) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let size = (reference.len() + current.len()) as f64;
    let mut width = (hi - lo) / (size.log2() + 1.0);
    let bins = if width > 0.0 {
        if integer && width < 1.0 {
            width = 1.0;
        }
        (((last - first) / width).ceil() as usize).max(1)
    } else {
        1
    };
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

/// Counts of a sorted sample in `[e_i, e_{i+1})`, the last bin `[e_{k-1}, e_k]`.
fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let below = |e: f64| sorted.partition_point(|&x| x < e);
    let k = edges.len() - 1;
    let mut cuts: Vec<usize> = edges[..k].iter().map(|&e| below(e)).collect();
    cuts.push(sorted.partition_point(|&x| x <= edges[k]));
    cuts.windows(2).map(|w| (w[1] - w[0]) as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_align_over_the_union() {
        let c = Counts::of_values(&[1.0, 1.0, 2.0], &[2.0, 3.0]);
        assert_eq!(c, Counts { reference: vec![2, 1, 0], current: vec![0, 1, 1] });
    }

    #[test]
    fn labels_align_over_the_union() {
        let c = Counts::of_labels(["a", "b", "a"].into_iter(), ["c"].into_iter());
        assert_eq!(c, Counts { reference: vec![2, 1, 0], current: vec![0, 0, 1] });
    }

    #[test]
    fn sturges_matches_numpy() {
        // np.histogram_bin_edges(np.arange(100.), bins="sturges") has 8 bins of width 99/8.
        let r: Vec<f64> = (0..60).map(f64::from).collect();
        let c: Vec<f64> = (60..100).map(f64::from).collect();
        let counts = Counts::sturges(&r, &c, false);
        assert_eq!(counts.bins(), 8);
        assert_eq!(counts.reference.iter().sum::<u64>(), 60);
        assert_eq!(counts.current, vec![0, 0, 0, 0, 2, 13, 12, 13]);
    }
}
