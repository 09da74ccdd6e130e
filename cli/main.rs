//! `mlpc`: the command line. Each subcommand is a thin call into the library crates.

use clap::{Parser, Subcommand};
use mlpc::{commands, CheckFormat, GraphFormat, PlanFormat};
use std::process::ExitCode;

/// mimalloc: the compiler allocates many small tree nodes; it does so markedly faster
/// than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "mlpc", version, about = "Type-check, format and compile .mlp ML lifecycle programs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum RunsCommand {
    /// One run: its nodes, metrics and artifacts.
    Show { id: i64 },
    /// What differs between two runs.
    Compare { a: i64, b: i64 },
}

#[derive(Subcommand)]
enum Command {
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
    /// Run a pipeline: sources, checks, features, datasets and splits, cached and tracked.
    Run {
        file: String,
        /// The state folder (tracking store and artifacts); default `.mlp/` beside FILE.
        #[arg(long)]
        state: Option<String>,
        /// Rerun every node, even those whose inputs did not change.
        #[arg(long)]
        force: bool,
        /// Nodes run at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// One JSON event per line instead of text.
        #[arg(long)]
        json: bool,
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
    /// Print the pipeline's DAG as a graph.
    Graph {
        file: String,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Explain a diagnostic code, e.g. `mlpc explain E0006`.
    Explain { code: String },
    /// Run the language server over stdin/stdout (for editors).
    Lsp,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let code = match cli.command {
        Command::Check { paths, format, deny_warnings } => commands::check(&paths, format, deny_warnings),
        Command::Fmt { paths, check } => commands::fmt(&paths, check),
        Command::Plan { file, format, state } => commands::plan(&file, format, state.as_deref()),
        Command::Run { file, state, force, jobs, json } => mlpc::run::run(&file, state.as_deref(), force, jobs, json),
        Command::ExampleData { example, customers, orders_per_customer, seed, drift, out } => {
            mlpc::run::example_data(&example, customers, orders_per_customer, seed, drift, &out)
        }
        Command::Runs { command, state, json } => match command {
            None => mlpc::run::runs(&state, json),
            Some(RunsCommand::Show { id }) => mlpc::run::show(&state, id, json),
            Some(RunsCommand::Compare { a, b }) => mlpc::run::compare(&state, a, b, json),
        },
        Command::Graph { file, format } => commands::graph(&file, format),
        Command::Explain { code } => commands::explain(&code),
        Command::Lsp => match mlpc_lsp::run_stdio() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: language server: {e}");
                1
            }
        },
    };
    ExitCode::from(code)
}
