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

impl Traffic {
    /// The stage's version, starting a canary against `previous` when the block has one.
    pub fn released(serve: &ServeDef, version: i64, previous: Option<i64>) -> Traffic {
        match (&serve.canary, previous) {
            (Some(c), Some(p)) if p != version => {
                Traffic { stable: p, candidate: Some((version, percent(c.steps[0]))) }
            }
            _ => Traffic { stable: version, candidate: None },
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
