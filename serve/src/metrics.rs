//! The server's metrics in Prometheus text format (`GET /metrics`): requests, errors and
//! latency per model and version, refused artifacts, reloads and dropped log rows.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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

type Latency = Family<ModelVersion, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<ModelVersion, Counter>,
    pub errors: Family<ModelVersion, Counter>,
    pub rows: Family<ModelVersion, Counter>,
    pub latency: Latency,
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

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mlpc_serve");
        let m = Metrics {
            requests: Family::default(),
            errors: Family::default(),
            rows: Family::default(),
            latency: Latency::new_with_constructor(latency_buckets),
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
        m.connections.register(&mut registry);
        Metrics { registry, ..m }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
