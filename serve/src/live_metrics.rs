//! What one version's requests measured over a window (a canary step): request and error
//! counts, answers the fallback gave, and latency percentiles, named as the stdlib's
//! `serving_metric`s are.

use serde::Serialize;
use std::sync::Mutex;

/// Latencies kept per window at most; later ones overwrite the oldest.
const KEPT: usize = 65_536;

#[derive(Default)]
struct Samples {
    requests: u64,
    errors: u64,
    fallbacks: u64,
    latencies_ms: Vec<f64>,
    next: usize,
}

/// A window of one version's requests.
#[derive(Default)]
pub struct Window(Mutex<Samples>);

/// A window's figures; latencies in milliseconds, rates as fractions.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Live {
    pub request_count: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub fallback_rate: f64,
    pub p50_latency: f64,
    pub p90_latency: f64,
    pub p95_latency: f64,
    pub p99_latency: f64,
}

impl Live {
    /// A `serving_metric` by name, in the unit its literals use (ms, fractions, counts).
    pub fn get(&self, metric: &str) -> Option<f64> {
        Some(match metric {
            "request_count" => self.request_count as f64,
            "error_rate" => self.error_rate,
            "fallback_rate" => self.fallback_rate,
            "p50_latency" => self.p50_latency,
            "p90_latency" => self.p90_latency,
            "p95_latency" => self.p95_latency,
            "p99_latency" => self.p99_latency,
            _ => return None,
        })
    }

    /// Sets a `serving_metric` by name, in the unit `get` reads; false for an unknown name.
    pub fn set(&mut self, metric: &str, v: f64) -> bool {
        let field = match metric {
            "request_count" => {
                self.request_count = v.max(0.0).round() as u64;
                return true;
            }
            "error_rate" => &mut self.error_rate,
            "fallback_rate" => &mut self.fallback_rate,
            "p50_latency" => &mut self.p50_latency,
            "p90_latency" => &mut self.p90_latency,
            "p95_latency" => &mut self.p95_latency,
            "p99_latency" => &mut self.p99_latency,
            _ => return false,
        };
        *field = v;
        true
    }
}

impl Window {
    fn samples(&self) -> std::sync::MutexGuard<'_, Samples> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One request: how long it took, whether it failed, whether the fallback answered.
    pub fn record(&self, latency_ms: f64, failed: bool, fell_back: bool) {
        let mut s = self.samples();
        s.requests += 1;
        s.errors += u64::from(failed);
        s.fallbacks += u64::from(fell_back);
        if s.latencies_ms.len() < KEPT {
            s.latencies_ms.push(latency_ms);
        } else {
            let at = s.next;
            s.latencies_ms[at] = latency_ms;
            s.next = (at + 1) % KEPT;
        }
    }

    /// Starts the window again.
    pub fn reset(&self) {
        *self.samples() = Samples::default();
    }

    pub fn live(&self) -> Live {
        let s = self.samples();
        let mut sorted = s.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let pct = |q: f64| match sorted.len() {
            0 => 0.0,
            n => sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1],
        };
        let rate = |k: u64| if s.requests == 0 { 0.0 } else { k as f64 / s.requests as f64 };
        Live {
            request_count: s.requests,
            errors: s.errors,
            error_rate: rate(s.errors),
            fallback_rate: rate(s.fallbacks),
            p50_latency: pct(0.50),
            p90_latency: pct(0.90),
            p95_latency: pct(0.95),
            p99_latency: pct(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let w = Window::default();
        for i in 1..=100 {
            w.record(i as f64, i % 10 == 0, i % 20 == 0);
        }
        let l = w.live();
        assert_eq!((l.request_count, l.errors), (100, 10));
        assert_eq!((l.p50_latency, l.p99_latency), (50.0, 99.0));
        assert!((l.error_rate - 0.1).abs() < 1e-12 && (l.fallback_rate - 0.05).abs() < 1e-12);
        w.reset();
        assert_eq!(w.live(), Live::default());
    }
}
