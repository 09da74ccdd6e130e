//! Cache keys: a node reruns only when its definition, an input's key, a file it reads,
//! or the mlpc version changed.

use mlpc_compiler::plan::{Node, Plan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a node's key is made of, kept to explain why a node reruns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyParts {
    pub definition: String,
    pub version: String,
    pub inputs: BTreeMap<String, String>,
    pub file: Option<String>,
}

impl KeyParts {
    pub fn key(&self) -> String {
        let text = serde_json::to_string(self).expect("key parts serialize");
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }

    /// Why `self` differs from what was cached before.
    pub fn why_changed(&self, before: &KeyParts) -> String {
        if self.version != before.version {
            return format!("mlpc changed ({} → {})", before.version, self.version);
        }
        if self.definition != before.definition {
            return "its definition changed".into();
        }
        if self.file != before.file {
            return "its data file changed".into();
        }
        let changed: Vec<&str> = self
            .inputs
            .iter()
            .filter(|(id, key)| before.inputs.get(*id) != Some(*key))
            .map(|(id, _)| id.as_str())
            .collect();
        if !changed.is_empty() {
            return format!("input changed: {}", changed.join(", "));
        }
        "never run".into()
    }
}

/// The key parts of every node, in plan order; `file_hash` gives the hash of the file a
/// node reads itself, if any.
pub fn key_parts(plan: &Plan, mut file_hash: impl FnMut(&Node) -> Option<String>) -> BTreeMap<String, KeyParts> {
    let mut out: BTreeMap<String, KeyParts> = BTreeMap::new();
    for node in &plan.nodes {
        let inputs =
            node.inputs.iter().map(|i| (i.clone(), out.get(i).map(KeyParts::key).unwrap_or_default())).collect();
        let parts = KeyParts {
            definition: node.hash.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs,
            file: file_hash(node),
        };
        out.insert(node.id.clone(), parts);
    }
    out
}
