//! The serving part of the serving page: each model version's request rate, errors and p99
//! latency over the last minutes, from the request log.

use crate::read::blocking;
use crate::Ui;
use maud::{html, Markup};
use mlpc_serve::request_log::{self, FileError, Traffic};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window the figures cover.
const WINDOW: Duration = Duration::from_secs(300);

/// Shown when a running `mlpc serve` holds the log and no server of this process can read it.
const HELD: &str =
    "the request log is held by the running server: open the UI on the daemon's port to see live serving metrics";

pub async fn section(ui: &Ui) -> Markup {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let since = (now - WINDOW).as_micros() as i64;
    let source = ui.traffic.clone();
    let state = ui.state_dir.clone();
    let read =
        blocking(move || match source {
            Some(read) => read(since),
            None if request_log::shared::on(&state) => {
                request_log::shared::read(&state, since, |c| request_log::traffic(c, since)).map(Some)
            }
            None => request_log::read_file(&state.join("requests.duckdb"), |c| request_log::traffic(c, since)).map_err(
                |e| match e {
                    FileError::Open { .. } => HELD.to_string(),
                    FileError::Read(e) => e,
                },
            ),
        });
    html! {
        h2 { "Requests in the last " (WINDOW.as_secs() / 60) " minutes" }
        @match read.await {
            Err(e) => { p.muted role="status" { (e.1) } }
            Ok(None) => { p { "No request has been logged." } }
            Ok(Some(t)) if t.is_empty() => { p { "No request in this window." } }
            Ok(Some(t)) => { (table(&t)) }
        }
    }
}

fn table(traffic: &[Traffic]) -> Markup {
    html! {
        table #traffic {
            thead { tr { th { "model" } th { "version" } th { "requests" } th { "rate" } th { "errors" } th { "p99 latency" } } }
            tbody { @for t in traffic { tr {
                td { a href={ "/ui/registry/" (t.model) } { (t.model) } }
                td.num { (t.version.map_or("—".to_string(), |v| v.to_string())) }
                td.num { (t.requests) }
                td.num { (format!("{:.2}/s", t.requests as f64 / WINDOW.as_secs_f64())) }
                td.num { (t.errors) }
                td.num { (t.p99_ms.map_or("—".to_string(), |p| format!("{p:.1} ms"))) }
            } } }
        }
    }
}
