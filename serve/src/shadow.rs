//! Shadow traffic (`shadow = staging`): each answered request is scored again by the
//! shadow stage's version on a blocking thread, off the request path and bounded (when
//! the shadow falls behind, copies are skipped and counted), and the answers compared:
//! how often the labels agree, and how far the probabilities (or values) are apart.

use crate::input::Columns;
use crate::metrics::{Metrics, ModelName, ModelVersion};
use crate::model::Loaded;
use arc_swap::ArcSwapOption;
use mlpc_train::scorer::Output;
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Copies being scored at once at most; more are skipped.
const IN_FLIGHT: usize = 64;

/// The comparison so far.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tally {
    pub version: Option<i64>,
    pub rows: u64,
    /// Rows whose both answers have a label, and those where the labels agree.
    pub labelled: u64,
    pub agreed: u64,
    pub agreement_rate: Option<f64>,
    pub mean_abs_delta: Option<f64>,
    pub max_abs_delta: f64,
    /// Copies the shadow failed to score, and those skipped because it was behind.
    pub errors: u64,
    pub skipped: u64,
    #[serde(skip)]
    delta_sum: f64,
}

/// A model's shadow: the version, and what comparing it found.
pub struct Shadow {
    pub loaded: ArcSwapOption<Loaded>,
    tally: Mutex<Tally>,
    permits: Arc<Semaphore>,
}

impl Default for Shadow {
    fn default() -> Shadow {
        Shadow { loaded: ArcSwapOption::empty(), tally: Mutex::default(), permits: Arc::new(Semaphore::new(IN_FLIGHT)) }
    }
}

/// One row compared: whether the labels agree (when both have one), and the largest
/// absolute difference between the probabilities of a class, or the values.
fn compare(a: &Value, b: &Value) -> (Option<bool>, Option<f64>) {
    let agree = match (a.get("label"), b.get("label")) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    let delta = match (a.get("probabilities"), b.get("probabilities"), a.get("value"), b.get("value")) {
        (Some(Value::Object(p)), Some(Value::Object(q)), ..) => {
            p.iter().filter_map(|(class, x)| Some((x.as_f64()? - q.get(class)?.as_f64()?).abs())).reduce(f64::max)
        }
        (.., Some(x), Some(y)) => x.as_f64().zip(y.as_f64()).map(|(x, y)| (x - y).abs()),
        _ => None,
    };
    (agree, delta)
}

impl Shadow {
    pub fn tally(&self) -> Tally {
        let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner()).clone();
        t.version = self.loaded.load().as_ref().map(|l| l.version);
        t.agreement_rate = (t.labelled > 0).then(|| t.agreed as f64 / t.labelled as f64);
        t.mean_abs_delta = (t.rows > 0).then(|| t.delta_sum / t.rows as f64);
        t
    }

    /// Starts over, for a new shadow version.
    pub fn reset(&self) {
        *self.tally.lock().unwrap_or_else(|p| p.into_inner()) = Tally::default();
    }

    /// Scores a copy of an answered request on the shadow version, unless that is the
    /// version that answered, or the shadow is behind, or no runtime is running.
    pub fn mirror(
        self: &Arc<Self>,
        metrics: &Metrics,
        answered: &Arc<Loaded>,
        outputs: &Arc<Vec<(String, Output)>>,
        columns: &Columns,
    ) {
        let Some(shadow) = self.loaded.load_full().filter(|s| s.version != answered.version) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            self.tally.lock().unwrap_or_else(|p| p.into_inner()).skipped += 1;
            metrics.shadow_skipped.get_or_create(&ModelName { model: answered.name.clone() }).inc();
            return;
        };
        let (me, answered, outputs, columns) = (self.clone(), answered.clone(), outputs.clone(), columns.clone());
        let labels = ModelVersion { model: shadow.name.clone(), version: shadow.version.to_string() };
        let families = (
            metrics.shadow_rows.get_or_create(&labels).clone(),
            metrics.shadow_agreed.get_or_create(&labels).clone(),
            metrics.shadow_abs_delta.get_or_create(&labels).clone(),
            metrics.shadow_max_abs_delta.get_or_create(&labels).clone(),
        );
        runtime.spawn_blocking(move || {
            let _permit = permit;
            let scored =
                columns.to_frame(&shadow.inputs, &[]).map_err(|e| e.message).and_then(|f| shadow.score_blocking(f));
            let mut t = me.tally.lock().unwrap_or_else(|p| p.into_inner());
            let theirs = match scored {
                Ok(o) => shadow.predictions(&o, columns.rows),
                Err(e) => {
                    t.errors += 1;
                    return tracing::debug!(model = %shadow.name, version = shadow.version, "shadow failed: {e}");
                }
            };
            let ours = answered.predictions(&outputs, columns.rows);
            let (rows, agreed, delta_sum, delta_max) = families;
            for (a, b) in ours.iter().zip(&theirs) {
                let (agree, delta) = compare(a, b);
                t.rows += 1;
                rows.inc();
                if let Some(same) = agree {
                    t.labelled += 1;
                    t.agreed += u64::from(same);
                    agreed.inc_by(u64::from(same));
                }
                if let Some(d) = delta {
                    t.delta_sum += d;
                    delta_sum.inc_by(d);
                    if d > t.max_abs_delta {
                        t.max_abs_delta = d;
                        delta_max.set(d);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use serde_json::json;

    #[test]
    fn compares_labels_and_probabilities() {
        let a = json!({"label": "true", "probabilities": {"false": 0.25, "true": 0.75}});
        let b = json!({"label": "false", "probabilities": {"false": 0.625, "true": 0.375}});
        assert_eq!(compare(&a, &b), (Some(false), Some(0.375)));
        assert_eq!(compare(&json!({"value": 2.0}), &json!({"value": 1.5})), (None, Some(0.5)));
    }
}
