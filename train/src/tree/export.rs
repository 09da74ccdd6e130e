//! A tree ensemble as ONNX: an `ai.onnx.ml` `TreeEnsembleRegressor` (raw outputs, base
//! values included) followed by the link in standard operators.

use super::ensemble::{Ensemble, Link, TreeNode};
use crate::onnx::{attr, Graph, ML};

pub fn export(e: &Ensemble, g: &mut Graph, features: &str) -> String {
    let mut nodes = NodeLists::default();
    let mut targets = TargetLists::default();
    for (t, tree) in e.trees.iter().enumerate() {
        let t = t as i64;
        for (id, node) in tree.nodes.iter().enumerate() {
            let id = id as i64;
            nodes.treeids.push(t);
            nodes.nodeids.push(id);
            match *node {
                TreeNode::Split { feature, threshold, left, right } => {
                    nodes.featureids.push(feature as i64);
                    nodes.modes.push("BRANCH_LEQ".into());
                    nodes.values.push(threshold);
                    nodes.truenodeids.push(left as i64);
                    nodes.falsenodeids.push(right as i64);
                }
                TreeNode::Leaf { at } => {
                    nodes.featureids.push(0);
                    nodes.modes.push("LEAF".into());
                    nodes.values.push(0.0);
                    nodes.truenodeids.push(0);
                    nodes.falsenodeids.push(0);
                    let at = at as usize * e.width;
                    for (j, &w) in tree.values[at..at + e.width].iter().enumerate() {
                        targets.treeids.push(t);
                        targets.nodeids.push(id);
                        targets.ids.push((tree.target + j) as i64);
                        targets.weights.push(w);
                    }
                }
            }
        }
    }
    let raw = g.node(
        "TreeEnsembleRegressor",
        ML,
        &[features],
        vec![
            attr::int("n_targets", e.outputs as i64),
            attr::string("aggregate_function", if e.average { "AVERAGE" } else { "SUM" }),
            attr::floats("base_values", e.base.clone()),
            attr::string("post_transform", "NONE"),
            attr::ints("nodes_treeids", nodes.treeids),
            attr::ints("nodes_nodeids", nodes.nodeids),
            attr::ints("nodes_featureids", nodes.featureids),
            attr::strings("nodes_modes", &nodes.modes),
            attr::floats("nodes_values", nodes.values),
            attr::ints("nodes_truenodeids", nodes.truenodeids),
            attr::ints("nodes_falsenodeids", nodes.falsenodeids),
            attr::ints("target_treeids", targets.treeids),
            attr::ints("target_nodeids", targets.nodeids),
            attr::ints("target_ids", targets.ids),
            attr::floats("target_weights", targets.weights),
        ],
    );
    match e.link {
        Link::Identity => raw,
        Link::Logistic => {
            let p = g.node("Sigmoid", "", &[&raw], vec![]);
            let one = g.const_f32(&[1], vec![1.0]);
            let q = g.node("Sub", "", &[&one, &p], vec![]);
            g.node("Concat", "", &[&q, &p], vec![attr::int("axis", 1)])
        }
        Link::Softmax => g.node("Softmax", "", &[&raw], vec![attr::int("axis", 1)]),
    }
}

/// The `nodes_*` attributes, one entry per node.
#[derive(Default)]
struct NodeLists {
    treeids: Vec<i64>,
    nodeids: Vec<i64>,
    featureids: Vec<i64>,
    modes: Vec<String>,
    values: Vec<f32>,
    truenodeids: Vec<i64>,
    falsenodeids: Vec<i64>,
}

/// The `target_*` attributes, one entry per leaf value.
#[derive(Default)]
struct TargetLists {
    treeids: Vec<i64>,
    nodeids: Vec<i64>,
    ids: Vec<i64>,
    weights: Vec<f32>,
}
