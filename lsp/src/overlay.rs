//! The files the editor has open, laid over the disk: unsaved text wins.

use mlpc_compiler::FileSystem;
use std::collections::HashMap;

pub struct Overlay {
    pub open: HashMap<String, String>,
    /// How files that are not open are read: the CLI's program reader, which reads only
    /// `.mlp` files (`mlpc check`'s rules, so the editor never shows another file's text).
    pub disk: Box<dyn FileSystem>,
}

impl FileSystem for Overlay {
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        match self.open.get(path) {
            Some(text) => Ok(text.clone()),
            None => self.disk.read_to_string(path),
        }
    }
    /// Model files are never edited as text: read through the CLI's reader.
    fn read_model(&self, path: &str) -> Option<Result<Vec<u8>, String>> {
        self.disk.read_model(path)
    }
}

impl Overlay {
    pub fn new(disk: Box<dyn FileSystem>) -> Overlay {
        Overlay { open: HashMap::new(), disk }
    }

    /// The file to compile so that `path` is seen as part of its program: a `.mlp` file
    /// beside it or one folder up that imports it, else `path` itself.
    pub fn root_for(&self, path: &str) -> String {
        let here = std::path::Path::new(path);
        let dirs = [here.parent(), here.parent().and_then(|p| p.parent())];
        for dir in dirs.into_iter().flatten() {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut candidates: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().to_string_lossy().into_owned())
                .filter(|p| p.ends_with(".mlp") && p != path)
                .collect();
            candidates.sort();
            for candidate in candidates {
                let Ok(text) = self.read_to_string(&candidate) else { continue };
                if !text.contains("import") {
                    continue;
                }
                let (ast, _) = mlpc_compiler::syntax::parse(&text, mlpc_compiler::FileId(0));
                let imports_it = ast.items.iter().any(|i| match &i.kind {
                    mlpc_compiler::ast::ItemKind::Import { path: p } => {
                        mlpc_compiler::files::resolve(&candidate, &p.value) == path
                    }
                    _ => false,
                });
                if imports_it {
                    return candidate;
                }
            }
        }
        path.to_string()
    }
}
