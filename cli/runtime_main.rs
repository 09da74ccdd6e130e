//! `mlpc-runtime`: the commands that execute plans on DuckDB (`run`, `runs`,
//! `example-data`, `plan --state`). `mlpc` starts it for those commands after checking
//! that DuckDB's library is where this binary will look for it.

mod run;

use mlpc::args::{Command, RunsCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match mlpc::args::parse() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    let code = match cli.command {
        Command::Run { file, state, force, jobs, json } => run::run(&file, state.as_deref(), force, jobs, json),
        Command::ExampleData { example, customers, orders_per_customer, seed, drift, out } => {
            run::example_data(&example, customers, orders_per_customer, seed, drift, &out)
        }
        Command::Runs { command, state, json } => match command {
            None => run::runs(&state, json),
            Some(RunsCommand::Show { id }) => run::show(&state, id, json),
            Some(RunsCommand::Compare { a, b }) => run::compare(&state, a, b, json),
        },
        Command::Plan { file, state: Some(state), .. } => run::plan_against_state(&file, &state),
        _ => {
            eprintln!(
                "error: mlpc-runtime runs `run`, `runs`, `example-data` and `plan --state`; use `mlpc` for the rest"
            );
            2
        }
    };
    ExitCode::from(code)
}
