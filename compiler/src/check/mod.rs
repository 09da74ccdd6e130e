//! Name resolution and type checking. Runs on every parsed file of a program, broken or
//! not, and fills an [`Analysis`] that the plan is lowered from.

mod analysis;
mod decls;
mod expr;

pub use analysis::*;

use crate::ast::{Body, Expr, ExprKind, Ident, Item, ItemKind, StmtKind};
use crate::diagnostic::{suggest, Code, Diagnostic};
use crate::files::Module;
use crate::source::{FileId, Sources, Span};
use crate::stdlib::Stdlib;
use std::collections::{HashMap, HashSet};

/// Checks every module and returns what was learned, with the diagnostics.
pub fn check(sources: &Sources, modules: &[Module]) -> (Analysis, Vec<Diagnostic>) {
    let mut c = Checker {
        sources,
        std: Stdlib::get(),
        diags: Vec::new(),
        names: HashMap::new(),
        registered: HashMap::new(),
        broken: HashSet::new(),
        duplicates: HashSet::new(),
        used: HashSet::new(),
        poisoned: HashSet::new(),
        quiet_missing: false,
        index: Index::default(),
        a: Analysis::default(),
    };
    let items: Vec<(FileId, &Item)> =
        modules.iter().flat_map(|m| m.ast.items.iter().map(move |i| (m.file, i))).collect();
    c.declare(&items);
    // Each kind is checked once what it looks up is known: sources before what reads them,
    // feature types before feature expressions, evaluations before the promotion rules
    // that need their metrics, and so on.
    let broken: Vec<bool> = items.iter().map(|(_, i)| broken_body(i.kind.body())).collect();
    let mut phases: Vec<Vec<usize>> = vec![Vec::new(); PHASES];
    for (i, (_, item)) in items.iter().enumerate() {
        for &p in phases_of(&item.kind) {
            phases[p].push(i);
        }
    }
    for (p, members) in phases.iter().enumerate() {
        match p {
            1 => c.references(),
            3 => {
                c.feature_cycles();
                if !c.diags.iter().any(|d| d.code == Code::E0014) {
                    c.view_cycles();
                }
            }
            _ => {}
        }
        for &i in members {
            let (file, item) = items[i];
            c.quiet_missing = broken[i];
            c.visit(p, file, item);
        }
    }
    // What is used is only known once every use resolved: no unused warnings on top of errors.
    if !c.diags.iter().any(Diagnostic::is_error) {
        c.unused(&items);
    }
    (c.a, c.diags)
}

const PHASES: usize = 9;

/// The checking phases a declaration takes part in (see `check`).
fn phases_of(kind: &ItemKind) -> &'static [usize] {
    match kind {
        ItemKind::Source { .. } => &[0],
        ItemKind::Features { .. } => &[1, 2],
        ItemKind::Check { .. } | ItemKind::Pipeline { .. } | ItemKind::Stdlib { .. } => &[2],
        ItemKind::Dataset { .. } => &[3],
        ItemKind::Model { .. } => &[4],
        ItemKind::Evaluate { .. } => &[5],
        ItemKind::Register { .. } => &[6],
        ItemKind::Serve { .. } | ItemKind::Score { .. } => &[7],
        ItemKind::Monitor { .. } => &[8],
        ItemKind::Import { .. } | ItemKind::Error { .. } => &[],
    }
}

/// Whether a block, or a block inside it, holds a statement that did not parse.
fn broken_body(body: Option<&Body>) -> bool {
    body.is_some_and(|b| {
        b.stmts.iter().any(|s| match &s.kind {
            StmtKind::Error { .. } => true,
            StmtKind::Block { body, .. } => broken_body(Some(body)),
            _ => false,
        })
    })
}

trait SpanExt {
    fn start_end(&self, len: usize) -> Span;
}
impl SpanExt for Span {
    /// The first `len` bytes of the span.
    fn start_end(&self, len: usize) -> Span {
        Span::new(self.start, (self.start + len).min(self.end))
    }
}

/// How a declaration kind reads in a sentence.
pub(crate) fn a_kind(kind: &str) -> &'static str {
    match kind {
        "source" => "a source",
        "features" => "a feature view",
        "dataset" => "a dataset",
        "model" => "a model",
        "monitor" => "a monitor",
        "score" => "a score job",
        "pipeline" => "the pipeline",
        _ => "a declaration",
    }
}

/// The `key = value` keys each block takes (the editor completes from this too).
pub fn block_keys(block: &str) -> &'static [&'static str] {
    match block {
        "pipeline" => &["owner", "schedule"],
        "check" => &["on_fail"],
        "features" => &["ttl"],
        "dataset" => &["label", "split"],
        "model" => &["train", "inputs", "device", "cv", "schema"],
        "evaluate" => &["metrics"],
        "serve" => &["stage", "features", "shadow", "fallback"],
        "canary" => &["steps", "interval", "min_requests"],
        "monitor" => &["every", "window", "reference"],
        "score" => &["stage", "input", "output"],
        _ => &[],
    }
}

pub(crate) struct Checker<'a> {
    sources: &'a Sources,
    std: &'static Stdlib,
    diags: Vec<Diagnostic>,
    /// Top-level names: name → (kind, file, span).
    names: HashMap<String, (&'static str, FileId, Span)>,
    /// Registered model names → (model, file, span).
    registered: HashMap<String, (String, FileId, Span)>,
    /// Names whose declarations failed to parse: uses of them stay quiet.
    broken: HashSet<String>,
    /// (kind, name) of declarations refused as duplicates (E0003): a use of the name as
    /// that kind stays quiet instead of calling it unknown or of the wrong kind.
    duplicates: HashSet<(&'static str, String)>,
    /// (kind, name) of every declaration something uses.
    used: HashSet<(&'static str, String)>,
    /// Declarations with errors of their own: what follows from their gaps stays quiet.
    poisoned: HashSet<String>,
    /// Set while checking a block that holds a syntax error: a key may be missing only
    /// because its line did not parse.
    quiet_missing: bool,
    /// Positions in `a` by name, so lookups stay constant-time in large programs.
    index: Index,
    a: Analysis,
}

/// Where each declaration sits in the `Analysis` vectors (the first one, for duplicates).
#[derive(Default)]
struct Index {
    sources: HashMap<String, usize>,
    views: HashMap<String, usize>,
    datasets: HashMap<String, usize>,
    models: HashMap<String, usize>,
    evaluations: HashMap<String, Vec<usize>>,
    serves: HashMap<String, usize>,
}

/// Appends `item`, indexing the first one of each name.
fn indexed_push<T>(index: &mut HashMap<String, usize>, items: &mut Vec<T>, name: String, item: T) {
    index.entry(name).or_insert(items.len());
    items.push(item);
}

/// The keys of a block, after unknown and repeated keys were reported.
pub(crate) struct Keys<'b> {
    pub map: HashMap<&'b str, &'b Expr>,
    pub spans: HashMap<&'b str, Span>,
}

impl<'b> Keys<'b> {
    pub fn get(&self, key: &str) -> Option<&'b Expr> {
        self.map.get(key).copied()
    }
}

impl<'a> Checker<'a> {
    /// One declaration in one phase.
    fn visit(&mut self, phase: usize, file: FileId, item: &Item) {
        match (phase, &item.kind) {
            (_, ItemKind::Source { name, reader, body }) => self.source(file, item, name, reader, body),
            (1, ItemKind::Features { name, entity, body }) => self.features_head(file, item, name, entity, body),
            (_, ItemKind::Features { name, body, .. }) => self.features_body(file, name, body),
            (_, ItemKind::Check { target, body }) => self.check_block(file, item, target, body),
            (_, ItemKind::Pipeline { name, body }) => self.pipeline(file, item, name, body.as_ref()),
            (_, ItemKind::Stdlib { std, .. }) => self.diags.push(
                Diagnostic::new(
                    Code::E0021,
                    file,
                    item.span.start_end(std.keyword().len()),
                    format!("`{}` declarations belong to the standard library", std.keyword()),
                )
                .label("only `stdlib/` may declare this")
                .help("use the built-in items by name; to add one, change `stdlib/` in mlpc itself"),
            ),
            (_, ItemKind::Dataset { name, base, views, body }) => {
                self.dataset(file, item, name, base, views, body.as_ref())
            }
            (_, ItemKind::Model { name, algorithm, body }) => self.model(file, item, name, algorithm, body.as_ref()),
            (_, ItemKind::Evaluate { model, data, body }) => self.evaluate(file, item, model, data, body.as_ref()),
            (_, ItemKind::Register { model, registered, body }) => {
                self.register(file, item, model, registered, body.as_ref())
            }
            (_, ItemKind::Serve { registered, body }) => self.serve(file, item, registered, body.as_ref()),
            (_, ItemKind::Monitor { name, registered, body }) => {
                self.monitor(file, item, name, registered, body.as_ref())
            }
            (_, ItemKind::Score { name, registered, body }) => self.score(file, item, name, registered, body.as_ref()),
            (_, ItemKind::Import { .. } | ItemKind::Error { .. }) => {}
        }
    }

    fn source_info(&self, name: &str) -> Option<&SourceInfo> {
        self.index.sources.get(name).map(|i| &self.a.sources[*i])
    }
    fn view_info(&self, name: &str) -> Option<&ViewInfo> {
        self.index.views.get(name).map(|i| &self.a.views[*i])
    }
    fn dataset_info(&self, name: &str) -> Option<&DatasetInfo> {
        self.index.datasets.get(name).map(|i| &self.a.datasets[*i])
    }
    fn model_info(&self, name: &str) -> Option<&ModelInfo> {
        self.index.models.get(name).map(|i| &self.a.models[*i])
    }
    fn serve_info(&self, registered: &str) -> Option<&ServeInfo> {
        self.index.serves.get(registered).map(|i| &self.a.serves[*i])
    }
    fn evaluations_of(&self, model: &str) -> impl Iterator<Item = &EvalInfo> {
        self.index.evaluations.get(model).into_iter().flatten().map(|i| &self.a.evaluations[*i])
    }

    fn push_source(&mut self, s: SourceInfo) {
        indexed_push(&mut self.index.sources, &mut self.a.sources, s.name.clone(), s);
    }
    fn push_view(&mut self, v: ViewInfo) {
        indexed_push(&mut self.index.views, &mut self.a.views, v.name.clone(), v);
    }
    fn push_dataset(&mut self, d: DatasetInfo) {
        indexed_push(&mut self.index.datasets, &mut self.a.datasets, d.name.clone(), d);
    }
    fn push_model(&mut self, m: ModelInfo) {
        indexed_push(&mut self.index.models, &mut self.a.models, m.name.clone(), m);
    }
    fn push_evaluation(&mut self, e: EvalInfo) {
        self.index.evaluations.entry(e.model.clone()).or_default().push(self.a.evaluations.len());
        self.a.evaluations.push(e);
    }
    fn push_serve(&mut self, s: ServeInfo) {
        indexed_push(&mut self.index.serves, &mut self.a.serves, s.registered.clone(), s);
    }

    fn text(&self, file: FileId, span: Span) -> &str {
        self.sources.get(file).text.get(span.start..span.end).unwrap_or("")
    }

    fn declare(&mut self, items: &[(FileId, &Item)]) {
        for (file, item) in items {
            let declared = item.kind.declared_name();
            let (kind, name) = match (&item.kind, declared) {
                (_, Some(found)) => found,
                (ItemKind::Register { model, registered, .. }, None) => {
                    if let Some((_, f, s)) = self.registered.get(&registered.value) {
                        let (f, s) = (*f, *s);
                        self.diags.push(
                            Diagnostic::new(
                                Code::E0003,
                                *file,
                                registered.span,
                                format!("`{}` is registered twice", registered.value),
                            )
                            .label("registered again here")
                            .secondary(f, s, "first registered here")
                            .help("each registered name belongs to one model; pick another name"),
                        );
                    } else {
                        self.registered.insert(registered.value.clone(), (model.name.clone(), *file, registered.span));
                    }
                    continue;
                }
                (ItemKind::Error { text }, None) => {
                    let mut words = text.split_whitespace();
                    if let (Some(_kw), Some(name)) = (words.next(), words.next()) {
                        let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        self.broken.insert(name);
                    }
                    continue;
                }
                _ => continue,
            };
            if kind == "pipeline" {
                if let Some(p) = self.names.values().find(|(k, _, _)| *k == "pipeline") {
                    let (f, s) = (p.1, p.2);
                    self.diags.push(
                        Diagnostic::new(Code::E0003, *file, name.span, "a program has one `pipeline` block")
                            .label("second pipeline")
                            .secondary(f, s, "first pipeline")
                            .help("merge the two blocks"),
                    );
                    continue;
                }
            }
            if let Some((prev_kind, f, s)) = self.names.get(&name.name) {
                let (prev_kind, f, s) = (*prev_kind, *f, *s);
                self.duplicates.insert((kind, name.name.clone()));
                self.diags.push(
                    Diagnostic::new(Code::E0003, *file, name.span, format!("`{}` is declared twice", name.name))
                        .label(format!("this {kind} reuses the name"))
                        .secondary(f, s, format!("first declared here as a {prev_kind}"))
                        .help("sources, feature views, datasets, models, monitors and score jobs share one namespace; rename one"),
                );
                continue;
            }
            self.names.insert(name.name.clone(), (kind, *file, name.span));
        }
    }

    /// Resolves a top-level name of the given kind, reporting it when unknown.
    fn lookup(&mut self, file: FileId, id: &Ident, kind: &'static str) -> bool {
        match self.names.get(&id.name) {
            Some((k, _, _)) if *k == kind => {
                self.used.insert((kind, id.name.clone()));
                self.a.references.push(Reference {
                    file,
                    span: id.span,
                    target: Target::Decl { kind, name: id.name.clone() },
                });
                true
            }
            // The `kind` declaration of this name was refused as a duplicate (E0003): that
            // error says it all.
            Some(_) if self.duplicates.contains(&(kind, id.name.clone())) => false,
            Some((k, f, s)) => {
                let (k, f, s) = (*k, *f, *s);
                self.diags.push(
                    Diagnostic::new(
                        Code::E0002,
                        file,
                        id.span,
                        format!("`{}` is {}, not {}", id.name, a_kind(k), a_kind(kind)),
                    )
                    .label(format!("expected {}", a_kind(kind)))
                    .secondary(f, s, format!("`{}` is declared here", id.name))
                    .help(format!("name a {kind} here")),
                );
                false
            }
            None => {
                let candidates: Vec<String> =
                    self.names.iter().filter(|(_, v)| v.0 == kind).map(|(n, _)| n.clone()).collect();
                self.unknown(file, id.span, kind, &id.name, candidates.iter().map(String::as_str));
                false
            }
        }
    }

    /// Reports an unknown name, with "did you mean" when something is close.
    fn unknown<'c>(
        &mut self,
        file: FileId,
        span: Span,
        what: &str,
        name: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) {
        if self.broken.contains(name) {
            return;
        }
        let mut all: Vec<&str> = candidates.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        let message = if what.contains(" of ") {
            format!("`{name}` is not {article} {what}")
        } else {
            format!("unknown {what} `{name}`")
        };
        let mut d = Diagnostic::new(Code::E0002, file, span, message).label("not declared");
        d = match suggest(name, all.iter().copied()) {
            Some(best) => d.help(format!("did you mean `{best}`?")).fix(format!("replace with `{best}`"), span, best),
            None if all.is_empty() => d.help(format!("declare the {what} first")),
            None => {
                let shown: Vec<String> = all.iter().take(8).map(|c| format!("`{c}`")).collect();
                let more = if all.len() > 8 { ", …" } else { "" };
                d.help(format!("known: {}{more}", shown.join(", ")))
            }
        };
        self.diags.push(d);
    }

    fn err(
        &mut self,
        code: Code,
        file: FileId,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diags.push(Diagnostic::new(code, file, span, message).label(label).help(help));
    }

    /// Collects `key = value` statements; unknown and repeated keys are reported, other
    /// statements are handed to `other`.
    fn keys<'b>(
        &mut self,
        file: FileId,
        body: Option<&'b Body>,
        block: &str,
        allowed: &[&str],
        mut other: impl FnMut(&mut Self, &'b crate::ast::Stmt),
    ) -> Keys<'b> {
        let mut keys = Keys { map: HashMap::new(), spans: HashMap::new() };
        for stmt in body.iter().flat_map(|b| &b.stmts) {
            match &stmt.kind {
                StmtKind::Assign { name, value } => {
                    if !allowed.contains(&name.name.as_str()) {
                        let mut d = Diagnostic::new(
                            Code::E0015,
                            file,
                            name.span,
                            format!("`{}` is not a key of {block}", name.name),
                        )
                        .label("unknown key");
                        d = match suggest(&name.name, allowed.iter().copied()) {
                            Some(best) => d.help(format!("did you mean `{best}`?")).fix(
                                format!("replace with `{best}`"),
                                name.span,
                                best,
                            ),
                            None => d.help(format!("{block} takes: {}", allowed.join(", "))),
                        };
                        self.diags.push(d);
                        continue;
                    }
                    if let Some(prev) = keys.spans.get(name.name.as_str()) {
                        let prev = *prev;
                        self.diags.push(
                            Diagnostic::new(Code::E0003, file, name.span, format!("`{}` is set twice", name.name))
                                .label("set again here")
                                .secondary(file, prev, "first set here")
                                .help("keep one of the two"),
                        );
                        continue;
                    }
                    keys.map.insert(name.name.as_str(), value);
                    keys.spans.insert(name.name.as_str(), name.span);
                }
                StmtKind::Error { .. } => {}
                _ => other(self, stmt),
            }
        }
        keys
    }

    /// Reports a statement that has no place in this block.
    fn misplaced(&mut self, file: FileId, stmt: &crate::ast::Stmt, block: &str, takes: &str) {
        let what = match &stmt.kind {
            StmtKind::Typed { .. } => "a typed declaration",
            StmtKind::Assign { .. } => "a key",
            StmtKind::Expect { .. } => "an `expect`",
            StmtKind::Slice { .. } => "a `slice by`",
            StmtKind::Promote { .. } => "a `promote` rule",
            StmtKind::Rollback { .. } => "a `rollback` rule",
            StmtKind::Alert { .. } => "an `alert`",
            StmtKind::Block { .. } => "a nested block",
            StmtKind::Error { .. } => return,
        };
        let first_line = self.text(file, stmt.span).lines().next().unwrap_or("").len();
        self.err(
            Code::E0015,
            file,
            stmt.span.start_end(first_line),
            format!("{what} does not belong in {block}"),
            "not allowed here",
            format!("{block} holds {takes}"),
        );
    }

    fn missing(&mut self, file: FileId, span: Span, block: &str, key: &str, example: &str) {
        if self.quiet_missing {
            return;
        }
        self.err(
            Code::E0016,
            file,
            span,
            format!("{block} needs `{key}`"),
            format!("`{key}` is missing"),
            format!("add `{example}` inside the block"),
        );
    }

    /// A word-valued key (`device = auto`), checked against its options.
    fn word(&mut self, file: FileId, e: &Expr, key: &str, options: &[&str]) -> Option<String> {
        let word = match &e.kind {
            ExprKind::Path(p) if p.parts.len() == 1 => p.parts[0].name.clone(),
            _ => {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    format!("`{key}` takes one of: {}", options.join(", ")),
                    "not a plain word",
                    format!("write e.g. `{key} = {}`", options[0]),
                );
                return None;
            }
        };
        if options.contains(&word.as_str()) {
            return Some(word);
        }
        let mut d = Diagnostic::new(Code::E0019, file, e.span, format!("`{word}` is not a valid `{key}`"))
            .label("not an option");
        d = match suggest(&word, options.iter().copied()) {
            Some(best) => d.help(format!("did you mean `{best}`?")).fix(format!("replace with `{best}`"), e.span, best),
            None => d.help(format!("`{key}` takes one of: {}", options.join(", "))),
        };
        self.diags.push(d);
        None
    }

    fn string_value(&mut self, file: FileId, e: &Expr, key: &str) -> Option<String> {
        match &e.kind {
            ExprKind::Str { value } => Some(value.clone()),
            _ => {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    format!("`{key}` takes a string"),
                    "not a string",
                    format!("quote it: `{key} = \"…\"`"),
                );
                None
            }
        }
    }

    fn duration_value(&mut self, file: FileId, e: &Expr, key: &str) -> Option<u64> {
        match &e.kind {
            ExprKind::Duration(d) if d.millis() > 0 => Some(d.millis()),
            ExprKind::Duration(_) => {
                self.err(
                    Code::E0019,
                    file,
                    e.span,
                    format!("`{key}` must be longer than zero"),
                    "zero duration",
                    "use a positive duration such as `1h`",
                );
                None
            }
            _ => {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    format!("`{key}` takes a duration"),
                    "not a duration",
                    format!("write e.g. `{key} = 1h` (units: ms, s, m, h, d, w)"),
                );
                None
            }
        }
    }

    fn int_value(&mut self, file: FileId, e: &Expr, key: &str, min: i64) -> Option<i64> {
        match e.number() {
            Some((value, true)) if value >= min as f64 && value <= i64::MAX as f64 => Some(value as i64),
            Some((_, true)) => {
                self.err(
                    Code::E0019,
                    file,
                    e.span,
                    format!("`{key}` must be at least {min}"),
                    "out of range",
                    format!("use a whole number ≥ {min}"),
                );
                None
            }
            _ => {
                self.err(
                    Code::E0004,
                    file,
                    e.span,
                    format!("`{key}` takes a whole number"),
                    "not an integer",
                    format!("write e.g. `{key} = {}`", min.max(1)),
                );
                None
            }
        }
    }

    /// `dataset` or `dataset.split`, resolved.
    fn data_ref(&mut self, file: FileId, e: &Expr, key: &str) -> Option<DataRef> {
        let ExprKind::Path(p) = &e.kind else {
            self.err(
                Code::E0004,
                file,
                e.span,
                format!("`{key}` names a dataset or one of its splits"),
                "not a dataset",
                format!("write e.g. `{key} = {}`", self.example_dataset(Some(0))),
            );
            return None;
        };
        self.path_data_ref(file, p)
    }

    fn path_data_ref(&mut self, file: FileId, p: &crate::ast::Path) -> Option<DataRef> {
        if !self.lookup(file, &p.parts[0], "dataset") {
            return None;
        }
        let ds = p.parts[0].name.clone();
        let split = match p.parts.get(1) {
            None => None,
            Some(s) => {
                let info = self.dataset_info(&ds)?;
                if !info.has_split(&s.name) {
                    if self.poisoned.contains(&ds) {
                        return None;
                    }
                    if info.split.is_none() {
                        self.err(
                            Code::E0002,
                            file,
                            s.span,
                            format!("`{ds}` has no splits, so no `{}`", s.name),
                            "not a split",
                            format!("add `split = random(train = 80%, {} = 20%)` to dataset `{ds}`", s.name),
                        );
                        return None;
                    }
                    let names: Vec<String> =
                        info.split.iter().flat_map(|sp| sp.parts.iter().map(|(n, _)| n.clone())).collect();
                    self.unknown(file, s.span, &format!("split of `{ds}`"), &s.name, names.iter().map(String::as_str));
                    return None;
                }
                Some(s.name.clone())
            }
        };
        if p.parts.len() > 2 {
            self.too_many_parts(file, p, "`dataset` or `dataset.split`", "name a dataset or one of its splits");
            return None;
        }
        Some(DataRef { dataset: ds, split })
    }

    fn too_many_parts(&mut self, file: FileId, p: &crate::ast::Path, expected: &str, help: &str) {
        let message = format!("`{}` has too many parts", p.text());
        self.err(Code::E0002, file, p.span, message, format!("expected {expected}"), help);
    }

    fn unused(&mut self, items: &[(FileId, &Item)]) {
        for (file, item) in items {
            // Pipelines, monitors and score jobs are ends in themselves: nothing needs to use them.
            let Some((kind, name)) =
                item.kind.declared_name().filter(|(k, _)| !matches!(*k, "pipeline" | "monitor" | "score"))
            else {
                continue;
            };
            if self.names.get(&name.name).is_some_and(|(k, f, s)| *k == kind && *f == *file && *s == name.span)
                && !self.used.contains(&(kind, name.name.clone()))
            {
                let hint = match kind {
                    "source" => "check it, build features or a dataset from it, or remove it",
                    "features" => "add it to a dataset (`with`), or remove it",
                    "dataset" => "train, evaluate or monitor with it, or remove it",
                    _ => "evaluate or register it, or remove it",
                };
                self.diags.push(
                    Diagnostic::new(Code::W0001, *file, name.span, format!("{kind} `{}` is never used", name.name))
                        .label("declared here, used nowhere")
                        .help(hint),
                );
            }
        }
    }
}
