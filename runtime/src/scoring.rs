//! Batch scoring: the registered version at a stage scores a table — its rows completed with
//! the features they lack, filled point-in-time from their views — through ONNX Runtime in
//! batches, into one Parquet file: the entity's key (and time), the model's name and version,
//! and the prediction (`label` and `probability_CLASS` per class, or `value`). The `score`
//! node and `mlpc score` both run a [`Job`].

use crate::frames;
use crate::node_io::{Failure, Inputs, Produced};
use crate::nodes::{self, view_join, AsOf};
use crate::registry::{self, RegistryError};
use crate::sql::{column_type, ident, literal};
use crate::store::{file_sha256, Store, StoreError};
use duckdb::ToSql;
use mlpc_plan::{Column, DatasetDef, NodeDef, Plan, PlanError, ScoreDef, Task};
use mlpc_train::onnx::ModelProto;
use mlpc_train::scorer::Scorer;
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Rows per ONNX Runtime call.
pub const BATCH_ROWS: usize = 65_536;

/// How a score node's cache key names the version it scores with, so that the node reruns
/// when its stage moves to another version.
pub(crate) const STAGED: &str = "staged ";

/// A registered version at a stage, and where its artifact is.
pub struct Staged {
    pub name: String,
    pub stage: String,
    pub version: i64,
    pub sha256: String,
    pub path: PathBuf,
}

/// The version of `name` that holds `stage` now.
pub fn at_stage(store: &Store, name: &str, stage: &str) -> Result<Staged, RegistryError> {
    let v = registry::at_stage(store, name, stage)?;
    Ok(Staged {
        name: name.into(),
        stage: stage.into(),
        version: v.version,
        path: store.artifact_path(&v.artifact_sha256, "onnx"),
        sha256: v.artifact_sha256,
    })
}

/// [`at_stage`], its artifact fetched from the artifact store (`--artifacts`) when this
/// machine lacks it: the model a scoring job loads.
fn staged_here(store: &Store, name: &str, stage: &str) -> Result<Staged, ScoringError> {
    let staged = at_stage(store, name, stage)?;
    let path = store.artifact(&staged.sha256, "onnx").map_err(ScoringError::Scoring)?;
    Ok(Staged { path, ..staged })
}

/// What a score node's key holds of the registry: the version at its stage; `None` while no
/// version holds it (the node then fails saying so).
pub(crate) fn staged_key(store: &Store, def: &ScoreDef) -> Option<String> {
    at_stage(store, &def.registered, &def.stage).ok().map(|s| format!("{STAGED}v{} {}", s.version, s.sha256))
}

/// Why a scoring job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{error}{}", stage_hint(error))]
    Registry {
        #[from]
        error: RegistryError,
    },
    #[error("{0} is neither a .csv nor a .parquet file")]
    Format(PathBuf),
    #[error("version {version} of `{name}` was registered without its plan: run the pipeline again to register one")]
    NoPlan { name: String, version: i64 },
    #[error("the plan of version {version} of `{name}`: {why}")]
    Plan { name: String, version: i64, why: String },
    #[error("{} lacks what `{name}` needs:\n{}", input.display(), missing.join("\n"))]
    Missing { input: PathBuf, name: String, missing: Vec<String> },
    #[error("`{view}` has no table in {}: run the pipeline with `mlpc run` first", state.display())]
    NoFeatures { view: String, state: PathBuf },
    #[error("{0}")]
    Scoring(String),
}

/// What to do about a stage no version holds.
fn stage_hint(e: &RegistryError) -> String {
    match e {
        RegistryError::StageEmpty { name, stage } => {
            format!(": move a version there with `mlpc promote {name} VERSION --stage {stage}` or `mlpc approve`")
        }
        _ => String::new(),
    }
}

impl From<PlanError> for ScoringError {
    fn from(e: PlanError) -> ScoringError {
        ScoringError::Scoring(e.to_string())
    }
}

/// A feature view that fills model inputs a scored table lacks: its table (all rows when
/// the entity has a time, else the online table) and how fresh a value must be.
pub struct Fill {
    pub view: String,
    pub table: PathBuf,
    pub ttl_ms: Option<u64>,
}

/// One scoring pass: rows, what to complete them with, and the version that scores them.
pub struct Job<'a> {
    /// The rows, as SQL with a `__row` column that orders them.
    pub rows: String,
    pub keys: &'a [String],
    pub time: Option<&'a str>,
    /// The model's inputs with their types; those with a `view` come from `fills`.
    pub inputs: &'a [Column],
    pub fills: &'a [Fill],
    pub task: Option<Task>,
    pub model: &'a Staged,
}

impl Job<'_> {
    /// Scores every row into a Parquet file at `out`; returns the number of rows.
    pub fn run(&self, out: &Path) -> Result<u64, String> {
        let m = self.model;
        let bytes = std::fs::read(&m.path).map_err(|e| format!("cannot read {}: {e}", m.path.display()))?;
        let actual = format!("{:x}", Sha256::digest(&bytes));
        if actual != m.sha256 {
            return Err(format!(
                "version {} of `{}` is refused: its artifact {} has sha256 {actual}, but the registry recorded {}",
                m.version,
                m.name,
                m.path.display(),
                m.sha256
            ));
        }
        let mut scorer = crate::training::scorer(&bytes)?;
        let classes = match self.task {
            Some(Task::Classification) => Some(classes(&bytes, &scorer)?),
            _ => None,
        };
        let conn = nodes::db()?;
        let sql = |q: &str| conn.execute_batch(q).map_err(|e| e.to_string());
        sql(&format!("CREATE TABLE rows AS {}", self.completed()))?;
        let predicted: Vec<String> = match &classes {
            Some(classes) => std::iter::once("label VARCHAR".to_string())
                .chain(classes.iter().map(|c| format!("{} FLOAT", ident(&format!("probability_{c}")))))
                .collect(),
            None => vec!["value FLOAT".into()],
        };
        sql(&format!("CREATE TABLE predictions ({})", predicted.join(", ")))?;
        let typed = self
            .inputs
            .iter()
            .map(|c| Ok((c.name.clone(), frames::input_type(c.ty).ok_or(format!("a model cannot take `{}`", c.name))?)))
            .collect::<Result<Vec<_>, String>>()?;
        let mut appender = conn.appender("predictions").map_err(|e| e.to_string())?;
        frames::for_each_batch(&conn, "rows", &typed, BATCH_ROWS, |frame| {
            let outputs = scorer.score(&frame).map_err(String::from)?;
            let p = crate::training::predictions(outputs, classes.as_deref(), frame.rows())?;
            append(&mut appender, &p, frame.rows())
        })?;
        appender.flush().map_err(|e| e.to_string())?;
        drop(appender);
        let carried: Vec<String> = self.keys.iter().map(String::as_str).chain(self.time).map(ident).collect();
        let select = format!(
            "SELECT {}, {} AS model, CAST({} AS BIGINT) AS model_version, p.* FROM rows POSITIONAL JOIN predictions AS p",
            carried.join(", "),
            literal(&m.name),
            m.version
        );
        nodes::copy_to(&conn, &select, out).map(|n| n as u64)
    }

    /// The rows with the keys, the time and each model input, those the rows lack filled
    /// from their views as of each row's time, in the rows' order.
    fn completed(&self) -> String {
        let mut names: Vec<&str> = self.keys.iter().map(String::as_str).chain(self.time).collect();
        names.extend(self.inputs.iter().filter(|c| c.view.is_none()).map(|c| c.name.as_str()));
        let mut seen = BTreeSet::new();
        let mut select: Vec<String> =
            names.into_iter().filter(|n| seen.insert(*n)).map(|n| format!("e.{}", ident(n))).collect();
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        let mut joins = String::new();
        for (i, f) in self.fills.iter().enumerate() {
            let features: Vec<&str> = self
                .inputs
                .iter()
                .filter(|c| c.view.as_deref() == Some(f.view.as_str()))
                .map(|c| c.name.as_str())
                .collect();
            let table = format!("read_parquet({})", literal(&f.table.to_string_lossy()));
            let how = AsOf::Latest { ttl_ms: f.ttl_ms };
            let (join, read) =
                view_join(&table, &format!("v{i}"), &keys, self.time, &how, &features, &mlpc_plan::sql::DuckDb);
            joins.push_str(&join);
            select.extend(read);
        }
        format!("SELECT {} FROM {} AS e{joins} ORDER BY e.__row", select.join(", "), self.rows)
    }
}

/// Appends a batch's predictions: the label and each class's probability, or the value.
fn append(appender: &mut duckdb::Appender, p: &mlpc_train::Predictions, rows: usize) -> Result<(), String> {
    let mut row: Vec<&dyn ToSql> = Vec::with_capacity(p.width + 1);
    for i in 0..rows {
        row.clear();
        if let Some(label) = p.labels.get(i) {
            row.push(label);
        }
        row.extend(p.row(i).iter().map(|x| x as &dyn ToSql));
        appender.append_row(duckdb::appender_params_from_iter(&row)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A classifier's classes: its `mlpc.classes` metadata, else numbered by its
/// `probabilities` output's width.
fn classes(bytes: &[u8], scorer: &Scorer) -> Result<Vec<String>, String> {
    let onnx = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    if let Some(p) = onnx.metadata_props.iter().find(|p| p.key == "mlpc.classes") {
        return Ok(p.value.split(',').map(String::from).collect());
    }
    let width = scorer.outputs.iter().find(|p| p.name == "probabilities").and_then(|p| p.shape.last().copied());
    match width.filter(|w| *w > 0) {
        Some(w) => Ok((0..w).map(|i| i.to_string()).collect()),
        None => Err("cannot tell the model's classes: it has no `mlpc.classes` metadata and no `probabilities` output of a fixed width".into()),
    }
}

/// Puts a score's artifact at its output path (written aside, then renamed), unless the
/// file there already holds those bytes.
pub fn publish(artifact: &Path, output: &Path) -> Result<(), String> {
    let sha = artifact.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if output.is_file() && file_sha256(output).is_ok_and(|s| s == sha) {
        return Ok(());
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let aside = aside(output);
    std::fs::copy(artifact, &aside).map_err(|e| format!("cannot write {}: {e}", aside.display()))?;
    std::fs::rename(&aside, output).map_err(|e| format!("cannot write {}: {e}", output.display()))
}

/// Where a file is written before it is renamed into place.
fn aside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// The views the inputs are filled from, each once, in order.
fn views(inputs: &[Column]) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    inputs.iter().filter_map(|c| c.view.as_deref()).filter(|v| seen.insert(*v)).collect()
}

/// Which table of a view fills rows: all its rows (as of a time), or one per key.
fn fill_role(time: Option<&str>) -> &'static str {
    if time.is_some() {
        "data"
    } else {
        "online"
    }
}

/// A `score` node: the version at its stage scores its input's rows into its output file.
pub fn node(node: &mlpc_plan::Node, def: &ScoreDef, inputs: &Inputs) -> Result<Produced, Failure> {
    let fail = |e: String| Failure { message: format!("score `{}`: {e}", node.name) };
    let model = Store::open(inputs.state_dir)
        .map_err(ScoringError::from)
        .and_then(|store| staged_here(&store, &def.registered, &def.stage))
        .map_err(|e| fail(e.to_string()))?;
    let mut fills = Vec::new();
    for view in views(&def.inputs) {
        let id = format!("features:{view}");
        let Some(NodeDef::Features(f)) = inputs.nodes.get(&id).map(|n| &n.def) else {
            return Err(fail(format!("`{id}` is not an input")));
        };
        let table = inputs.artifact(&id, fill_role(def.time.as_deref()))?;
        fills.push(Fill { view: view.to_string(), table, ttl_ms: f.ttl_ms });
    }
    let job = Job {
        rows: nodes::numbered(&inputs.artifact(&def.input, "data")?),
        keys: &def.keys,
        time: def.time.as_deref(),
        inputs: &def.inputs,
        fills: &fills,
        task: def.task,
        model: &model,
    };
    let out = inputs.tmp_file(&node.id, "data", "parquet");
    let rows = job.run(&out).map_err(fail)?;
    publish(&out, &inputs.base_dir.join(&def.output)).map_err(fail)?;
    let mut p = Produced { files: vec![("data".into(), out)], ..Default::default() };
    p.metrics.insert("rows".into(), rows as f64);
    p.metrics.insert("version".into(), model.version as f64);
    p.params.insert("registered".into(), model.name.clone());
    p.params.insert("stage".into(), model.stage.clone());
    p.params.insert("version".into(), model.version.to_string());
    p.params.insert("model_sha256".into(), model.sha256.clone());
    p.message =
        format!("{rows} rows scored by {} v{} ({}) into {}", model.name, model.version, model.stage, def.output);
    Ok(p)
}

/// What `mlpc score` did.
pub struct OneOff {
    pub rows: u64,
    pub version: i64,
    /// The model inputs filled from views, by view.
    pub filled: Vec<(String, Vec<String>)>,
}

/// Scores a CSV or Parquet file with the version of `name` at `stage` (`mlpc score`). The
/// model's inputs the file lacks are filled point-in-time from their views' latest tables in
/// `state_dir` when it has the entity's key and time; otherwise the error names what is missing.
pub fn one_off(state_dir: &Path, name: &str, stage: &str, input: &Path, output: &Path) -> Result<OneOff, ScoringError> {
    let reader = match input.extension().and_then(|e| e.to_str()) {
        Some("csv") => format!("read_csv({}, header = true, auto_detect = true)", literal(&input.to_string_lossy())),
        Some("parquet") => format!("read_parquet({})", literal(&input.to_string_lossy())),
        _ => return Err(ScoringError::Format(input.to_path_buf())),
    };
    let store = Store::open_read_only(state_dir)?;
    let model = staged_here(&store, name, stage)?;
    let version = registry::version(&store, name, model.version)?;
    let plan_error = |why: String| ScoringError::Plan { name: name.into(), version: model.version, why };
    let plan = Plan::from_json(
        registry::recorded_plan(&store, name, model.version)?
            .as_deref()
            .ok_or(ScoringError::NoPlan { name: name.into(), version: model.version })?,
    )?;
    let (model_node, model_def) = plan.model(version.model_node.trim_start_matches("model:")).map_err(plan_error)?;
    let entity = entity(&plan, model_def.dataset.as_deref()).map_err(plan_error)?;
    let keys: Vec<String> = entity.iter().filter(|c| c.key).map(|c| c.name.clone()).collect();
    let time = entity.iter().find(|c| c.time);

    let conn = nodes::db().map_err(ScoringError::Scoring)?;
    let present =
        columns(&conn, &reader).map_err(|e| ScoringError::Scoring(format!("cannot read {}: {e}", input.display())))?;
    let has = |c: &str| present.iter().any(|p| p == c);
    let mut missing: Vec<String> = keys
        .iter()
        .filter(|k| !has(k))
        .map(|k| format!("  `{k}`: the entity's key, written with each prediction"))
        .collect();
    let mut inputs = Vec::new();
    let mut untimed: Vec<&str> = Vec::new();
    for c in &model_node.schema {
        match (has(&c.name), &c.view) {
            (true, _) => inputs.push(Column { view: None, ..c.clone() }),
            (false, Some(_)) if time.is_some_and(|t| !has(&t.name)) => untimed.push(&c.name),
            (false, Some(_)) => inputs.push(c.clone()),
            (false, None) => missing.push(format!("  `{}`: an input of the model", c.name)),
        }
    }
    if let (Some(t), false) = (time, untimed.is_empty()) {
        missing.push(format!("  `{}`: the time to fill {} from their views as of", t.name, untimed.join(", ")));
    }
    if !missing.is_empty() {
        return Err(ScoringError::Missing { input: input.to_path_buf(), name: name.into(), missing });
    }
    let mut fills = Vec::new();
    let mut filled = Vec::new();
    for view in views(&inputs) {
        let (node, f) = plan.features(view).map_err(plan_error)?;
        let role = fill_role(time.map(|t| t.name.as_str()));
        let sha = store.latest_artifact(&node.id, role).map_err(ScoringError::Scoring)?;
        let Some(sha) = sha else {
            return Err(ScoringError::NoFeatures { view: view.into(), state: state_dir.to_path_buf() });
        };
        fills.push(Fill {
            view: view.into(),
            table: store.artifact(&sha, "parquet").map_err(ScoringError::Scoring)?,
            ttl_ms: f.ttl_ms,
        });
        let names = inputs.iter().filter(|c| c.view.as_deref() == Some(view)).map(|c| c.name.clone()).collect();
        filled.push((view.to_string(), names));
    }
    drop(store);
    // The key and time as the views have them, whatever type the file's reader gave them.
    let cast: Vec<String> = entity
        .iter()
        .filter(|c| (c.key || c.time) && has(&c.name))
        .map(|c| format!("CAST({0} AS {1}) AS {0}", ident(&c.name), column_type(c.ty)))
        .collect();
    let replace = if cast.is_empty() { String::new() } else { format!(" REPLACE ({})", cast.join(", ")) };
    let job = Job {
        rows: format!("(SELECT row_number() OVER () AS __row, *{replace} FROM {reader})"),
        keys: &keys,
        time: time.map(|t| t.name.as_str()),
        inputs: &inputs,
        fills: &fills,
        task: model_def.task,
        model: &model,
    };
    let aside = aside(output);
    let rows = job.run(&aside).map_err(ScoringError::Scoring)?;
    std::fs::rename(&aside, output)
        .map_err(|e| ScoringError::Scoring(format!("cannot write {}: {e}", output.display())))?;
    Ok(OneOff { rows, version: model.version, filled })
}

/// The columns of the entity a model's dataset is built on (its base source's schema).
fn entity<'p>(plan: &'p Plan, dataset: Option<&str>) -> Result<&'p [Column], String> {
    let id = format!("dataset:{}", dataset.ok_or("the model names no dataset")?);
    let Some(NodeDef::Dataset(DatasetDef { base, .. })) = plan.node(&id).map(|n| &n.def) else {
        return Err(format!("it has no `{id}`"));
    };
    plan.node(&format!("source:{base}")).map(|n| n.schema.as_slice()).ok_or(format!("it has no `source:{base}`"))
}

/// The column names of a relation.
fn columns(conn: &duckdb::Connection, from: &str) -> Result<Vec<String>, String> {
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM {from}")).map_err(|e| e.to_string())?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    names.collect::<Result<_, _>>().map_err(|e| e.to_string())
}
