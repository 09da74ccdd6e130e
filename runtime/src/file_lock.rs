//! Which process may open a DuckDB file now: an advisory lock on `FILE.lock`, taken before
//! DuckDB opens the file and held until its connection is closed. Waiting for another mlpc
//! process is the operating system's typed `WouldBlock`, never a guess from the wording of
//! DuckDB's error; writers hold the lock alone, readers share it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a DuckDB file could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "cannot open {file}: {holder} has held it for {secs} s, and mlpc commands hold it only for moments: \
         that process is stuck; stop it, then try again"
    )]
    Stuck { file: PathBuf, holder: String, secs: u64 },
    #[error("cannot lock {file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
}

/// A claim on a DuckDB file; released when dropped.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// How a file is claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// To write: no other process has the file open.
    Alone,
    /// To read: other readers may too, no writer.
    Shared,
}

/// Claims `db`, waiting up to `patience` for the process that holds it.
pub fn claim(db: &Path, mode: Mode, patience: Duration) -> Result<Held, LockError> {
    let path = lock_path(db);
    let io = |source| LockError::Io { file: path.clone(), source };
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    let started = Instant::now();
    loop {
        let tried = match mode {
            Mode::Alone => file.try_lock(),
            Mode::Shared => file.try_lock_shared(),
        };
        match tried {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if started.elapsed() < patience => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
                return Err(LockError::Stuck {
                    file: db.to_path_buf(),
                    holder: holder.map_or_else(|| "another process".into(), describe),
                    secs: patience.as_secs(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    if mode == Mode::Alone {
        // Who holds it, for the next process that has to wait.
        file.set_len(0).and_then(|()| write!(file, "{}", std::process::id())).map_err(io)?;
    }
    Ok(Held { _file: file })
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

/// `process 123 (`mlpc run churn.mlp`)`, from its command line where it can be read.
fn describe(pid: u32) -> String {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) if !raw.is_empty() => {
            let args: Vec<String> =
                raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into()).collect();
            format!("process {pid} (`{}`)", args.join(" "))
        }
        _ => format!("process {pid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_wait_for_each_other_and_readers_share() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.duckdb");
        let first = claim(&db, Mode::Alone, Duration::ZERO).unwrap();
        // flock locks belong to the open file: a second open in this process contends too.
        let err = claim(&db, Mode::Alone, Duration::from_millis(50)).unwrap_err();
        let LockError::Stuck { holder, .. } = &err else { panic!("{err}") };
        assert!(holder.starts_with(&format!("process {}", std::process::id())), "{holder}");
        assert!(claim(&db, Mode::Shared, Duration::ZERO).is_err(), "no reader beside a writer");
        drop(first);
        let a = claim(&db, Mode::Shared, Duration::ZERO).unwrap();
        let b = claim(&db, Mode::Shared, Duration::ZERO).unwrap();
        assert!(claim(&db, Mode::Alone, Duration::ZERO).is_err(), "no writer beside readers");
        drop((a, b));
        claim(&db, Mode::Alone, Duration::ZERO).unwrap();
    }
}
