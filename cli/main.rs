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
        Command::Plan { file, format } => commands::plan(&file, format),
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
