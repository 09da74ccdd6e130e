//! A program's files: where their text comes from ([`FileSystem`]), how an import path
//! names one, and one parsed file ([`Module`]).

use crate::ast::File;
use crate::source::FileId;

/// Where source text comes from. The CLI reads the disk; the language server lays
/// unsaved buffers over it; tests use a map.
pub trait FileSystem {
    fn read_to_string(&self, path: &str) -> Result<String, String>;
    /// The bytes of the file an `onnx("…")` model names, so its graph's inputs can be
    /// checked against the declaration. `None`: this file system serves programs only
    /// (the default), and model files go unchecked; `Err`: the file is not there or
    /// cannot be read (a warning: `mlpc run` will need it).
    fn read_model(&self, _path: &str) -> Option<Result<Vec<u8>, String>> {
        None
    }
}

/// One parsed file of the program.
#[derive(Debug)]
pub struct Module {
    pub file: FileId,
    pub ast: File,
}

/// Whether an import path names a `.mlp` file: its last component ends in `.mlp` and is
/// more than the extension.
pub fn is_mlp_path(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|name| name.len() > 4 && name.ends_with(".mlp"))
}

/// `rel` relative to the folder of `base`, with `.` and `..` folded; pure string work.
pub fn resolve(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        let mut p: Vec<&str> = base.split('/').collect();
        p.pop();
        p
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != ".." && !p.is_empty()) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if rel.starts_with('/') || base.starts_with('/') {
        format!("/{}", joined.trim_start_matches('/'))
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::{is_mlp_path, resolve};

    #[test]
    fn imports_name_mlp_files() {
        assert!(is_mlp_path("features.mlp") && is_mlp_path("../lib/a.b.mlp") && is_mlp_path("/abs/x.mlp"));
        for bad in ["/proc/self/environ", "secret.txt", ".mlp", "dir/.mlp", "x.mlp/", "x.MLP", "x.mlp.txt", ""] {
            assert!(!is_mlp_path(bad), "{bad}");
        }
    }

    #[test]
    fn resolves_relative_to_the_importing_file() {
        assert_eq!(resolve("examples/churn/churn.mlp", "features.mlp"), "examples/churn/features.mlp");
        assert_eq!(resolve("a/b.mlp", "../c/d.mlp"), "c/d.mlp");
        assert_eq!(resolve("b.mlp", "./d.mlp"), "d.mlp");
        assert_eq!(resolve("/x/y/b.mlp", "../d.mlp"), "/x/d.mlp");
        assert_eq!(resolve("b.mlp", "/abs/d.mlp"), "/abs/d.mlp");
    }
}
