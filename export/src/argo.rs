//! `mlpc export argo`: the plan as an Argo Workflows (v4) `Workflow`, and a `CronWorkflow`
//! when the pipeline has a schedule. One DAG task per node `mlpc run` executes, `depends`
//! from the plan's data edges, each task running `mlpc run PLAN --node ID` on the shared
//! state; the plan travels inside the manifest as a raw artifact, so nothing else needs
//! uploading. Nodes with `device = cuda` ask for a GPU.

use crate::k8s::{self, Container, EnvVar, ObjectMeta, Resources, SecurityContext};
use crate::names;
use mlpc_plan::{Device, NodeDef, Plan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const API_VERSION: &str = "argoproj.io/v1alpha1";
/// Where each task's container finds the plan.
pub const PLAN_PATH: &str = "/mlpc/plan.json";
/// The DAG template.
const ENTRYPOINT: &str = "pipeline";
/// The parameter that names the node a task runs.
const NODE_PARAM: &str = "node";
/// What the Secret named by `--secret` may hold, each given to the tasks as an environment
/// variable of the same name: the state's URL, and the object store's keys.
pub const SECRET_KEYS: [&str; 4] = ["MLPC_STATE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workflow {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: WorkflowSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronWorkflow {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: CronWorkflowSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronWorkflowSpec {
    /// Argo v4: a list (the singular `schedule` is gone).
    pub schedules: Vec<String>,
    /// `Forbid`: a run still going when the next is due is not doubled, as `mlpc daemon`
    /// queues one run at a time.
    pub concurrency_policy: String,
    pub workflow_spec: WorkflowSpec,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowSpec {
    pub entrypoint: String,
    pub templates: Vec<Template>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dag: Option<Dag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inputs {
    pub parameters: Vec<Parameter>,
    pub artifacts: Vec<Artifact>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A file put in the container before it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Artifact {
    pub name: String,
    pub path: String,
    pub raw: RawArtifact,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawArtifact {
    pub data: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dag {
    pub tasks: Vec<DagTask>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DagTask {
    pub name: String,
    pub template: String,
    /// The tasks that must have succeeded first: `a && b`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends: Option<String>,
    pub arguments: Arguments,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Arguments {
    pub parameters: Vec<Parameter>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryStrategy {
    /// Retries after the first attempt (an IntOrString, written as a string).
    pub limit: String,
    /// `Always`: a node failing for a lost pod or a store that did not answer may pass on
    /// retry (a failed check fails again, at the cost of a short pod).
    pub retry_policy: String,
}

/// What the manifests say beyond the plan.
#[derive(Clone, Debug)]
pub struct Options {
    /// The image holding `mlpc` and its native libraries (the repository's `Dockerfile`).
    pub image: String,
    /// The shared state every task runs on, passed as given (`--state`).
    pub state: Option<String>,
    /// A Secret holding [`SECRET_KEYS`]; with no `state`, the state is its `MLPC_STATE`.
    pub secret: Option<String>,
    /// The artifact store, passed as given (`--artifacts`).
    pub artifacts: Option<String>,
    /// The pipeline's folder in the image: the plan's relative paths start there.
    pub base_dir: String,
    pub namespace: Option<String>,
    /// Retries of each node's task.
    pub retries: u32,
}

/// A Workflow, and a CronWorkflow running it on the pipeline's schedule.
pub struct Exported {
    pub workflow: Workflow,
    pub cron: Option<CronWorkflow>,
}

/// Lowers a plan; `plan_json` is the plan as the tasks read it.
pub fn export(plan: &Plan, plan_json: &str, o: &Options) -> Result<Exported, String> {
    let pipeline = plan.pipeline.as_ref().map_or("pipeline", |p| p.name.as_str());
    let state = match (&o.state, &o.secret) {
        (Some(s), _) => {
            refuse_inline_credentials(s)?;
            s.clone()
        }
        // Kubernetes puts the variable's value in the argument.
        (None, Some(_)) => "$(MLPC_STATE)".into(),
        (None, None) => return Err(
            "the tasks need a shared state: give `--state URL`, or `--secret NAME` naming a Secret with `MLPC_STATE`"
                .into(),
        ),
    };
    if let Some(a) = &o.artifacts {
        refuse_inline_credentials(a)?;
    }
    let spec = spec(plan, plan_json, &state, o);
    crate::check::workflow(&spec)
        .map_err(|problems| format!("mlpc wrote a broken Workflow: {}", problems.join("; ")))?;
    let labels = k8s::labels(pipeline);
    let name = names::dns_label(pipeline);
    let workflow = Workflow {
        api_version: API_VERSION.into(),
        kind: "Workflow".into(),
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: o.namespace.clone(),
            labels: labels.clone(),
            ..ObjectMeta::default()
        },
        spec: spec.clone(),
    };
    let cron = plan.pipeline.as_ref().and_then(|p| p.schedule.clone()).map(|schedule| CronWorkflow {
        api_version: API_VERSION.into(),
        kind: "CronWorkflow".into(),
        metadata: ObjectMeta { name: Some(name), namespace: o.namespace.clone(), labels, ..ObjectMeta::default() },
        spec: CronWorkflowSpec { schedules: vec![schedule], concurrency_policy: "Forbid".into(), workflow_spec: spec },
    });
    Ok(Exported { workflow, cron })
}

/// A URL with a password in it would sit in the manifest for anyone who can read it.
fn refuse_inline_credentials(url: &str) -> Result<(), String> {
    let authority = url.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
    match authority.rsplit_once('@') {
        Some((user, _)) if user.contains(':') => Err(format!(
            "`{}` holds a password: put the URL in a Secret under `MLPC_STATE` and give `--secret NAME` instead",
            url.replace(user, "…")
        )),
        _ => Ok(()),
    }
}

fn spec(plan: &Plan, plan_json: &str, state: &str, o: &Options) -> WorkflowSpec {
    let nodes: Vec<_> = plan.nodes.iter().filter(|n| mlpc_plan::runs_elsewhere(n.kind()).is_none()).collect();
    let task_names = names::distinct(nodes.iter().map(|n| (n.id.as_str(), n.hash.as_str())));
    let gpu = |n: &mlpc_plan::Node| matches!(&n.def, NodeDef::Model(m) if m.device == Device::Cuda);
    let tasks = nodes
        .iter()
        .map(|n| {
            let after: Vec<&str> = plan
                .edges
                .iter()
                .filter(|e| e.kind == mlpc_plan::EdgeKind::Data && e.to == n.id)
                .filter_map(|e| task_names.get(&e.from).map(String::as_str))
                .collect();
            DagTask {
                name: task_names[&n.id].clone(),
                template: node_template(gpu(n)).into(),
                depends: (!after.is_empty()).then(|| after.join(" && ")),
                arguments: Arguments {
                    parameters: vec![Parameter { name: NODE_PARAM.into(), value: Some(n.id.clone()) }],
                },
            }
        })
        .collect();
    let mut templates = vec![Template {
        name: ENTRYPOINT.into(),
        inputs: None,
        dag: Some(Dag { tasks }),
        container: None,
        retry_strategy: None,
    }];
    templates.push(run_node(false, plan_json, state, o));
    if nodes.iter().any(|n| gpu(n)) {
        templates.push(run_node(true, plan_json, state, o));
    }
    WorkflowSpec { entrypoint: ENTRYPOINT.into(), templates }
}

fn node_template(gpu: bool) -> &'static str {
    if gpu {
        "mlpc-node-gpu"
    } else {
        "mlpc-node"
    }
}

/// The template every task instantiates: `mlpc run PLAN --node ID` with the plan as an artifact.
fn run_node(gpu: bool, plan_json: &str, state: &str, o: &Options) -> Template {
    let mut args: Vec<String> =
        ["run", PLAN_PATH, "--node", &format!("{{{{inputs.parameters.{NODE_PARAM}}}}}")].map(String::from).into();
    args.extend(["--state".into(), state.into(), "--base-dir".into(), o.base_dir.clone()]);
    if let Some(a) = &o.artifacts {
        args.extend(["--artifacts".into(), a.clone()]);
    }
    let env = match &o.secret {
        Some(secret) => SECRET_KEYS
            .iter()
            .map(|k| EnvVar::from_secret(secret, k, *k != "MLPC_STATE" || o.state.is_some()))
            .collect(),
        None => Vec::new(),
    };
    let resources =
        gpu.then(|| Resources { limits: BTreeMap::from([("nvidia.com/gpu".to_string(), "1".to_string())]) });
    Template {
        name: node_template(gpu).into(),
        inputs: Some(Inputs {
            parameters: vec![Parameter { name: NODE_PARAM.into(), value: None }],
            artifacts: vec![Artifact {
                name: "plan".into(),
                path: PLAN_PATH.into(),
                raw: RawArtifact { data: plan_json.into() },
            }],
        }),
        dag: None,
        container: Some(Container {
            image: o.image.clone(),
            command: vec!["mlpc".into()],
            args,
            env,
            resources,
            security_context: SecurityContext::restricted(),
        }),
        retry_strategy: Some(RetryStrategy { limit: o.retries.to_string(), retry_policy: "Always".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::refuse_inline_credentials;

    #[test]
    fn passwords_in_urls_are_refused() {
        assert!(refuse_inline_credentials("postgres://mlpc@db:5432/mlpc").is_ok());
        assert!(refuse_inline_credentials("s3://bucket/prefix").is_ok());
        assert!(refuse_inline_credentials("/state").is_ok());
        let e = refuse_inline_credentials("postgres://mlpc:hunter2@db/mlpc").unwrap_err();
        assert!(e.contains("--secret") && !e.contains("hunter2"), "{e}");
    }
}
