//! Where a file is in the repository: SARIF and GitHub annotations name files relative to
//! the repository root (the nearest folder above the current one holding `.git`, else the
//! current folder), never by an absolute path or one relative to where `mlpc` ran.

use std::path::PathBuf;
use url::Url;

/// The repository the current folder is in.
pub struct Repository {
    root: PathBuf,
    cwd: PathBuf,
}

impl Repository {
    pub fn here() -> Repository {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        let root = cwd.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&cwd).to_path_buf();
        Repository { root, cwd }
    }

    /// The root as a `file:` URI ending in `/` (SARIF's `originalUriBaseIds`).
    pub fn root_uri(&self) -> Option<Url> {
        Url::from_directory_path(&self.root).ok()
    }

    fn absolute(&self, path: &str) -> PathBuf {
        let joined = self.cwd.join(path);
        std::fs::canonicalize(&joined).unwrap_or(joined)
    }

    /// `path` relative to the root with `/` separators; `None` outside the repository.
    pub fn relative(&self, path: &str) -> Option<String> {
        let within = self.absolute(path).strip_prefix(&self.root).ok()?.to_path_buf();
        Some(within.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
    }

    /// A SARIF `artifactLocation`: relative to `%SRCROOT%`, or an absolute `file:` URI for a
    /// file outside the repository.
    pub fn artifact(&self, path: &str) -> serde_json::Value {
        let file = Url::from_file_path(self.absolute(path)).ok();
        let relative = match (self.root_uri(), &file, self.relative(path)) {
            (Some(root), Some(file), Some(_)) => root.make_relative(file),
            _ => None,
        };
        match (relative, file) {
            (Some(uri), _) => serde_json::json!({ "uri": uri, "uriBaseId": SRCROOT }),
            (None, Some(file)) => serde_json::json!({ "uri": file.as_str() }),
            (None, None) => serde_json::json!({ "uri": path }),
        }
    }

    /// The path GitHub annotates: relative to the root, else as given.
    pub fn annotated(&self, path: &str) -> String {
        self.relative(path).unwrap_or_else(|| path.to_string())
    }
}

/// The base id SARIF viewers and GitHub code scanning know for the checkout's root.
pub const SRCROOT: &str = "%SRCROOT%";
