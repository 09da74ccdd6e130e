//! What trains a model: a stdlib algorithm and its parameters, an external `command(…)`,
//! or a ready `onnx(…)` file.

use super::*;
use crate::ast::{Call, StdKind};
use crate::stdlib::ParamType;
use crate::types::Type;
use std::collections::BTreeSet;

impl Checker<'_> {
    pub(super) fn single_string(&mut self, file: FileId, c: &Call) -> Option<String> {
        match c.args.as_slice() {
            [a] if a.name.is_none() => match &a.value.kind {
                ExprKind::Str { value } => Some(value.clone()),
                _ => {
                    self.mismatch(file, &a.value, format!("`{}` takes a string", c.func.name), "not a string");
                    None
                }
            },
            _ => {
                let example = if c.func.name == "onnx" {
                    "onnx(\"models/churn.onnx\")"
                } else {
                    "command(\"python train.py --train {train} --out {model}\")"
                };
                self.err(
                    Code::E0017,
                    file,
                    c.span,
                    format!("`{}` takes one string", c.func.name),
                    "wrong arguments",
                    format!("e.g. `{example}`"),
                );
                None
            }
        }
    }

    /// `command("LINE", env = ["VAR", …])`: the command line, and the environment variables
    /// passed to it beside the few every command gets (`PATH`, `HOME`, locale, `TMPDIR`).
    pub(super) fn command(&mut self, file: FileId, c: &Call) -> Option<Trainer> {
        let mut env = Vec::new();
        let mut env_span: Option<Span> = None;
        for (n, a) in c.args.iter().filter_map(|a| a.name.as_ref().map(|n| (n, a))) {
            if n.name != "env" {
                self.unknown(file, n.span, "option of `command`", &n.name, ["env"]);
                continue;
            }
            if let Some(first) = env_span {
                self.diags.push(
                    Diagnostic::new(Code::E0003, file, n.span, "`env` is given twice")
                        .label("again")
                        .secondary(file, first, "first given here")
                        .help("list every variable in one `env = [...]`"),
                );
                continue;
            }
            env_span = Some(n.span);
            if let Some(names) = self.env_names(file, &a.value) {
                env = names;
            }
        }
        let line = c.args.iter().filter(|a| a.name.is_none()).cloned().collect();
        let call = Call { args: line, ..c.clone() };
        self.single_string(file, &call).map(|command| Trainer::Command { command, env })
    }

    /// The variable names of `env = [...]`: string literals that are environment variable
    /// names, each once, never the admin token.
    fn env_names(&mut self, file: FileId, e: &Expr) -> Option<Vec<String>> {
        let ExprKind::List { items } = &e.kind else {
            self.mismatch(file, e, "`env` takes a list of variable names".into(), "not a list");
            return None;
        };
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let ExprKind::Str { value } = &item.kind else {
                self.mismatch(file, item, "`env` lists variable names as strings".into(), "not a string");
                continue;
            };
            let valid = value.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
                && value.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !valid {
                self.err(
                    Code::E0019,
                    file,
                    item.span,
                    format!("`{value}` is not an environment variable name"),
                    "not a name",
                    "a name is letters, digits and `_`, not starting with a digit: `env = [\"AWS_PROFILE\"]`",
                );
            } else if value == "MLPC_ADMIN_TOKEN" {
                self.err(
                    Code::E0019,
                    file,
                    item.span,
                    "`MLPC_ADMIN_TOKEN` is never passed to a command",
                    "refused",
                    "the admin token guards the daemon's admin API; a training command has no use for it",
                );
            } else if names.contains(value) {
                self.err(
                    Code::E0003,
                    file,
                    item.span,
                    format!("`{value}` is listed twice"),
                    "again",
                    "list each variable once",
                );
            } else {
                names.push(value.clone());
            }
        }
        Some(names)
    }

    pub(super) fn placeholders(&mut self, file: FileId, e: &Expr, command: &str, has_train: bool) {
        let mut rest = command;
        let mut seen = BTreeSet::new();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else { break };
            let word = &rest[open + 1..open + close];
            if !["train", "model"].contains(&word) {
                self.err(Code::E0019, file, e.span, format!("unknown placeholder `{{{word}}}`"), "not substituted", "placeholders are `{train}` (the training split, as Parquet) and `{model}` (where to write the ONNX file)");
            }
            seen.insert(word.to_string());
            rest = &rest[open + close + 1..];
        }
        if !seen.contains("model") {
            self.err(
                Code::E0019,
                file,
                e.span,
                "the command never learns where to write the model",
                "no `{model}`",
                "add `{model}` where the command takes its output path",
            );
        }
        if seen.contains("train") && !has_train {
            self.err(
                Code::E0016,
                file,
                e.span,
                "`{train}` needs a `train` key",
                "nothing to substitute",
                "add `train = DATASET.SPLIT` to the block",
            );
        }
    }

    pub(super) fn algorithm(&mut self, file: FileId, c: &Call) -> Option<Trainer> {
        let Some(entry) = self.std.lookup(StdKind::Algorithm, &c.func.name) else {
            let mut names: Vec<&str> = self.std.names(StdKind::Algorithm).collect();
            names.extend(["onnx", "command"]);
            self.unknown(file, c.func.span, "algorithm", &c.func.name, names);
            return None;
        };
        self.a.references.push(Reference {
            file,
            span: c.func.span,
            target: Target::Std { kind: StdKind::Algorithm, name: c.func.name.clone() },
        });
        let mut params = serde_json::Map::new();
        for p in &entry.params {
            if let Some(d) = &p.default {
                params.insert(p.name.clone(), serde_json::from_str(d).unwrap_or(serde_json::json!(d)));
            }
        }
        for a in &c.args {
            let Some(n) = &a.name else {
                self.err(
                    Code::E0017,
                    file,
                    a.value.span,
                    "algorithm parameters are named",
                    "unnamed parameter",
                    format!("signature: {}", entry.signature()),
                );
                continue;
            };
            let Some(p) = entry.param(&n.name) else {
                let names: Vec<&str> = entry.params.iter().map(|p| p.name.as_str()).collect();
                self.unknown(file, n.span, &format!("parameter of `{}`", entry.name), &n.name, names);
                continue;
            };
            let value = match (&a.value.kind, p.ty, a.value.number()) {
                (_, ParamType::Exact(Type::Int), Some((value, true))) => Some(serde_json::json!(value as i64)),
                (_, ParamType::Exact(Type::Float), Some((value, _))) => Some(serde_json::json!(value)),
                (ExprKind::Bool { value }, ParamType::Exact(Type::Bool), _) => Some(serde_json::json!(value)),
                (ExprKind::Str { value }, ParamType::Exact(Type::String), _) => Some(serde_json::json!(value)),
                (ExprKind::List { items }, ParamType::Exact(Type::List), _) => {
                    let ints: Option<Vec<i64>> = items
                        .iter()
                        .map(|i| match &i.kind {
                            ExprKind::Number { value, integer: true, .. } => Some(*value as i64),
                            _ => None,
                        })
                        .collect();
                    if ints.is_none() {
                        self.mismatch(
                            file,
                            &a.value,
                            format!("`{}` takes a list of whole numbers", n.name),
                            "not all whole numbers",
                        );
                    }
                    ints.map(|v| serde_json::json!(v))
                }
                _ => {
                    self.mismatch(
                        file,
                        &a.value,
                        format!("`{}` takes a `{}`", n.name, p.ty.name()),
                        "wrong kind of value",
                    );
                    None
                }
            };
            if let Some(v) = value {
                self.in_range(file, &entry.name, p, &a.value, &v);
                params.insert(n.name.clone(), v);
            }
        }
        Some(Trainer::Algorithm { algorithm: entry.name.clone(), params })
    }

    /// A parameter's value (each item of a list) against the range its stdlib
    /// declaration gives with `expect NAME …` (E0022).
    fn in_range(&mut self, file: FileId, algorithm: &str, p: &crate::stdlib::Param, e: &Expr, v: &serde_json::Value) {
        if p.range.is_empty() {
            return;
        }
        let values: Vec<(f64, Span)> = match (v, &e.kind) {
            (serde_json::Value::Array(vs), ExprKind::List { items }) => {
                vs.iter().zip(items).filter_map(|(v, i)| Some((v.as_f64()?, i.span))).collect()
            }
            _ => v.as_f64().map(|x| (x, e.span)).into_iter().collect(),
        };
        let list = matches!(v, serde_json::Value::Array(_));
        for (x, span) in values {
            if p.range.contains(x) {
                continue;
            }
            let what = if list { format!("each item of `{}`", p.name) } else { format!("`{}`", p.name) };
            let example = p.default.as_deref().unwrap_or("the default");
            self.err(
                Code::E0022,
                file,
                span,
                format!("{what} must be {}, not {x}", p.range.describe()),
                format!("must be {}", p.range.describe()),
                format!(
                    "`{algorithm}` declares `{}` {} (stdlib/algorithms.mlp); its default is {example}",
                    p.name,
                    p.range.describe()
                ),
            );
            break;
        }
    }
}
