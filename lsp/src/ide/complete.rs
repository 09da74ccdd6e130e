//! Completion that knows where it is: declaration keywords at top level, keys and
//! statements inside a block, columns after `table.`, names in scope in expressions,
//! algorithms with parameter snippets, and only the metrics valid for the model's task.

use mlpc_compiler::ast::{ItemKind, StdKind, StmtKind};
use mlpc_compiler::check::block_keys;
use mlpc_compiler::stdlib::{Entry, Stdlib};
use mlpc_compiler::types::Task;
use mlpc_compiler::{Compilation, FileId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Keyword,
    Snippet,
    Column,
    Feature,
    Table,
    Function,
    Metric,
    Value,
    Type,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub label: String,
    pub kind: Kind,
    pub detail: Option<String>,
    pub doc: Option<String>,
    /// Text to insert; `$1`-style tab stops when `snippet`.
    pub insert: String,
    pub snippet: bool,
}

fn plain(label: &str, kind: Kind, detail: Option<String>) -> Item {
    Item { label: label.to_string(), kind, detail, doc: None, insert: label.to_string(), snippet: false }
}

fn snippet(label: &str, kind: Kind, insert: &str) -> Item {
    Item { label: label.to_string(), kind, detail: None, doc: None, insert: insert.to_string(), snippet: true }
}

const DECLARATIONS: &[(&str, &str)] = &[
    ("pipeline", "pipeline ${1:name} {\n  owner    = \"${2:team@example.com}\"\n  schedule = \"${3:0 2 * * *}\"\n}"),
    ("import", "import \"${1:file.mlp}\""),
    ("source", "source ${1:name} = csv(\"${2:data/file.csv}\") {\n  ${3:id}: int key\n}"),
    ("check", "check ${1:source} {\n  expect ${2:row_count() > 0}\n}"),
    ("features", "features ${1:name} on ${2:entity} {\n  ${3:feature}: ${4:float} = ${5:expression}\n}"),
    ("dataset", "dataset ${1:name} = ${2:entity} with ${3:features} {\n  label = ${4:label}\n  split = random(train = 80%, test = 20%, seed = 42)\n}"),
    ("model", "model ${1:name} = ${2:gradient_boosting}() {\n  train  = ${3:dataset}.train\n  inputs = ${4:features}\n}"),
    ("evaluate", "evaluate ${1:model} on ${2:dataset}.test {\n  metrics = [${3:auc}]\n}"),
    ("register", "register ${1:model} as \"${2:name}\" {\n  promote to staging when ${3:auc >= 0.8}\n}"),
    ("serve", "serve \"${1:name}\" {\n  stage = production\n}"),
    ("monitor", "monitor ${1:name} on \"${2:registered}\" {\n  every  = 1h\n  window = 24h\n  alert when drift_share() > 30%\n}"),
    ("score", "score ${1:name} on \"${2:registered}\" {\n  stage  = production\n  input  = ${3:source}\n  output = \"${4:scores.parquet}\"\n}"),
];

/// Statements (besides `key = value`) each block takes.
fn statements(block: &str) -> &'static [(&'static str, &'static str)] {
    match block {
        "check" => &[("expect", "expect ${1:condition}")],
        "evaluate" => &[("slice by", "slice by ${1:column}")],
        "register" => &[
            ("promote to staging", "promote to staging when ${1:condition}"),
            ("promote to production", "promote to production when ${1:condition}"),
        ],
        "serve" => &[("canary", "canary {\n  steps    = [10%, 50%, 100%]\n  interval = 30m\n  promote  when ${1:p99_latency < 50ms and error_rate < 1%}\n  rollback when ${2:error_rate > 2%}\n}")],
        "canary" => &[("promote when", "promote when ${1:condition}"), ("rollback when", "rollback when ${1:condition}")],
        "monitor" => &[("alert when", "alert when ${1:condition}")],
        _ => &[],
    }
}

fn values(key: &str) -> &'static [&'static str] {
    match key {
        "device" => &["auto", "cpu", "cuda"],
        "on_fail" => &["stop", "warn"],
        "stage" | "shadow" => &["staging", "production"],
        "fallback" => &["previous", "none"],
        _ => &[],
    }
}

fn std_item(e: &Entry, kind: Kind) -> Item {
    let args: Vec<String> = e
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| e.kind != StdKind::Algorithm || p.default.is_some())
        .map(|(i, p)| match (e.kind, &p.default) {
            (StdKind::Algorithm, Some(d)) => format!("{} = ${{{}:{}}}", p.name, i + 1, d),
            _ => format!("${{{}:{}}}", i + 1, p.name),
        })
        .collect();
    let insert = match e.kind {
        StdKind::Metric | StdKind::ServingMetric | StdKind::DriftTest => e.name.clone(),
        _ => format!("{}({})", e.name, args.join(", ")),
    };
    Item { label: e.name.clone(), kind, detail: Some(e.signature()), doc: e.doc.clone(), insert, snippet: true }
}

fn std_items(kind: StdKind, as_kind: Kind, task: Option<Task>) -> Vec<Item> {
    Stdlib::get()
        .entries()
        .filter(|e| e.kind == kind && (task.is_none() || e.tasks.is_empty() || task.is_some_and(|t| e.applies_to(t))))
        .map(|e| std_item(e, as_kind))
        .collect()
}

/// Completions at `offset` in `file`.
pub fn complete(c: &Compilation, file: FileId, offset: usize) -> Vec<Item> {
    let text = &c.sources.get(file).text;
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = &text[text[..offset].rfind('\n').map_or(0, |n| n + 1)..offset];
    let word_start = line.trim_end_matches(|ch: char| ch.is_ascii_alphanumeric() || ch == '_').len();
    let before = &line[..word_start];
    if let Some(owner) = before.strip_suffix('.').map(|b| {
        let start = b.trim_end_matches(|ch: char| ch.is_ascii_alphanumeric() || ch == '_').len();
        &b[start..]
    }) {
        return members(c, owner);
    }
    let Some(module) = c.modules.iter().find(|m| m.file == file) else { return Vec::new() };
    let item = module.ast.items.iter().find(|i| i.span.start < offset && offset <= i.span.end);
    let Some(item) = item else {
        return DECLARATIONS.iter().map(|(l, s)| snippet(l, Kind::Keyword, s)).collect();
    };
    let block = match &item.kind {
        ItemKind::Error { text } => text.split_whitespace().next().unwrap_or(""),
        k => k.keyword(),
    };
    let in_body = text[item.span.start..offset].contains('{');
    if !in_body {
        return header(c, block, before);
    }
    let in_canary = item.kind.body().is_some_and(|b| {
        b.stmts.iter().any(|s| matches!(&s.kind, StmtKind::Block { name, body } if name.name == "canary" && body.span.start < offset && offset < body.span.end))
    });
    let block = if in_canary { "canary" } else { block };
    let trimmed = before.trim();
    if trimmed.is_empty() {
        let mut out: Vec<Item> =
            block_keys(block).iter().map(|k| snippet(k, Kind::Keyword, &format!("{k} = ${{1}}"))).collect();
        out.extend(statements(block).iter().map(|(l, s)| snippet(l, Kind::Keyword, s)));
        if block == "features" {
            out.push(snippet("feature", Kind::Snippet, "${1:name}: ${2:float} = ${3:expression}"));
        }
        return out;
    }
    if (block == "source" || block == "features") && trimmed.ends_with(':') {
        return mlpc_compiler::types::Type::COLUMN_TYPES.iter().map(|t| plain(t.name(), Kind::Type, None)).collect();
    }
    if let Some((key, _)) = trimmed.split_once('=').filter(|(k, _)| !k.trim().contains(' ')) {
        return key_value(c, item, block, key.trim(), before);
    }
    expression(c, item, block, before)
}

/// Completions in a declaration's header: after `model x =`, the algorithms.
fn header(c: &Compilation, block: &str, before: &str) -> Vec<Item> {
    let a = &c.analysis;
    match block {
        "model" if before.contains('=') => {
            let mut out = std_items(StdKind::Algorithm, Kind::Function, None);
            out.push(snippet("onnx", Kind::Function, "onnx(\"${1:models/model.onnx}\")"));
            out.push(snippet(
                "command",
                Kind::Function,
                "command(\"${1:python3 train.py --train {train} --out {model}}\")",
            ));
            out
        }
        "source" if before.contains('=') => std_items(StdKind::Reader, Kind::Function, None),
        "evaluate" | "register" if before.trim() == block => {
            a.models.iter().map(|m| plain(&m.name, Kind::Table, Some("model".into()))).collect()
        }
        "check" | "features" | "dataset" => {
            a.sources.iter().map(|s| plain(&s.name, Kind::Table, Some("source".into()))).collect()
        }
        _ => Vec::new(),
    }
}

fn dataset_of<'a>(
    c: &'a Compilation,
    item: &mlpc_compiler::ast::Item,
) -> Option<&'a mlpc_compiler::check::DatasetInfo> {
    let name = match &item.kind {
        ItemKind::Dataset { name, .. } => name.name.clone(),
        ItemKind::Model { name, .. } => c.analysis.models.iter().find(|m| m.name == name.name)?.dataset.clone()?,
        ItemKind::Evaluate { data, .. } => data.parts[0].name.clone(),
        _ => return None,
    };
    c.analysis.datasets.iter().find(|d| d.name == name)
}

fn task_of(c: &Compilation, item: &mlpc_compiler::ast::Item) -> Option<Task> {
    let model = match &item.kind {
        ItemKind::Evaluate { model, .. } | ItemKind::Register { model, .. } | ItemKind::Model { name: model, .. } => {
            model.name.clone()
        }
        ItemKind::Monitor { registered, .. } | ItemKind::Serve { registered, .. } => {
            c.analysis.registrations.iter().find(|r| r.registered == registered.value)?.model.clone()
        }
        _ => return None,
    };
    c.analysis.models.iter().find(|m| m.name == model)?.task
}

fn key_value(c: &Compilation, item: &mlpc_compiler::ast::Item, block: &str, key: &str, before: &str) -> Vec<Item> {
    let a = &c.analysis;
    let words = values(key);
    if !words.is_empty() {
        return words.iter().map(|w| item_value(w)).collect();
    }
    match (block, key) {
        ("evaluate", "metrics") => std_items(StdKind::Metric, Kind::Metric, task_of(c, item)),
        ("model", "train") | ("monitor", "reference") => a
            .datasets
            .iter()
            .flat_map(|d| d.split.iter().flat_map(move |s| s.parts.iter().map(move |(p, _)| format!("{}.{p}", d.name))))
            .map(|p| plain(&p, Kind::Table, Some("split".into())))
            .collect(),
        ("model", "schema") => a.datasets.iter().map(|d| plain(&d.name, Kind::Table, Some("dataset".into()))).collect(),
        ("model", "inputs") | ("dataset", "label") => {
            let Some(d) = dataset_of(c, item) else { return Vec::new() };
            let mut out: Vec<Item> = if key == "inputs" {
                d.views.iter().map(|v| plain(v, Kind::Table, Some("feature view".into()))).collect()
            } else {
                Vec::new()
            };
            out.extend(d.columns.iter().map(|col| plain(&col.name, Kind::Column, Some(col.ty.name().into()))));
            out
        }
        ("serve", "features") => {
            a.views.iter().map(|v| plain(&v.name, Kind::Table, Some("feature view".into()))).collect()
        }
        ("dataset", "split") => std_items(StdKind::Splitter, Kind::Function, None),
        _ => expression(c, item, block, before),
    }
}

fn item_value(word: &str) -> Item {
    plain(word, Kind::Value, None)
}

/// Names that mean something in an expression of this block.
fn expression(c: &Compilation, item: &mlpc_compiler::ast::Item, block: &str, before: &str) -> Vec<Item> {
    let a = &c.analysis;
    let task = task_of(c, item);
    let mut out = Vec::new();
    let columns = |table: &str, out: &mut Vec<Item>| {
        if let Some(s) = a.sources.iter().find(|s| s.name == table) {
            out.extend(s.columns.iter().map(|col| plain(&col.name, Kind::Column, Some(col.ty.name().into()))));
        }
    };
    match (&item.kind, block) {
        (ItemKind::Check { target, .. }, _) => {
            columns(&target.name, &mut out);
            out.extend(std_items(StdKind::Expectation, Kind::Function, None));
            out.extend(std_items(StdKind::Aggregation, Kind::Function, None));
            out.extend(
                std_items(StdKind::Function, Kind::Function, None).into_iter().filter(|i| !is_monitor_only(&i.label)),
            );
        }
        (ItemKind::Features { name, entity, .. }, _) => {
            columns(&entity.name, &mut out);
            if let Some(v) = a.views.iter().find(|v| v.name == name.name) {
                out.extend(v.features.iter().map(|f| plain(&f.name, Kind::Feature, Some(f.ty.name().into()))));
            }
            out.extend(
                a.sources
                    .iter()
                    .filter(|s| s.name != entity.name)
                    .map(|s| plain(&s.name, Kind::Table, Some("table".into()))),
            );
            out.extend(std_items(StdKind::Aggregation, Kind::Function, None));
            out.extend(
                std_items(StdKind::Function, Kind::Function, None).into_iter().filter(|i| !is_monitor_only(&i.label)),
            );
        }
        (ItemKind::Register { .. }, _) => {
            out.extend(std_items(StdKind::Metric, Kind::Metric, task));
            out.extend(["approved", "production", "staging"].iter().map(|w| item_value(w)));
        }
        (_, "canary") => out.extend(std_items(StdKind::ServingMetric, Kind::Metric, None)),
        (ItemKind::Monitor { .. }, _) => {
            let call = before.rfind("drift(").filter(|at| !before[*at..].contains(')'));
            if let Some(at) = call {
                if before[at..].contains(',') {
                    return std_items(StdKind::DriftTest, Kind::Value, None);
                }
                let model = task_model(c, item);
                return model
                    .map(|m| {
                        m.inputs.iter().map(|col| plain(&col.name, Kind::Column, Some(col.ty.name().into()))).collect()
                    })
                    .unwrap_or_default();
            }
            out.extend(std_items(StdKind::ServingMetric, Kind::Metric, None));
            out.extend(std_items(StdKind::Metric, Kind::Metric, task));
            out.extend(
                std_items(StdKind::Function, Kind::Function, None).into_iter().filter(|i| is_monitor_only(&i.label)),
            );
        }
        _ => {}
    }
    out
}

fn task_model<'a>(c: &'a Compilation, item: &mlpc_compiler::ast::Item) -> Option<&'a mlpc_compiler::check::ModelInfo> {
    let ItemKind::Monitor { registered, .. } = &item.kind else { return None };
    let model = &c.analysis.registrations.iter().find(|r| r.registered == registered.value)?.model;
    c.analysis.models.iter().find(|m| &m.name == model)
}

fn is_monitor_only(name: &str) -> bool {
    Stdlib::get().lookup(StdKind::Function, name).is_some_and(|e| e.usable_in.iter().any(|u| u == "monitor"))
}

/// After `owner.`: columns of a table, features of a view, splits of a dataset.
fn members(c: &Compilation, owner: &str) -> Vec<Item> {
    let a = &c.analysis;
    if let Some(s) = a.sources.iter().find(|s| s.name == owner) {
        return s.columns.iter().map(|col| plain(&col.name, Kind::Column, Some(col.ty.name().into()))).collect();
    }
    if let Some(v) = a.views.iter().find(|v| v.name == owner) {
        return v.features.iter().map(|f| plain(&f.name, Kind::Feature, Some(f.ty.name().into()))).collect();
    }
    if let Some(d) = a.datasets.iter().find(|d| d.name == owner) {
        return d
            .split
            .iter()
            .flat_map(|s| s.parts.iter().map(|(p, _)| plain(p, Kind::Table, Some("split".into()))))
            .collect();
    }
    if owner == "production" || owner == "staging" {
        return std_items(StdKind::Metric, Kind::Metric, None);
    }
    Vec::new()
}
