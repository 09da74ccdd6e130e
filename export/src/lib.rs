//! Lowering a plan to Kubernetes engines, so a team that outgrows one machine runs the same
//! program on Argo Workflows and KServe: the typed manifests (`k8s`, `argo`, `kserve`), the
//! Triton model repository KServe's `kserve-tritonserver` runtime loads (`triton`), and
//! mlpc's own checks of what it writes (`check`), which the published schemas cannot make.
//! Depends on `mlpc-plan` only: it reads the compiled plan, never the program.

pub mod argo;
pub mod check;
pub mod k8s;
pub mod kserve;
mod names;
pub mod triton;

use serde::Serialize;

/// Manifests as one YAML stream, `---` between documents (what `kubectl apply -f` reads).
pub fn to_yaml<T: Serialize>(docs: &[T]) -> String {
    docs.iter().map(|d| serde_norway::to_string(d).expect("manifests serialize")).collect::<Vec<_>>().join("---\n")
}
