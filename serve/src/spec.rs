//! What a pipeline serves, read from its compiled plan: each `serve` block's registered
//! name and stage, the model's inputs, and where its online features come from.

use crate::row_features::RowFeature;
use mlpc_plan::{Fallback, Node, NodeDef, Plan, ServeDef, Type};

/// One `serve` block.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The registered name, e.g. `churn-predictor`.
    pub name: String,
    /// The registry stage whose version is served.
    pub stage: String,
    pub features: Option<FeatureSource>,
    /// How a new version in the stage takes over; None: at once.
    pub canary: Option<crate::canary::Config>,
    /// The stage whose version gets a copy of every request (`shadow = staging`).
    pub shadow: Option<String>,
    /// Whether the previous version answers when the serving one fails (`fallback = previous`).
    pub fallback: bool,
    /// The model inputs the program declares `int`: whole numbers within ±2^53 only.
    pub ints: Vec<String>,
}

/// Where a served model's inputs are looked up by entity key.
#[derive(Clone, Debug)]
pub struct FeatureSource {
    /// The feature view, e.g. `customer_features`.
    pub view: String,
    /// The features node, whose `online` artifact holds the latest row per entity.
    pub node: String,
    /// The entity's source node, whose `data` artifact holds its base columns.
    pub entity_node: String,
    /// The entity key, e.g. `customer_id`.
    pub key: String,
    /// The entity's time column: the latest base row per entity is served.
    pub entity_time: Option<String>,
    /// Model inputs the view computes, and those the entity's source holds, with types.
    pub view_columns: Vec<(String, Type)>,
    pub entity_columns: Vec<(String, Type)>,
    /// The view's inputs recomputed from each request's own values.
    pub row_features: Vec<RowFeature>,
    /// Entity columns those read that are not model inputs themselves.
    pub row_reads: Vec<(String, Type)>,
}

/// Every `serve` block of the plan; an error when there is none or one cannot be read.
pub fn specs(plan: &Plan) -> Result<Vec<Spec>, String> {
    let specs: Vec<Spec> = plan
        .nodes
        .iter()
        .filter_map(|n| match &n.def {
            NodeDef::Serve(d) => Some(spec(plan, d)),
            _ => None,
        })
        .collect::<Result<_, _>>()?;
    if specs.is_empty() {
        return Err("the pipeline has no `serve` block: add `serve \"NAME\" { stage = production }`".into());
    }
    Ok(specs)
}

fn spec(plan: &Plan, d: &ServeDef) -> Result<Spec, String> {
    let (model, model_def) = plan.model(&d.model)?;
    let inputs = &model_def.inputs;
    let ints = model.schema.iter().filter(|c| c.ty == Type::Int).map(|c| c.name.clone()).collect();
    let features = match &d.features {
        Some(view) => Some(feature_source(plan, view, inputs)?),
        None => None,
    };
    let canary = d.canary.clone().map(crate::canary::Config::from);
    Ok(Spec {
        name: d.registered.clone(),
        stage: d.stage.clone(),
        features,
        canary,
        shadow: d.shadow.clone(),
        fallback: d.fallback == Fallback::Previous,
        ints,
    })
}

fn feature_source(plan: &Plan, view: &str, inputs: &[String]) -> Result<FeatureSource, String> {
    let (features, features_def) = plan.features(view)?;
    let entity_id = format!("source:{}", features_def.entity);
    let entity = plan.node(&entity_id).ok_or_else(|| format!("the plan has no `{entity_id}`"))?;
    let keys: Vec<&str> = features.schema.iter().filter(|c| c.key).map(|c| c.name.as_str()).collect();
    let [key] = keys[..] else {
        return Err(format!(
            "serving feature view `{view}` needs an entity with one key column; it has {}",
            if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
        ));
    };
    let pick = |n: &Node| -> Vec<(String, Type)> {
        n.schema.iter().filter(|c| inputs.contains(&c.name) && !c.key).map(|c| (c.name.clone(), c.ty)).collect()
    };
    let view_columns = pick(features);
    let entity_columns: Vec<(String, Type)> =
        pick(entity).into_iter().filter(|(c, _)| !view_columns.iter().any(|(v, _)| v == c)).collect();
    let row_features: Vec<RowFeature> = features_def
        .features
        .iter()
        .filter(|f| view_columns.iter().any(|(v, _)| *v == f.name))
        .filter_map(|f| RowFeature::of(&f.name, &f.expr))
        .collect();
    let row_reads = entity
        .schema
        .iter()
        .filter(|c| row_features.iter().any(|f| f.reads.contains(&c.name)))
        .filter(|c| !c.key && !entity_columns.iter().any(|(e, _)| *e == c.name))
        .map(|c| (c.name.clone(), c.ty))
        .collect();
    Ok(FeatureSource {
        view: view.to_string(),
        node: features.id.clone(),
        entity_node: entity.id.clone(),
        key: key.to_string(),
        entity_time: entity.schema.iter().find(|c| c.time).map(|c| c.name.clone()),
        view_columns,
        entity_columns,
        row_features,
        row_reads,
    })
}
