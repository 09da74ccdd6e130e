//! `mlpc export kserve`: an InferenceService (v1beta1) per `serve` block, serving the
//! stage's version from its Triton repository on `kserve-tritonserver` (Open Inference
//! Protocol v2). When the stage moved from another version and the block has a canary, the
//! new version starts at the canary's first step: in Serverless mode the predictor is the
//! new version with `canaryTrafficPercent` (Knative keeps the previous revision for the
//! rest), in RawDeployment mode `spec.canary` lists it beside the stable predictor.
//! `mlpc daemon --kserve` moves it through the later steps.

use crate::k8s::{self, ObjectMeta};
use crate::names;
use mlpc_plan::ServeDef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const API_VERSION: &str = "serving.kserve.io/v1beta1";
/// Annotations that say which versions the service runs, read back by the gate driver.
pub const STABLE: &str = "mlpc.dev/stable-version";
pub const CANDIDATE: &str = "mlpc.dev/candidate-version";
const DEPLOYMENT_MODE: &str = "serving.kserve.io/deploymentMode";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InferenceService {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: Spec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub predictor: Predictor,
    /// RawDeployment's canaries (KServe 0.20+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Vec<Canary>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Predictor {
    pub model: Model,
    /// Serverless: the latest revision's share; the previous revision takes the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_traffic_percent: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Model {
    /// The container's name (a canary's predictor must give it): KServe's own default.
    pub name: String,
    pub model_format: ModelFormat,
    pub runtime: String,
    pub protocol_version: String,
    pub storage_uri: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFormat {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Canary {
    pub predictor: Predictor,
    pub traffic_percent: i64,
}

/// How KServe runs the predictors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Knative revisions; traffic split by `canaryTrafficPercent`.
    Serverless,
    /// Plain Deployments; traffic split by `spec.canary`.
    RawDeployment,
}

impl Mode {
    fn annotation(self) -> &'static str {
        match self {
            Mode::Serverless => "Serverless",
            Mode::RawDeployment => "RawDeployment",
        }
    }
}

/// What serves: the stable version, and a candidate with its share of requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traffic {
    pub stable: i64,
    pub candidate: Option<(i64, i64)>,
}

/// How far the canary of the stage's version got, as the gate driver recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Running at this index of the canary's steps.
    Step(usize),
    Promoted,
    RolledBack,
}

impl Traffic {
    /// The stage's version against `previous`, the version the stage's last move (not a
    /// rollback) came from: with a canary, the candidate at the step it reached (its first
    /// when none was recorded); a promoted candidate alone; a rolled-back one not at all.
    pub fn released(serve: &ServeDef, version: i64, previous: Option<i64>, progress: Option<Progress>) -> Traffic {
        let alone = |v| Traffic { stable: v, candidate: None };
        match (&serve.canary, previous, progress) {
            (Some(_), Some(p), Some(Progress::RolledBack)) if p != version => alone(p),
            (Some(_), Some(p), Some(Progress::Promoted)) if p != version => alone(version),
            (Some(c), Some(p), step) if p != version => {
                let at = match step {
                    Some(Progress::Step(i)) => i.min(c.steps.len() - 1),
                    _ => 0,
                };
                Traffic { stable: p, candidate: Some((version, percent(c.steps[at]))) }
            }
            _ => alone(version),
        }
    }
}

/// A canary step's share of requests as KServe's integer percentage.
pub fn percent(share: f64) -> i64 {
    (share * 100.0).round() as i64
}

/// Where the cluster reads the models from.
#[derive(Clone, Debug)]
pub struct Options {
    /// The artifact store's URI for the repositories' root, e.g. `s3://bucket/mlpc/kserve`.
    pub storage_uri: String,
    pub mode: Mode,
    pub namespace: Option<String>,
}

/// The InferenceService's name for a registered name (and the Triton model's folder).
pub fn service_name(registered: &str) -> String {
    names::dns_label(registered)
}

/// The repository a version is served from: its own root, so a new version is a new
/// revision (Knative) or a new Deployment (raw).
pub fn storage_uri(o: &Options, registered: &str, version: i64) -> String {
    format!("{}/{}/v{version}", o.storage_uri.trim_end_matches('/'), service_name(registered))
}

/// The InferenceService of one `serve` block.
pub fn inference_service(
    pipeline: &str,
    serve: &ServeDef,
    traffic: Traffic,
    o: &Options,
) -> Result<InferenceService, String> {
    let predictor = |version: i64, percent: Option<i64>| Predictor {
        model: Model {
            name: "kserve-container".into(),
            model_format: ModelFormat { name: "onnx".into() },
            runtime: "kserve-tritonserver".into(),
            protocol_version: "v2".into(),
            storage_uri: storage_uri(o, &serve.registered, version),
        },
        canary_traffic_percent: percent,
    };
    let spec = match (o.mode, traffic.candidate) {
        (_, None) => Spec { predictor: predictor(traffic.stable, None), canary: None },
        (Mode::Serverless, Some((v, p))) => Spec { predictor: predictor(v, Some(p)), canary: None },
        (Mode::RawDeployment, Some((v, p))) => Spec {
            predictor: predictor(traffic.stable, None),
            canary: Some(vec![Canary { predictor: predictor(v, None), traffic_percent: p }]),
        },
    };
    let mut annotations = BTreeMap::from([
        (DEPLOYMENT_MODE.to_string(), o.mode.annotation().to_string()),
        (STABLE.to_string(), traffic.stable.to_string()),
    ]);
    if let Some((v, _)) = traffic.candidate {
        annotations.insert(CANDIDATE.into(), v.to_string());
    }
    let isvc = InferenceService {
        api_version: API_VERSION.into(),
        kind: "InferenceService".into(),
        metadata: ObjectMeta {
            name: Some(service_name(&serve.registered)),
            namespace: o.namespace.clone(),
            labels: k8s::labels(pipeline),
            annotations,
            ..ObjectMeta::default()
        },
        spec,
    };
    crate::check::inference_service(&isvc)
        .map_err(|problems| format!("mlpc wrote a broken InferenceService: {}", problems.join("; ")))?;
    Ok(isvc)
}

/// A JSON merge patch that turns the service into `isvc`: what `isvc` leaves out is removed
/// (a finished canary's share, the canary list, the candidate annotation).
pub fn merge_patch(isvc: &InferenceService) -> serde_json::Value {
    let mut v = serde_json::to_value(isvc).expect("manifests serialize");
    let predictor = &mut v["spec"]["predictor"];
    if predictor.get("canaryTrafficPercent").is_none() {
        predictor["canaryTrafficPercent"] = serde_json::Value::Null;
    }
    if v["spec"].get("canary").is_none() {
        v["spec"]["canary"] = serde_json::Value::Null;
    }
    if v["metadata"]["annotations"].get(CANDIDATE).is_none() {
        v["metadata"]["annotations"][CANDIDATE] = serde_json::Value::Null;
    }
    v
}

/// What a service in the cluster runs, read from its live object (which holds more than
/// mlpc wrote: defaults, status) by the annotations and traffic fields the export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployed {
    pub mode: Mode,
    pub stable: i64,
    pub candidate: Option<i64>,
    /// The candidate's share of requests, in percent; 0 without a candidate.
    pub percent: i64,
}

impl Deployed {
    pub fn read(isvc: &serde_json::Value) -> Result<Deployed, String> {
        let annotations = &isvc["metadata"]["annotations"];
        let version = |key: &str| -> Result<Option<i64>, String> {
            match annotations.get(key).and_then(|v| v.as_str()) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| format!("annotation {key} is `{v}`, not a version number")),
            }
        };
        let stable = version(STABLE)?.ok_or_else(|| {
            format!("the service has no {STABLE} annotation: it was not written by `mlpc export kserve`")
        })?;
        let candidate = version(CANDIDATE)?;
        let mode = match annotations.get(DEPLOYMENT_MODE).and_then(|v| v.as_str()) {
            Some("RawDeployment") => Mode::RawDeployment,
            _ => Mode::Serverless,
        };
        let percent = match (candidate, mode) {
            (None, _) => 0,
            // Without `canaryTrafficPercent` the latest revision takes every request.
            (Some(_), Mode::Serverless) => isvc["spec"]["predictor"]["canaryTrafficPercent"].as_i64().unwrap_or(100),
            (Some(_), Mode::RawDeployment) => isvc["spec"]["canary"][0]["trafficPercent"].as_i64().unwrap_or(0),
        };
        Ok(Deployed { mode, stable, candidate, percent })
    }
}

/// The merge patch that gives a running canary's candidate `percent` of the requests (0 on
/// a rollback): `canaryTrafficPercent` in Serverless mode; in RawDeployment mode the
/// `spec.canary` list, whole (a merge patch replaces lists), with its share changed.
pub fn traffic_patch(isvc: &serde_json::Value, mode: Mode, percent: i64) -> Result<serde_json::Value, String> {
    Ok(match mode {
        Mode::Serverless => serde_json::json!({"spec": {"predictor": {"canaryTrafficPercent": percent}}}),
        Mode::RawDeployment => {
            let mut canary = isvc["spec"]["canary"].clone();
            let first = canary.get_mut(0).ok_or("the service has no spec.canary to move traffic to")?;
            first["trafficPercent"] = percent.into();
            serde_json::json!({"spec": {"canary": canary}})
        }
    })
}

/// The merge patch that makes a promoted candidate the only version served, as the export
/// writes a service without a canary: Serverless drops `canaryTrafficPercent` (the latest
/// revision, the candidate's, takes every request); RawDeployment makes the canary's
/// predictor the service's and drops `spec.canary`; the candidate becomes the stable version.
pub fn promotion_patch(isvc: &serde_json::Value, mode: Mode, candidate: i64) -> Result<serde_json::Value, String> {
    let mut patch = serde_json::json!({"metadata": {"annotations": {STABLE: candidate.to_string(), CANDIDATE: null}}});
    patch["spec"] = match mode {
        Mode::Serverless => serde_json::json!({"predictor": {"canaryTrafficPercent": null}}),
        Mode::RawDeployment => {
            let predictor = isvc["spec"]["canary"][0]["predictor"].clone();
            if predictor.is_null() {
                return Err("the service has no spec.canary predictor to promote".into());
            }
            serde_json::json!({"predictor": predictor, "canary": null})
        }
    };
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpc_plan::{CanaryDef, Fallback};

    fn serve() -> ServeDef {
        ServeDef {
            registered: "churn-predictor".into(),
            model: "churn_model".into(),
            stage: "production".into(),
            features: None,
            shadow: None,
            fallback: Fallback::None,
            canary: Some(CanaryDef {
                steps: vec![0.1, 0.5, 1.0],
                interval_ms: 1000,
                min_requests: 5,
                promote: None,
                rollback: None,
            }),
        }
    }

    fn exported(mode: Mode, traffic: Traffic) -> serde_json::Value {
        let o = Options { storage_uri: "s3://models".into(), mode, namespace: Some("models".into()) };
        serde_json::to_value(inference_service("churn", &serve(), traffic, &o).unwrap()).unwrap()
    }

    fn patched(mut isvc: serde_json::Value, patch: &serde_json::Value) -> serde_json::Value {
        json_patch::merge(&mut isvc, patch);
        isvc
    }

    #[test]
    fn the_driver_s_patches_lead_to_what_the_export_writes() {
        for mode in [Mode::Serverless, Mode::RawDeployment] {
            let canary = exported(mode, Traffic { stable: 1, candidate: Some((2, 10)) });
            let d = Deployed::read(&canary).unwrap();
            assert_eq!(d, Deployed { mode, stable: 1, candidate: Some(2), percent: 10 });
            let step = patched(canary.clone(), &traffic_patch(&canary, mode, 50).unwrap());
            assert_eq!(step, exported(mode, Traffic { stable: 1, candidate: Some((2, 50)) }), "{mode:?}");
            let back = patched(canary.clone(), &traffic_patch(&canary, mode, 0).unwrap());
            assert_eq!(Deployed::read(&back).unwrap().percent, 0);
            let promoted = patched(step.clone(), &promotion_patch(&step, mode, 2).unwrap());
            assert_eq!(promoted, exported(mode, Traffic { stable: 2, candidate: None }), "{mode:?}");
            assert_eq!(Deployed::read(&promoted).unwrap(), Deployed { mode, stable: 2, candidate: None, percent: 0 });
        }
    }

    #[test]
    fn the_export_starts_where_the_driver_left_off() {
        let s = serve();
        let at = |p| Traffic::released(&s, 2, Some(1), p);
        assert_eq!(at(None), Traffic { stable: 1, candidate: Some((2, 10)) });
        assert_eq!(at(Some(Progress::Step(1))), Traffic { stable: 1, candidate: Some((2, 50)) });
        assert_eq!(at(Some(Progress::Promoted)), Traffic { stable: 2, candidate: None });
        assert_eq!(at(Some(Progress::RolledBack)), Traffic { stable: 1, candidate: None });
        assert_eq!(Traffic::released(&s, 2, None, None), Traffic { stable: 2, candidate: None });
    }
}
