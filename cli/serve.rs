//! `mlpc serve`: the pipeline's `serve` blocks over HTTP until SIGTERM or Ctrl-C.

use crate::run::state_dir;
use mlpc::commands::{emit, fail};
use mlpc::disk::Disk;
use mlpc::render::{self, Located};
use mlpc::CheckFormat;
use std::io::IsTerminal;
use std::net::SocketAddr;

pub fn serve(file: &str, state: Option<&str>, addr: SocketAddr, max_body: usize) -> u8 {
    if let Err(e) = std::fs::read_to_string(file) {
        return fail(format!("cannot read `{file}`: {e}"));
    }
    let c = mlpc_compiler::compile(file, &Disk);
    let Some(plan) = &c.plan else {
        let located: Vec<Located> = c.diagnostics.iter().map(|d| Located { diag: d, sources: &c.sources }).collect();
        eprint!("{}", render::render(CheckFormat::Human, &located, 1, std::io::stderr().is_terminal()));
        return 1;
    };
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).try_init();
    let opts = mlpc_serve::Options { state_dir: state_dir(file, state), addr, body_limit: max_body };
    match mlpc_serve::run(plan, &opts, |bound| emit(&format!("serving on http://{bound}\n"))) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}
