//! The diagnostic pages an editor links to: the pages this binary carries (the repository's
//! `docs/errors/`), written once under the user's cache folder —
//! `$XDG_CACHE_HOME/mlpc/VERSION/errors/`, else `~/.cache/mlpc/VERSION/errors/` — so a link
//! opens wherever mlpc is installed, offline, and matches the version that reported it.

use mlpc_compiler::Code;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The cache folder of this version's pages, when there is a home to put it in.
fn folder() -> Option<&'static Path> {
    static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOLDER
        .get_or_init(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| Path::new(&h).join(".cache")))?;
            Some(cache.join("mlpc").join(env!("CARGO_PKG_VERSION")).join("errors"))
        })
        .as_deref()
}

/// The page of `code` as a file, written (atomically) if it is not there yet; None when the
/// cache folder cannot be written.
pub fn page(code: Code) -> Option<PathBuf> {
    let path = folder()?.join(format!("{}.md", code.as_str()));
    if std::fs::read_to_string(&path).is_ok_and(|text| text == code.page()) {
        return Some(path);
    }
    std::fs::create_dir_all(path.parent()?).ok()?;
    let partial = path.with_extension(format!("md.{}", std::process::id()));
    std::fs::write(&partial, code.page()).ok()?;
    std::fs::rename(&partial, &path).ok()?;
    Some(path)
}
