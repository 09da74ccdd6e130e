//! `--state postgres://…` (or `MLPC_STATE`): the tracking store on a Postgres server shared
//! by a team. The command line is rewritten before it is read: the URL becomes this
//! machine's folder for that store (artifacts and work files, under the user's cache
//! folder, one per server and database), and the store of that folder is put on the server.

use mlpc_runtime::db::PgTarget;
use mlpc_runtime::Store;
use std::path::PathBuf;

/// The commands whose `--state` `MLPC_STATE` stands for when it is not given.
const TAKE_STATE: [&str; 12] =
    ["run", "runs", "models", "approve", "promote", "rollback", "audit", "card", "serve", "daemon", "ui", "score"];

/// The arguments with `MLPC_STATE` filled in and a Postgres URL replaced by its local folder;
/// `Err` with the message when the URL cannot be read.
pub fn arguments(mut args: Vec<String>) -> Result<Vec<String>, String> {
    let given = args.iter().any(|a| a == "--state" || a.starts_with("--state="));
    if let (false, Ok(state)) = (given, std::env::var("MLPC_STATE")) {
        if args.get(1).is_some_and(|c| TAKE_STATE.contains(&c.as_str())) && !state.is_empty() {
            args.push("--state".into());
            args.push(state);
        }
    }
    let mut i = 1;
    while i < args.len() {
        let (value_at, value) = match args[i].strip_prefix("--state=") {
            Some(v) => (i, v.to_string()),
            None if args[i] == "--state" && i + 1 < args.len() => (i + 1, args[i + 1].clone()),
            None => {
                i += 1;
                continue;
            }
        };
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            let folder = share(&value)?;
            args[value_at] = match value_at == i {
                true => format!("--state={}", folder.display()),
                false => folder.display().to_string(),
            };
        }
        i = value_at + 1;
    }
    Ok(args)
}

/// Puts the store of this machine's folder for `url` on that server; returns the folder.
pub fn share(url: &str) -> Result<PathBuf, String> {
    let target = PgTarget::parse(url).map_err(String::from)?;
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    // Named for the server and database only (the shown URL, without its password).
    let name: String = target
        .to_string()
        .split('?')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    let folder = cache.join("mlpc").join("shared").join(name);
    std::fs::create_dir_all(&folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    Store::share(&folder, target);
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_state_becomes_a_local_folder_and_others_stay_as_given() {
        let cache = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_CACHE_HOME", cache.path());
        let args = |a: &[&str]| arguments(a.iter().map(|s| s.to_string()).collect()).unwrap();
        let out = args(&["mlpc-runtime", "models", "--state", "postgres://ml:pw@db:5432/team"]);
        let folder = cache.path().join("mlpc/shared/postgres___ml_____db_5432_team");
        assert_eq!(out[3], folder.display().to_string());
        assert!(Store::shared(&folder).is_some());
        let out = args(&["mlpc-runtime", "run", "f.mlp", "--state=postgresql://db/team?sslmode=disable"]);
        assert!(out[3].starts_with("--state=") && out[3].ends_with("postgresql___db_team"), "{out:?}");
        assert_eq!(args(&["mlpc-runtime", "runs", "--state", "dir"]), ["mlpc-runtime", "runs", "--state", "dir"]);
        let bad = arguments(vec!["x".into(), "runs".into(), "--state".into(), "postgres://a:b@h:notaport/d".into()]);
        assert!(bad.unwrap_err().contains("postgres://a:***@h:notaport/d"));
    }
}
