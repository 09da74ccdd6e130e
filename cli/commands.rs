//! The subcommands. Each returns the process exit code: 0 fine, 1 findings, 2 usage or IO.

use crate::disk::{self, Disk};
use crate::render::{self, Located};
use crate::{CheckFormat, GraphFormat, PlanFormat};
use mlpc_compiler::ast::ItemKind;
use mlpc_compiler::{analyze, compile, Code, Compilation};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::IsTerminal;

/// Writes to stdout; a reader that went away (`mlpc … | head`) ends the output quietly.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write output: {e}");
            std::process::exit(2);
        }
    }
}

pub fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    2
}

/// The files to compile as programs: those no other file imports, then, for files that
/// only import each other in a cycle, the first of each cycle. Every file is reached.
pub fn roots(files: &[String]) -> Vec<String> {
    let imports: BTreeMap<&str, Vec<String>> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            if !text.contains("import") {
                return (f.as_str(), Vec::new());
            }
            let (ast, _) = mlpc_compiler::syntax::parse(&text, mlpc_compiler::FileId(0));
            let targets = ast
                .items
                .iter()
                .filter_map(|item| match &item.kind {
                    ItemKind::Import { path } => Some(mlpc_compiler::files::resolve(f, &path.value)),
                    _ => None,
                })
                .collect();
            (f.as_str(), targets)
        })
        .collect();
    let imported: BTreeSet<&String> = imports.values().flatten().collect();
    let mut roots: Vec<String> = files.iter().filter(|f| !imported.contains(f)).cloned().collect();
    let mut reached = BTreeSet::new();
    let visit = |start: &str, reached: &mut BTreeSet<String>| {
        let mut todo = vec![start.to_string()];
        while let Some(f) = todo.pop() {
            if reached.insert(f.clone()) {
                todo.extend(imports.get(f.as_str()).into_iter().flatten().cloned());
            }
        }
    };
    for r in &roots {
        visit(r, &mut reached);
    }
    for f in files {
        if !reached.contains(f) {
            visit(f, &mut reached);
            roots.push(f.clone());
        }
    }
    roots
}

pub fn check(paths: &[String], format: CheckFormat, deny_warnings: bool) -> u8 {
    let files = match disk::collect(paths) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    for f in &files {
        if let Err(e) = std::fs::read_to_string(f) {
            return fail(format!("cannot read `{f}`: {e}"));
        }
    }
    let compilations: Vec<Compilation> = roots(&files).iter().map(|f| analyze(f, &Disk)).collect();
    let mut seen = HashSet::new();
    let mut located = Vec::new();
    for c in &compilations {
        for d in &c.diagnostics {
            let key = (c.sources.get(d.primary.file).path.clone(), d.primary.span, d.code, d.message.clone());
            if seen.insert(key) {
                located.push(Located { diag: d, sources: &c.sources });
            }
        }
    }
    let color =
        format == CheckFormat::Human && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    emit(&render::render(format, &located, files.len(), color));
    let errors = located.iter().any(|l| l.diag.is_error());
    let warnings = located.iter().any(|l| !l.diag.is_error());
    drop(located);
    // The process ends next: freeing every tree and table one by one would only cost time.
    std::mem::forget(compilations);
    u8::from(errors || (deny_warnings && warnings))
}

pub fn fmt(paths: &[String], check: bool) -> u8 {
    let files = match disk::collect(paths) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let mut status = 0;
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => return fail(format!("cannot read `{f}`: {e}")),
        };
        match mlpc_compiler::format::format(&text) {
            Ok(out) if out == text => {}
            Ok(_) if check => {
                emit(&format!("would reformat {f}\n"));
                status = 1;
            }
            Ok(out) => {
                if let Err(e) = write_atomically(f, &out) {
                    return fail(format!("cannot write `{f}`: {e}"));
                }
                emit(&format!("formatted {f}\n"));
            }
            Err(diags) => {
                let mut sources = mlpc_compiler::Sources::default();
                sources.add(f.clone(), text);
                let located: Vec<Located> = diags.iter().map(|d| Located { diag: d, sources: &sources }).collect();
                eprint!("{}", render::render(CheckFormat::Human, &located, 1, std::io::stderr().is_terminal()));
                eprintln!("left {f} unchanged: it does not parse");
                status = 1;
            }
        }
    }
    status
}

/// Writes through a temporary file in the same folder, then renames over the target.
fn write_atomically(path: &str, text: &str) -> std::io::Result<()> {
    let tmp = format!("{path}.mlpc-fmt.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Compiles `file` into a plan; when it does not compile, the diagnostics go to stderr and
/// the error is the exit code.
pub fn compiled(file: &str) -> Result<Compilation, u8> {
    if let Err(e) = std::fs::read_to_string(file) {
        return Err(fail(format!("cannot read `{file}`: {e}")));
    }
    let c = compile(file, &Disk);
    if c.plan.is_none() {
        let located: Vec<Located> = c.diagnostics.iter().map(|d| Located { diag: d, sources: &c.sources }).collect();
        eprint!("{}", render::render(CheckFormat::Human, &located, 1, std::io::stderr().is_terminal()));
        return Err(1);
    }
    Ok(c)
}

pub fn plan(file: &str, format: PlanFormat) -> u8 {
    let c = match compiled(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled() returns plans");
    match format {
        PlanFormat::Json => emit(&format!("{}\n", plan.to_json())),
        PlanFormat::Text => emit(&plan.to_text()),
    }
    0
}

pub fn graph(file: &str, format: GraphFormat) -> u8 {
    let c = match compiled(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled() returns plans");
    match format {
        GraphFormat::Dot => emit(&plan.to_dot()),
        GraphFormat::Mermaid => emit(&plan.to_mermaid()),
    }
    0
}

pub fn explain(code: &str) -> u8 {
    match Code::parse(code) {
        Some(c) => {
            emit(c.page());
            0
        }
        None => {
            let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            fail(format!("unknown code `{code}`; known codes: {}", known.join(", ")))
        }
    }
}

/// Where the build put DuckDB's library (the runtime binary's rpath points here).
const BUILT_LIB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.deps/lib");

/// Runs this invocation in `mlpc-runtime`, beside this binary, once DuckDB's library is
/// known to be where the system loader will look.
pub fn delegate_to_runtime() -> u8 {
    let exe = match std::env::current_exe() {
        Ok(me) => me.with_file_name("mlpc-runtime"),
        Err(e) => return fail(format!("cannot find mlpc's own path: {e}")),
    };
    if !exe.exists() {
        return fail(format!(
            "{} is missing: it runs pipelines; build it with `cargo build` (it ships beside `mlpc`)",
            exe.display()
        ));
    }
    let mut dirs: Vec<String> =
        std::env::var("LD_LIBRARY_PATH").unwrap_or_default().split(':').map(str::to_string).collect();
    dirs.push(BUILT_LIB_DIR.to_string());
    dirs.extend(["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/lib"].map(String::from));
    if !dirs.iter().any(|d| !d.is_empty() && std::path::Path::new(d).join("libduckdb.so").exists()) {
        return fail(format!(
            "running pipelines needs DuckDB's library (libduckdb.so 1.5.6), which is not in {BUILT_LIB_DIR} nor on LD_LIBRARY_PATH\n  \
             fix: run `scripts/setup` in the mlpc checkout, or set LD_LIBRARY_PATH to the folder that holds libduckdb.so"
        ));
    }
    // `mlpc-runtime` replaces this process, so signals (SIGTERM from a supervisor, Ctrl-C)
    // reach the server or run directly; `exec` returns only when it could not start.
    use std::os::unix::process::CommandExt;
    let e = std::process::Command::new(&exe).args(std::env::args_os().skip(1)).exec();
    fail(format!("cannot start {}: {e}", exe.display()))
}
