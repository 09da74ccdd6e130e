//! The API server, through the `kube` crate: InferenceServices read and merge-patched as
//! dynamic objects of KServe's CRD. Transient failures (a conflict, a 5xx, 429, an
//! unreachable server) are retried a few times with a growing pause; the rest fail at once.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use std::time::Duration;

/// Tries per call, and the pause before the first retry (doubled each time).
const TRIES: u32 = 3;
const PAUSE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("InferenceService {0} not found (404): apply the output of `mlpc export kserve` first")]
    NotFound(String),
    #[error("InferenceService {0}: conflict (409): {1}")]
    Conflict(String, String),
    #[error("InferenceService {name}: the API server answered {code} {reason}: {message}")]
    Api { name: String, code: u16, reason: String, message: String },
    #[error("InferenceService {0}: the API server cannot be reached: {1}")]
    Unreachable(String, String),
}

impl ClusterError {
    fn of(name: &str, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(s) if s.code == 404 => ClusterError::NotFound(name.into()),
            kube::Error::Api(s) if s.code == 409 => ClusterError::Conflict(name.into(), s.message),
            kube::Error::Api(s) => {
                ClusterError::Api { name: name.into(), code: s.code, reason: s.reason, message: s.message }
            }
            other => ClusterError::Unreachable(name.into(), other.to_string()),
        }
    }

    fn transient(&self) -> bool {
        match self {
            ClusterError::Conflict(..) | ClusterError::Unreachable(..) => true,
            ClusterError::Api { code, .. } => *code == 429 || *code >= 500,
            ClusterError::NotFound(_) => false,
        }
    }
}

/// InferenceServices of one namespace.
pub struct Cluster {
    api: Api<DynamicObject>,
    pub namespace: String,
}

impl Cluster {
    /// A client of `url` (plain, no credentials: a proxy such as `kubectl proxy`), else of
    /// the cluster the environment names (in-cluster service account, else kubeconfig).
    pub async fn connect(url: Option<&str>, namespace: Option<&str>) -> Result<Cluster, String> {
        // kube's TLS is rustls; ring is the provider this build carries, named once here.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = match url {
            Some(u) => kube::Config::new(u.parse().map_err(|e| format!("--kube-api `{u}` is not a URL: {e}"))?),
            None => kube::Config::infer().await.map_err(|e| {
                format!("no Kubernetes credentials (in-cluster or kubeconfig): {e}; or pass --kube-api")
            })?,
        };
        let namespace = namespace.map_or_else(|| config.default_namespace.clone(), str::to_string);
        let client = kube::Client::try_from(config).map_err(|e| format!("cannot make a Kubernetes client: {e}"))?;
        let gvk = GroupVersionKind::gvk("serving.kserve.io", "v1beta1", "InferenceService");
        let api = Api::namespaced_with(client, &namespace, &ApiResource::from_gvk(&gvk));
        Ok(Cluster { api, namespace })
    }

    /// The service as the API server holds it, as JSON.
    pub async fn get(&self, name: &str) -> Result<serde_json::Value, ClusterError> {
        let obj = retried(name, "read", async || self.api.get(name).await).await?;
        serde_json::to_value(obj).map_err(|e| ClusterError::Unreachable(name.into(), e.to_string()))
    }

    /// Applies a JSON merge patch (RFC 7386) to the service.
    pub async fn patch(&self, name: &str, patch: &serde_json::Value) -> Result<(), ClusterError> {
        let params = PatchParams::default();
        retried(name, "patch", async || self.api.patch(name, &params, &Patch::Merge(patch)).await).await.map(drop)
    }
}

/// `call`, again after a pause while it fails transiently, at most `TRIES` times.
async fn retried<T>(name: &str, what: &str, call: impl AsyncFn() -> Result<T, kube::Error>) -> Result<T, ClusterError> {
    let mut pause = PAUSE;
    let mut tries = 1;
    loop {
        match call().await.map_err(|e| ClusterError::of(name, e)) {
            Err(e) if e.transient() && tries < TRIES => {
                tracing::warn!(service = name, "{what} failed ({e}); retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause *= 2;
                tries += 1;
            }
            result => return result,
        }
    }
}
