//! `mlpc daemon`: serve, schedule, monitor and reload until SIGTERM or Ctrl-C.

use crate::run::state_dir;
use mlpc::args::DaemonArgs;
use mlpc::commands::{emit, fail};
use mlpc::disk::Disk;
use mlpc::render::{self, Located};
use mlpc::CheckFormat;
use mlpc_daemon::Compiled;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn daemon(a: &DaemonArgs) -> u8 {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false).try_init();
    let admin_token = match admin_token(a.admin_token_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let opts = mlpc_daemon::Options {
        file: a.file.clone().into(),
        state_dir: state_dir(&a.file, a.state.as_deref()),
        serve_addr: a.addr,
        limits: crate::serve::limits(&a.limits),
        batching: crate::serve::batching(&a.limits),
        api_addr: a.api_addr,
        admin_token,
        webhook: a.webhook.clone().or_else(|| std::env::var("MLPC_WEBHOOK").ok().filter(|u| !u.is_empty())),
        now: a.now,
        tick: Duration::from_millis(a.tick_ms.max(1)),
        min_rows: a.min_window,
        jobs: a.jobs.max(1),
        kserve: a.kserve.kserve.then(|| mlpc_daemon::kserve::Options {
            namespace: a.kserve.namespace.clone(),
            kube_api: a.kserve.kube_api.clone(),
            prometheus: a.kserve.prometheus.clone().unwrap_or_default(),
            queries: a.kserve.prometheus_queries.clone(),
        }),
    };
    match mlpc_daemon::run(opts, Box::new(compile), |what, addr| emit(&format!("{what} on http://{addr}\n"))) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

/// `--admin-token-file`, else `MLPC_ADMIN_TOKEN`; `None` when neither is set (admin API off).
pub fn admin_token(file: Option<&str>) -> Result<Option<String>, String> {
    let token = match file {
        Some(f) => std::fs::read_to_string(f).map_err(|e| format!("cannot read the admin token file `{f}`: {e}"))?,
        None => std::env::var("MLPC_ADMIN_TOKEN").unwrap_or_default(),
    };
    let token = token.trim();
    match (token.is_empty(), file) {
        (true, Some(f)) => Err(format!("the admin token file `{f}` is empty: write a long random token into it")),
        (true, None) => Ok(None),
        (false, _) => Ok(Some(token.to_string())),
    }
}

/// The plan, or the diagnostics rendered as `mlpc check` shows them, and the files read.
fn compile(file: &Path) -> Compiled {
    let name = file.to_string_lossy();
    if let Err(e) = std::fs::read_to_string(file) {
        return Compiled { plan: Err(format!("cannot read `{name}`: {e}")), files: vec![file.to_path_buf()] };
    }
    let c = mlpc_compiler::compile(&name, &Disk);
    let files = c.modules.iter().map(|m| PathBuf::from(&c.sources.get(m.file).path)).collect();
    let plan = match c.plan {
        Some(plan) => Ok(plan),
        None => {
            let located: Vec<Located> =
                c.diagnostics.iter().map(|d| Located { diag: d, sources: &c.sources }).collect();
            Err(render::render(CheckFormat::Short, &located, 1, false))
        }
    };
    Compiled { plan, files }
}
