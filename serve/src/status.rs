//! What a model's rollout is doing: `GET /v1/models/{name}/canary` (stable, candidate,
//! step, weight, the last verdict and its reason, the candidate's live figures) and
//! `GET /v1/models/{name}/shadow` (agreement and score differences).

use crate::app::Slot;
use crate::reply::{Reply, Shared};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

pub async fn canary(State(app): Shared, Path(name): Path<String>) -> Result<Json<Value>, Reply> {
    let served = app.served(&name).map_err(Reply::oip)?;
    let serving = match &*served.slot() {
        Slot::Ready(m) => json!(m.version),
        Slot::NotReady(_) => Value::Null,
    };
    let canary = served.rollout.load_full().map(|r| {
        let record = r.record();
        json!({
            "phase": record.phase,
            "stable": record.stable,
            "candidate": record.candidate,
            "step": record.step + 1,
            "steps": record.steps,
            "weights": {"stable": 1.0 - r.share(), "candidate": r.share()},
            "started_at": record.started_at,
            "last_verdict": record.last,
            "live": r.window.live(),
        })
    });
    Ok(Json(json!({"model_name": name, "stage": served.spec.stage, "serving": serving, "canary": canary})))
}

pub async fn shadow(State(app): Shared, Path(name): Path<String>) -> Result<Json<Value>, Reply> {
    let served = app.served(&name).map_err(Reply::oip)?;
    let stage = served.spec.shadow.clone();
    Ok(Json(json!({"model_name": name, "shadow_stage": stage, "shadow": served.shadow.tally()})))
}
