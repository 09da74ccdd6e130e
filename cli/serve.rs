//! `mlpc serve`: the pipeline's `serve` blocks over HTTP until SIGTERM or Ctrl-C.

use crate::run::state_dir;
use mlpc::commands::{emit, fail};
use std::net::SocketAddr;

pub fn serve(file: &str, state: Option<&str>, addr: SocketAddr, max_body: usize) -> u8 {
    let c = match mlpc::commands::compiled(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled programs have a plan");
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).try_init();
    let opts = mlpc_serve::Options { state_dir: state_dir(file, state), addr, body_limit: max_body };
    match mlpc_serve::run(plan, &opts, |bound| emit(&format!("serving on http://{bound}\n"))) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}
