//! `mlpc ui`: the lifecycle in a browser until SIGTERM or Ctrl-C.

use crate::daemon::admin_token;
use crate::run::state_dir;
use mlpc::commands::{emit, fail};
use std::net::SocketAddr;
use std::sync::Arc;

pub fn ui(file: &str, state: Option<&str>, addr: SocketAddr, token_file: Option<&str>) -> u8 {
    let c = match mlpc::commands::compiled(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.expect("compiled programs have a plan");
    let admin_token = match admin_token(token_file) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if admin_token.is_none() {
        eprintln!("note: no admin token (MLPC_ADMIN_TOKEN or --admin-token-file): the registry is read-only");
    }
    let ui = mlpc_ui::Ui {
        state_dir: state_dir(file, state),
        plan: Arc::new(move || plan.clone()),
        admin_token,
        traffic: None,
    };
    match mlpc_ui::run(addr, ui, |bound| emit(&format!("ui on http://{bound}/ui/\n"))) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}
