//! The audit log: `audit.log` in the state folder, one JSON object per line, each entry
//! chained to the one before by its sha256, so that changing, removing or reordering any
//! entry is found by [`verify`]. Entries are only ever appended (write + fsync); writers are
//! serialized by the tracking store, which one process holds at a time.
//!
//! The store anchors the log: each change records, in the same transaction, the number of
//! entries and the head hash the log will have, and the change's own entries (its *tail*).
//! The entries are written to the log after the store commits; a crash between the two
//! leaves the store ahead by the tail, which the next open of the store writes ([`settle`]).
//! A log shorter than its anchor (truncated, emptied, deleted) or whose entry at the anchor
//! is not the anchored head (rewritten) is refused by writers and reported by
//! [`check_anchor`].

use crate::db::{args, Db};
use crate::store::Store;
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

/// The log, for messages: its file, or its table on the shared store.
fn name(state: &Path) -> String {
    match Store::shared(state) {
        Some(target) => format!("the audit log in {target}"),
        None => path(state).display().to_string(),
    }
}

/// The log's bytes, one line per entry; `None` when there is none yet. On a shared store
/// the log is its `audit_log` table, read through `db` (a transaction's session) or a
/// session of its own.
fn log_bytes(state: &Path, db: Option<&Db>) -> Result<Option<Vec<u8>>, String> {
    if Store::shared(state).is_none() {
        let file = path(state);
        return match std::fs::read(&file) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", file.display())),
        };
    }
    let lines = |db: &Db| db.query("SELECT line FROM audit_log ORDER BY seq", args![], |r| r.get::<String>(0));
    let lines = match db {
        Some(db) => lines(db),
        None => lines(&Store::open_read_only(state)?.db),
    }
    .map_err(|e| format!("cannot read {}: {e}", name(state)))?;
    Ok((!lines.is_empty()).then(|| lines.iter().flat_map(|l| [l.as_bytes(), b"\n"]).flatten().copied().collect()))
}

/// Appends the actions as one change of its own (a canary's decision): the anchor and the
/// entries in one store transaction, then the entries to the log with one write and one
/// fsync; returns their records.
pub fn append(store: &Store, actions: &[Action]) -> Result<Vec<Record>, String> {
    let records = store.transaction(|db| prepare(&store.dir, db, actions))?;
    write(store, &records)?;
    Ok(records)
}

/// Within a store transaction: checks the log against the store's anchor, chains records for
/// the actions after the log's head, and anchors them in the store. Once the transaction
/// commits, [`write`] puts them in the log; on a shared store they are put in its log here,
/// in the transaction.
pub(crate) fn prepare(state: &Path, db: &Db, actions: &[Action]) -> Result<Vec<Record>, String> {
    let anchor = anchor(db)?;
    let log = read_log(state, Some(db))?;
    if log.partial.is_some() {
        return Err(format!(
            "{} ends in a partial entry: nothing was changed; `mlpc audit verify` says more",
            name(state)
        ));
    }
    let (mut seq, mut prev) = match chain_head(&log.records) {
        Ok(head) => (log.records.len() as u64, head),
        Err(b) => {
            return Err(format!(
                "{} is damaged at line {}: {}; nothing was changed (restore the log from a backup; `mlpc audit verify` says more)",
                name(state),
                b.line,
                b.why
            ))
        }
    };
    if let Some(problem) =
        anchor.as_ref().and_then(|a| behind_anchor(state, a, &log.records).or_else(|| ahead_of_anchor(state, a, seq)))
    {
        return Err(format!("{problem}; nothing was changed"));
    }
    let mut records = Vec::with_capacity(actions.len());
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
        records.push(Record { entry, hash });
    }
    set_anchor(db, seq, &prev, &records)?;
    if db.is_postgres() {
        for r in &records {
            db.execute("INSERT INTO audit_log (seq, line) VALUES (?, ?)", args![r.entry.seq, line(r)])
                .map_err(|e| format!("cannot write the audit log in the store: {e}"))?;
        }
    }
    Ok(records)
}

/// Appends records to the log file with one write and one fsync, once their change is
/// committed (a shared store's log was written in the change's transaction).
pub(crate) fn write(store: &Store, records: &[Record]) -> Result<(), String> {
    if records.is_empty() || store.db.is_postgres() {
        return Ok(());
    }
    let state = &store.dir;
    let file = path(state);
    let lines: String = records.iter().map(|r| line(r) + "\n").collect();
    let created = !file.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    f.write_all(lines.as_bytes()).and_then(|()| f.sync_data()).map_err(|e| {
        format!(
            "the change is made, but its audit entries could not be written to {}: {e}; \
             the next command that opens the store writes them",
            file.display()
        )
    })?;
    if created {
        // The new file's name must survive a crash too.
        std::fs::File::open(state)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", state.display()))?;
    }
    Ok(())
}

/// Puts the audit log of state folder `from` — its chain verified first — into the shared
/// store's `audit_log` table, inside `db`'s transaction; returns the number of entries.
pub(crate) fn copy_log(from: &Path, db: &Db) -> Result<u64, String> {
    if let Err(broken) = verify(from) {
        return Err(format!(
            "{} is damaged at line {}: {}; nothing was copied (`mlpc audit verify --state {}` says more)",
            path(from).display(),
            broken.line,
            broken.why,
            from.display()
        ));
    }
    let records = read(from)?;
    for r in &records {
        db.execute("INSERT INTO audit_log (seq, line) VALUES (?, ?)", args![r.entry.seq, line(r)])
            .map_err(|e| format!("cannot write the audit log in the store: {e}"))?;
    }
    Ok(records.len() as u64)
}

fn line(r: &Record) -> String {
    serde_json::to_string(r).expect("records serialize")
}

/// What the store records of the log.
#[derive(Clone, Debug, Serialize)]
pub struct Anchor {
    /// How many entries the log has once the latest change is written.
    pub entries: u64,
    /// The hash of its last entry.
    pub head: String,
    /// The latest change's entries.
    #[serde(skip)]
    pub tail: Vec<Record>,
}

/// The store's anchor; None in a store that has never anchored a log.
pub fn anchor(db: &Db) -> Result<Option<Anchor>, String> {
    // A store from before anchors, opened read-only, has no such table.
    let tables: i64 = db
        .query_row("SELECT count(*) FROM information_schema.tables WHERE table_name = 'audit_anchor'", args![], |r| {
            r.get(0)
        })
        .map_err(String::from)?;
    if tables == 0 {
        return Ok(None);
    }
    let row = db
        .query_opt("SELECT entries, head, tail FROM audit_anchor WHERE id = 1", args![], |r| {
            Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
        })
        .map_err(String::from)?;
    row.map(|(entries, head, tail)| {
        Ok(Anchor {
            entries: entries as u64,
            head,
            tail: serde_json::from_str(&tail)
                .map_err(|e| format!("the store's audit anchor does not read back: {e}"))?,
        })
    })
    .transpose()
}

fn set_anchor(db: &Db, entries: u64, head: &str, tail: &[Record]) -> Result<(), String> {
    let tail = serde_json::to_string(tail).expect("records serialize");
    db.execute(
        "INSERT INTO audit_anchor VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET entries = excluded.entries, head = excluded.head, tail = excluded.tail",
        args![entries as i64, head, tail],
    )
    .map(drop)
    .map_err(|e| format!("cannot anchor the audit log in the store: {e}"))
}

/// The log as it is on disk: its complete lines read as records, and a last line without
/// its newline, as bytes (a write cut short may have cut a character in two, so it need not
/// be UTF-8).
struct Log {
    records: Vec<Record>,
    partial: Option<Vec<u8>>,
}

fn read_log(state: &Path, db: Option<&Db>) -> Result<Log, String> {
    let bytes = log_bytes(state, db)?.unwrap_or_default();
    let (complete, partial) = split_log(&bytes);
    let damaged = |i: usize, why: String| {
        format!("{} is damaged at line {}: {why}; `mlpc audit verify` says more", name(state), i + 1)
    };
    let records = complete
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let l = std::str::from_utf8(l).map_err(|e| damaged(i, format!("not UTF-8: {e}")))?;
            let record: Record = serde_json::from_str(l).map_err(|e| damaged(i, format!("not an entry: {e}")))?;
            if line(&record) != l {
                return Err(damaged(i, "not written in the log's canonical form".into()));
            }
            Ok(record)
        })
        .collect::<Result<_, _>>()?;
    Ok(Log { records, partial: (!partial.is_empty()).then(|| partial.to_vec()) })
}

/// The log's complete lines (without their newlines) and what follows the last newline.
fn split_log(bytes: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => (bytes[..i].split(|b| *b == b'\n').collect(), &bytes[i + 1..]),
        None => (Vec::new(), bytes),
    }
}

/// How the log falls short of the anchor, if it does: fewer entries than anchored, or not
/// the anchored entry where the anchor is.
fn behind_anchor(state: &Path, anchor: &Anchor, records: &[Record]) -> Option<String> {
    let file = name(state);
    let have = records.len() as u64;
    let short = |head: &str| head.chars().take(12).collect::<String>();
    if have < anchor.entries {
        let lost = if Store::shared(state).is_none() && !path(state).exists() {
            format!("{file} is missing")
        } else if have == 0 {
            format!("{file} is empty")
        } else {
            format!("{file} has {have} entries")
        };
        let pending = anchor.tail.first().is_some_and(|t| t.entry.seq == have + 1);
        let why = if pending {
            "the log was truncated, or a crash came between the latest change and its entries (the store keeps \
             those: the next command that opens the store writes them)"
        } else {
            "the log was truncated, emptied or deleted; restore it from a backup"
        };
        return Some(format!(
            "{lost}, but the store recorded {} entries (head {}…): {why}",
            anchor.entries,
            short(&anchor.head)
        ));
    }
    if anchor.entries > 0 && records[anchor.entries as usize - 1].hash != anchor.head {
        return Some(format!(
            "entry {} of {} is not the one the store recorded (head {}…): the log was rewritten; restore it from a backup",
            anchor.entries,
            file,
            short(&anchor.head)
        ));
    }
    None
}

/// How the log goes beyond the anchor, if it does: more entries than the store recorded,
/// so the store lost changes the log records. Chaining onto such a log and anchoring the
/// result would hide the loss for good, so writers refuse it as they refuse a shorter log.
/// (The opposite, a store ahead of its log, is a crash between a change and its entries,
/// which [`settle`] repairs.)
fn ahead_of_anchor(state: &Path, anchor: &Anchor, have: u64) -> Option<String> {
    (have > anchor.entries).then(|| {
        format!(
            "{} has {have} entries, but the store recorded only {}: the store lost changes the log records \
             (was state.duckdb.wal deleted, or state.duckdb replaced by an older copy?); restore state.duckdb \
             from a backup. mlpc has no command to accept the loss and re-anchor the log to this store, so \
             changes stay refused until the store is restored",
            name(state),
            anchor.entries
        )
    })
}

/// The log checked against the store's anchor: what is wrong, if anything.
pub fn check_anchor(store: &Store, anchor: Option<&Anchor>, verified: &Verified) -> Vec<String> {
    let state = &store.dir;
    match anchor {
        None if verified.entries > 0 => vec![format!(
            "the store has no anchor for the {} entries of {}: it was created after the log, or lost its contents \
             (was state.duckdb or its .wal deleted or replaced?)",
            verified.entries,
            name(state)
        )],
        None => Vec::new(),
        Some(a) => match behind_anchor(state, a, &verified.records) {
            Some(problem) => vec![problem],
            None => ahead_of_anchor(state, a, verified.entries).into_iter().collect(),
        },
    }
}

/// Settles the log with the store as a writer opens it: anchors a log the store has no
/// anchor for (a store from before anchors), and writes the entries of a change that was
/// committed but not written to the log (a crash between the two; a torn last line that is
/// the start of the first of them is replaced). Anything else is left for writers to refuse
/// and `mlpc audit verify` to report.
pub(crate) fn settle(store: &Store) {
    let _ = try_settle(store);
}

fn try_settle(store: &Store) -> Result<(), String> {
    let state = &store.dir;
    let log = read_log(state, None)?;
    let Some(anchor) = anchor(&store.db)? else {
        if log.partial.is_none() {
            if let Ok(head) = chain_head(&log.records) {
                store.transaction(|db| set_anchor(db, log.records.len() as u64, &head, &[]))?;
            }
        }
        return Ok(());
    };
    let have = log.records.len() as u64;
    if have >= anchor.entries {
        return Ok(());
    }
    let Some(start) = anchor.tail.iter().position(|r| r.entry.seq == have + 1) else { return Ok(()) };
    let missing = &anchor.tail[start..];
    let head = log.records.last().map_or(GENESIS, |r| r.hash.as_str());
    let chained = chain_head(&log.records).is_ok()
        && missing[0].entry.prev == head
        && missing.last().is_some_and(|r| r.entry.seq == anchor.entries && r.hash == anchor.head);
    if !chained || log.partial.as_ref().is_some_and(|p| !line(&missing[0]).as_bytes().starts_with(p)) {
        return Ok(());
    }
    if let Some(partial) = &log.partial {
        let file = path(state);
        let len = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
        let f = std::fs::OpenOptions::new().write(true).open(&file).map_err(|e| e.to_string())?;
        f.set_len(len - partial.len() as u64).map_err(|e| e.to_string())?;
    }
    write(store, missing)
}

/// Every entry of the log (none when there is no log yet).
pub fn read(state: &Path) -> Result<Vec<Record>, String> {
    let Some(bytes) = log_bytes(state, None)? else { return Ok(Vec::new()) };
    let (complete, partial) = split_log(&bytes);
    complete
        .into_iter()
        .chain((!partial.is_empty()).then_some(partial))
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_slice(line).map_err(|e| format!("{} line {}: not an entry: {e}", name(state), i + 1))
        })
        .collect()
}

/// A log that verified: how many entries, and the last one's hash; and its records, so
/// that the checks against the store read the log no second time.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub head: String,
    #[serde(skip)]
    pub records: Vec<Record>,
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
    verify_bytes(log_bytes(state, None))
}

/// `verify` through an open store's session (no second connection to a shared store).
pub fn verify_in(store: &Store) -> Result<Verified, Broken> {
    verify_bytes(log_bytes(&store.dir, Some(&store.db)))
}

fn verify_bytes(bytes: Result<Option<Vec<u8>>, String>) -> Result<Verified, Broken> {
    let bytes = match bytes {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Verified { entries: 0, head: GENESIS.into(), records: Vec::new() }),
        Err(e) => return Err(Broken { line: 0, why: e }),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut head = GENESIS.to_string();
    let mut records = Vec::new();
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let line_no = records.len() + 1;
        let broken = |why: String| Broken { line: line_no, why };
        let Some((line, after)) = rest.split_once('\n') else {
            return Err(broken("the last entry is not complete (no newline after it)".into()));
        };
        rest = after;
        let record: Record = serde_json::from_str(line).map_err(|e| broken(format!("not an entry: {e}")))?;
        if serde_json::to_string(&record).expect("records serialize") != line {
            return Err(broken("not written in the log's canonical form".into()));
        }
        check_link(&record, line_no as u64, &head).map_err(broken)?;
        head.clone_from(&record.hash);
        records.push(record);
    }
    Ok(Verified { entries: records.len() as u64, head, records })
}

/// The chain over records already read: the last one's hash when it holds.
fn chain_head(records: &[Record]) -> Result<String, Broken> {
    let mut head = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        check_link(r, i as u64 + 1, &head).map_err(|why| Broken { line: i + 1, why })?;
        head = r.hash.clone();
    }
    Ok(head)
}

/// Whether a record is entry `seq`, chained to `head`, with its own hash.
fn check_link(record: &Record, seq: u64, head: &str) -> Result<(), String> {
    if record.entry.seq != seq {
        return Err(format!("sequence number {} where {seq} was expected", record.entry.seq));
    }
    if record.entry.prev != head {
        return Err("`prev` is not the hash of the entry before".into());
    }
    if record.entry.hash() != record.hash {
        return Err("the hash does not match the entry".into());
    }
    Ok(())
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
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1), action("a", 2)]).unwrap();
        let last = append(&store, &[action("b", 1)]).unwrap();
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
        append(&Store::open(dir.path()).unwrap(), &[action("churn-predictor", 1), action("churn-predictor", 2)])
            .unwrap();
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
        append(&Store::open(dir.path()).unwrap(), &[action("a", 1), action("a", 2), action("a", 3)]).unwrap();
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
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1)]).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(path(dir.path())).unwrap();
        f.write_all(b"{\"seq\":2").unwrap();
        assert!(append(&store, &[action("a", 2)]).unwrap_err().contains("partial entry"));
        assert_eq!(verify(dir.path()).unwrap_err().line, 2);
    }

    fn anchored(store: &Store) -> Anchor {
        anchor(&store.db).unwrap().expect("an anchor")
    }

    #[test]
    fn the_store_anchors_the_log_and_writers_refuse_a_shorter_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1), action("a", 2)]).unwrap();
        let last = append(&store, &[action("a", 3)]).unwrap();
        let a = anchored(&store);
        assert_eq!((a.entries, a.head.as_str(), a.tail.len()), (3, last[0].hash.as_str(), 1));
        let v = verify(dir.path()).unwrap();
        assert!(check_anchor(&store, Some(&a), &v).is_empty());

        let full = std::fs::read_to_string(path(dir.path())).unwrap();
        let first: String = full.lines().next().unwrap().to_string() + "\n";
        for (how, text, said) in [
            ("truncated", Some(first.as_str()), "has 1 entries"),
            ("emptied", Some(""), "is empty"),
            ("deleted", None, "is missing"),
        ] {
            match text {
                Some(t) => std::fs::write(path(dir.path()), t).unwrap(),
                None => std::fs::remove_file(path(dir.path())).unwrap(),
            }
            let v = verify(dir.path()).expect("what is left chains");
            let problems = check_anchor(&store, Some(&a), &v);
            assert_eq!(problems.len(), 1, "{how}: {problems:?}");
            assert!(problems[0].contains(said) && problems[0].contains("recorded 3 entries"), "{how}: {}", problems[0]);
            let refused = append(&store, &[action("a", 4)]).unwrap_err();
            assert!(refused.contains("nothing was changed"), "{how}: {refused}");
        }
        std::fs::write(path(dir.path()), &full).unwrap();
        append(&store, &[action("a", 4)]).expect("the restored log takes entries again");
    }

    #[test]
    fn writers_refuse_a_log_longer_than_the_anchor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = append(&store, &[action("a", 1)]).unwrap();
        append(&store, &[action("a", 2), action("a", 3)]).unwrap();
        // The store lost the second change (an older copy of state.duckdb, or its WAL
        // deleted): its anchor is the first change's again.
        store.transaction(|conn| set_anchor(conn, 1, &first[0].hash, &first)).unwrap();
        let before = std::fs::read(path(dir.path())).unwrap();
        let refused = append(&store, &[action("a", 4)]).unwrap_err();
        assert!(refused.contains("the store lost changes") && refused.contains("nothing was changed"), "{refused}");
        assert!(refused.contains("restore state.duckdb from a backup"), "{refused}");
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), before, "nothing appended");
        assert_eq!(anchored(&store).entries, 1, "nothing anchored");
        let v = verify(dir.path()).unwrap();
        let problems = check_anchor(&store, Some(&anchored(&store)), &v);
        assert!(problems.len() == 1 && problems[0].contains("recorded only 1"), "{problems:?}");
        // Reopening settles nothing away: still refused.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert!(append(&store, &[action("a", 4)]).unwrap_err().contains("the store lost changes"));
    }

    #[test]
    fn a_rewritten_log_is_not_the_anchored_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1), action("a", 2)]).unwrap();
        // A whole new chain of the same length, valid in itself.
        let other = tempfile::tempdir().unwrap();
        append(&Store::open(other.path()).unwrap(), &[action("b", 1), action("b", 2)]).unwrap();
        std::fs::copy(path(other.path()), path(dir.path())).unwrap();
        let v = verify(dir.path()).unwrap();
        let problems = check_anchor(&store, Some(&anchored(&store)), &v);
        assert!(problems[0].contains("rewritten"), "{problems:?}");
    }

    #[test]
    fn entries_committed_but_not_written_are_written_when_the_store_next_opens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1)]).unwrap();
        // A crash after the store committed a change and before its entries reached the log,
        // here during the write: half of the first line is there.
        let records = store.transaction(|conn| prepare(dir.path(), conn, &[action("a", 2), action("a", 3)])).unwrap();
        let half = &line(&records[0])[..40];
        std::fs::OpenOptions::new().append(true).open(path(dir.path())).unwrap().write_all(half.as_bytes()).unwrap();
        assert!(verify(dir.path()).is_err());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let v = verify(dir.path()).expect("settled");
        assert_eq!((v.entries, v.head.as_str()), (3, records[1].hash.as_str()));
        assert!(check_anchor(&store, Some(&anchored(&store)), &v).is_empty());
    }

    #[test]
    fn a_write_cut_inside_a_character_is_repaired_when_the_store_next_opens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1)]).unwrap();
        let mut wide = action("a", 2);
        wide.by = "ana — ops".into();
        wide.reason = Some("ready — Zoë signed off".into());
        let records = store.transaction(|conn| prepare(dir.path(), conn, &[wide, action("a", 3)])).unwrap();
        // The crash (or a full disk) cut the first line in the middle of the "—".
        let first = line(&records[0]);
        let cut = first.find('—').unwrap() + 1;
        let mut f = std::fs::OpenOptions::new().append(true).open(path(dir.path())).unwrap();
        f.write_all(&first.as_bytes()[..cut]).unwrap();
        drop(f);
        assert!(std::fs::read_to_string(path(dir.path())).is_err(), "the log is not UTF-8 now");
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let v = verify(dir.path()).expect("settled");
        assert_eq!((v.entries, v.head.as_str()), (3, records[1].hash.as_str()));
        assert!(check_anchor(&store, Some(&anchored(&store)), &v).is_empty());
        assert_eq!(read(dir.path()).unwrap()[1].entry.by, "ana — ops");
        append(&store, &[action("a", 4)]).expect("the repaired log takes entries again");
    }

    #[test]
    fn a_store_without_an_anchor_anchors_the_log_it_finds() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        append(&store, &[action("a", 1)]).unwrap();
        store.db.batch("DELETE FROM audit_anchor").unwrap();
        let v = verify(dir.path()).unwrap();
        assert!(check_anchor(&store, None, &v)[0].contains("no anchor"));
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(anchored(&store).entries, 1);
    }
}
