//! Cache keys: a node reruns only when its definition, an input's key, a file it reads,
//! or the mlpc version changed.

use crate::db::args;
use crate::nodes::{self, InputFiles};
use crate::store::Store;
use mlpc_plan::{Node, NodeDef, Plan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a node's key is made of, kept to explain why a node reruns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyParts {
    pub definition: String,
    pub version: String,
    pub inputs: BTreeMap<String, String>,
    pub file: Option<String>,
}

impl KeyParts {
    pub fn key(&self) -> String {
        let text = serde_json::to_string(self).expect("key parts serialize");
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }

    /// Why `self` differs from what was cached before.
    pub fn why_changed(&self, before: &KeyParts) -> String {
        if self.version != before.version {
            return format!("mlpc changed ({} → {})", before.version, self.version);
        }
        if self.definition != before.definition {
            return "its definition changed".into();
        }
        if self.file != before.file {
            return match self.file.as_deref().and_then(|f| f.strip_prefix(crate::scoring::STAGED)) {
                Some(now) => {
                    format!("the version it scores with changed (now {})", now.split(' ').next().unwrap_or(now))
                }
                None => "its data file changed".into(),
            };
        }
        let changed: Vec<&str> = self
            .inputs
            .iter()
            .filter(|(id, key)| before.inputs.get(*id) != Some(*key))
            .map(|(id, _)| id.as_str())
            .collect();
        if !changed.is_empty() {
            return format!("input changed: {}", changed.join(", "));
        }
        "never run".into()
    }
}

/// The key parts of every node, in plan order; `file_hash` gives the hash of the file a
/// node reads itself, if any.
pub fn key_parts(plan: &Plan, mut file_hash: impl FnMut(&Node) -> Option<String>) -> BTreeMap<String, KeyParts> {
    let mut out: BTreeMap<String, KeyParts> = BTreeMap::new();
    for node in &plan.nodes {
        let inputs =
            node.inputs.iter().map(|i| (i.clone(), out.get(i).map(KeyParts::key).unwrap_or_default())).collect();
        let parts = KeyParts {
            definition: node.hash.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs,
            file: file_hash(node),
        };
        out.insert(node.id.clone(), parts);
    }
    out
}

/// The hash of what a node reads itself: one file's sha256, or for a source's glob the
/// sha256 of the matched set (each match's path relative to the pipeline's folder and its
/// content hash, in sorted order), so that an added, removed, renamed or changed file
/// changes the key. None when there is nothing to read (the node then says why).
pub fn input_hash(store: &Store, node: &Node, base_dir: &Path) -> Option<String> {
    if let NodeDef::Score(def) = &node.def {
        return crate::scoring::staged_key(store, def);
    }
    match nodes::input_files(node, base_dir)? {
        // Only a regular file is hashed: a device (`/dev/zero`) has no end; the node says so.
        InputFiles::One(path) => path.is_file().then(|| store.file_hash(&path).ok()).flatten(),
        InputFiles::Glob(resolved) => {
            let files = nodes::glob_files(&resolved).ok()?;
            if files.is_empty() {
                return None;
            }
            let mut h = Sha256::new();
            for f in &files {
                let sha = store.file_hash(f).ok()?;
                let rel = f.strip_prefix(base_dir).unwrap_or(f);
                h.update(format!("{}\t{sha}\n", rel.to_string_lossy()).as_bytes());
            }
            Some(format!("{:x}", h.finalize()))
        }
    }
}

/// Checks a cached artifact before it is reused: unchanged size and modification time
/// since it was verified trust the record; anything else re-hashes the whole file. An
/// artifact that no longer hashes to its name is removed (so the rerun stores it afresh)
/// and the reason returned; a missing one is reported too.
pub fn verify_artifact(store: &Store, role: &str, path: &Path, sha: &str) -> Result<(), String> {
    check_artifact(store, role, path, sha).map_err(|(why, changed)| {
        if changed {
            let _ = std::fs::remove_file(path);
        }
        why
    })
}

/// [`verify_artifact`] without removing anything: the reason, and whether the file is
/// there but changed. The store's hash of the file is trusted while its size and mtime are
/// those it was recorded at; any change re-hashes the whole file.
fn check_artifact(store: &Store, role: &str, path: &Path, sha: &str) -> Result<(), (String, bool)> {
    if !path.exists() {
        return Err((format!("its {role} artifact {} is missing", short(sha)), false));
    }
    let actual = store.file_hash(path).map_err(|e| (e, false))?;
    if actual == sha {
        return Ok(());
    }
    Err((format!("its {role} artifact {} changed on disk (it hashed to {})", short(sha), short(&actual)), true))
}

/// Whether the artifacts of the cache entry `(node, key)` could be reused as they are
/// (what `mlpc plan --state` reports; nothing is removed): `Err` says why not.
pub fn entry_unchanged(store: &Store, node: &str, key: &str) -> Result<(), String> {
    let outputs: String = store
        .db
        .query_row("SELECT outputs FROM cache WHERE node_id = ? AND cache_key = ?", args![node, key], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let outputs: BTreeMap<String, String> = serde_json::from_str(&outputs).map_err(|e| e.to_string())?;
    let mut checked: Vec<String> = Vec::new();
    for (role, sha) in outputs {
        // The store recorded where it put the file; its extension places it in this state
        // folder wherever that is now.
        let recorded: Option<String> =
            store.db.query_row("SELECT path FROM artifacts WHERE sha256 = ?", args![sha], |r| r.get(0)).ok();
        let ext = recorded.as_deref().and_then(|p| Path::new(p).extension()).map(|e| e.to_string_lossy().into_owned());
        let Some(ext) = ext else { return Err(format!("its {role} artifact {} is not in the store", short(&sha))) };
        let path = store.artifact_path(&sha, &ext).to_string_lossy().into_owned();
        if checked.contains(&path) {
            continue;
        }
        check_artifact(store, &role, Path::new(&path), &sha).map_err(|(why, _)| why)?;
        checked.push(path);
    }
    Ok(())
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// The paths of a cache entry's artifacts (`path_of` may fetch one), checked: `Err` says
/// why one cannot be reused.
pub fn verified(
    store: &Store,
    outputs: BTreeMap<String, String>,
    path_of: impl Fn(&str, &str) -> Result<PathBuf, String>,
) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut paths = BTreeMap::new();
    let mut problems = Vec::new();
    for (role, sha) in outputs {
        let path = match path_of(&role, &sha) {
            Ok(path) => path,
            Err(why) => {
                problems.push(why);
                continue;
            }
        };
        // Two roles may share one file (a features node's offline and online tables).
        if !paths.values().any(|p| p == &path) {
            if let Err(why) = verify_artifact(store, &role, &path, &sha) {
                problems.push(why);
            }
        }
        paths.insert(role, path);
    }
    if problems.is_empty() {
        Ok(paths)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha_of(bytes: &[u8]) -> String {
        format!("{:x}", Sha256::digest(bytes))
    }

    #[test]
    fn a_changed_artifact_is_refused_removed_and_said_why() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state")).unwrap();
        let path = dir.path().join("artifact.parquet");
        std::fs::write(&path, b"PAR1 rows PAR1").unwrap();
        let sha = sha_of(b"PAR1 rows PAR1");
        store.remember_hash(&path, &sha).unwrap();
        verify_artifact(&store, "data", &path, &sha).unwrap();

        // Touched, same bytes: re-hashed and accepted (and recorded again).
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
        drop(f);
        verify_artifact(&store, "data", &path, &sha).unwrap();

        // One byte flipped, same size.
        std::fs::write(&path, b"PAR1 rowz PAR1").unwrap();
        let why = verify_artifact(&store, "data", &path, &sha).unwrap_err();
        assert!(why.contains("its data artifact") && why.contains("changed on disk"), "{why}");
        assert!(!path.exists(), "the altered file is removed, so the rerun stores it afresh");
        let why = verify_artifact(&store, "data", &path, &sha).unwrap_err();
        assert!(why.contains("is missing"), "{why}");
    }

    #[test]
    fn storing_an_artifact_again_replaces_an_altered_file_of_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state")).unwrap();
        let tmp = dir.path().join("new.onnx");
        std::fs::write(&tmp, b"original").unwrap();
        let sha = store.adopt(&tmp, "onnx").unwrap();
        let stored = store.artifact_path(&sha, "onnx");
        std::fs::write(&stored, b"altered").unwrap();
        std::fs::write(&tmp, b"original").unwrap();
        assert_eq!(store.adopt(&tmp, "onnx").unwrap(), sha);
        store.remember_hash(&stored, &sha).unwrap();
        assert_eq!(std::fs::read(&stored).unwrap(), b"original");
        verify_artifact(&store, "model", &stored, &sha).unwrap();
    }

    /// `source s = parquet("d/*.parquet") { x: int key }`, as the plan holds it.
    fn glob_source() -> Node {
        serde_json::from_value(serde_json::json!({
            "id": "source:s", "name": "s", "inputs": [], "hash": "h", "location": {"file": "p.mlp", "line": 1},
            "schema": [{"name": "x", "type": "int", "key": true}],
            "kind": "source", "def": {"format": "parquet", "path": "d/*.parquet", "options": {}},
        }))
        .unwrap()
    }

    #[test]
    fn a_glob_is_hashed_as_the_set_of_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state")).unwrap();
        let node = &glob_source();
        assert_eq!(input_hash(&store, node, dir.path()), None, "no match, nothing to hash");
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/a.parquet"), "a").unwrap();
        let one = input_hash(&store, node, dir.path()).unwrap();
        std::fs::write(dir.path().join("d/b.parquet"), "b").unwrap();
        let two = input_hash(&store, node, dir.path()).unwrap();
        std::fs::rename(dir.path().join("d/b.parquet"), dir.path().join("d/c.parquet")).unwrap();
        let renamed = input_hash(&store, node, dir.path()).unwrap();
        std::fs::write(dir.path().join("d/c.parquet"), "c").unwrap();
        let changed = input_hash(&store, node, dir.path()).unwrap();
        let all = [&one, &two, &renamed, &changed];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b, "every change to the set changes its hash");
            }
        }
        assert_eq!(input_hash(&store, node, dir.path()).unwrap(), changed, "the same set, the same hash");
    }
}
