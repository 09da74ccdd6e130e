//! mlpc's checks of its own manifests, beyond what the published schemas can say (they
//! accept unknown keys and dangling names): every template a task names exists, every name
//! in `depends` is a task, the DAG has no cycle; an InferenceService's traffic shares are
//! percentages and it speaks the protocol Triton serves.

use crate::argo::WorkflowSpec;
use crate::kserve::{InferenceService, Predictor};
use std::collections::{BTreeMap, BTreeSet};

/// Every problem of a Workflow's spec; empty when there is none.
pub fn workflow(spec: &WorkflowSpec) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let templates: BTreeSet<&str> = spec.templates.iter().map(|t| t.name.as_str()).collect();
    if templates.len() != spec.templates.len() {
        problems.push("two templates share a name".to_string());
    }
    if !templates.contains(spec.entrypoint.as_str()) {
        problems.push(format!("the entrypoint `{}` is not a template", spec.entrypoint));
    }
    for dag in spec.templates.iter().filter_map(|t| t.dag.as_ref()) {
        let tasks: BTreeSet<&str> = dag.tasks.iter().map(|t| t.name.as_str()).collect();
        if tasks.len() != dag.tasks.len() {
            problems.push("two tasks share a name".to_string());
        }
        let mut after: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for t in &dag.tasks {
            if !templates.contains(t.template.as_str()) {
                problems.push(format!("task `{}` runs template `{}`, which does not exist", t.name, t.template));
            }
            let named = t.depends.as_deref().map(depends_names).unwrap_or_default();
            for n in &named {
                if !tasks.contains(n.as_str()) {
                    problems.push(format!("task `{}` depends on `{n}`, which is not a task", t.name));
                }
            }
            after.insert(&t.name, named);
        }
        if let Some(task) = cycle(&after) {
            problems.push(format!("the DAG has a cycle through task `{task}`"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The task names a `depends` expression reads: `a && (b.Succeeded || !c)` → a, b, c.
pub fn depends_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.split('.').next().unwrap_or(w).to_string())
        .collect()
}

/// A task on a cycle, if any (depth-first, colouring the tasks being visited).
fn cycle<'a>(after: &'a BTreeMap<&'a str, Vec<String>>) -> Option<&'a str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        t: &'a str,
        after: &'a BTreeMap<&'a str, Vec<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
    ) -> Option<&'a str> {
        match marks.get(t) {
            Some(Mark::Open) => return Some(t),
            Some(Mark::Done) => return None,
            None => {}
        }
        marks.insert(t, Mark::Open);
        for d in after.get(t).into_iter().flatten() {
            if let Some((name, _)) = after.get_key_value(d.as_str()) {
                if let Some(c) = visit(name, after, marks) {
                    return Some(c);
                }
            }
        }
        marks.insert(t, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    after.keys().find_map(|t| visit(t, after, &mut marks))
}

/// Every problem of an InferenceService; empty when there is none.
pub fn inference_service(isvc: &InferenceService) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let predictor = |what: &str, p: &Predictor, problems: &mut Vec<String>| {
        if p.model.protocol_version != "v2" {
            problems.push(format!("{what}: Triton serves the Open Inference Protocol, `protocolVersion: v2`"));
        }
        if let Some(share) = p.canary_traffic_percent.filter(|s| !(0..=100).contains(s)) {
            problems.push(format!("{what}: canaryTrafficPercent {share} is not a percentage"));
        }
    };
    predictor("predictor", &isvc.spec.predictor, &mut problems);
    for c in isvc.spec.canary.iter().flatten() {
        predictor("canary predictor", &c.predictor, &mut problems);
        if !(0..=100).contains(&c.traffic_percent) {
            problems.push(format!("canary trafficPercent {} is not a percentage", c.traffic_percent));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::depends_names;

    #[test]
    fn depends_expressions_name_tasks() {
        assert_eq!(depends_names("a && (b-c.Succeeded || !d)"), ["a", "b-c", "d"]);
        assert!(depends_names("").is_empty());
    }
}
