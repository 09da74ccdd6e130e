//! `mlpc-runtime`: the commands that execute plans on DuckDB (`run`, `runs`,
//! `example-data`, `plan --state`, `serve`, `daemon`, `drift`, `score`) and those of the model registry in the tracking store. `mlpc` starts it for those commands after checking
//! that DuckDB's library is where this binary will look for it.

mod daemon;
mod drift;
mod example_data;
mod kserve;
mod models;
mod run;
mod score;
mod serve;
mod shared_state;
mod state;
mod ui;

use mlpc::args::{AuditCommand, Command, EngineArg, ExportTarget, ModelsCommand, RunsCommand, StateCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match shared_state::arguments(std::env::args().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = match mlpc::args::parse_from(args) {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    // `export kserve --artifacts DIR` is its output folder: there the store is MLPC_ARTIFACTS's.
    let flag = match cli.command {
        Command::Export { target: ExportTarget::Kserve(_) } => None,
        _ => cli.artifacts,
    };
    if let Some(url) = flag.or_else(|| std::env::var("MLPC_ARTIFACTS").ok()).filter(|u| !u.is_empty()) {
        mlpc_runtime::remote_artifacts::keep_in(&url);
    }
    let code = match cli.command {
        Command::Run { file, state, node, base_dir, force, jobs, json, engine, spark_remote } => {
            let engine = match (engine, spark_remote) {
                (EngineArg::Spark, Some(remote)) => mlpc_runtime::Engine::Spark { remote },
                _ => mlpc_runtime::Engine::DuckDb,
            };
            let target =
                run::Target { file: &file, state: state.as_deref(), node, base_dir: base_dir.as_deref(), engine };
            run::run(&target, force, jobs, json)
        }
        Command::ExampleData { example, customers, orders_per_customer, seed, drift, out } => {
            example_data::example_data(&example, customers, orders_per_customer, seed, drift, &out)
        }
        Command::Runs { command, state, json } => match command {
            None => run::runs(&state, json),
            Some(RunsCommand::Show { id }) => run::show(&state, id, json),
            Some(RunsCommand::Compare { a, b }) => run::compare(&state, a, b, json),
        },
        Command::Plan { file, state: Some(state), .. } => run::plan_against_state(&file, &state),
        Command::Models { command: None, at } => models::models(&at),
        Command::Models { command: Some(ModelsCommand::Show { name }), at } => models::show(&name, &at),
        Command::Approve { name, version, stage, change, at } => models::approve(&name, version, &stage, &change, &at),
        Command::Promote { name, version, stage, change, at } => models::promote(&name, version, &stage, &change, &at),
        Command::Rollback { name, stage, change, at } => models::rollback(&name, &stage, &change, &at),
        Command::Audit { command: None, at } => models::audit_log(&at),
        Command::Audit { command: Some(AuditCommand::Verify), at } => models::verify(&at),
        Command::State { command: StateCommand::Migrate { state } } => state::migrate(&state),
        Command::State { command: StateCommand::Copy { from, to, replace } } => state::copy(&from, &to, replace),
        Command::Card { name, version, state, out } => models::card(&name, version, &state, out.as_deref()),
        Command::Serve { file, state, addr, grpc_addr, limits } => {
            serve::serve(&file, state.as_deref(), addr, grpc_addr, &limits)
        }
        Command::Daemon(args) => daemon::daemon(&args),
        Command::Ui { file, state, addr, admin_token_file } => {
            ui::ui(&file, state.as_deref(), addr, admin_token_file.as_deref())
        }
        Command::Drift { reference, current, columns, tests, json } => {
            drift::drift(&reference, &current, &columns, &tests, json)
        }
        Command::Score { name, stage, input, output, state } => score::score(&name, &stage, &input, &output, &state),
        Command::Export { target: ExportTarget::Kserve(a) } => kserve::kserve(&a),
        _ => {
            eprintln!(
                "error: mlpc-runtime runs `run`, `runs`, `example-data`, `plan --state`, `serve`, `daemon`, `ui`, `drift`, `score`, `export kserve` and the registry's commands; use `mlpc` for the rest"
            );
            2
        }
    };
    ExitCode::from(code)
}
