//! `mlpc export`: the churn and delivery examples lowered to Argo Workflows and KServe
//! manifests, snapshotted, validated against the published schemas (`tests/data/k8s/`), read
//! back into mlpc's typed manifests (no unknown field), and checked by mlpc's own checks,
//! which catch what the schemas let through.

mod common;

use common::compile_file;
use mlpc_export::argo::{self, CronWorkflow, Workflow};
use mlpc_export::check;
use mlpc_export::kserve::{self, InferenceService, Mode, Traffic};
use mlpc_plan::{Device, NodeDef, Plan, ServeDef};
use serde_json::Value;

const EXAMPLES: [(&str, &str); 2] =
    [("churn", "examples/churn/churn.mlp"), ("delivery", "examples/delivery/delivery.mlp")];

fn plan(file: &str) -> Plan {
    compile_file(file).plan.expect("the example compiles")
}

fn options() -> argo::Options {
    argo::Options {
        image: "registry.example.com/mlpc:0.1.0".into(),
        state: None,
        secret: Some("mlpc-state".into()),
        artifacts: Some("s3://mlpc-artifacts/churn".into()),
        base_dir: "/pipeline".into(),
        namespace: Some("ml".into()),
        retries: 2,
    }
}

fn exported(plan: &Plan) -> argo::Exported {
    argo::export(plan, &plan.to_json(), &options()).expect("the plan exports")
}

/// A draft 2020-12 validator for one kind of the Argo schema (its root `oneOf` left out).
fn argo_validator(kind: &str) -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/data/k8s/argo-workflows.schema.json").unwrap()).unwrap();
    let one = serde_json::json!({
        "$schema": schema["$schema"],
        "definitions": schema["definitions"],
        "$ref": format!("#/definitions/io.argoproj.workflow.v1alpha1.{kind}"),
    });
    jsonschema::draft202012::new(&one).expect("the Argo schema compiles")
}

fn kserve_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string("tests/data/k8s/kserve-inferenceservice-v1beta1.schema.json").unwrap();
    jsonschema::draft7::new(&serde_json::from_str::<Value>(&text).unwrap()).expect("the KServe schema compiles")
}

fn valid(validator: &jsonschema::Validator, yaml: &str, what: &str) {
    let value: Value = serde_norway::from_str(yaml).expect("the manifest is YAML");
    let errors: Vec<String> = validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

/// The manifest as snapshotted: the plan it carries is `tests/plan.rs`'s business.
fn without_plan(mut spec: argo::WorkflowSpec) -> argo::WorkflowSpec {
    for t in &mut spec.templates {
        for a in t.inputs.iter_mut().flat_map(|i| &mut i.artifacts) {
            a.raw.data = format!("<the plan: {} bytes>", a.raw.data.len());
        }
    }
    spec
}

#[test]
fn examples_export_to_schema_valid_argo_manifests() {
    let workflow = argo_validator("Workflow");
    let cron = argo_validator("CronWorkflow");
    for (name, file) in EXAMPLES {
        let plan = plan(file);
        let out = exported(&plan);
        let yaml = mlpc_export::to_yaml(&[&out.workflow]);
        valid(&workflow, &yaml, name);
        assert_eq!(serde_norway::from_str::<Workflow>(&yaml).expect("no unknown field"), out.workflow);
        let c = out.cron.clone().expect("the examples have a schedule");
        let cron_yaml = mlpc_export::to_yaml(&[&c]);
        valid(&cron, &cron_yaml, name);
        assert_eq!(serde_norway::from_str::<CronWorkflow>(&cron_yaml).unwrap(), c);
        assert_eq!(c.spec.schedules, [plan.pipeline.as_ref().unwrap().schedule.clone().unwrap()]);
        // The plan each task reads is the plan, whole.
        let carried = &out.workflow.spec.templates[1].inputs.as_ref().unwrap().artifacts[0].raw.data;
        assert_eq!(&Plan::from_json(carried).unwrap(), &plan);
        let mut shown = out.workflow.clone();
        shown.spec = without_plan(shown.spec);
        insta::assert_snapshot!(format!("argo_{name}"), mlpc_export::to_yaml(&[&shown]));
    }
}

/// Every node `mlpc run` executes is a task, after exactly the tasks of its data inputs.
#[test]
fn one_task_per_node_after_its_inputs() {
    let plan = plan("examples/churn/churn.mlp");
    let out = exported(&plan);
    let tasks = &out.workflow.spec.templates[0].dag.as_ref().unwrap().tasks;
    let ran: Vec<&str> =
        plan.nodes.iter().filter(|n| !matches!(n.kind(), "serve" | "monitor")).map(|n| n.id.as_str()).collect();
    let node_of = |t: &argo::DagTask| t.arguments.parameters[0].value.clone().unwrap();
    assert_eq!(tasks.iter().map(node_of).collect::<Vec<_>>(), ran);
    for t in tasks {
        let node = plan.node(&node_of(t)).unwrap();
        let mut after: Vec<String> = t
            .depends
            .as_deref()
            .map(check::depends_names)
            .unwrap_or_default()
            .iter()
            .map(|d| node_of(tasks.iter().find(|t| &t.name == d).unwrap()))
            .collect();
        after.sort();
        assert_eq!(after, node.inputs, "{}", node.id);
    }
}

#[test]
fn cuda_nodes_ask_for_a_gpu_and_credentials_come_from_the_secret() {
    let mut plan = plan("examples/churn/churn.mlp");
    for n in &mut plan.nodes {
        if let NodeDef::Model(m) = &mut n.def {
            m.device = Device::Cuda;
        }
    }
    let out = exported(&plan);
    valid(&argo_validator("Workflow"), &mlpc_export::to_yaml(&[&out.workflow]), "cuda");
    let spec = &out.workflow.spec;
    let task = spec.templates[0].dag.as_ref().unwrap().tasks.iter().find(|t| t.name == "model-churn-model").unwrap();
    let gpu = spec.templates.iter().find(|t| t.name == task.template).unwrap().container.as_ref().unwrap();
    assert_eq!(gpu.resources.as_ref().unwrap().limits["nvidia.com/gpu"], "1");
    let cpu = spec.templates.iter().find(|t| t.name == "mlpc-node").unwrap().container.as_ref().unwrap();
    assert!(cpu.resources.is_none());
    assert!(cpu.args.windows(2).any(|w| w == ["--state", "$(MLPC_STATE)"]), "{:?}", cpu.args);
    let state = cpu.env.iter().find(|e| e.name == "MLPC_STATE").unwrap();
    assert_eq!(state.value, None);
    assert_eq!(state.value_from.as_ref().unwrap().secret_key_ref.name, "mlpc-state");
    let inline = argo::Options { state: Some("postgres://mlpc:secret@db/mlpc".into()), ..options() };
    let refused = argo::export(&plan, &plan.to_json(), &inline).err().expect("a password in the URL is refused");
    assert!(refused.contains("--secret") && !refused.contains("secret@"), "{refused}");
}

/// The schemas let these through; mlpc's own checks and typed read-back do not.
#[test]
fn own_checks_catch_what_the_schemas_accept() {
    let plan = plan("examples/churn/churn.mlp");
    let spec = exported(&plan).workflow.spec;
    assert_eq!(check::workflow(&spec), Ok(()));
    let validator = argo_validator("Workflow");
    let broken = |edit: &dyn Fn(&mut argo::WorkflowSpec), expected: &str| {
        let mut w = exported(&plan).workflow;
        edit(&mut w.spec);
        valid(&validator, &mlpc_export::to_yaml(&[&w]), expected);
        let problems = check::workflow(&w.spec).expect_err(expected).join("; ");
        assert!(problems.contains(expected), "{problems}");
    };
    fn tasks(s: &mut argo::WorkflowSpec) -> &mut Vec<argo::DagTask> {
        &mut s.templates[0].dag.as_mut().unwrap().tasks
    }
    broken(&|s| tasks(s)[3].template = "mlpc-nod".into(), "runs template `mlpc-nod`, which does not exist");
    broken(&|s| tasks(s)[3].depends = Some("source-customer".into()), "depends on `source-customer`");
    broken(&|s| tasks(s)[0].depends = Some("model-churn-model".into()), "the DAG has a cycle");
    let yaml = mlpc_export::to_yaml(&[exported(&plan).workflow]).replacen("    container:", "    containr:", 1);
    valid(&validator, &yaml, "a misspelt key passes the schema");
    assert!(serde_norway::from_str::<Workflow>(&yaml).unwrap_err().to_string().contains("containr"));
    let singular = mlpc_export::to_yaml(&[exported(&plan).cron.unwrap()]).replace("schedules:\n  - ", "schedule: ");
    let value: Value = serde_norway::from_str(&singular).unwrap();
    assert!(!argo_validator("CronWorkflow").is_valid(&value), "Argo v4 has no singular `schedule`");
}

fn serves(plan: &Plan) -> Vec<&ServeDef> {
    plan.nodes
        .iter()
        .filter_map(|n| match &n.def {
            NodeDef::Serve(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

#[test]
fn examples_export_to_schema_valid_inference_services() {
    let validator = kserve_validator();
    for (name, file) in EXAMPLES {
        let plan = plan(file);
        let pipeline = &plan.pipeline.as_ref().unwrap().name;
        let mut shown = Vec::new();
        for serve in serves(&plan) {
            for mode in [Mode::Serverless, Mode::RawDeployment] {
                let o = kserve::Options { storage_uri: "s3://models/mlpc/".into(), mode, namespace: Some("ml".into()) };
                for traffic in [Traffic::released(serve, 1, None, None), Traffic::released(serve, 3, Some(2), None)] {
                    let isvc = kserve::inference_service(pipeline, serve, traffic, &o).unwrap();
                    let yaml = mlpc_export::to_yaml(&[&isvc]);
                    valid(&validator, &yaml, name);
                    assert_eq!(serde_norway::from_str::<InferenceService>(&yaml).unwrap(), isvc);
                    shown.push(yaml);
                }
            }
        }
        insta::assert_snapshot!(format!("kserve_{name}"), shown.join("---\n"));
    }
}

#[test]
fn canaries_start_at_the_first_step_in_either_mode() {
    let plan = plan("examples/delivery/delivery.mlp");
    let serve = serves(&plan)[0];
    let o = |mode| kserve::Options { storage_uri: "s3://m".into(), mode, namespace: None };
    let traffic = Traffic::released(serve, 3, Some(2), None);
    assert_eq!(traffic, Traffic { stable: 2, candidate: Some((3, 5)) });
    let serverless = kserve::inference_service("d", serve, traffic, &o(Mode::Serverless)).unwrap();
    assert_eq!(serverless.spec.predictor.canary_traffic_percent, Some(5));
    assert_eq!(serverless.spec.predictor.model.storage_uri, "s3://m/customer-spend-30d/v3");
    let raw = kserve::inference_service("d", serve, traffic, &o(Mode::RawDeployment)).unwrap();
    assert_eq!(raw.spec.predictor.model.storage_uri, "s3://m/customer-spend-30d/v2");
    let canary = &raw.spec.canary.as_ref().unwrap()[0];
    assert_eq!(
        (canary.traffic_percent, canary.predictor.model.storage_uri.as_str()),
        (5, "s3://m/customer-spend-30d/v3")
    );
    // The CRD bounds neither share: mlpc does.
    let mut wrong = serverless.clone();
    wrong.spec.predictor.canary_traffic_percent = Some(120);
    valid(&kserve_validator(), &mlpc_export::to_yaml(&[&wrong]), "no bound in the CRD");
    assert!(check::inference_service(&wrong).unwrap_err()[0].contains("120 is not a percentage"));
    // A merge patch back to one version clears the canary.
    let patch = kserve::merge_patch(
        &kserve::inference_service("d", serve, Traffic::released(serve, 3, None, None), &o(Mode::RawDeployment))
            .unwrap(),
    );
    assert_eq!(
        (&patch["spec"]["canary"], &patch["spec"]["predictor"]["canaryTrafficPercent"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(patch["metadata"]["annotations"][kserve::CANDIDATE], Value::Null);
}
