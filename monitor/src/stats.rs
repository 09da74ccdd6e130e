//! The drift statistics other than KS, each as scipy and Evidently compute it.

use crate::bins::Counts;
use statrs::function::{erf::erfc, gamma::gamma_ur};

/// Pearson's chi-square goodness of fit of the current counts against the reference's shares scaled to the
/// current size (scipy `chisquare`): the statistic and its p-value. A category absent from the reference makes
/// the statistic infinite and the p-value 0; a single category leaves nothing to test (p-value 1).
pub fn chi_square(c: &Counts) -> (f64, f64) {
    let n_ref = c.reference.iter().sum::<u64>() as f64;
    let n_cur = c.current.iter().sum::<u64>() as f64;
    let k_norm = n_cur / n_ref;
    let stat: f64 = c
        .reference
        .iter()
        .zip(&c.current)
        .map(|(&r, &o)| {
            let expected = r as f64 * k_norm;
            let d = o as f64 - expected;
            d * d / expected
        })
        .sum();
    let df = c.bins().saturating_sub(1);
    let p = if df == 0 {
        1.0
    } else if stat.is_infinite() {
        0.0
    } else {
        gamma_ur(df as f64 / 2.0, stat / 2.0)
    };
    (stat, p)
}

/// Evidently's two-proportion Z-test: the share of each sample that is not its smallest value, pooled.
/// The statistic and its two-sided p-value; one value shared by both samples gives p-value 1.
pub fn z_test(c: &Counts) -> (f64, f64) {
    if c.bins() <= 1 {
        return (0.0, 1.0);
    }
    let n1 = c.reference.iter().sum::<u64>() as f64;
    let n2 = c.current.iter().sum::<u64>() as f64;
    let p1 = (n1 - c.reference[0] as f64) / n1;
    let p2 = (n2 - c.current[0] as f64) / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    (z, erfc(z.abs() / std::f64::consts::SQRT_2))
}

/// Jensen–Shannon distance between the two binned distributions (scipy `jensenshannon`, natural log).
pub fn jensen_shannon(c: &Counts) -> f64 {
    let (p, q) = c.shares();
    let rel_entr = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    let js: f64 = p
        .iter()
        .zip(&q)
        .map(|(&a, &b)| {
            let m = (a + b) / 2.0;
            rel_entr(a, m) + rel_entr(b, m)
        })
        .sum();
    (js / 2.0).max(0.0).sqrt()
}

/// Population stability index `Σ (ref% − cur%) · ln(ref% / cur%)`, empty bins filled as Evidently does.
pub fn psi(c: &Counts) -> f64 {
    let (mut p, mut q) = c.shares();
    fill_empty(&mut p);
    fill_empty(&mut q);
    p.iter().zip(&q).map(|(&a, &b)| (a - b) * (a / b).ln()).sum()
}

/// Zero shares become the smallest non-zero share / 10⁶ when that is at most 10⁻⁴, else 10⁻⁴.
fn fill_empty(shares: &mut [f64]) {
    let min = shares.iter().copied().filter(|&x| x != 0.0).fold(f64::INFINITY, f64::min);
    let fill = if min <= 1e-4 { min / 1e6 } else { 1e-4 };
    shares.iter_mut().filter(|x| **x == 0.0).for_each(|x| *x = fill);
}

/// Wasserstein-1 distance between two sorted samples (scipy `wasserstein_distance`) divided by the reference's
/// population standard deviation, floored at 0.001 (Evidently's `wasserstein` test).
pub fn wasserstein_norm(reference: &[f64], current: &[f64]) -> f64 {
    let norm = std_dev(reference).max(0.001);
    wasserstein(reference, current) / norm
}

/// `∫ |F_ref − F_cur|` over the merged sample, by one merge of the sorted inputs.
pub fn wasserstein(u: &[f64], v: &[f64]) -> f64 {
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut sum = Neumaier::default();
    let mut prev: Option<f64> = None;
    while i < u.len() || j < v.len() {
        let x = match (u.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        if let Some(p) = prev {
            sum.add((i as f64 / nu - j as f64 / nv).abs() * (x - p));
        }
        while i < u.len() && u[i] == x {
            i += 1;
        }
        while j < v.len() && v[j] == x {
            j += 1;
        }
        prev = Some(x);
    }
    sum.total()
}

/// `np.std`: the population standard deviation, two passes.
fn std_dev(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mut s = Neumaier::default();
    x.iter().for_each(|&v| s.add(v));
    let mean = s.total() / n;
    let mut ss = Neumaier::default();
    x.iter().for_each(|&v| ss.add((v - mean) * (v - mean)));
    (ss.total() / n).sqrt()
}

/// Compensated summation, so long sums agree with numpy's pairwise ones to well under 1e-9.
#[derive(Default)]
struct Neumaier {
    sum: f64,
    c: f64,
}

impl Neumaier {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.c += if self.sum.abs() >= x.abs() { (self.sum - t) + x } else { (x - t) + self.sum };
        self.sum = t;
    }
    fn total(&self) -> f64 {
        self.sum + self.c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasserstein_of_a_shift_is_the_shift() {
        let u: Vec<f64> = (0..10).map(f64::from).collect();
        let v: Vec<f64> = u.iter().map(|x| x + 2.5).collect();
        assert!((wasserstein(&u, &v) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn new_category_makes_chi_square_certain() {
        let c = Counts { reference: vec![10, 0], current: vec![5, 5] };
        assert_eq!(chi_square(&c), (f64::INFINITY, 0.0));
    }

    #[test]
    fn identical_distributions_have_no_distance() {
        let c = Counts { reference: vec![3, 5, 2], current: vec![30, 50, 20] };
        assert_eq!(jensen_shannon(&c), 0.0);
        assert_eq!(psi(&c), 0.0);
    }
}
