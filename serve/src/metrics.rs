//! The server's metrics (`GET /metrics`): requests, errors and latency per model and the
//! version that answered, refused artifacts, reloads, dropped log rows, and the process's
//! own (CPU, memory, open files, threads). OpenMetrics text, or the Prometheus text format
//! 0.0.4 when the scraper's `Accept` prefers it.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelVersion {
    pub model: String,
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelName {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelOutcome {
    pub model: String,
    pub outcome: String,
}

type Histograms = Family<ModelVersion, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<ModelVersion, Counter>,
    pub errors: Family<ModelVersion, Counter>,
    pub rows: Family<ModelVersion, Counter>,
    pub latency: Histograms,
    /// Rows per ONNX Runtime call: requests scored together (see `--max-batch`).
    pub batch_rows: Histograms,
    pub integrity_refusals: Family<ModelName, Counter>,
    pub loads: Family<ModelVersion, Counter>,
    pub log_dropped: Counter,
    /// Requests the previous (or, in a canary, the stable) version answered, by the version that failed.
    pub fallbacks: Family<ModelVersion, Counter>,
    /// The candidate's share of requests in a running canary.
    pub canary_weight: Family<ModelName, Gauge<f64, AtomicU64>>,
    pub canary_decisions: Family<ModelOutcome, Counter>,
    /// Rows the shadow version scored, by shadow version, and those it gave the same label.
    pub shadow_rows: Family<ModelVersion, Counter>,
    pub shadow_agreed: Family<ModelVersion, Counter>,
    pub shadow_abs_delta: Family<ModelVersion, Counter<f64, AtomicU64>>,
    pub shadow_max_abs_delta: Family<ModelVersion, Gauge<f64, AtomicU64>>,
    pub shadow_skipped: Family<ModelName, Counter>,
    /// Connections: open, evicted, timed out, accept errors, bodies refused by length.
    pub connections: crate::http::Counters,
}

fn latency_buckets() -> Histogram {
    // 25 µs to about 0.8 s.
    Histogram::new(exponential_buckets(0.000_025, 2.0, 16))
}

fn batch_buckets() -> Histogram {
    // 1 to 4,096 rows.
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut root = Registry::default();
        root.register_collector(Box::new(Process));
        let registry = root.sub_registry_with_prefix("mlpc_serve");
        let m = Metrics {
            requests: Family::default(),
            errors: Family::default(),
            rows: Family::default(),
            latency: Histograms::new_with_constructor(latency_buckets),
            batch_rows: Histograms::new_with_constructor(batch_buckets),
            integrity_refusals: Family::default(),
            loads: Family::default(),
            log_dropped: Counter::default(),
            fallbacks: Family::default(),
            canary_weight: Family::default(),
            canary_decisions: Family::default(),
            shadow_rows: Family::default(),
            shadow_agreed: Family::default(),
            shadow_abs_delta: Family::default(),
            shadow_max_abs_delta: Family::default(),
            shadow_skipped: Family::default(),
            connections: crate::http::Counters::default(),
            registry: Registry::default(),
        };
        registry.register("requests", "Prediction requests, by model and version", m.requests.clone());
        registry.register("errors", "Prediction requests answered with an error", m.errors.clone());
        registry.register("rows", "Rows predicted", m.rows.clone());
        registry.register(
            "batch_rows",
            "Rows per ONNX Runtime call, concurrent requests scored together",
            m.batch_rows.clone(),
        );
        registry.register("latency_seconds", "Time to check and score a request", m.latency.clone());
        registry.register(
            "integrity_refusals",
            "Versions refused because their artifact does not match the registry's sha256",
            m.integrity_refusals.clone(),
        );
        registry.register("model_loads", "Versions loaded and swapped in", m.loads.clone());
        registry.register(
            "request_log_dropped",
            "Request log rows lost: dropped because the writer fell behind, or not written because writing failed (a full disk)",
            m.log_dropped.clone(),
        );
        registry.register(
            "fallbacks",
            "Requests another version answered after the serving one failed",
            m.fallbacks.clone(),
        );
        registry.register("canary_weight", "The canary candidate's share of requests", m.canary_weight.clone());
        registry.register("canary_decisions", "Canary decisions, by outcome", m.canary_decisions.clone());
        registry.register("shadow_rows", "Rows mirrored to the shadow version and scored", m.shadow_rows.clone());
        registry.register("shadow_agreed_rows", "Mirrored rows given the same label", m.shadow_agreed.clone());
        registry.register(
            "shadow_abs_delta",
            "Sum over mirrored rows of the largest absolute probability (or value) difference",
            m.shadow_abs_delta.clone(),
        );
        registry.register(
            "shadow_max_abs_delta",
            "Largest absolute probability (or value) difference seen",
            m.shadow_max_abs_delta.clone(),
        );
        registry.register(
            "shadow_skipped",
            "Requests not mirrored because the shadow queue was full",
            m.shadow_skipped.clone(),
        );
        m.connections.register(registry);
        Metrics { registry: root, ..m }
    }

    /// OpenMetrics 1.0 text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The Prometheus text format 0.0.4.
    pub fn encode_text(&self) -> String {
        text_004(&self.encode())
    }
}

/// Content negotiation on `Accept`: true when it prefers the Prometheus text format
/// (`text/plain`) to OpenMetrics (`application/openmetrics-text`), by their q-values (1 when
/// absent); OpenMetrics when it names neither, or ties.
pub fn prefers_text(accept: Option<&str>) -> bool {
    let (mut open, mut text) = (0.0f32, 0.0f32);
    for range in accept.unwrap_or_default().split(',') {
        let mut parts = range.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match essence.as_str() {
            "application/openmetrics-text" => open = open.max(q),
            "text/plain" => text = text.max(q),
            _ => {}
        }
    }
    text > open
}

/// OpenMetrics text (as prometheus-client writes it) in the Prometheus text format 0.0.4:
/// a counter's family is named by its `_total` samples, `unknown` is `untyped`, and `# UNIT`,
/// `# EOF` and exemplars have no place in it.
fn text_004(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> =
        open_metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        let line = if let Some(rest) = line.strip_prefix("# HELP ") {
            match rest.split_once(' ') {
                Some((name, help)) if counters.contains(name) => format!("# HELP {name}_total {help}"),
                _ => line.to_string(),
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            match rest.split_once(' ') {
                Some((name, "counter")) => format!("# TYPE {name}_total counter"),
                Some((name, "unknown")) => format!("# TYPE {name} untyped"),
                _ => line.to_string(),
            }
        } else if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        } else {
            // An exemplar follows ` # ` after a sample's value.
            line.split_once(" # ").map_or(line, |(sample, _)| sample).to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The process's CPU time, resident memory, open files, threads and start time, read from
/// /proc at each scrape under the names every Prometheus client gives them.
#[derive(Debug)]
struct Process;

impl Collector for Process {
    #[cfg(target_os = "linux")]
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(me) = procfs::process::Process::myself() else { return Ok(()) };
        if let Ok(stat) = me.stat() {
            let ticks = procfs::ticks_per_second() as f64;
            let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
            let e = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?;
            cpu.encode(e)?;
            let gauges = [
                (
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes",
                    (stat.rss * procfs::page_size()) as f64,
                ),
                ("process_virtual_memory_bytes", "Virtual memory size in bytes", stat.vsize as f64),
                ("process_threads", "Number of OS threads in the process", stat.num_threads as f64),
            ];
            let start = procfs::boot_time_secs().ok().map(|boot| boot as f64 + stat.starttime as f64 / ticks);
            let start = start.map(|s| {
                ("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds", s)
            });
            for (name, help, value) in gauges.into_iter().chain(start) {
                let gauge = ConstGauge::new(value);
                gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
            }
        }
        if let Ok(fds) = me.fd_count() {
            let gauge = ConstGauge::new(fds as f64);
            gauge.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn encode(&self, _: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(!prefers_text(Some(prometheus)));
        assert!(prefers_text(Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")));
        assert!(prefers_text(Some("text/plain; version=0.0.4")));
        assert!(prefers_text(Some("application/openmetrics-text;q=0.2, text/plain")));
        assert!(!prefers_text(None));
        assert!(!prefers_text(Some("*/*")));
    }

    /// Every family has `# HELP` and `# TYPE` under the name its samples carry, in both formats.
    #[test]
    fn every_family_is_described_in_both_formats() {
        let m = Metrics::new();
        let labels = ModelVersion { model: "m".into(), version: "2".into() };
        m.requests.get_or_create(&labels).inc();
        m.latency.get_or_create(&labels).observe(0.001);
        m.canary_weight.get_or_create(&ModelName { model: "m".into() }).set(0.5);
        m.log_dropped.inc();
        for (text, open) in [(m.encode(), true), (m.encode_text(), false)] {
            assert_eq!(text.ends_with("# EOF\n"), open);
            let described = |prefix: &str, name: &str| {
                text.lines()
                    .any(|l| l.strip_prefix(prefix).and_then(|r| r.split_once(' ')).is_some_and(|(n, _)| n == name))
            };
            let samples: Vec<&str> =
                text.lines().filter(|l| !l.starts_with('#')).map(|l| l.split(['{', ' ']).next().unwrap()).collect();
            assert!(samples.contains(&"mlpc_serve_requests_total"), "{text}");
            for name in [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_open_fds",
                "process_threads",
                "process_start_time_seconds",
            ] {
                assert!(samples.contains(&name), "{name} in {text}");
            }
            for sample in samples {
                let family = if open {
                    ["_total", "_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| sample.strip_suffix(s))
                        .filter(|f| described("# TYPE ", f))
                        .unwrap_or(sample)
                } else {
                    ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| sample.strip_suffix(s))
                        .filter(|f| described("# TYPE ", f))
                        .unwrap_or(sample)
                };
                assert!(
                    described("# HELP ", family) && described("# TYPE ", family),
                    "{sample} has no HELP and TYPE for {family} in\n{text}"
                );
            }
        }
        assert!(m.encode_text().contains("# TYPE mlpc_serve_requests_total counter\n"));
    }
}
