//! The CLI's view of the disk: reading files for the compiler and finding `.mlp` files.

use mlpc_compiler::FileSystem;

pub struct Disk;

impl FileSystem for Disk {
    /// Reads a program file. Only `.mlp` files are read, whatever the name that reached
    /// them: a `.mlp` link to another file (`/proc/self/environ`) is refused, so no other
    /// file's text ever reaches a diagnostic.
    fn read_to_string(&self, path: &str) -> Result<String, String> {
        let real = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
        if !mlpc_compiler::files::is_mlp_path(&real.to_string_lossy()) {
            return Err(format!(
                "it leads to `{}`, which is not a `.mlp` file; mlpc reads only `.mlp` files as programs",
                real.display()
            ));
        }
        let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err(format!("`{}` is not a regular file", real.display()));
        }
        std::fs::read_to_string(&real).map_err(|e| e.to_string())
    }

    /// Reads a model file (`onnx("…")`) for the checker: a regular file whose real name ends
    /// in `.onnx` (a link is followed first), at most 2 GiB (the most protobuf allows a
    /// model). Its bytes are decoded, never shown. Any other name is not read (`None`: the
    /// model is checked when it runs), so `mlpc check` reads no file but programs and models.
    fn read_model(&self, path: &str) -> Option<Result<Vec<u8>, String>> {
        const MAX: u64 = 2 << 30;
        let real = match std::fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Err("there is no such file".into())),
            Err(e) => return Some(Err(e.to_string())),
        };
        if !real.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx")) {
            return None;
        }
        let read = || {
            let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
            if !meta.is_file() {
                return Err("it is not a regular file".to_string());
            }
            if meta.len() > MAX {
                return Err(format!("it is {} bytes, more than an ONNX file can hold", meta.len()));
            }
            std::fs::read(&real).map_err(|e| e.to_string())
        };
        Some(read())
    }
}

/// The `.mlp` files under each path (a file is taken as is), sorted, without hidden
/// folders and build output.
pub fn collect(paths: &[String]) -> Result<Vec<String>, String> {
    let defaults = [".".to_string()];
    let paths = if paths.is_empty() { &defaults[..] } else { paths };
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read `{p}`: {e}"))?;
        if meta.is_dir() {
            walk(p, &mut out).map_err(|e| format!("cannot read `{p}`: {e}"))?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        let path = if dir == "." { name.clone() } else { format!("{}/{name}", dir.trim_end_matches('/')) };
        let ty = e.file_type()?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if name.ends_with(".mlp") {
            out.push(path);
        }
    }
    Ok(())
}
