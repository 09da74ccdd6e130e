//! The command line's arguments, shared by `mlpc` and `mlpc-runtime`.

use crate::{CheckFormat, GraphFormat, PlanFormat};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "mlpc", version, about = "Type-check, format and compile .mlp ML lifecycle programs")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Keep artifacts in this object store too (`s3://BUCKET/PREFIX`, `gs://…`, `az://…`,
    /// `file:///DIR`): what a run records is uploaded, what a machine lacks is fetched,
    /// sha256-checked, into its state folder. Credentials come from the environment.
    /// Default: `MLPC_ARTIFACTS` (the only way for `export kserve`, whose `--artifacts` is
    /// its output folder).
    #[arg(long, global = true, value_name = "URL")]
    pub artifacts: Option<String>,
}

#[derive(Subcommand)]
pub enum RunsCommand {
    /// One run: its nodes, metrics and artifacts.
    Show { id: i64 },
    /// What differs between two runs.
    Compare { a: i64, b: i64 },
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// One registered name: its versions, stages, approvals and stage history.
    Show { name: String },
}

#[derive(Subcommand)]
pub enum StateCommand {
    /// Apply the schema migrations a Postgres store lacks, saying which; refused when the
    /// store is newer than this mlpc.
    Migrate {
        /// The store: `postgres://USER@HOST:PORT/DATABASE`.
        #[arg(long)]
        state: String,
    },
    /// Copy a state folder (runs, registry, audit log; its artifacts to `--artifacts` and to
    /// this machine's folder for the target) onto an empty Postgres store.
    Copy {
        /// The state folder, e.g. `.mlp`.
        #[arg(long)]
        from: String,
        /// The store: `postgres://USER@HOST:PORT/DATABASE`.
        #[arg(long)]
        to: String,
        /// Empty a store that is not empty first (in the same transaction).
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the log's hash chain, then the log against the store (its anchor and the
    /// registry); exit 1 naming the first damaged line or every disagreement.
    Verify,
}

/// Where the registry is, and how to print.
#[derive(Args)]
pub struct RegistryArgs {
    /// The state folder.
    #[arg(long, default_value = ".mlp", global = true)]
    pub state: String,
    /// JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Who changes the registry, and why.
#[derive(Args)]
pub struct ChangeArgs {
    /// Who does this (recorded in the audit log).
    #[arg(long)]
    pub by: String,
    /// Why (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
}

/// What `mlpc export` writes.
#[derive(Subcommand)]
pub enum ExportTarget {
    /// An Argo Workflows `Workflow` (and a `CronWorkflow` when the pipeline has a schedule):
    /// one task per node, each `mlpc run PLAN --node ID` on the shared state. YAML on stdout.
    Argo(ArgoArgs),
    /// A KServe `InferenceService` per `serve` block, on Triton, and the Triton model
    /// repository of each served version under `--artifacts`. YAML on stdout.
    Kserve(KserveArgs),
}

#[derive(Args)]
pub struct ArgoArgs {
    pub file: String,
    /// The image the tasks run (built from the repository's Dockerfile).
    #[arg(long, default_value = concat!("mlpc:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// The shared state every task runs on, passed to `mlpc run --state` as given.
    #[arg(long)]
    pub state: Option<String>,
    /// A Secret whose keys MLPC_STATE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    /// AWS_ENDPOINT_URL the tasks get as environment variables (the state from MLPC_STATE
    /// when --state is not given).
    #[arg(long)]
    pub secret: Option<String>,
    /// The artifact store, passed to `mlpc run --artifacts` as given.
    #[arg(long)]
    pub artifacts: Option<String>,
    /// The pipeline's folder in the image: the plan's relative paths (data files) start there.
    #[arg(long, default_value = "/pipeline")]
    pub base_dir: String,
    #[arg(long)]
    pub namespace: Option<String>,
    /// Retries of each node's task.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
}

#[derive(Args)]
pub struct KserveArgs {
    pub file: String,
    /// The state folder whose registry says which version each serve block's stage holds.
    #[arg(long)]
    pub state: Option<String>,
    /// The folder to write the Triton repositories into (`<name>/v<version>/…`).
    #[arg(long)]
    pub artifacts: String,
    /// The URI the cluster reads that folder by (e.g. `s3://models/mlpc` once synced there).
    #[arg(long)]
    pub storage_uri: String,
    #[arg(long, value_enum, default_value_t = KserveMode::Serverless)]
    pub mode: KserveMode,
    #[arg(long)]
    pub namespace: Option<String>,
    /// The most rows Triton batches into one call.
    #[arg(long, default_value_t = 64)]
    pub max_batch: u32,
}

/// Where `mlpc run`'s data nodes run (docs/spark.md).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// DuckDB, in this process.
    Duckdb,
    /// Spark, through Spark Connect at `--spark-remote`.
    Spark,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KserveMode {
    /// Knative revisions, traffic split by `canaryTrafficPercent`.
    Serverless,
    /// Plain Deployments, traffic split by `spec.canary`.
    Raw,
}

/// `mlpc daemon`'s options.
#[derive(Args)]
pub struct DaemonArgs {
    pub file: String,
    /// The state folder; default `.mlp/` beside FILE.
    #[arg(long)]
    pub state: Option<String>,
    /// Where the models are served.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Where the daemon's API listens: /metrics of the monitors, feedback, /admin.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub api_addr: std::net::SocketAddr,
    /// A file holding the admin API's bearer token (else MLPC_ADMIN_TOKEN; neither: admin API off).
    #[arg(long)]
    pub admin_token_file: Option<String>,
    /// POST each alert here as JSON (else MLPC_WEBHOOK).
    #[arg(long)]
    pub webhook: Option<String>,
    /// Run the pipeline once at start.
    #[arg(long)]
    pub now: bool,
    /// How often, in ms, to look for due runs, due monitors and a changed file.
    #[arg(long, default_value_t = 1000)]
    pub tick_ms: u64,
    /// Logged rows a monitor needs in its window before alerts are evaluated.
    #[arg(long, default_value_t = 100)]
    pub min_window: usize,
    #[command(flatten)]
    pub limits: ServeLimits,
    /// Nodes run at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    #[command(flatten)]
    pub kserve: KserveDriver,
}

/// `mlpc daemon --kserve`: the canaries of the exported InferenceServices driven by the
/// program's gates (docs/kubernetes.md, "The gate driver").
#[derive(Args, Clone, Debug)]
pub struct KserveDriver {
    /// Serve nothing here: drive the canaries of the InferenceServices `mlpc export kserve`
    /// wrote, judging the gates on Prometheus' figures.
    #[arg(long, requires = "prometheus")]
    pub kserve: bool,
    /// The services' namespace; default the credentials' namespace.
    #[arg(long, requires = "kserve")]
    pub namespace: Option<String>,
    /// The API server's URL without credentials (e.g. `kubectl proxy`'s); default in-cluster
    /// or kubeconfig credentials.
    #[arg(long, requires = "kserve")]
    pub kube_api: Option<String>,
    /// Prometheus' http:// URL, read through /api/v1/query.
    #[arg(long, requires = "kserve")]
    pub prometheus: Option<String>,
    /// The query of a serving metric instead of its default (repeatable); `$namespace`,
    /// `$model`, `$version` and `$window` are filled in.
    #[arg(long = "prometheus-query", value_name = "METRIC=PROMQL", requires = "kserve")]
    pub prometheus_queries: Vec<String>,
}

/// What one request and one connection may take, on `mlpc serve` and `mlpc daemon`
/// (docs/serving.md, "Limits").
#[derive(Args, Clone, Debug)]
pub struct ServeLimits {
    /// The largest request body accepted, in bytes; a larger Content-Length is refused (413)
    /// before the body is read.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body: usize,
    /// The most rows one prediction request may hold, on every protocol (413 past it).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: u64,
    /// A request's headers must arrive within this from its first byte (e.g. 500ms, 10s, 2m).
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub header_timeout: std::time::Duration,
    /// A request's body must arrive within this from the end of its headers (else 408).
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub body_timeout: std::time::Duration,
    /// A connection with no request in progress is closed after this.
    #[arg(long, default_value = "60s", value_parser = duration)]
    pub idle_timeout: std::time::Duration,
    /// Connections open at once, lowered to fit the open-file limit (ulimit -n); past it the
    /// longest-idle connection is closed for the new one.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    #[command(flatten)]
    pub batching: ServeBatching,
}

/// How concurrent requests for one version are scored together (docs/serving.md, "Batching").
#[derive(Args, Clone, Debug)]
pub struct ServeBatching {
    /// The most rows scored in one ONNX Runtime call; 1 turns batching off.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch: u64,
    /// How long a batch waits for more requests after its first (e.g. 200us, 1ms); 0 takes
    /// only what is already queued, adding no wait.
    #[arg(long, default_value = "0", value_parser = delay)]
    pub batch_delay: std::time::Duration,
    /// ONNX Runtime sessions (threads) per served version; default one per core.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub sessions: Option<u64>,
}

/// A duration flag, read by `humantime`: `500ms`, `10s`, `2m`, `1h 30m`; more than zero and
/// less than a day.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): write e.g. 500ms, 10s or 2m"))?;
    if d.is_zero() || d >= std::time::Duration::from_secs(86_400) {
        return Err(format!("`{text}` must be more than zero and less than a day"));
    }
    Ok(d)
}

/// A batch delay: `0`, or a duration under a second (`200us`, `2ms`).
fn delay(text: &str) -> Result<std::time::Duration, String> {
    if text.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): write e.g. 0, 200us or 2ms"))?;
    if d >= std::time::Duration::from_secs(1) {
        return Err(format!("`{text}` is a second or more: a batch delay adds to every request's latency"));
    }
    Ok(d)
}

#[derive(Subcommand)]
pub enum Command {
    /// Check programs and report every diagnostic (exit 0 clean, 1 errors, 2 usage or IO).
    Check {
        /// Files or folders (searched for `*.mlp`); default `.`.
        paths: Vec<String>,
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Rewrite files in the canonical layout (comments kept).
    Fmt {
        /// Files or folders; default `.`.
        paths: Vec<String>,
        /// Change nothing; list files that are not formatted and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Print the compiled plan: the DAG the runtime executes.
    Plan {
        file: String,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Say which nodes a run against this state folder would execute, and why.
        #[arg(long)]
        state: Option<String>,
    },
    /// Run a pipeline — a `.mlp` file, or a plan compiled by `mlpc plan --format json` —
    /// cached and tracked.
    Run {
        /// A `.mlp` file, or a compiled plan (`.json`).
        file: String,
        /// The state folder (tracking store and artifacts); default `.mlp/` beside FILE.
        #[arg(long)]
        state: Option<String>,
        /// Run only this node (e.g. `model:churn_model`); what it reads must be in the state.
        #[arg(long)]
        node: Option<String>,
        /// The folder the plan's relative paths (data, models) start from; default FILE's folder.
        #[arg(long)]
        base_dir: Option<String>,
        /// Rerun every node, even those whose inputs did not change.
        #[arg(long)]
        force: bool,
        /// Nodes run at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// One JSON event per line instead of text.
        #[arg(long)]
        json: bool,
        /// Where the data nodes (sources, checks, features, datasets, splits) run.
        #[arg(long, value_enum, default_value = "duckdb")]
        engine: EngineArg,
        /// The Spark Connect server of `--engine spark` (`sc://host:15002`); it must read
        /// the same paths as this process (a local server, or shared storage).
        #[arg(long, required_if_eq("engine", "spark"))]
        spark_remote: Option<String>,
    },
    /// Write example data: `mlpc example-data churn --customers 2000 --out examples/churn/data`.
    ExampleData {
        /// Which example (`churn`).
        example: String,
        #[arg(long, default_value_t = 2000)]
        customers: u64,
        /// Mean orders per customer.
        #[arg(long, default_value_t = 5.0)]
        orders_per_customer: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// A shifted "production" sample, for drift monitors.
        #[arg(long)]
        drift: bool,
        #[arg(long)]
        out: String,
    },
    /// List tracked runs, show one, or compare two.
    Runs {
        #[command(subcommand)]
        command: Option<RunsCommand>,
        /// The state folder.
        #[arg(long, default_value = ".mlp", global = true)]
        state: String,
        #[arg(long, global = true)]
        json: bool,
    },
    /// The model registry: each name with its latest version and stages, or one name in detail.
    Models {
        #[command(subcommand)]
        command: Option<ModelsCommand>,
        #[command(flatten)]
        at: RegistryArgs,
    },
    /// Approve a version for a stage, then apply its promotion rules.
    Approve {
        name: String,
        version: i64,
        #[arg(long)]
        stage: String,
        #[command(flatten)]
        change: ChangeArgs,
        #[command(flatten)]
        at: RegistryArgs,
    },
    /// Move a stage to a version by hand (`production` archives the version it leaves).
    Promote {
        name: String,
        version: i64,
        #[arg(long)]
        stage: String,
        #[command(flatten)]
        change: ChangeArgs,
        #[command(flatten)]
        at: RegistryArgs,
    },
    /// Move a stage back to the version it held before.
    Rollback {
        name: String,
        #[arg(long, default_value = "production")]
        stage: String,
        #[command(flatten)]
        change: ChangeArgs,
        #[command(flatten)]
        at: RegistryArgs,
    },
    /// Print the registry's audit log, or verify it.
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        #[command(flatten)]
        at: RegistryArgs,
    },
    /// The shared store: migrate its schema, or move a state folder onto it.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Write a version's model card in Markdown (default: the production version, else the latest).
    Card {
        name: String,
        version: Option<i64>,
        /// The state folder.
        #[arg(long, default_value = ".mlp")]
        state: String,
        /// Write the card to this file instead of printing it.
        #[arg(long)]
        out: Option<String>,
    },
    /// Serve the pipeline's `serve` blocks from the registry over HTTP: Open Inference
    /// Protocol v2, MLflow scoring, plain JSON, Prometheus metrics; the Open Inference
    /// Protocol over gRPC too with --grpc-addr. Stops on SIGTERM or Ctrl-C.
    Serve {
        file: String,
        /// The state folder (registry and artifacts); default `.mlp/` beside FILE.
        #[arg(long)]
        state: Option<String>,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Also serve the Open Inference Protocol over gRPC (inference.GRPCInferenceService)
        /// here, e.g. 127.0.0.1:8001 (port 0: any free port, printed as `grpc on ADDR`). Off
        /// unless given.
        #[arg(long)]
        grpc_addr: Option<std::net::SocketAddr>,
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Serve, run the pipeline on its schedule, check its monitors and act on their alerts,
    /// reload on change; stops on SIGTERM or Ctrl-C. Guide: docs/daemon.md.
    Daemon(DaemonArgs),
    /// Test each column of CURRENT against REFERENCE for drift (Evidently's default tests); exit 0 without
    /// dataset drift, 1 with it, 2 on a usage or IO error.
    Drift {
        /// The reference sample (Parquet), e.g. the training split.
        reference: String,
        /// The current sample (Parquet).
        current: String,
        /// Columns to test, comma-separated; default every number, bool and text column of REFERENCE.
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// A test for one column instead of its default, e.g. `--test monthly_spend=psi` (repeatable).
        #[arg(long = "test", value_name = "COLUMN=TEST")]
        tests: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The lifecycle in a browser: the pipeline, runs, the registry (approve, promote and
    /// roll back with the admin token), serving and monitors. Guide: docs/ui.md.
    Ui {
        file: String,
        /// The state folder; default `.mlp/` beside FILE.
        #[arg(long)]
        state: Option<String>,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: std::net::SocketAddr,
        /// A file holding the admin token (else MLPC_ADMIN_TOKEN; neither: the registry is read-only).
        #[arg(long)]
        admin_token_file: Option<String>,
    },
    /// Score a CSV or Parquet file with the registered version at a stage, in batches, into a
    /// Parquet file of keys, model version and predictions; features the file lacks are filled
    /// point-in-time from the views when it has the entity's key and time column.
    Score {
        /// The registered name, e.g. `churn-predictor`.
        name: String,
        /// The stage whose version scores.
        #[arg(long, default_value = "production")]
        stage: String,
        /// The rows to score (`.csv` or `.parquet`).
        #[arg(long)]
        input: String,
        /// The Parquet file to write.
        #[arg(long)]
        output: String,
        /// The state folder (registry, artifacts).
        #[arg(long, default_value = ".mlp")]
        state: String,
    },
    /// Print the pipeline's DAG as a graph.
    Graph {
        file: String,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Export the pipeline to Kubernetes: Argo Workflows, KServe. Guide: docs/kubernetes.md.
    Export {
        #[command(subcommand)]
        target: ExportTarget,
    },
    /// Explain a diagnostic code, e.g. `mlpc explain E0006`.
    Explain { code: String },
    /// Run the language server over stdin/stdout (for editors).
    Lsp,
}

impl Command {
    /// Commands that need DuckDB, which `mlpc-runtime` runs.
    pub fn needs_runtime(&self) -> bool {
        matches!(
            self,
            Command::Run { .. }
                | Command::Runs { .. }
                | Command::ExampleData { .. }
                | Command::Plan { state: Some(_), .. }
                | Command::Models { .. }
                | Command::Approve { .. }
                | Command::Promote { .. }
                | Command::Rollback { .. }
                | Command::Audit { .. }
                | Command::State { .. }
                | Command::Card { .. }
                | Command::Serve { .. }
                | Command::Daemon(_)
                | Command::Ui { .. }
                | Command::Drift { .. }
                | Command::Score { .. }
                | Command::Export { target: ExportTarget::Kserve(_) }
        )
    }
}

/// The arguments of this process; on a usage error (or `--help`), what to exit with.
pub fn parse() -> Result<Cli, u8> {
    parse_from(std::env::args_os())
}

/// [`parse`] of given arguments (the program's name first).
pub fn parse_from<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(args: I) -> Result<Cli, u8> {
    Cli::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            2
        } else {
            0
        }
    })
}
