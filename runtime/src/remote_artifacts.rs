//! `--artifacts URL`: the object store every state folder this process opens keeps its
//! artifacts in. Each folder's `artifacts/` is that store's local cache there: what a run
//! records is uploaded, and what a command needs and this machine lacks is fetched into it,
//! checked against its sha256.

use crate::artifacts::{ArtifactError, ArtifactStore};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The URL `--artifacts` gave, if any.
static URL: Mutex<Option<String>> = Mutex::new(None);

/// The store opened for each state folder (its cache is the folder's `artifacts/`).
static OPENED: Mutex<Vec<(PathBuf, Arc<ArtifactStore>)>> = Mutex::new(Vec::new());

/// Keeps the artifacts of every state folder this process opens in the store at `url`.
pub fn keep_in(url: &str) {
    *URL.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.to_string());
    OPENED.lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// The artifact store for state folder `dir` (opened once per process and folder: one
/// listing, so that a wrong URL or refused credentials show at once); `None` without
/// `--artifacts`.
pub fn for_folder(dir: &Path, key: PathBuf) -> Result<Option<Arc<ArtifactStore>>, ArtifactError> {
    let Some(url) = URL.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return Ok(None) };
    let mut opened = OPENED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, store)) = opened.iter().find(|(d, _)| *d == key) {
        return Ok(Some(store.clone()));
    }
    let cache = dir.join("artifacts");
    let store = Arc::new(off_runtime(|| ArtifactStore::from_url(&url, &cache))?);
    opened.push((key, store.clone()));
    Ok(Some(store))
}

/// Runs a call of the (blocking) artifact store on a thread of its own, so that it may be
/// made from anywhere, a tokio task included.
pub fn off_runtime<T: Send>(call: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(call).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
}
