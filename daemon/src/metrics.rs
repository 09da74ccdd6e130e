//! The monitors' measurements in Prometheus text format on the daemon's `/metrics`: rows in
//! the window, drift share, each column's score and verdict, active alerts and firings.

use crate::monitor::Found;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabel {
    monitor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ColumnLabel {
    monitor: String,
    column: String,
    test: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabel {
    monitor: String,
    alert: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    rows: Family<MonitorLabel, Gauge>,
    drift_share: Family<MonitorLabel, FloatGauge>,
    score: Family<ColumnLabel, FloatGauge>,
    drifted: Family<ColumnLabel, Gauge>,
    condition: Family<AlertLabel, Gauge>,
    fired: Family<AlertLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mlpc_monitor");
        let m = Metrics {
            registry: Registry::default(),
            rows: Family::default(),
            drift_share: Family::default(),
            score: Family::default(),
            drifted: Family::default(),
            condition: Family::default(),
            fired: Family::default(),
        };
        registry.register("window_rows", "Logged rows in the monitor's last window", m.rows.clone());
        registry.register("drift_share", "Share of input columns that drift (default tests)", m.drift_share.clone());
        registry.register("column_score", "Drift score per column: p-value or distance", m.score.clone());
        registry.register("column_drifted", "1 when the column drifts under its test", m.drifted.clone());
        registry.register("alert_condition", "1 true, 0 false, -1 unknown, at the last check", m.condition.clone());
        registry.register("alerts_fired", "Times an alert's condition became true", m.fired.clone());
        Metrics { registry, ..m }
    }

    /// Records what one check found.
    pub fn observe(&self, f: &Found) {
        let monitor = MonitorLabel { monitor: f.monitor.clone() };
        self.rows.get_or_create(&monitor).set(f.rows as i64);
        if let Some(report) = &f.report {
            self.drift_share.get_or_create(&monitor).set(report.drift_share.unwrap_or(f64::NAN));
            for c in &report.columns {
                let label =
                    ColumnLabel { monitor: f.monitor.clone(), column: c.column.clone(), test: c.test.name().into() };
                if let mlpc_monitor::Outcome::Tested { score, drifted, .. } = c.outcome {
                    self.score.get_or_create(&label).set(score);
                    self.drifted.get_or_create(&label).set(i64::from(drifted));
                }
            }
        }
        for (alert, holds) in &f.conditions {
            let label = AlertLabel { monitor: f.monitor.clone(), alert: alert.clone() };
            self.condition.get_or_create(&label).set(holds.map_or(-1, i64::from));
        }
        for fired in &f.fired {
            self.fired.get_or_create(&AlertLabel { monitor: f.monitor.clone(), alert: fired.alert.clone() }).inc();
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
