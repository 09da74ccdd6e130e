//! What a node's execution reads and returns: [`Inputs`], [`Produced`] and [`Failure`],
//! shared by the data nodes, training and registration.

use mlpc_plan::Node;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a node produced: artifacts by role (files ready to adopt into the store),
/// numbers worth tracking, and a line for the report.
#[derive(Default, Debug)]
pub struct Produced {
    pub files: Vec<(String, PathBuf)>,
    pub metrics: BTreeMap<String, f64>,
    pub params: BTreeMap<String, String>,
    pub message: String,
}

/// Everything a node reads: the artifact of each input node (by role) and where the
/// pipeline's files are.
pub struct Inputs<'a> {
    pub base_dir: &'a Path,
    pub work_dir: &'a Path,
    /// The state folder: the registry a score node finds its model version in.
    pub state_dir: &'a Path,
    /// node id → role → artifact path
    pub artifacts: &'a BTreeMap<String, BTreeMap<String, PathBuf>>,
    /// source name → its `time` column
    pub time_columns: &'a BTreeMap<String, String>,
    /// The plan nodes this node reads, by id.
    pub nodes: &'a BTreeMap<String, Node>,
    /// Where data nodes run.
    pub engine: &'a crate::engine::Engine,
}

impl Inputs<'_> {
    /// The artifact an input node produced in `role`.
    pub fn artifact(&self, node: &str, role: &str) -> Result<PathBuf, String> {
        self.artifacts
            .get(node)
            .and_then(|a| a.get(role))
            .cloned()
            .ok_or_else(|| format!("the output of `{node}` is missing"))
    }
    /// A file in the work folder for an output being written.
    pub fn tmp_file(&self, node: &str, role: &str, ext: &str) -> PathBuf {
        let safe: String = node.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        self.work_dir.join(format!("{safe}.{role}.{}.{ext}", std::process::id()))
    }
}

/// A failure with what to do about it.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message }
    }
}
