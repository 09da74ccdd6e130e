//! The driver: reads the root file and its imports through a [`FileSystem`], then
//! checks and lowers the whole program.

use crate::ast::ItemKind;
use crate::check;
use crate::diagnostic::{Code, Diagnostic};
use crate::files::{is_mlp_path, resolve, FileSystem, Module};
use crate::source::{FileId, Sources, Span};
use crate::syntax;
use mlpc_plan::Plan;

/// Everything known about one program: its files, trees, diagnostics and, when it
/// checked without errors, its plan.
#[derive(Debug)]
pub struct Compilation {
    pub sources: Sources,
    /// The root first, then imports in the order they were reached.
    pub modules: Vec<Module>,
    pub diagnostics: Vec<Diagnostic>,
    pub analysis: check::Analysis,
    pub plan: Option<Plan>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Compiles the program rooted at `path`: checks it and, when it has no errors, lowers
/// it to its plan.
pub fn compile(path: &str, fs: &dyn FileSystem) -> Compilation {
    let mut c = analyze(path, fs);
    if !c.has_errors() {
        match crate::plan::lower(&c.sources, &c.analysis) {
            Ok(plan) => c.plan = Some(plan),
            Err(d) => c.diagnostics.push(*d),
        }
    }
    c
}

/// Parses and checks the program rooted at `path`, without lowering it: everything
/// `mlpc check` and the editor need.
pub fn analyze(path: &str, fs: &dyn FileSystem) -> Compilation {
    let mut sources = Sources::default();
    let mut modules = Vec::new();
    let mut diagnostics = Vec::new();
    match fs.read_to_string(path) {
        Ok(text) => {
            let root = sources.add(path, text);
            load(root, 0, fs, &mut sources, &mut modules, &mut diagnostics);
        }
        Err(err) => {
            // The CLI reports unreadable roots itself; keep the message for other callers.
            let id = sources.add(path, "");
            diagnostics.push(
                Diagnostic::new(Code::E0018, id, Span::default(), format!("cannot read `{path}`: {err}"))
                    .help("check the path and its permissions"),
            );
        }
    }
    let (analysis, mut check_diags) = check::check(&sources, &modules);
    let mut file_diags = crate::onnx::check_files(&modules, &sources, &analysis, &check_diags, fs);
    diagnostics.append(&mut check_diags);
    diagnostics.append(&mut file_diags);
    diagnostics.sort_by(|a, b| {
        (a.primary.file, a.primary.span.start, a.code).cmp(&(b.primary.file, b.primary.span.start, b.code))
    });
    diagnostics.dedup();
    Compilation { sources, modules, diagnostics, analysis, plan: None }
}

/// How deep imports may chain, and how many files one program may have: generous for
/// real projects, and a stop for import paths that grow without end (`a/x.mlp` importing
/// `a/x.mlp` relative to itself).
const MAX_IMPORT_DEPTH: usize = 32;
const MAX_FILES: usize = 1000;

/// Parses `file` and, depth first, every file it imports that is not loaded yet.
fn load(
    file: FileId,
    depth: usize,
    fs: &dyn FileSystem,
    sources: &mut Sources,
    modules: &mut Vec<Module>,
    diags: &mut Vec<Diagnostic>,
) {
    let (ast, mut parse_diags) = syntax::parse(&sources.get(file).text, file);
    diags.append(&mut parse_diags);
    let imports: Vec<(String, Span)> = ast
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            ItemKind::Import { path } => Some((path.value.clone(), path.span)),
            _ => None,
        })
        .collect();
    let base = sources.get(file).path.clone();
    modules.push(Module { file, ast });
    for (rel, span) in imports {
        // A program is code: it may import code, never read other files through an
        // import (whose text would come back in diagnostics). Refused before any read.
        if !is_mlp_path(&rel) {
            diags.push(
                Diagnostic::new(Code::E0018, file, span, format!("`{rel}` is not a `.mlp` file"))
                    .label("not imported")
                    .help("import paths name `.mlp` files; mlpc reads no other file for `import`"),
            );
            continue;
        }
        let target = resolve(&base, &rel);
        if target == base {
            diags.push(
                Diagnostic::new(Code::E0018, file, span, format!("`{rel}` imports the file itself"))
                    .label("this is the importing file")
                    .help("remove this import"),
            );
            continue;
        }
        if sources.find(&target).is_some() {
            continue;
        }
        if depth >= MAX_IMPORT_DEPTH || modules.len() >= MAX_FILES {
            diags.push(
                Diagnostic::new(Code::E0018, file, span, format!("`{rel}` is not loaded: imports go too deep"))
                    .label(format!("more than {MAX_IMPORT_DEPTH} levels or {MAX_FILES} files"))
                    .help("an import path that grows with each level (`a/x.mlp` from inside `a/`) never ends; import by a fixed path"),
            );
            continue;
        }
        match fs.read_to_string(&target) {
            Ok(text) => {
                let id = sources.add(target, text);
                load(id, depth + 1, fs, sources, modules, diags);
            }
            Err(err) => diags.push(
                Diagnostic::new(Code::E0018, file, span, format!("cannot read `{target}`: {err}"))
                    .label("imported here")
                    .help("import paths are relative to the importing file; check the name"),
            ),
        }
    }
}
