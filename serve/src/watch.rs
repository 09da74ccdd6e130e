//! Stage changes without a restart. On a state folder, every registry change appends to
//! `<state>/audit.log`, so its size and modification time are polled; on a shared store
//! (`--state postgres://…`) every stage move is announced, and a thread of its own listens
//! ([`registry::live`]). On a change the registry is read again and changed versions are
//! loaded and swapped in.

use crate::app::App;
use mlpc_runtime::registry::live::{self, Heard};
use mlpc_runtime::Store;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

const EVERY: Duration = Duration::from_millis(200);

fn stamp(app: &App) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(mlpc_runtime::audit::path(&app.state)).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Runs until aborted.
pub async fn changes(app: Arc<App>) {
    match Store::shared(&app.state) {
        Some(_) => announced(app).await,
        None => polled(app).await,
    }
}

/// The audit log's stamp, polled.
async fn polled(app: Arc<App>) {
    let mut seen = stamp(&app);
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let now = stamp(&app);
        if now == seen {
            continue;
        }
        if reload(&app).await {
            seen = now;
        }
    }
}

/// The shared store's announcements, heard on a thread that ends once this task has.
async fn announced(app: Arc<App>) {
    let Some(target) = Store::shared(&app.state) else { return };
    let wake = Arc::new(Notify::new());
    let heard = Arc::downgrade(&wake);
    let who = format!("mlpc {} serve (process {}): stage watch", env!("CARGO_PKG_VERSION"), std::process::id());
    let spawned = std::thread::Builder::new().name("mlpc-stage-watch".into()).spawn(move || {
        live::follow(&target, &who, |h| {
            let Some(wake) = heard.upgrade() else { return false };
            match h {
                Heard::Moved => wake.notify_one(),
                Heard::Nothing => {}
                Heard::Lost(why) => {
                    tracing::warn!("{why}; until then, stage moves are not seen");
                    // Moves made while the connection was down are read once it is back.
                }
            }
            true
        })
    });
    if let Err(e) = spawned {
        tracing::error!("cannot watch the registry: {e}; stage moves are not seen until a restart");
        return;
    }
    loop {
        wake.notified().await;
        // Read until it reads: a store busy for longer than a retry is tried again.
        while !reload(&app).await {
            tokio::time::sleep(EVERY).await;
        }
    }
}

/// Reads the registry and swaps in what changed; false when it could not be read.
async fn reload(app: &Arc<App>) -> bool {
    let reloading = app.clone();
    match tokio::task::spawn_blocking(move || reloading.reload()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!("cannot read the registry: {e}; trying again");
            false
        }
        Err(e) => {
            tracing::error!("reloading stopped: {e}");
            true
        }
    }
}
