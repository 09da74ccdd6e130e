//! Stage changes without a restart: every registry change appends to `<state>/audit.log`,
//! so its size and modification time are polled, and on a change the registry is read
//! again and changed versions are loaded and swapped in.

use crate::app::App;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const EVERY: Duration = Duration::from_millis(200);

fn stamp(app: &App) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(mlpc_runtime::audit::path(&app.state)).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Runs until aborted.
pub async fn changes(app: Arc<App>) {
    let mut seen = stamp(&app);
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let now = stamp(&app);
        if now == seen {
            continue;
        }
        let reloading = app.clone();
        match tokio::task::spawn_blocking(move || reloading.reload()).await {
            Ok(Ok(())) => seen = now,
            // Seen again next tick: the store may have been busy for longer than a retry.
            Ok(Err(e)) => tracing::warn!("cannot read the registry: {e}; trying again"),
            Err(e) => tracing::error!("reloading stopped: {e}"),
        }
    }
}
