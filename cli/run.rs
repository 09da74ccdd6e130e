//! `mlpc run` and `mlpc runs`: executing a plan and reading the tracking store.

use mlpc::commands::{emit, fail};
use mlpc_plan::Plan;
use mlpc_runtime::{history, Event, Options, Status, Store};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The state folder: `--state`, else `.mlp/` beside the pipeline.
pub fn state_dir(file: &str, state: Option<&str>) -> PathBuf {
    match state {
        Some(s) => PathBuf::from(s),
        None => base_dir(file).join(".mlp"),
    }
}

fn base_dir(file: &str) -> PathBuf {
    Path::new(file).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// What `mlpc run` runs, and where.
pub struct Target<'a> {
    /// A `.mlp` file, or a compiled plan (`.json`).
    pub file: &'a str,
    pub state: Option<&'a str>,
    /// Only this node.
    pub node: Option<String>,
    pub base_dir: Option<&'a str>,
    /// Where data nodes run.
    pub engine: mlpc_runtime::Engine,
}

/// The plan to run: a compiled plan file read as it is, or the program compiled now.
fn load(file: &str) -> Result<Plan, u8> {
    if file.ends_with(".json") {
        let text = std::fs::read_to_string(file).map_err(|e| fail(format!("cannot read {file}: {e}")))?;
        return Plan::from_json(&text).map_err(|e| fail(format!("{file}: {e}")));
    }
    let c = mlpc::commands::compiled(file)?;
    Ok(c.plan.expect("compiled programs have a plan"))
}

pub fn run(target: &Target, force: bool, jobs: usize, json: bool) -> u8 {
    let file = target.file;
    let plan = match load(file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = &plan;
    let opts = Options {
        file: file.to_string(),
        base_dir: target.base_dir.map_or_else(|| base_dir(file), PathBuf::from),
        state_dir: state_dir(file, target.state),
        force,
        rerun: Vec::new(),
        jobs: jobs.max(1),
        only: target.node.clone(),
        engine: target.engine.clone(),
    };
    // On a terminal, a progress bar on stderr; the per-node lines go above it.
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(plan.nodes.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} nodes  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    // Elsewhere (CI, a log file), timestamped `tracing` lines on stderr beside the report.
    if !json && bar.is_none() {
        let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false).try_init();
    }
    let say = |line: String| match &bar {
        Some(b) => b.println(line.trim_end()),
        None => emit(&line),
    };
    let mut running: Vec<String> = Vec::new();
    let mut on_event = |e: &Event| {
        if json {
            emit(&format!("{}\n", serde_json::to_string(e).expect("events serialize")));
            return;
        }
        match e {
            Event::Started { run_id, nodes } => say(format!("run {run_id}: {nodes} nodes\n")),
            Event::NodeStarted { id } => {
                tracing::info!(node = %id, "started");
                running.push(id.to_string());
                if let Some(b) = &bar {
                    b.set_message(running.join(", "));
                }
            }
            Event::NodeFinished { node } => {
                let status = mlpc_runtime::status_name(node.status);
                let first = node.message.lines().next().unwrap_or("");
                match node.status {
                    Status::Failed => tracing::error!(node = %node.id, status, millis = node.millis, "{first}"),
                    _ => tracing::info!(node = %node.id, status, millis = node.millis, "{first}"),
                }
                running.retain(|r| r != &node.id);
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(running.join(", "));
                }
                let mark = match node.status {
                    Status::Ran => "ran     ",
                    Status::Cached => "cached  ",
                    Status::Failed => "FAILED  ",
                    Status::Skipped => "skipped ",
                    Status::Unsupported => "not run ",
                    Status::Cancelled => "cancelled",
                };
                let time = if node.status == Status::Ran { format!(" ({} ms)", node.millis) } else { String::new() };
                let first = node.message.lines().next().unwrap_or("");
                let mut text = format!("  {mark} {:<40} {first}{time}\n", node.id);
                for more in node.message.lines().skip(1) {
                    text.push_str(&format!("           {more}\n"));
                }
                say(text);
            }
        }
    };
    let result = mlpc_runtime::run(plan, &opts, &mut on_event);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(report) => {
            if !json {
                let count = |s: Status| report.nodes.iter().filter(|n| n.status == s).count();
                emit(&format!(
                    "run {} {}: {} ran, {} cached, {} failed, {} skipped, {} not run (state: {})\n",
                    report.run_id,
                    report.status,
                    count(Status::Ran),
                    count(Status::Cached),
                    count(Status::Failed),
                    count(Status::Skipped),
                    count(Status::Unsupported),
                    opts.state_dir.display()
                ));
            }
            u8::from(report.status != "succeeded")
        }
        Err(e) => fail(e),
    }
}

fn open(state: &str) -> Result<Store, u8> {
    if Store::shared(Path::new(state)).is_none() && !Path::new(state).join("state.duckdb").exists() {
        return Err(fail(format!("no runs in `{state}`: run `mlpc run FILE` first, or pass `--state DIR`")));
    }
    Store::open(Path::new(state)).map_err(fail)
}

pub fn runs(state: &str, json: bool) -> u8 {
    let store = match open(state) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match history::runs(&store) {
        Ok(rows) if json => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&rows).expect("rows serialize")));
            0
        }
        Ok(rows) => {
            emit(&format!(
                "{:>4}  {:<26}  {:<12}  {:<12}  {:>4}  {:>6}  file\n",
                "id", "started", "status", "pipeline", "ran", "cached"
            ));
            for r in rows {
                let note = r.note.map(|n| format!("  ({n})")).unwrap_or_default();
                emit(&format!(
                    "{:>4}  {:<26}  {:<12}  {:<12}  {:>4}  {:>6}  {}{note}\n",
                    r.id, r.started_at, r.status, r.pipeline, r.nodes_ran, r.nodes_cached, r.file
                ));
            }
            0
        }
        Err(e) => fail(e),
    }
}

pub fn show(state: &str, id: i64, json: bool) -> u8 {
    let store = match open(state) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match history::show(&store, id) {
        Ok(d) if json => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&d).expect("runs serialize")));
            0
        }
        Ok(d) => {
            emit(&format!("run {} ({}), {} — {}\n", d.run.id, d.run.status, d.run.started_at, d.run.file));
            if let Some(note) = &d.run.note {
                emit(&format!("  {note}\n"));
            }
            for n in d.nodes {
                let metrics: Vec<String> = n
                    .metrics
                    .iter()
                    .filter(|(k, _)| !k.starts_with("expectation_"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                emit(&format!("  {:<8} {:<40} {}\n", n.status, n.id, metrics.join(" ")));
                for (role, sha) in &n.artifacts {
                    emit(&format!("           {role}: sha256:{sha}\n"));
                }
            }
            0
        }
        Err(e) => fail(e),
    }
}

pub fn compare(state: &str, a: i64, b: i64, json: bool) -> u8 {
    let store = match open(state) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match history::compare(&store, a, b) {
        Ok(diff) if json => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&diff).expect("diffs serialize")));
            0
        }
        Ok(diff) if diff.is_empty() => {
            emit(&format!("runs {a} and {b} produced the same artifacts and metrics\n"));
            0
        }
        Ok(diff) => {
            emit(&format!("{:<40} {:<28} {:<16} {:<16}\n", "node", "what", format!("run {a}"), format!("run {b}")));
            for d in diff {
                emit(&format!("{:<40} {:<28} {:<16} {:<16}\n", d.node, d.what, d.a, d.b));
            }
            0
        }
        Err(e) => fail(e),
    }
}

/// What a run against `state` would execute, and why.
pub fn plan_against_state(file: &str, state: &str) -> u8 {
    let c = match mlpc::commands::compiled(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled programs have a plan");
    let store = match Store::open(Path::new(state)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    for s in history::staleness(&store, plan, &base_dir(file)) {
        let verdict = if s.would_run { "would run" } else { "up to date" };
        emit(&format!("  {:<40} {:<10}  {}\n", s.node, verdict, s.reason));
    }
    0
}
