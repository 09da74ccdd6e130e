//! A plan as text (`mlpc plan`), Graphviz and Mermaid.

use crate::{EdgeKind, Plan};
use std::collections::BTreeMap;

impl Plan {
    /// One line per node: order, id, inputs, short hash.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.pipeline {
            out.push_str(&format!("pipeline {}", p.name));
            if let Some(s) = &p.schedule {
                out.push_str(&format!(" (schedule \"{s}\")"));
            }
            out.push('\n');
        }
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!("{:>3}. {:<40} {}", i + 1, n.id, &n.hash[..12]));
            if !n.inputs.is_empty() {
                out.push_str(&format!("  <- {}", n.inputs.join(", ")));
            }
            out.push('\n');
        }
        for e in self.edges.iter().filter(|e| e.kind == EdgeKind::Trigger) {
            out.push_str(&format!("     trigger {} -> {} ({})\n", e.from, e.to, e.action.as_deref().unwrap_or("")));
        }
        out
    }

    /// Graphviz: data edges solid, triggers dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
        for n in &self.nodes {
            out.push_str(&format!("  \"{}\" [label=\"{}\\n{}\"];\n", n.id, n.kind(), n.name.replace('"', "\\\"")));
        }
        for e in &self.edges {
            let style = match e.kind {
                EdgeKind::Data => String::new(),
                EdgeKind::Trigger => format!(" [style=dashed, label=\"{}\"]", e.action.as_deref().unwrap_or("")),
            };
            out.push_str(&format!("  \"{}\" -> \"{}\"{style};\n", e.from, e.to));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart: data edges solid, triggers dotted.
    pub fn to_mermaid(&self) -> String {
        let ids: BTreeMap<&str, String> =
            self.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), format!("n{i}"))).collect();
        let mut out = String::from("flowchart LR\n");
        for n in &self.nodes {
            out.push_str(&format!("  {}[\"{}: {}\"]\n", ids[n.id.as_str()], n.kind(), n.name.replace('"', "#quot;")));
        }
        for e in &self.edges {
            match e.kind {
                EdgeKind::Data => out.push_str(&format!("  {} --> {}\n", ids[e.from.as_str()], ids[e.to.as_str()])),
                EdgeKind::Trigger => out.push_str(&format!(
                    "  {} -. {} .-> {}\n",
                    ids[e.from.as_str()],
                    e.action.as_deref().unwrap_or(""),
                    ids[e.to.as_str()]
                )),
            }
        }
        out
    }
}
