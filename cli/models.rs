//! `mlpc models`, `approve`, `promote`, `rollback`, `audit` and `card`: the model registry
//! in the state folder.

use mlpc::args::{ChangeArgs, RegistryArgs};
use mlpc::commands::{emit, fail};
use mlpc_runtime::registry::{self, RuleOutcome, STAGES};
use mlpc_runtime::{audit, card, Store};
use serde::Serialize;
use std::path::Path;

fn open(state: &str) -> Result<Store, u8> {
    if Store::shared(Path::new(state)).is_none() && !Path::new(state).join("state.duckdb").exists() {
        return Err(fail(format!(
            "no registry in `{state}`: run a pipeline with `mlpc run FILE` first, or pass `--state DIR`"
        )));
    }
    Store::open(Path::new(state)).map_err(fail)
}

/// Runs a registry command: opens the store, then prints what `act` returns as JSON or as text.
fn with_store<T: Serialize, E: std::fmt::Display>(
    at: &RegistryArgs,
    act: impl FnOnce(&Store) -> Result<T, E>,
    text: impl FnOnce(&T) -> String,
) -> u8 {
    let store = match open(&at.state) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match act(&store) {
        Ok(value) if at.json => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&value).expect("registry values serialize")));
            0
        }
        Ok(value) => {
            emit(&text(&value));
            0
        }
        Err(e) => fail(e),
    }
}

fn version_or_dash(v: Option<i64>) -> String {
    v.map_or_else(|| "—".into(), |v| v.to_string())
}

fn pairs<V: std::fmt::Display>(map: impl IntoIterator<Item = (impl std::fmt::Display, V)>) -> String {
    map.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

pub fn models(at: &RegistryArgs) -> u8 {
    let list = |store: &Store| {
        warn_if_the_log_disagrees(store);
        registry::models(store)
    };
    with_store(at, list, |rows| {
        let mut out =
            format!("{:<24} {:>6} {:>8} {:>11} {:>9}\n", "name", "latest", "staging", "production", "archived");
        for m in rows {
            let [staging, production, archived] = STAGES.map(|s| version_or_dash(m.stages.get(s).copied()));
            out.push_str(&format!("{:<24} {:>6} {staging:>8} {production:>11} {archived:>9}\n", m.name, m.latest));
        }
        out
    })
}

pub fn show(name: &str, at: &RegistryArgs) -> u8 {
    with_store(
        at,
        |store| {
            warn_if_the_log_disagrees(store);
            registry::show(store, name)
        },
        |m| {
            let stages: Vec<String> =
                STAGES.iter().map(|s| format!("{s} {}", version_or_dash(m.stages.get(*s).copied()))).collect();
            let mut out = format!("{}: {}\n", m.name, stages.join(", "));
            for v in &m.versions {
                out.push_str(&format!(
                    "\nversion {}  run {}  {}  sha256:{}  {} on {}\n",
                    v.version, v.run_id, v.registered_at, v.artifact_sha256, v.algorithm, v.device
                ));
                if !v.stages.is_empty() {
                    out.push_str(&format!("  stages:    {}\n", v.stages.join(", ")));
                }
                out.push_str(&format!("  metrics:   {}\n", pairs(&v.metrics)));
                out.push_str(&format!("  params:    {}\n", pairs(&v.params)));
                for a in &v.approvals {
                    out.push_str(&format!("  approved:  {} by {} at {}\n", a.stage, a.by, a.at));
                }
            }
            if !m.history.is_empty() {
                out.push_str("\nstage history:\n");
            }
            for h in &m.history {
                let reason = h.reason.as_deref().map(|r| format!("  ({r})")).unwrap_or_default();
                out.push_str(&format!(
                    "  {}  {:<10}  {:<8} {} → {}  by {}{reason}\n",
                    h.at,
                    h.stage,
                    h.kind,
                    version_or_dash(h.from),
                    h.to,
                    h.by
                ));
            }
            out
        },
    )
}

/// Rule outcomes, one line each.
fn outcomes(rules: &[RuleOutcome], version: i64) -> String {
    rules
        .iter()
        .map(|r| {
            let what = match (r.moved, r.held) {
                (true, _) => format!("moved to {version}"),
                (false, true) => "holds".into(),
                (false, false) => "does not hold".into(),
            };
            format!("  {:<11} {what:<14} `{}`: {}\n", r.stage, r.rule, r.reason)
        })
        .collect()
}

#[derive(Serialize)]
struct Approved {
    /// False when this person had already approved.
    recorded: bool,
    rules: Vec<RuleOutcome>,
}

pub fn approve(name: &str, version: i64, stage: &str, change: &ChangeArgs, at: &RegistryArgs) -> u8 {
    with_store(
        at,
        |store| {
            let (recorded, rules) =
                registry::approve_and_apply(store, name, version, stage, &change.by, change.reason.as_deref())?;
            Ok::<_, registry::RegistryError>(Approved { recorded, rules })
        },
        |a| {
            let said = if a.recorded { "approved" } else { "already approved" };
            format!("{said}: {name} {version} for {stage} by {}\n{}", change.by, outcomes(&a.rules, version))
        },
    )
}

pub fn promote(name: &str, version: i64, stage: &str, change: &ChangeArgs, at: &RegistryArgs) -> u8 {
    with_store(
        at,
        |store| registry::promote(store, name, version, stage, &change.by, change.reason.as_deref()),
        |m| match m {
            Some(m) => moved("moved", m),
            None => format!("{name} {version} is already in {stage}\n"),
        },
    )
}

pub fn rollback(name: &str, stage: &str, change: &ChangeArgs, at: &RegistryArgs) -> u8 {
    with_store(
        at,
        |store| registry::rollback(store, name, stage, &change.by, change.reason.as_deref()),
        |m| moved("rolled back", m),
    )
}

fn moved(verb: &str, m: &registry::Move) -> String {
    let archived = m.archived.map(|a| format!("; version {a} archived")).unwrap_or_default();
    format!("{verb} {} of {} from {} to {}{archived}\n", m.stage, m.name, version_or_dash(m.from), m.to)
}

/// The state folder, when there is one.
fn state_folder(state: &str) -> Result<&Path, u8> {
    let dir = Path::new(state);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(fail(format!("no state folder `{state}`: pass `--state DIR`")))
    }
}

pub fn audit_log(at: &RegistryArgs) -> u8 {
    let dir = match state_folder(&at.state) {
        Ok(d) => d,
        Err(code) => return code,
    };
    match audit::read(dir) {
        Ok(records) if at.json => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&records).expect("records serialize")));
            0
        }
        Ok(records) => {
            for r in records {
                let e = r.entry;
                let version = e.version.map(|v| format!(" {v}")).unwrap_or_default();
                let stage = e.stage.map(|s| format!(" {s}")).unwrap_or_default();
                let reason = e.reason.map(|r| format!("  ({r})")).unwrap_or_default();
                emit(&format!(
                    "{:>4}  {}  {:<8} {}{version}{stage}  by {}{reason}\n",
                    e.seq, e.at, e.action, e.name, e.by
                ));
            }
            0
        }
        Err(e) => fail(e),
    }
}

/// Checks the log's hash chain, then the log against the store: the anchor it keeps (the
/// log's length and head) and the registry (every version, stage and approval the log records).
pub fn verify(at: &RegistryArgs) -> u8 {
    let dir = match state_folder(&at.state) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let chain = match audit::verify(dir) {
        Ok(chain) => chain,
        Err(broken) => {
            if at.json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&broken).expect("results serialize")));
            }
            eprintln!("error: {} is damaged at line {}: {}", audit::path(dir).display(), broken.line, broken.why);
            return 1;
        }
    };
    let problems = match against_store(dir, &chain) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if at.json {
        let report = serde_json::json!({ "entries": chain.entries, "head": chain.head, "problems": problems });
        emit(&format!("{}\n", serde_json::to_string_pretty(&report).expect("results serialize")));
    } else if problems.is_empty() {
        emit(&format!(
            "audit log intact: {} entries, head {}; the store's anchor and its registry agree with it\n",
            chain.entries, chain.head
        ));
    }
    if problems.is_empty() {
        return 0;
    }
    eprintln!(
        "error: {}'s hash chain holds ({} entries), but it does not agree with the store:",
        audit::path(dir).display(),
        chain.entries
    );
    for p in &problems {
        eprintln!("  - {p}");
    }
    1
}

/// What the store says against a log whose chain holds.
fn against_store(dir: &Path, chain: &audit::Verified) -> Result<Vec<String>, String> {
    if Store::shared(dir).is_none() && !dir.join("state.duckdb").exists() {
        return Ok(match chain.entries {
            0 => Vec::new(),
            n => vec![format!(
                "there is no tracking store (state.duckdb) beside the log's {n} entries: it was deleted or moved"
            )],
        });
    }
    registry::log_problems(&Store::open_read_only(dir)?, chain)
}

/// What `mlpc models` shows comes from the store: when the store and the audit log
/// disagree (the store lost changes, the log was cut), it says so on stderr.
fn warn_if_the_log_disagrees(store: &Store) {
    let said = match audit::verify_in(store) {
        Err(broken) => {
            vec![format!("{} is damaged at line {}: {}", audit::path(&store.dir).display(), broken.line, broken.why)]
        }
        Ok(chain) => registry::log_problems(store, &chain).unwrap_or_else(|e| vec![e]),
    };
    if let Some(first) = said.first() {
        eprintln!(
            "warning: the registry does not agree with the audit log ({} problem{}; `mlpc audit verify` lists them): {first}",
            said.len(),
            if said.len() == 1 { "" } else { "s" }
        );
    }
}

pub fn card(name: &str, version: Option<i64>, state: &str, out: Option<&str>) -> u8 {
    let store = match open(state) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let text = match card::card(&store, name, version) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    match out {
        None => emit(&text),
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                return fail(format!("cannot write `{path}`: {e}"));
            }
            emit(&format!("wrote the model card of {name} to {path}\n"));
        }
    }
    0
}
