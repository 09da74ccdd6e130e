//! The audit log: `audit.log` in the state folder, one JSON object per line, each entry
//! chained to the one before by its sha256, so that changing, removing or reordering any
//! entry is found by [`verify`]. Entries are only ever appended (write + fsync); writers are
//! serialized by the tracking store, which one process holds at a time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as the caller states it; `append` adds the sequence number and the link.
#[derive(Clone, Debug)]
pub struct Action {
    /// `register`, `promote`, `approve`, `rollback`, `archive`.
    pub action: String,
    /// When, as [`now`] gives it (the registry records the same time).
    pub at: String,
    pub name: String,
    pub version: Option<i64>,
    pub stage: Option<String>,
    pub by: String,
    pub reason: Option<String>,
}

/// An entry without its hash: the canonical JSON of this is what `hash` covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub at: String,
    pub action: String,
    pub name: String,
    pub version: Option<i64>,
    pub stage: Option<String>,
    pub by: String,
    pub reason: Option<String>,
    pub prev: String,
}

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub entry: Entry,
    pub hash: String,
}

impl Entry {
    fn hash(&self) -> String {
        let canonical = serde_json::to_string(self).expect("entries serialize");
        format!("{:x}", Sha256::digest(canonical.as_bytes()))
    }
}

/// The current time, UTC, RFC 3339 with milliseconds.
pub fn now() -> String {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn path(state: &Path) -> PathBuf {
    state.join("audit.log")
}

/// Appends the actions, in order, with one write and one fsync; returns their records.
pub fn append(state: &Path, actions: &[Action]) -> Result<Vec<Record>, String> {
    let file = path(state);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let (mut seq, mut prev) = match text.lines().last() {
        None => (0, GENESIS.to_string()),
        Some(_) if !text.ends_with('\n') => {
            return Err(format!("{} ends in a partial entry; run `mlpc audit verify`", file.display()))
        }
        Some(last) => {
            let r: Record = serde_json::from_str(last)
                .map_err(|_| format!("the last entry of {} does not parse; run `mlpc audit verify`", file.display()))?;
            (r.entry.seq, r.hash)
        }
    };
    let mut records = Vec::with_capacity(actions.len());
    let mut lines = String::new();
    for a in actions {
        seq += 1;
        let entry = Entry {
            seq,
            at: a.at.clone(),
            action: a.action.clone(),
            name: a.name.clone(),
            version: a.version,
            stage: a.stage.clone(),
            by: a.by.clone(),
            reason: a.reason.clone(),
            prev,
        };
        let hash = entry.hash();
        prev = hash.clone();
        let record = Record { entry, hash };
        lines.push_str(&serde_json::to_string(&record).expect("records serialize"));
        lines.push('\n');
        records.push(record);
    }
    let created = text.is_empty() && !file.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    f.write_all(lines.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    if created {
        // The new file's name must survive a crash too.
        std::fs::File::open(state)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", state.display()))?;
    }
    Ok(records)
}

/// Every entry of the log (none when there is no log yet).
pub fn read(state: &Path) -> Result<Vec<Record>, String> {
    let file = path(state);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| format!("{} line {}: not an entry: {e}", file.display(), i + 1))
        })
        .collect()
}

/// A log that verified: how many entries, and the last one's hash.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub head: String,
}

/// The first line that breaks the chain (1-based), and how.
#[derive(Debug, Serialize)]
pub struct Broken {
    pub line: usize,
    pub why: String,
}

/// Checks that every line is an entry written exactly as `append` writes it, that the
/// sequence counts up from 1, that each `prev` is the hash before it and that each hash
/// covers its entry.
pub fn verify(state: &Path) -> Result<Verified, Broken> {
    let bytes = match std::fs::read(path(state)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Verified { entries: 0, head: GENESIS.into() }),
        Err(e) => return Err(Broken { line: 0, why: format!("cannot read the log: {e}") }),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut head = GENESIS.to_string();
    let mut count = 0;
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let line_no = count as usize + 1;
        let broken = |why: String| Broken { line: line_no, why };
        let Some((line, after)) = rest.split_once('\n') else {
            return Err(broken("the last entry is not complete (no newline after it)".into()));
        };
        rest = after;
        let record: Record = serde_json::from_str(line).map_err(|e| broken(format!("not an entry: {e}")))?;
        if serde_json::to_string(&record).expect("records serialize") != line {
            return Err(broken("not written in the log's canonical form".into()));
        }
        count += 1;
        if record.entry.seq != count {
            return Err(broken(format!("sequence number {} where {count} was expected", record.entry.seq)));
        }
        if record.entry.prev != head {
            return Err(broken("`prev` is not the hash of the entry before".into()));
        }
        if record.entry.hash() != record.hash {
            return Err(broken("the hash does not match the entry".into()));
        }
        head = record.hash;
    }
    Ok(Verified { entries: count, head })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str, version: i64) -> Action {
        Action {
            action: "register".into(),
            at: "2024-01-01T00:00:00.000Z".into(),
            name: name.into(),
            version: Some(version),
            stage: None,
            by: "test".into(),
            reason: None,
        }
    }

    #[test]
    fn entries_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(verify(dir.path()).unwrap().entries, 0);
        append(dir.path(), &[action("a", 1), action("a", 2)]).unwrap();
        let last = append(dir.path(), &[action("b", 1)]).unwrap();
        let all = read(dir.path()).unwrap();
        assert_eq!(all.iter().map(|r| r.entry.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(all[0].entry.prev, GENESIS);
        assert_eq!(all[1].entry.prev, all[0].hash);
        let ok = verify(dir.path()).unwrap();
        assert_eq!((ok.entries, ok.head), (3, last[0].hash.clone()));
    }

    #[test]
    fn any_changed_byte_breaks_verification() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &[action("churn-predictor", 1), action("churn-predictor", 2)]).unwrap();
        let original = std::fs::read(path(dir.path())).unwrap();
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] ^= 0x01;
            std::fs::write(path(dir.path()), &bytes).unwrap();
            let broken = verify(dir.path()).expect_err(&format!("flipping byte {i} is found"));
            let newline = original.iter().position(|b| *b == b'\n').unwrap();
            assert_eq!(broken.line, if i <= newline { 1 } else { 2 }, "byte {i}: {}", broken.why);
        }
    }

    #[test]
    fn a_removed_entry_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &[action("a", 1), action("a", 2), action("a", 3)]).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        let kept: Vec<&str> = text.lines().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| l).collect();
        std::fs::write(path(dir.path()), format!("{}\n", kept.join("\n"))).unwrap();
        let broken = verify(dir.path()).unwrap_err();
        assert_eq!(broken.line, 2);
        assert!(broken.why.contains("sequence"), "{}", broken.why);
    }

    #[test]
    fn a_torn_last_entry_stops_appends() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &[action("a", 1)]).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(path(dir.path())).unwrap();
        f.write_all(b"{\"seq\":2").unwrap();
        assert!(append(dir.path(), &[action("a", 2)]).unwrap_err().contains("partial entry"));
        assert_eq!(verify(dir.path()).unwrap_err().line, 2);
    }
}
