//! `mlpc serve`: the pipeline's `serve` blocks over HTTP (and gRPC) until SIGTERM or Ctrl-C.

use crate::run::state_dir;
use mlpc::args::ServeLimits;
use mlpc::commands::{emit, fail};
use std::net::SocketAddr;

/// The flags as the server takes them.
pub fn limits(a: &ServeLimits) -> mlpc_serve::Limits {
    mlpc_serve::Limits {
        max_body: a.max_body,
        max_rows: a.max_rows as usize,
        header_timeout: a.header_timeout,
        body_timeout: a.body_timeout,
        idle_timeout: a.idle_timeout,
        max_connections: a.max_connections as usize,
    }
}

/// The batching flags as the server takes them (`sessions` 0: one per core).
pub fn batching(a: &ServeLimits) -> mlpc_serve::Batching {
    let b = &a.batching;
    mlpc_serve::Batching {
        sessions: b.sessions.unwrap_or(0) as usize,
        max_rows: b.max_batch as usize,
        max_delay: b.batch_delay,
    }
}

/// Prints `serving on http://ADDR`, then `grpc on ADDR` on its own line with --grpc-addr.
pub fn serve(file: &str, state: Option<&str>, addr: SocketAddr, grpc_addr: Option<SocketAddr>, a: &ServeLimits) -> u8 {
    let c = match mlpc::commands::compiled(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plan = c.plan.as_ref().expect("compiled programs have a plan");
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).try_init();
    let opts = mlpc_serve::Options {
        state_dir: state_dir(file, state),
        addr,
        grpc_addr,
        limits: limits(a),
        batching: batching(a),
    };
    let listening = |bound: mlpc_serve::Bound| {
        let grpc = bound.grpc.map(|g| format!("grpc on {g}\n")).unwrap_or_default();
        emit(&format!("serving on http://{}\n{grpc}", bound.http))
    };
    match mlpc_serve::run(plan, &opts, listening) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}
