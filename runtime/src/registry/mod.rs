//! The model registry: numbered versions of each registered name, stages (`staging`,
//! `production`, `archived`) as aliases that move between versions with their full history,
//! promotion rules evaluated against the registry, and approvals. Every change is one store
//! transaction together with its entries in the audit log.

pub mod live;
pub(crate) mod rules;

use crate::audit::{self, Action};
use crate::db::{args, DbError};
use crate::store::Store;
use mlpc_plan::PromotionRule;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The stages a version can hold.
pub const STAGES: [&str; 3] = ["staging", "production", "archived"];

/// A trained model to register, as the executor knows it.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The registered name, e.g. `churn-predictor`.
    pub name: String,
    pub run_id: i64,
    /// The plan node that trained it, e.g. `model:churn_model`.
    pub model_node: String,
    /// The ONNX artifact, already in the state folder's artifacts.
    pub artifact_sha256: String,
    pub plan_hash: String,
    /// The `.mlp` file, for `mlpc card` (best absolute).
    pub pipeline_file: String,
    /// Source node id → sha256 of its data.
    pub data_hashes: BTreeMap<String, String>,
    pub params: BTreeMap<String, serde_json::Value>,
    /// E.g. `auc`, `cv_auc_mean`, `slice:region=eu:auc`; values that are not finite are not kept.
    pub metrics: BTreeMap<String, f64>,
    pub algorithm: String,
    /// `cpu` or `cuda`.
    pub device: String,
    /// The register node's `def.rules`: `{stage, text, expr}` each.
    pub rules: Vec<serde_json::Value>,
    pub git_commit: Option<String>,
    /// The compiled plan (JSON) the version was trained from, for its card and lineage.
    pub plan: String,
}

/// A registered version, with its stages and approvals.
#[derive(Clone, Debug, Serialize)]
pub struct Version {
    pub name: String,
    pub version: i64,
    pub registered_at: String,
    pub run_id: i64,
    pub model_node: String,
    pub artifact_sha256: String,
    pub plan_hash: String,
    pub pipeline_file: String,
    pub data_hashes: BTreeMap<String, String>,
    pub params: BTreeMap<String, serde_json::Value>,
    pub metrics: BTreeMap<String, f64>,
    pub algorithm: String,
    pub device: String,
    pub rules: Vec<serde_json::Value>,
    pub git_commit: Option<String>,
    /// The stages this version holds now.
    pub stages: Vec<String>,
    pub approvals: Vec<Approval>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Approval {
    pub stage: String,
    pub by: String,
    pub at: String,
    pub reason: Option<String>,
}

/// One move of a stage alias.
#[derive(Clone, Debug, Serialize)]
pub struct StageMove {
    pub stage: String,
    pub from: Option<i64>,
    pub to: i64,
    /// `promote`, `rollback` or `archive`.
    pub kind: String,
    pub at: String,
    pub by: String,
    pub reason: Option<String>,
}

/// A name in the registry, for `mlpc models`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub latest: i64,
    /// Stage → the version holding it.
    pub stages: BTreeMap<String, i64>,
}

/// A name with all its versions and the history of its stages, for `mlpc models show`.
#[derive(Debug, Serialize)]
pub struct Model {
    pub name: String,
    pub stages: BTreeMap<String, i64>,
    pub versions: Vec<Version>,
    pub history: Vec<StageMove>,
}

/// What one promotion rule did.
#[derive(Debug, Serialize)]
pub struct RuleOutcome {
    pub stage: String,
    /// The rule as written.
    pub rule: String,
    pub held: bool,
    /// Whether the stage moved to this version (not when it was already there).
    pub moved: bool,
    pub reason: String,
}

/// A stage that moved; `archived` is the version `production` left, now in `archived`.
#[derive(Debug, Serialize)]
pub struct Move {
    pub name: String,
    pub stage: String,
    pub from: Option<i64>,
    pub to: i64,
    pub archived: Option<i64>,
}

/// Registers a version (or, when this name already has one with the same artifact, returns
/// that one: reruns do not duplicate) and returns its number (1, 2, …): one more than the
/// highest the registry holds or the audit log ever recorded, so a number is never reused.
pub fn register(store: &Store, v: &NewVersion) -> Result<i64, RegistryError> {
    if v.name.is_empty() {
        return Err(RegistryError::EmptyName);
    }
    let metrics: BTreeMap<&String, &f64> = v.metrics.iter().filter(|(_, x)| x.is_finite()).collect();
    atomically(store, &format!("run {}", v.run_id), |tx| {
        let known: Option<i64> = tx
            .store
            .db
            .query_row(
                "SELECT min(version) FROM model_versions WHERE name = ? AND artifact_sha256 = ?",
                args![v.name, v.artifact_sha256],
                |r| r.get(0),
            )
            .map_err(db)?;
        if let Some(version) = known {
            return Ok(version);
        }
        let stored: i64 = tx
            .store
            .db
            .query_row("SELECT coalesce(max(version), 0) FROM model_versions WHERE name = ?", args![v.name], |r| {
                r.get(0)
            })
            .map_err(db)?;
        let version = stored.max(logged_latest(tx.store, &v.name)) + 1;
        tx.store
            .db
            .execute(
                "INSERT INTO model_versions (name, version, registered_at, run_id, model_node, artifact_sha256,
                   plan_hash, pipeline_file, data_hashes, params, metrics, algorithm, device, rules, git_commit, plan)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    v.name,
                    version,
                    tx.at,
                    v.run_id,
                    v.model_node,
                    v.artifact_sha256,
                    v.plan_hash,
                    v.pipeline_file,
                    json(&v.data_hashes),
                    json(&v.params),
                    json(&metrics),
                    v.algorithm,
                    v.device,
                    json(&v.rules),
                    v.git_commit,
                    v.plan
                ],
            )
            .map_err(db)?;
        let reason = format!("{} from {}, artifact sha256:{}", v.algorithm, v.model_node, v.artifact_sha256);
        tx.record("register", &v.name, Some(version), None, Some(reason));
        crate::stop_point::reached("register:inserted");
        Ok(version)
    })
}

/// Evaluates the version's promotion rules in order and moves each stage whose rule holds
/// to this version — unless it is there already, a newer version holds it, or the stage was
/// rolled back from this version (a rule never undoes a person's rollback; `promote` can).
pub fn apply_rules(store: &Store, name: &str, version: i64, by: &str) -> Result<Vec<RuleOutcome>, RegistryError> {
    atomically(store, by, |tx| {
        let v = tx.version(name, version)?;
        let mut outcomes = Vec::new();
        for raw in &v.rules {
            // Evaluated one by one: a stage an earlier rule moved is what a later rule reads.
            let mut o = tx.evaluate_rule(name, version, &v.metrics, raw)?;
            if o.held {
                let holder = tx.holder(name, &o.stage)?;
                if holder == Some(version) {
                    o.reason = join(&format!("version {version} is already in {}", o.stage), &o.reason);
                } else if let Some(why) = tx.why_not_move(name, version, &o.stage, holder)? {
                    o.reason = join(&format!("holds, but {why}"), &o.reason);
                } else {
                    tx.move_stage(name, &o.stage, version, "promote", Some(format!("rule `{}` holds", o.rule)))?;
                    o.moved = true;
                    if o.reason.is_empty() {
                        o.reason = "holds".into();
                    }
                }
            }
            outcomes.push(o);
        }
        Ok(outcomes)
    })
}

/// The version's promotion rules evaluated against the registry as it is, moving nothing:
/// which hold now, and why not (what a person deciding to approve or promote is shown).
pub fn rules_now(store: &Store, name: &str, version: i64) -> Result<Vec<RuleOutcome>, RegistryError> {
    let reader = Reader { store };
    let v = reader.version(name, version)?;
    v.rules.iter().map(|raw| reader.evaluate_rule(name, version, &v.metrics, raw)).collect()
}

/// `rules_now` for the `shown` versions of a name as `show` read it, with no further query:
/// what the registry's page lists beside each version.
pub fn rules_now_listed(model: &Model, shown: &[i64]) -> Vec<(i64, Vec<RuleOutcome>)> {
    let listed = |v: i64| model.versions.iter().find(|x| x.version == v);
    let holders: rules::Holders =
        model.stages.iter().filter_map(|(stage, &v)| Some((stage.clone(), (v, listed(v)?.metrics.clone())))).collect();
    shown
        .iter()
        .filter_map(|&n| listed(n))
        .map(|v| {
            let outcomes = v
                .rules
                .iter()
                .map(|raw| match read_rule(raw) {
                    Err(unreadable) => unreadable,
                    Ok(rule) => {
                        let approvers: Vec<String> =
                            v.approvals.iter().filter(|a| a.stage == rule.stage).map(|a| a.by.clone()).collect();
                        judge(&model.name, v.version, &v.metrics, rule, &holders, &approvers)
                    }
                })
                .collect();
            (v.version, outcomes)
        })
        .collect()
}

/// Records the approval, then applies the version's promotion rules: what `mlpc approve`,
/// the daemon's admin API and the UI do. False when `by` had already approved.
pub fn approve_and_apply(
    store: &Store,
    name: &str,
    version: i64,
    stage_name: &str,
    by: &str,
    reason: Option<&str>,
) -> Result<(bool, Vec<RuleOutcome>), RegistryError> {
    let recorded = approve(store, name, version, stage_name, by, reason)?;
    Ok((recorded, apply_rules(store, name, version, by)?))
}

/// Records that `by` approves the version for `stage`; false when they already had.
pub fn approve(
    store: &Store,
    name: &str,
    version: i64,
    stage_name: &str,
    by: &str,
    reason: Option<&str>,
) -> Result<bool, RegistryError> {
    stage(stage_name)?;
    atomically(store, by, |tx| {
        tx.version(name, version)?;
        if tx.approvers(name, version, stage_name)?.iter().any(|a| a == by) {
            return Ok(false);
        }
        tx.store
            .db
            .execute(
                "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?)",
                args![name, version, stage_name, by, tx.at, reason],
            )
            .map_err(db)?;
        tx.record("approve", name, Some(version), Some(stage_name), reason.map(str::to_string));
        Ok(true)
    })
}

/// Moves a stage to a version by hand; None when it is there already.
pub fn promote(
    store: &Store,
    name: &str,
    version: i64,
    stage_name: &str,
    by: &str,
    reason: Option<&str>,
) -> Result<Option<Move>, RegistryError> {
    stage(stage_name)?;
    atomically(store, by, |tx| {
        tx.version(name, version)?;
        if tx.holder(name, stage_name)? == Some(version) {
            return Ok(None);
        }
        tx.move_stage(name, stage_name, version, "promote", reason.map(str::to_string)).map(Some)
    })
}

/// Moves a stage back to the version it held before its last move (a second rollback goes
/// one further back).
pub fn rollback(
    store: &Store,
    name: &str,
    stage_name: &str,
    by: &str,
    reason: Option<&str>,
) -> Result<Move, RegistryError> {
    stage(stage_name)?;
    atomically(store, by, |tx| {
        tx.known(name)?;
        let mut held: Vec<i64> = Vec::new();
        for m in tx.history(name)?.into_iter().filter(|m| m.stage == stage_name) {
            if m.kind == "rollback" {
                held.pop();
            } else {
                held.push(m.to);
            }
        }
        let Some((&current, earlier)) = held.split_last() else {
            return Err(RegistryError::StageEmpty { name: name.into(), stage: stage_name.into() });
        };
        let Some(&target) = earlier.last() else {
            return Err(RegistryError::NothingToRollBack { name: name.into(), stage: stage_name.into(), current });
        };
        tx.move_stage(name, stage_name, target, "rollback", reason.map(str::to_string))
    })
}

/// Every registered name with its latest version and stage holders.
pub fn models(store: &Store) -> Result<Vec<Summary>, RegistryError> {
    let names = names(store)?;
    names.into_iter().map(|(name, latest)| Ok(Summary { stages: stage_holders(store, &name)?, name, latest })).collect()
}

/// One name: its versions (oldest first), stages and stage history.
pub fn show(store: &Store, name: &str) -> Result<Model, RegistryError> {
    let reader = Reader { store };
    let versions = reader.versions(name, None)?;
    Ok(Model { name: name.into(), stages: stage_holders(store, name)?, versions, history: reader.history(name)? })
}

/// The plan (JSON) a version was trained from; `None` for a version registered before mlpc
/// kept it. Read on its own: a name's versions are listed without their plans.
pub fn recorded_plan(store: &Store, name: &str, version: i64) -> Result<Option<String>, RegistryError> {
    Reader { store }.version(name, version)?;
    store
        .db
        .query_row("SELECT plan FROM model_versions WHERE name = ? AND version = ?", args![name, version], |r| r.get(0))
        .map_err(db)
}

/// The latest move of a name's stage; None when it never moved.
pub fn last_move(store: &Store, name: &str, stage: &str) -> Result<Option<StageMove>, RegistryError> {
    Ok(Reader { store }.history(name)?.into_iter().rev().find(|m| m.stage == stage))
}

/// One version of a name.
pub fn version(store: &Store, name: &str, version: i64) -> Result<Version, RegistryError> {
    Reader { store }.version(name, version)
}

/// The version of `name` that holds `stage` now.
pub fn at_stage(store: &Store, name: &str, stage: &str) -> Result<Version, RegistryError> {
    let reader = Reader { store };
    reader.known(name)?;
    match reader.holder(name, self::stage(stage)?)? {
        Some(v) => reader.version(name, v),
        None => Err(RegistryError::StageEmpty { name: name.into(), stage: stage.into() }),
    }
}

/// The commit checked out in `dir`; None outside a git repository or without git.
pub fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

/// Checks a stage name.
pub fn stage(name: &str) -> Result<&str, RegistryError> {
    STAGES
        .contains(&name)
        .then_some(name)
        .ok_or_else(|| RegistryError::UnknownStage { stage: name.into(), stages: STAGES.join(", ") })
}

fn join(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.into()
    } else {
        format!("{a}; {b}")
    }
}

fn db(e: DbError) -> RegistryError {
    RegistryError::Store(e.to_string())
}

/// Why a registry command is refused or cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("a registered name cannot be empty")]
    EmptyName,
    #[error("say who does this (`--by NAME`)")]
    NoActor,
    #[error("no model named `{name}`; {known}")]
    UnknownName { name: String, known: String },
    #[error("`{name}` has no version {version}; its versions are 1 to {latest}")]
    NoSuchVersion { name: String, version: i64, latest: i64 },
    #[error("unknown stage `{stage}`; stages: {stages}")]
    UnknownStage { stage: String, stages: String },
    #[error("no version of `{name}` is in {stage}")]
    StageEmpty { name: String, stage: String },
    #[error("{stage} has held only version {current} of `{name}`: nothing to roll back to")]
    NothingToRollBack { name: String, stage: String, current: i64 },
    /// The tracking store or the audit log could not be read or written.
    #[error("{0}")]
    Store(String),
}

impl From<String> for RegistryError {
    fn from(e: String) -> RegistryError {
        RegistryError::Store(e)
    }
}

/// For callers that report errors as text.
impl From<RegistryError> for String {
    fn from(e: RegistryError) -> String {
        e.to_string()
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("registry values serialize")
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, RegistryError> {
    serde_json::from_str(text).map_err(|e| RegistryError::Store(format!("the registry's {what} do not read back: {e}")))
}

/// Registered names with their latest version.
fn names(store: &Store) -> Result<Vec<(String, i64)>, RegistryError> {
    store
        .db
        .query("SELECT name, max(version) FROM model_versions GROUP BY name ORDER BY name", args![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db)
}

/// Stage → the version holding it: the last move of each stage.
fn stage_holders(store: &Store, name: &str) -> Result<BTreeMap<String, i64>, RegistryError> {
    let rows = store
        .db
        .query(
            "SELECT DISTINCT ON (stage) stage, to_version FROM stage_moves WHERE name = ? ORDER BY stage, id DESC",
            args![name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db)?;
    Ok(rows.into_iter().collect())
}

/// A rule as the registry stores it; one that cannot be read is an outcome that does not hold.
fn read_rule(raw: &serde_json::Value) -> Result<PromotionRule, RuleOutcome> {
    serde_json::from_value(raw.clone()).map_err(|e| RuleOutcome {
        stage: raw["stage"].as_str().unwrap_or("?").into(),
        rule: raw["text"].as_str().unwrap_or("?").into(),
        held: false,
        moved: false,
        reason: format!("this rule cannot be read: {e}"),
    })
}

/// A rule of `version` judged against the stages' holders (with their metrics) and the
/// people who approved the version for the rule's stage.
fn judge(
    name: &str,
    version: i64,
    metrics: &BTreeMap<String, f64>,
    rule: PromotionRule,
    holders: &rules::Holders,
    approvers: &[String],
) -> RuleOutcome {
    let facts = rules::Facts { name, version, stage: &rule.stage, metrics, holders, approvers };
    let verdict = rules::evaluate(&rule.rule.expr, &facts);
    RuleOutcome {
        stage: rule.stage,
        rule: rule.rule.text,
        held: verdict.held,
        moved: false,
        reason: verdict.notes.join("; "),
    }
}

/// Reading the registry (inside a change's transaction or not).
struct Reader<'a> {
    store: &'a Store,
}

impl Reader<'_> {
    /// Fails, naming the registered names, when `name` has no versions.
    fn known(&self, name: &str) -> Result<(), RegistryError> {
        let names = names(self.store)?;
        if names.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let known: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        Err(RegistryError::UnknownName {
            name: name.into(),
            known: match known.is_empty() {
                true => format!("nothing is registered in {}", self.store.place()),
                false => format!("registered: {}", known.join(", ")),
            },
        })
    }

    fn version(&self, name: &str, version: i64) -> Result<Version, RegistryError> {
        match self.versions(name, Some(version))?.pop() {
            Some(v) => Ok(v),
            None => {
                let latest: i64 = self
                    .store
                    .db
                    .query_row("SELECT max(version) FROM model_versions WHERE name = ?", args![name], |r| r.get(0))
                    .map_err(db)?;
                Err(RegistryError::NoSuchVersion { name: name.into(), version, latest })
            }
        }
    }

    /// A name's versions (or the one numbered `only`), oldest first, in three queries
    /// whatever their number: the versions, their approvals, the stages' holders.
    fn versions(&self, name: &str, only: Option<i64>) -> Result<Vec<Version>, RegistryError> {
        self.known(name)?;
        let rows = self
            .store
            .db
            .query(
                "SELECT version, registered_at, run_id, model_node, artifact_sha256, plan_hash, pipeline_file,
                        data_hashes, params, metrics, algorithm, device, rules, git_commit
                 FROM model_versions WHERE name = ? AND (?::BIGINT IS NULL OR version = ?::BIGINT) ORDER BY version",
                args![name, only, only],
                |r| {
                    Ok((
                        (r.get::<i64>(0)?, r.get::<String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                        (r.get::<String>(7)?, r.get::<String>(8)?, r.get::<String>(9)?),
                        (r.get(10)?, r.get(11)?, r.get::<String>(12)?, r.get(13)?),
                    ))
                },
            )
            .map_err(db)?;
        let rows_of_approvals = self
            .store
            .db
            .query(
                "SELECT version, stage, approved_by, approved_at, reason FROM approvals
                 WHERE name = ? AND (?::BIGINT IS NULL OR version = ?::BIGINT) ORDER BY approved_at, approved_by",
                args![name, only, only],
                |r| {
                    Ok((
                        r.get::<i64>(0)?,
                        Approval { stage: r.get(1)?, by: r.get(2)?, at: r.get(3)?, reason: r.get(4)? },
                    ))
                },
            )
            .map_err(db)?;
        let mut approvals: BTreeMap<i64, Vec<Approval>> = BTreeMap::new();
        for (version, approval) in rows_of_approvals {
            approvals.entry(version).or_default().push(approval);
        }
        let holders = stage_holders(self.store, name)?;
        rows.into_iter()
            .map(
                |(
                    (version, registered_at, run_id, model_node, artifact_sha256, plan_hash, pipeline_file),
                    json,
                    rest,
                )| {
                    let (algorithm, device, rules, git_commit) = rest;
                    Ok(Version {
                        name: name.into(),
                        version,
                        registered_at,
                        run_id,
                        model_node,
                        artifact_sha256,
                        plan_hash,
                        pipeline_file,
                        data_hashes: parse(&json.0, "data hashes")?,
                        params: parse(&json.1, "parameters")?,
                        metrics: parse(&json.2, "metrics")?,
                        algorithm,
                        device,
                        rules: parse(&rules, "rules")?,
                        git_commit,
                        stages: holders.iter().filter(|(_, v)| **v == version).map(|(s, _)| s.clone()).collect(),
                        approvals: approvals.remove(&version).unwrap_or_default(),
                    })
                },
            )
            .collect()
    }

    /// Why a rule that holds must not move `stage` to `version`, if it must not.
    fn why_not_move(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        holder: Option<i64>,
    ) -> Result<Option<String>, RegistryError> {
        if let Err(e) = self::stage(stage) {
            return Ok(Some(e.to_string()));
        }
        if let Some(newer) = holder.filter(|h| *h > version) {
            return Ok(Some(format!("version {newer}, which is newer, holds {stage}")));
        }
        let rolled_back = self
            .history(name)?
            .into_iter()
            .rev()
            .find(|m| m.kind == "rollback" && m.stage == stage && m.from == Some(version));
        Ok(rolled_back.map(|m| {
            format!(
                "{stage} was rolled back from version {version} by {} at {}; `mlpc promote` can move it by hand",
                m.by, m.at
            )
        }))
    }

    fn holder(&self, name: &str, stage: &str) -> Result<Option<i64>, RegistryError> {
        Ok(stage_holders(self.store, name)?.get(stage).copied())
    }

    /// One stored promotion rule of a version, evaluated now (`moved` false; `reason` the
    /// evaluator's notes, or why the rule cannot be read).
    fn evaluate_rule(
        &self,
        name: &str,
        version: i64,
        metrics: &BTreeMap<String, f64>,
        raw: &serde_json::Value,
    ) -> Result<RuleOutcome, RegistryError> {
        let rule = match read_rule(raw) {
            Ok(rule) => rule,
            Err(unreadable) => return Ok(unreadable),
        };
        let holders = self.holders_with_metrics(name)?;
        let approvers = self.approvers(name, version, &rule.stage)?;
        Ok(judge(name, version, metrics, rule, &holders, &approvers))
    }

    /// Each held stage: its version and that version's metrics.
    fn holders_with_metrics(&self, name: &str) -> Result<rules::Holders, RegistryError> {
        stage_holders(self.store, name)?
            .into_iter()
            .map(|(stage, v)| Ok((stage, (v, self.version(name, v)?.metrics))))
            .collect()
    }

    fn approvers(&self, name: &str, version: i64, stage: &str) -> Result<Vec<String>, RegistryError> {
        self.store
            .db
            .query(
                "SELECT approved_by FROM approvals WHERE name = ? AND version = ? AND stage = ?
                 ORDER BY approved_at, approved_by",
                args![name, version, stage],
                |r| r.get(0),
            )
            .map_err(db)
    }

    /// Every stage move of a name, oldest first.
    fn history(&self, name: &str) -> Result<Vec<StageMove>, RegistryError> {
        self.store
            .db
            .query(
                "SELECT stage, from_version, to_version, kind, moved_at, moved_by, reason FROM stage_moves
                 WHERE name = ? ORDER BY id",
                args![name],
                |r| {
                    Ok(StageMove {
                        stage: r.get(0)?,
                        from: r.get(1)?,
                        to: r.get(2)?,
                        kind: r.get(3)?,
                        at: r.get(4)?,
                        by: r.get(5)?,
                        reason: r.get(6)?,
                    })
                },
            )
            .map_err(db)
    }
}

/// A change in progress: one transaction, the time and actor it is recorded with, and the
/// audit entries it will append.
struct Tx<'a> {
    reader: Reader<'a>,
    at: String,
    by: String,
    actions: Vec<Action>,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Reader<'a>;
    fn deref(&self) -> &Reader<'a> {
        &self.reader
    }
}

impl Tx<'_> {
    fn record(&mut self, action: &str, name: &str, version: Option<i64>, stage: Option<&str>, reason: Option<String>) {
        self.actions.push(Action {
            action: action.into(),
            at: self.at.clone(),
            name: name.into(),
            version,
            stage: stage.map(str::to_string),
            by: self.by.clone(),
            reason,
        });
    }

    /// Moves a stage's alias to `to`; moving `production` archives the version it left.
    fn move_stage(
        &mut self,
        name: &str,
        stage: &str,
        to: i64,
        kind: &str,
        reason: Option<String>,
    ) -> Result<Move, RegistryError> {
        let from = self.holder(name, stage)?;
        self.insert_move(name, stage, from, to, kind, reason)?;
        let archived = match from {
            Some(left) if stage == "production" => {
                let before = self.holder(name, "archived")?;
                if before != Some(left) {
                    let why = format!("left production for version {to}");
                    self.insert_move(name, "archived", before, left, "archive", Some(why))?;
                }
                Some(left)
            }
            _ => None,
        };
        Ok(Move { name: name.into(), stage: stage.into(), from, to, archived })
    }

    fn insert_move(
        &mut self,
        name: &str,
        stage: &str,
        from: Option<i64>,
        to: i64,
        kind: &str,
        reason: Option<String>,
    ) -> Result<(), RegistryError> {
        self.store.db.execute(
                "INSERT INTO stage_moves SELECT coalesce(max(id), 0) + 1, ?, ?, ?::BIGINT, ?::BIGINT, ?, ?, ?, ? FROM stage_moves",
                args![name, stage, from, to, kind, self.at, self.by, reason],
            )
            .map_err(db)?;
        live::announce(&self.store.db, name).map_err(db)?;
        self.record(kind, name, Some(to), Some(stage), reason);
        Ok(())
    }
}

/// Runs a change in one transaction together with its audit entries' anchor, commits and
/// checkpoints it, then writes the entries to the log: a change whose entries cannot be
/// anchored is rolled back, and entries a crash kept from the log are written by the next
/// open of the store (see [`audit`]).
fn atomically<T>(
    store: &Store,
    by: &str,
    change: impl FnOnce(&mut Tx) -> Result<T, RegistryError>,
) -> Result<T, RegistryError> {
    if by.trim().is_empty() {
        return Err(RegistryError::NoActor);
    }
    let mut tx = Tx { reader: Reader { store }, at: audit::now(), by: by.into(), actions: Vec::new() };
    let (value, records) = store.transaction(|conn| {
        let value = change(&mut tx)?;
        let records = match tx.actions.is_empty() {
            true => Vec::new(),
            false => audit::prepare(&store.dir, conn, &tx.actions)?,
        };
        Ok::<_, RegistryError>((value, records))
    })?;
    crate::stop_point::reached("registry:committed");
    audit::write(store, &records)?;
    Ok(value)
}

/// The highest version of `name` the audit log says was registered: numbers the log has
/// given out are never given again, even when the store has lost them.
fn logged_latest(store: &Store, name: &str) -> i64 {
    // A log that does not read is refused when the change is anchored.
    audit::read(&store.dir)
        .unwrap_or_default()
        .iter()
        .filter(|r| r.entry.action == "register" && r.entry.name == name)
        .filter_map(|r| r.entry.version)
        .max()
        .unwrap_or(0)
}

/// The audit log, whose chain holds, against an open store: the anchor the store keeps
/// (the log's length and head), then the registry (every version, stage and approval).
pub fn log_problems(store: &Store, chain: &audit::Verified) -> Result<Vec<String>, String> {
    let anchor = audit::anchor(&store.db)?;
    let mut problems = audit::check_anchor(store, anchor.as_ref(), chain);
    problems.extend(disagreements(store, &chain.records)?);
    Ok(problems)
}

/// Where the registry and the audit log disagree: versions, artifacts, stage holders, stage
/// moves and approvals the log records and the registry lacks, or the other way round.
/// One line each; the last says what the likely cause is when the store lost changes.
pub fn disagreements(store: &Store, records: &[audit::Record]) -> Result<Vec<String>, RegistryError> {
    #[derive(Default)]
    struct Logged {
        versions: BTreeMap<i64, (u64, Option<String>)>,
        holders: BTreeMap<String, (i64, u64)>,
        moves: usize,
        approvals: BTreeMap<(i64, String, String), u64>,
    }
    let mut logged: BTreeMap<&str, Logged> = BTreeMap::new();
    for r in records {
        let e = &r.entry;
        let (Some(version), name) = (e.version, e.name.as_str()) else { continue };
        let l = logged.entry(name).or_default();
        match (e.action.as_str(), &e.stage) {
            ("register", _) => {
                let sha = e.reason.as_deref().and_then(|r| r.split("artifact sha256:").nth(1)).map(str::to_string);
                l.versions.insert(version, (e.seq, sha));
            }
            ("promote" | "rollback" | "archive", Some(stage)) => {
                l.holders.insert(stage.clone(), (version, e.seq));
                l.moves += 1;
            }
            ("approve", Some(stage)) => {
                l.approvals.insert((version, stage.clone(), e.by.clone()), e.seq);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let mut lost = false;
    let mut names: Vec<String> = names(store)?.into_iter().map(|(n, _)| n).collect();
    names.extend(logged.keys().map(|n| n.to_string()));
    names.sort();
    names.dedup();
    let empty = Logged::default();
    for name in &names {
        let l = logged.get(name.as_str()).unwrap_or(&empty);
        let held: BTreeMap<i64, String> = store
            .db
            .query(
                "SELECT version, artifact_sha256 FROM model_versions WHERE name = ? ORDER BY version",
                args![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db)?
            .into_iter()
            .collect();
        for (version, (seq, sha)) in &l.versions {
            match (held.get(version), sha) {
                (None, _) => {
                    lost = true;
                    out.push(format!(
                        "the log registers version {version} of `{name}` (entry {seq}), but the registry has no such version"
                    ));
                }
                (Some(have), Some(sha)) if have != sha => out.push(format!(
                    "version {version} of `{name}`: the registry's artifact is sha256:{have}, the log's (entry {seq}) sha256:{sha}"
                )),
                _ => {}
            }
        }
        for version in held.keys().filter(|v| !l.versions.contains_key(v)) {
            out.push(format!("the registry has version {version} of `{name}`, which the log never registered"));
        }
        let holders = stage_holders(store, name)?;
        for stage in STAGES {
            match (l.holders.get(stage), holders.get(stage)) {
                (Some((v, seq)), Some(h)) if v != h => out.push(format!(
                    "the log puts version {v} of `{name}` in {stage} (entry {seq}), but the registry has version {h} there"
                )),
                (Some((v, seq)), None) => {
                    lost = true;
                    out.push(format!(
                        "the log puts version {v} of `{name}` in {stage} (entry {seq}), but the registry has none there"
                    ));
                }
                (None, Some(h)) => out.push(format!(
                    "the registry has version {h} of `{name}` in {stage}, which the log never recorded"
                )),
                _ => {}
            }
        }
        let moves: i64 = store
            .db
            .query_row("SELECT count(*) FROM stage_moves WHERE name = ?", args![name], |r| r.get(0))
            .map_err(db)?;
        if moves as usize != l.moves {
            lost |= (moves as usize) < l.moves;
            out.push(format!("the log records {} stage moves of `{name}`, the registry {moves}", l.moves));
        }
        let approved: Vec<(i64, String, String)> = store
            .db
            .query("SELECT version, stage, approved_by FROM approvals WHERE name = ?", args![name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(db)?;
        for ((v, stage, by), seq) in &l.approvals {
            if !approved.contains(&(*v, stage.clone(), by.clone())) {
                lost = true;
                out.push(format!(
                    "the log records {by}'s approval of version {v} of `{name}` for {stage} (entry {seq}), which the registry lacks"
                ));
            }
        }
        for (v, stage, by) in approved.iter().filter(|a| !l.approvals.contains_key(a)) {
            out.push(format!(
                "the registry has {by}'s approval of version {v} of `{name}` for {stage}, which the log never recorded"
            ));
        }
    }
    if lost {
        out.push(format!(
            "the store lost changes the audit log records (was {0}.wal deleted, or {0} replaced by an older copy?); \
             version numbers the log gave out are not given again",
            store.dir.join("state.duckdb").display()
        ));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
