//! `mlpc export argo`: the compiled plan as Argo Workflows manifests on stdout.

use crate::args::ArgoArgs;
use crate::commands::{compiled, emit, fail};
use mlpc_export::argo;

pub fn argo(a: &ArgoArgs) -> u8 {
    let c = match compiled(&a.file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled() returns plans");
    let options = argo::Options {
        image: a.image.clone(),
        state: a.state.clone(),
        secret: a.secret.clone(),
        artifacts: a.artifacts.clone(),
        base_dir: a.base_dir.clone(),
        namespace: a.namespace.clone(),
        retries: a.retries,
    };
    match argo::export(plan, &plan.to_json(), &options) {
        Ok(out) => {
            let mut text = mlpc_export::to_yaml(&[&out.workflow]);
            if let Some(cron) = &out.cron {
                text.push_str("---\n");
                text.push_str(&mlpc_export::to_yaml(&[cron]));
            }
            emit(&text);
            0
        }
        Err(e) => fail(e),
    }
}
