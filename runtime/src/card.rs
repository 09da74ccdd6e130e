//! Model cards: a Markdown page about one registered version, from the registry (what was
//! trained, on which data, with what results, how it was promoted) and from the plan
//! recorded with it (purpose, owner, features) — what the version was trained from, not
//! what the pipeline file says today.

use crate::registry::{self, Model, Version};
use crate::store::Store;
use mlpc_plan::{NodeDef, Plan};

/// The card of `version` of `name` (default: the version in production, else the latest).
pub fn card(store: &Store, name: &str, version: Option<i64>) -> Result<String, String> {
    card_of(store, &registry::show(store, name)?, version)
}

/// `card` for a name already read with `registry::show`.
pub fn card_of(store: &Store, model: &Model, version: Option<i64>) -> Result<String, String> {
    let name = model.name.as_str();
    let number = match version {
        Some(v) => v,
        None => {
            model.stages.get("production").copied().unwrap_or_else(|| model.versions.last().map_or(0, |v| v.version))
        }
    };
    let v = match model.versions.iter().find(|v| v.version == number) {
        Some(v) => v.clone(),
        None => registry::version(store, name, number)?,
    };
    let recorded = registry::recorded_plan(store, name, number)?;
    let mut out = String::new();
    let w = &mut out;
    line(w, format!("# Model card: {name}, version {number}\n"));
    let plan = match recorded.as_deref().map(Plan::from_json) {
        Some(Ok(plan)) => Some(plan),
        Some(Err(e)) => {
            line(w, format!("> The plan recorded with this version cannot be read ({e}): this card holds what the registry recorded.\n"));
            None
        }
        None => {
            line(w, "> This version was registered before mlpc kept the plan with each version: this card holds what the registry recorded.\n");
            None
        }
    };
    let plan = plan.as_ref();
    overview(w, &v, plan);
    purpose(w, &v, plan);
    data(w, &v, plan);
    if let Some(plan) = plan {
        features(w, &v, plan);
    }
    training(w, &v);
    metrics(w, &v);
    promotion(w, &v, &model.history);
    provenance(w, &v);
    Ok(out)
}

fn line(w: &mut String, text: impl AsRef<str>) {
    w.push_str(text.as_ref());
    w.push('\n');
}

/// A table cell: no line breaks, `|` escaped.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn table(w: &mut String, header: &[&str], rows: &[Vec<String>]) {
    line(w, format!("| {} |", header.join(" | ")));
    line(w, format!("|{}", "---|".repeat(header.len())));
    for r in rows {
        line(w, format!("| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
    }
    line(w, "");
}

/// The plan's name of the trained model: `model:churn_model` → `churn_model`.
fn model_name(v: &Version) -> &str {
    v.model_node.strip_prefix("model:").unwrap_or(&v.model_node)
}

fn overview(w: &mut String, v: &Version, plan: Option<&Plan>) {
    let pipeline = plan.and_then(|p| p.pipeline.as_ref());
    let stages = if v.stages.is_empty() { "none".to_string() } else { v.stages.join(", ") };
    let rows = [
        vec!["Owner".into(), pipeline.and_then(|p| p.owner.clone()).unwrap_or_else(|| "not stated".into())],
        vec![
            "Pipeline".into(),
            match pipeline {
                Some(p) => format!("`{}` in `{}`", p.name, v.pipeline_file),
                None => format!("`{}`", v.pipeline_file),
            },
        ],
        vec!["Model".into(), format!("`{}`", model_name(v))],
        vec!["Stages".into(), stages],
        vec!["Registered".into(), format!("{} by run {}", v.registered_at, v.run_id)],
    ];
    table(w, &["", ""], &rows);
}

fn purpose(w: &mut String, v: &Version, plan: Option<&Plan>) {
    line(w, "## Purpose\n");
    let model_doc = plan.and_then(|p| p.node(&v.model_node)?.doc.clone());
    let pipeline_doc = plan.and_then(|p| p.pipeline.as_ref()?.doc.clone());
    match model_doc.or(pipeline_doc) {
        Some(doc) => line(w, format!("{}\n", doc.trim())),
        None => line(w, "Neither the model nor the pipeline has a doc comment (`///`).\n"),
    }
}

fn data(w: &mut String, v: &Version, plan: Option<&Plan>) {
    line(w, "## Data\n");
    if v.data_hashes.is_empty() {
        line(w, "No data hashes were recorded.\n");
        return;
    }
    let rows: Vec<Vec<String>> = v
        .data_hashes
        .iter()
        .map(|(node, sha)| {
            let name = node.strip_prefix("source:").unwrap_or(node);
            let read = match plan.and_then(|p| p.node(node)).map(|n| &n.def) {
                Some(NodeDef::Source(s)) => format!("{}(\"{}\")", s.format, s.path),
                _ => "—".into(),
            };
            vec![format!("`{name}`"), read, format!("`{sha}`")]
        })
        .collect();
    table(w, &["source", "read from", "sha256 of its data"], &rows);
}

fn features(w: &mut String, v: &Version, plan: &Plan) {
    let Ok((node, model)) = plan.model(model_name(v)) else {
        return;
    };
    line(w, "## Features\n");
    let rows: Vec<Vec<String>> = node
        .schema
        .iter()
        .map(|input| {
            let feature = input.view.as_ref().and_then(|view| {
                let (_, def) = plan.features(view).ok()?;
                def.features.iter().find(|f| f.name == input.name).cloned()
            });
            let definition = match feature {
                Some(f) => format!("`{}`", f.expr),
                None => "a column of the training data".into(),
            };
            let from = input.view.clone().or_else(|| model.dataset.clone()).unwrap_or_default();
            vec![format!("`{}`", input.name), input.ty.name().into(), from, definition]
        })
        .collect();
    table(w, &["input", "type", "from", "definition"], &rows);
}

fn training(w: &mut String, v: &Version) {
    line(w, "## Training\n");
    line(w, format!("Algorithm `{}`, trained on {}.\n", v.algorithm, v.device));
    if !v.params.is_empty() {
        let rows: Vec<Vec<String>> = v.params.iter().map(|(k, x)| vec![format!("`{k}`"), x.to_string()]).collect();
        table(w, &["parameter", "value"], &rows);
    }
}

fn metrics(w: &mut String, v: &Version) {
    line(w, "## Metrics\n");
    let (slices, overall): (Vec<_>, Vec<_>) = v.metrics.iter().partition(|(k, _)| k.starts_with("slice:"));
    if overall.is_empty() {
        line(w, "No metrics were recorded.\n");
    } else {
        let rows: Vec<Vec<String>> = overall.iter().map(|(k, x)| vec![format!("`{k}`"), number(**x)]).collect();
        table(w, &["metric", "value"], &rows);
    }
    if !slices.is_empty() {
        line(w, "### Slices\n");
        let rows: Vec<Vec<String>> = slices
            .iter()
            .map(|(k, x)| {
                let rest = k.strip_prefix("slice:").unwrap_or(k);
                let (slice, metric) = rest.rsplit_once(':').unwrap_or((rest, ""));
                vec![slice.into(), format!("`{metric}`"), number(**x)]
            })
            .collect();
        table(w, &["slice", "metric", "value"], &rows);
    }
}

fn number(x: f64) -> String {
    format!("{x:.4}")
}

fn promotion(w: &mut String, v: &Version, history: &[registry::StageMove]) {
    line(w, "## Promotion\n");
    for rule in &v.rules {
        let (stage, text) = (rule["stage"].as_str().unwrap_or("?"), rule["text"].as_str().unwrap_or("?"));
        line(w, format!("- to {stage} when `{text}`"));
    }
    if v.rules.is_empty() {
        line(w, "The pipeline states no promotion rules.");
    }
    line(w, "");
    let moves: Vec<Vec<String>> = history
        .iter()
        .filter(|m| m.to == v.version || m.from == Some(v.version))
        .map(|m| {
            let from = m.from.map_or_else(|| "—".into(), |f| f.to_string());
            vec![
                m.at.clone(),
                m.stage.clone(),
                format!("{} {from} → {}", m.kind, m.to),
                m.by.clone(),
                m.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if moves.is_empty() {
        line(w, "This version has not held a stage.\n");
    } else {
        table(w, &["when", "stage", "move", "by", "reason"], &moves);
    }
    let approvals: Vec<Vec<String>> = v
        .approvals
        .iter()
        .map(|a| vec![a.at.clone(), a.stage.clone(), a.by.clone(), a.reason.clone().unwrap_or_default()])
        .collect();
    if approvals.is_empty() {
        line(w, "No approvals.\n");
    } else {
        line(w, "### Approvals\n");
        table(w, &["when", "stage", "by", "reason"], &approvals);
    }
}

fn provenance(w: &mut String, v: &Version) {
    line(w, "## Provenance\n");
    let rows = [
        vec!["ONNX artifact".into(), format!("sha256 `{}`", v.artifact_sha256)],
        vec!["plan hash".into(), format!("`{}`", v.plan_hash)],
        vec![
            "git commit".into(),
            v.git_commit.as_ref().map_or_else(|| "not in a git repository".into(), |c| format!("`{c}`")),
        ],
        vec!["run".into(), v.run_id.to_string()],
    ];
    table(w, &["", ""], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fixtures::{new_version, store};

    #[test]
    fn a_card_tells_the_story_of_a_version() {
        let (_dir, store) = store();
        let mut v = new_version("a", 0.9, 0.7);
        v.metrics.insert("slice:region=eu:auc".into(), 0.88);
        let n = registry::register(&store, &v).unwrap();
        registry::approve(&store, "churn-predictor", n, "production", "alice", Some("looks good")).unwrap();
        registry::apply_rules(&store, "churn-predictor", n, "alice").unwrap();
        let text = card(&store, "churn-predictor", None).unwrap();
        for part in [
            "# Model card: churn-predictor, version 1",
            "| Owner | ml-platform@example.com |",
            "Predicts which customers will cancel in the next 30 days.",
            "| `customers` | csv(\"data/customers.csv\") | `d` |",
            "| `spend_per_ticket` | float | customer_features | `monthly_spend / (support_tickets + 1)` |",
            "| `spend_90d` | float | customer_features | `sum(orders.amount) over 90d` |",
            "| `plan` | category | churn_data | a column of the training data |",
            "Algorithm `gradient_boosting`, trained on cpu.",
            "| `trees` | 200 |",
            "| `auc` | 0.9000 |",
            "| region=eu | `auc` | 0.8800 |",
            "- to production when `auc >= production.auc - 0.01 and approved`",
            "| production | promote — → 1 | alice | rule `auc >= production.auc - 0.01 and approved` holds |",
            "| production | alice | looks good |",
            "| git commit | not in a git repository |",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
    }

    #[test]
    fn a_card_reads_the_plan_recorded_with_its_version() {
        let (_dir, store) = store();
        let mut v = new_version("a", 0.9, 0.7);
        // The pipeline file is gone or changed since: the card still tells what was trained.
        v.pipeline_file = "/nowhere/churn.mlp".into();
        registry::register(&store, &v).unwrap();
        let text = card(&store, "churn-predictor", Some(1)).unwrap();
        assert!(text.contains("| `spend_90d` | float | customer_features | `sum(orders.amount) over 90d` |"), "{text}");
        let mut old = new_version("b", 0.9, 0.7);
        old.plan = String::new();
        registry::register(&store, &old).unwrap();
        let text = card(&store, "churn-predictor", Some(2)).unwrap();
        assert!(text.contains("> The plan recorded with this version cannot be read"), "{text}");
        assert!(text.contains("## Metrics") && !text.contains("## Features"), "{text}");
        assert!(card(&store, "churn-predictor", Some(3)).unwrap_err().contains("no version 3"));
    }
}
