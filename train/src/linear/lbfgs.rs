//! A compact L-BFGS minimiser (two-loop recursion, backtracking Armijo line search) for
//! the smooth convex objectives of the linear models. It stops like scikit-learn's lbfgs
//! solver: when the largest gradient entry is at most `tol`, when the objective stops
//! decreasing (relative change ≤ 64 ε), or after `max_iter` iterations.

/// Correction pairs kept (scipy's default `maxcor`).
const MEMORY: usize = 10;
/// Step halvings tried per line search (scipy's default `maxls`).
const MAX_LINE_SEARCH: usize = 50;
const ARMIJO: f64 = 1e-4;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Minimises `f` from `x`; `f` returns the objective and its gradient. Errors from `f`
/// (a device failure) end the run. Returns the iterate reached.
pub fn minimise<F>(mut x: Vec<f64>, max_iter: usize, tol: f64, mut f: F) -> Result<Vec<f64>, String>
where
    F: FnMut(&[f64]) -> Result<(f64, Vec<f64>), String>,
{
    let (mut fx, mut g) = f(&x)?;
    let mut pairs: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(MEMORY);
    for _ in 0..max_iter {
        if !fx.is_finite() || max_abs(&g) <= tol {
            break;
        }
        // Two-loop recursion: d = -H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
            alphas.push(a);
        }
        let gamma = pairs.last().map_or(1.0 / dot(&g, &g).sqrt().max(1e-300), |(s, y, _)| dot(s, y) / dot(y, y));
        q.iter_mut().for_each(|q| *q *= gamma);
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
        }
        let mut d: Vec<f64> = q.into_iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (curvature lost): restart from steepest descent.
            pairs.clear();
            let scale = 1.0 / dot(&g, &g).sqrt().max(1e-300);
            d = g.iter().map(|v| -v * scale).collect();
            slope = dot(&g, &d);
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_LINE_SEARCH {
            let trial: Vec<f64> = x.iter().zip(&d).map(|(x, d)| x + step * d).collect();
            let (ft, gt) = f(&trial)?;
            if ft.is_finite() && ft <= fx + ARMIJO * step * slope {
                accepted = Some((trial, ft, gt));
                break;
            }
            step *= 0.5;
        }
        let Some((next, fn_, gn)) = accepted else { break };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).max(1e-300) {
            if pairs.len() == MEMORY {
                pairs.remove(0);
            }
            pairs.push((s, y, 1.0 / sy));
        }
        let decrease = (fx - fn_) / fx.abs().max(fn_.abs()).max(1.0);
        (x, fx, g) = (next, fn_, gn);
        if decrease <= 64.0 * f64::EPSILON {
            break;
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::minimise;

    #[test]
    fn minimises_an_ill_conditioned_quadratic() {
        let scales = [1.0, 10.0, 100.0, 1000.0];
        let x = minimise(vec![1.0; 4], 200, 1e-10, |x| {
            let f = x.iter().zip(&scales).map(|(x, s)| 0.5 * s * (x - 2.0) * (x - 2.0)).sum();
            Ok((f, x.iter().zip(&scales).map(|(x, s)| s * (x - 2.0)).collect()))
        })
        .unwrap();
        assert!(x.iter().all(|v| (v - 2.0).abs() < 1e-8), "{x:?}");
    }
}
