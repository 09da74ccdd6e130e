//! The cheap check of a cached artifact: its size and modification time, recorded in
//! `NAME.verified` beside it when its sha256 was last verified.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::ArtifactError;

/// Whether `path` holds the artifact `sha256`: by its recorded size and modification time,
/// or else by hashing it in full (then recorded). A copy that fails is deleted.
pub(super) fn holds(path: &Path, sha256: &str) -> Result<bool, ArtifactError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(ArtifactError::Io { path: path.into(), source }),
    };
    if std::fs::read_to_string(stamp_path(path)).ok().as_deref() == Some(stamp(&meta).as_str()) {
        return Ok(true);
    }
    let actual = crate::store::file_sha256(path)
        .map_err(|e| ArtifactError::Io { path: path.into(), source: std::io::Error::other(e) })?;
    if actual == sha256 {
        record(path)?;
        return Ok(true);
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ArtifactError::Io { path: path.into(), source: e }),
        _ => Ok(false),
    }
}

/// Records `path`'s size and modification time as verified (written by rename, so a
/// concurrent reader sees the old record or the new one).
pub(super) fn record(path: &Path) -> Result<(), ArtifactError> {
    let io = |source| ArtifactError::Io { path: path.into(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    let stamp_path = stamp_path(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".verified-")
        .tempfile_in(stamp_path.parent().expect("a cache path has a folder"))
        .map_err(io)?;
    std::io::Write::write_all(&mut tmp, stamp(&meta).as_bytes()).map_err(io)?;
    tmp.persist(&stamp_path).map_err(|e| io(e.error))?;
    Ok(())
}

fn stamp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().expect("a cache path names a file").to_os_string();
    name.push(".verified");
    path.with_file_name(name)
}

fn stamp(meta: &Metadata) -> String {
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("{} {mtime}", meta.len())
}
