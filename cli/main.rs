//! `mlpc`: the command line. Each subcommand is a thin call into the library crates;
//! those that execute plans (DuckDB) run in the sibling `mlpc-runtime` binary, so that
//! checking, formatting and the editor start without loading native libraries.

use mlpc::args::Command;
use mlpc::commands;
use std::process::ExitCode;

/// mimalloc: the compiler allocates many small tree nodes; it does so markedly faster
/// than the system allocator (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match mlpc::args::parse() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    if cli.command.needs_runtime() {
        return ExitCode::from(commands::delegate_to_runtime());
    }
    let code = match cli.command {
        Command::Check { paths, format, deny_warnings } => commands::check(&paths, format, deny_warnings),
        Command::Fmt { paths, check } => commands::fmt(&paths, check),
        Command::Plan { file, format, .. } => commands::plan(&file, format),
        Command::Graph { file, format } => commands::graph(&file, format),
        Command::Explain { code } => commands::explain(&code),
        Command::Export { target: mlpc::args::ExportTarget::Argo(a) } => mlpc::export::argo(&a),
        Command::Lsp => match mlpc_lsp::run_stdio(Box::new(mlpc::disk::Disk)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: language server: {e}");
                1
            }
        },
        // `needs_runtime()` sent every other command to mlpc-runtime above.
        _ => unreachable!("delegated above"),
    };
    ExitCode::from(code)
}
