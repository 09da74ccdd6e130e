//! The two-sample Kolmogorov–Smirnov test, two-sided, as scipy's `ks_2samp` in its default mode: the exact
//! distribution when both samples have at most 10 000 values, else the asymptotic one.

use crate::kolmogorov::kstwo_sf;

/// scipy's `MAX_AUTO_N`: above this many values in either sample, `auto` mode is asymptotic.
const MAX_EXACT_N: usize = 10_000;

/// The statistic (largest gap between the empirical CDFs) and its p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
}

/// KS on two sorted, non-empty samples of finite values.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> KsResult {
    let (n1, n2) = (a.len(), b.len());
    let (mut max_diff, mut min_diff) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut i, mut j) = (0, 0);
    while i < n1 || j < n2 {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < n1 && a[i] <= v {
            i += 1;
        }
        while j < n2 && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 as f64 - j as f64 / n2 as f64;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    let d = if min_s > max_diff { min_s } else { max_diff };
    if n1.max(n2) <= MAX_EXACT_N {
        if let Some(r) = exact(n1 as u64, n2 as u64, d) {
            return r;
        }
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even() as u64;
    KsResult { statistic: d, p_value: kstwo_sf(en.max(1), d).clamp(0.0, 1.0) }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The exact two-sided p-value, with `d` rounded to the lattice of possible gaps; `None` where the
/// computation leaves [0, 1] (scipy then falls back to the asymptotic distribution).
fn exact(n1: u64, n2: u64, d: f64) -> Option<KsResult> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let statistic = h as f64 / lcm as f64;
    if h == 0 {
        return Some(KsResult { statistic, p_value: 1.0 });
    }
    let p = if n1 == n2 { outside_square(n1, h) } else { outside_inside_method(n1, n2, g, h) };
    (0.0..=1.0).contains(&p).then_some(KsResult { statistic, p_value: p })
}

/// `P(D_{n,n} ≥ h/n)`: the alternating sum of binomial ratios, evaluated Horner-style.
fn outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut p = 0.0;
    for k in (0..=n / h).rev() {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
    }
    2.0 * p
}

/// The share of lattice paths from (0,0) to (m,n) that leave the band `|x/m − y/n| < h/lcm`, by Hodges'
/// inside method with Viehmann's recursion for one minus the share (numerically stable), one column at a time.
fn outside_inside_method(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, h) = (m as i64, n as i64, h as i64);
    let (mg, ng) = ((m / g as i64), (n / g as i64));
    let mut minj = 0i64;
    let mut maxj = ((h + mg - 1) / mg).min(n + 1);
    let mut curlen = maxj - minj;
    let mut a = vec![1.0f64; (n + 2) as usize];
    a[minj as usize..maxj as usize].iter_mut().for_each(|x| *x = 0.0);
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((ng * i - h).div_euclid(mg) + 1).clamp(0, n);
        maxj = (ng * i + h + mg - 1).div_euclid(mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..maxj - minj {
            let j = jj + minj;
            let prev = a.get((jj + minj - lastminj) as usize).copied().unwrap_or(1.0);
            val = (prev * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            a[from..to].iter_mut().for_each(|x| *x = 1.0);
        }
    }
    a[(maxj - minj - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_do_not_differ() {
        let a: Vec<f64> = (0..50).map(f64::from).collect();
        let r = ks_2samp(&a, &a);
        assert_eq!(r, KsResult { statistic: 0.0, p_value: 1.0 });
    }

    #[test]
    fn disjoint_samples_differ_completely() {
        let a: Vec<f64> = (0..40).map(f64::from).collect();
        let b: Vec<f64> = (100..130).map(f64::from).collect();
        let r = ks_2samp(&a, &b);
        assert_eq!(r.statistic, 1.0);
        assert!(r.p_value < 1e-15);
    }
}
