//! Line charts as server-side SVG: no chart library, nothing for the browser to run.

use maud::{html, Markup};

const W: f64 = 520.0;
const H: f64 = 160.0;
const PAD: f64 = 36.0;

/// `points` are `(label, value)` in order along the x axis; the title names the series.
pub fn line(title: &str, points: &[(String, f64)]) -> Markup {
    let finite: Vec<f64> = points.iter().map(|p| p.1).filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = if points.len() > 1 { (W - 2.0 * PAD) / (points.len() - 1) as f64 } else { 0.0 };
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (PAD + i as f64 * step, H - PAD - (v - lo) / span * (H - 2.0 * PAD)))
        .collect();
    let d: String =
        xy.iter().enumerate().map(|(i, (x, y))| format!("{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" })).collect();
    let every = points.len().div_ceil(10).max(1);
    // Past one point every few pixels, dots and their tooltips say nothing the line does not:
    // only the last point keeps its dot, and the label sums the series up.
    let dense = step < 4.0;
    let label = match (points.first(), points.last()) {
        (Some((first, _)), Some((last, v))) if points.len() > 20 => format!(
            "{title}: {} points from {first} to {last}; lowest {}, highest {}, last {}",
            points.len(),
            fmt(lo),
            fmt(hi),
            fmt(*v)
        ),
        _ => format!("{title}: {}", points.iter().map(|(l, v)| format!("{l} {v}")).collect::<Vec<_>>().join(", ")),
    };
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" width=(W) height=(H) role="img"
                aria-label=(label) {
                line.axis x1=(PAD) y1=(H - PAD) x2=(W - PAD / 2.0) y2=(H - PAD) {}
                text x="4" y=(PAD - 4.0) { (fmt(hi)) }
                text x="4" y=(H - PAD) { (fmt(lo)) }
                path.line d=(d) {}
                @for (i, (x, y)) in xy.iter().enumerate() {
                    @if !dense || i + 1 == xy.len() {
                        circle cx=(x) cy=(y) r="3" { title { (points[i].0) ": " (points[i].1) } }
                    }
                    @if i % every == 0 {
                        text x=(x - 8.0) y=(H - PAD + 16.0) { (points[i].0) }
                    }
                }
            }
            figcaption { (title) }
        }
    }
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "—".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> Vec<(String, f64)> {
        (1..=n).map(|i| (format!("v{i}"), i as f64 / 10.0)).collect()
    }

    #[test]
    fn a_short_series_has_a_dot_per_point_and_reads_out_every_value() {
        let svg = line("auc", &series(5)).into_string();
        assert_eq!(svg.matches("<circle").count(), 5);
        assert!(svg.contains(r#"aria-label="auc: v1 0.1, v2 0.2, v3 0.3, v4 0.4, v5 0.5""#), "{svg}");
    }

    #[test]
    fn a_dense_series_keeps_the_last_dot_and_sums_itself_up() {
        let svg = line("auc", &series(1000)).into_string();
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("<title>v1000: 100</title>"), "{svg}");
        assert!(
            svg.contains(
                r#"aria-label="auc: 1000 points from v1 to v1000; lowest 0.1000, highest 100.0000, last 100.0000""#
            ),
            "{}",
            &svg[..300]
        );
        assert_eq!(svg.matches("<text").count(), 2 + 10, "the axis' two values and ten x labels");
    }
}
