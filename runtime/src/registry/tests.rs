//! The registry against a temporary state folder, with the churn example's promotion rules.

use super::fixtures::{self, new_version, store};
use super::*;
use crate::audit;

fn holders(store: &Store) -> BTreeMap<String, i64> {
    show(store, "churn-predictor").unwrap().stages
}

#[test]
fn registering_numbers_versions_and_reruns_do_not_duplicate() {
    let (_dir, store) = store();
    assert_eq!(register(&store, &new_version("a", 0.9, 0.7)).unwrap(), 1);
    assert_eq!(register(&store, &new_version("b", 0.9, 0.7)).unwrap(), 2);
    assert_eq!(register(&store, &new_version("a", 0.9, 0.7)).unwrap(), 1, "same artifact, same version");
    let m = show(&store, "churn-predictor").unwrap();
    assert_eq!(m.versions.len(), 2);
    assert_eq!(m.versions[0].params["trees"], 200);
    assert!(!m.versions[0].metrics.contains_key("bad"), "non-finite metrics are not kept");
    let all = models(&store).unwrap();
    assert_eq!((all.len(), all[0].latest), (1, 2));
    assert_eq!(audit::read(&store.dir).unwrap().len(), 2, "one entry per new version");
}

#[test]
fn staging_follows_the_rule_and_production_waits_for_an_approval() {
    let (_dir, store) = store();
    let v = register(&store, &new_version("a", 0.85, 0.65)).unwrap();
    let out = apply_rules(&store, "churn-predictor", v, "run 1").unwrap();
    assert_eq!((out[0].stage.as_str(), out[0].held, out[0].moved), ("staging", true, true));
    assert_eq!((out[1].stage.as_str(), out[1].held, out[1].moved), ("production", false, false));
    assert_eq!(out[1].reason, "waits for `mlpc approve churn-predictor 1 --stage production --by NAME`");

    assert!(approve(&store, "churn-predictor", v, "production", "alice", Some("reviewed")).unwrap());
    assert!(!approve(&store, "churn-predictor", v, "production", "alice", None).unwrap(), "once per person");
    let out = apply_rules(&store, "churn-predictor", v, "alice").unwrap();
    assert!(!out[0].moved && out[0].reason.contains("already in staging"), "{}", out[0].reason);
    assert!(out[1].moved, "{}", out[1].reason);
    assert!(
        out[1].reason.contains("first deployment") && out[1].reason.contains("approved by alice"),
        "{}",
        out[1].reason
    );
    assert_eq!(holders(&store), BTreeMap::from([("production".into(), 1), ("staging".into(), 1)]));
}

#[test]
fn production_compares_with_the_version_in_production() {
    let (_dir, store) = store();
    let first = register(&store, &new_version("a", 0.86, 0.7)).unwrap();
    promote(&store, "churn-predictor", first, "production", "alice", None).unwrap();
    let worse = register(&store, &new_version("b", 0.84, 0.7)).unwrap();
    approve(&store, "churn-predictor", worse, "production", "bob", None).unwrap();
    let out = apply_rules(&store, "churn-predictor", worse, "bob").unwrap();
    assert!(out[0].moved, "staging only needs auc >= 0.80");
    assert!(!out[1].held);
    assert_eq!(out[1].reason, "`auc >= production.auc - 0.01` fails: 0.84 is not >= 0.85");

    let close = register(&store, &new_version("c", 0.855, 0.61)).unwrap();
    approve(&store, "churn-predictor", close, "production", "bob", None).unwrap();
    let out = apply_rules(&store, "churn-predictor", close, "bob").unwrap();
    assert!(out[1].moved, "within 0.01 of production: {}", out[1].reason);
    assert_eq!(holders(&store)["archived"], first, "the version production left is archived");

    let out = apply_rules(&store, "churn-predictor", first, "ci").unwrap();
    assert!(!out[0].moved, "rules never move a stage back to an older version");
    assert_eq!(out[0].reason, "holds, but version 3, which is newer, holds staging");
}

#[test]
fn rules_judged_from_a_listing_equal_rules_judged_one_by_one() {
    let (_dir, store) = store();
    let first = register(&store, &new_version("a", 0.86, 0.7)).unwrap();
    promote(&store, "churn-predictor", first, "production", "alice", None).unwrap();
    for (sha, auc) in [("b", 0.84), ("c", 0.855), ("d", 0.79)] {
        let v = register(&store, &new_version(sha, auc, 0.7)).unwrap();
        approve(&store, "churn-predictor", v, "production", "bob", None).unwrap();
    }
    let model = show(&store, "churn-predictor").unwrap();
    let listed = rules_now_listed(&model, &[4, 3, 2, 1]);
    assert_eq!(listed.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [4, 3, 2, 1]);
    let text = |o: &[RuleOutcome]| o.iter().map(|r| format!("{} {} {}", r.stage, r.held, r.reason)).collect::<Vec<_>>();
    for (version, outcomes) in &listed {
        assert_eq!(text(outcomes), text(&rules_now(&store, "churn-predictor", *version).unwrap()), "version {version}");
    }
    assert!(listed[0].1[1].reason.contains("0.79"), "{:?}", text(&listed[0].1));
}

#[test]
fn rules_do_not_undo_a_rollback() {
    let (_dir, store) = store();
    for sha in ["a", "b"] {
        let v = register(&store, &new_version(sha, 0.9, 0.7)).unwrap();
        approve(&store, "churn-predictor", v, "production", "alice", None).unwrap();
        assert!(apply_rules(&store, "churn-predictor", v, "ci").unwrap()[1].moved);
    }
    rollback(&store, "churn-predictor", "production", "bob", Some("errors")).unwrap();
    let out = apply_rules(&store, "churn-predictor", 2, "ci").unwrap();
    assert!(!out[1].moved);
    assert!(
        out[1].reason.starts_with("holds, but production was rolled back from version 2 by bob"),
        "{}",
        out[1].reason
    );
    assert_eq!(holders(&store)["production"], 1);
}

#[test]
fn a_missing_metric_stops_a_rule() {
    let (_dir, store) = store();
    let mut v = new_version("a", 0.9, 0.7);
    v.metrics.remove("f1");
    let n = register(&store, &v).unwrap();
    let out = apply_rules(&store, "churn-predictor", n, "ci").unwrap();
    assert!(!out[0].held);
    assert_eq!(out[0].reason, "version 1 has no metric `f1`");
}

#[test]
fn rollback_walks_back_through_what_production_held() {
    let (_dir, store) = store();
    for (i, sha) in ["a", "b", "c"].iter().enumerate() {
        let v = register(&store, &new_version(sha, 0.9, 0.7)).unwrap();
        let m = promote(&store, "churn-predictor", v, "production", "alice", Some("release")).unwrap().unwrap();
        assert_eq!((m.from, m.archived), (i.checked_sub(1).map(|p| p as i64 + 1), m.from));
    }
    assert!(promote(&store, "churn-predictor", 3, "production", "alice", None).unwrap().is_none(), "already there");
    let back = rollback(&store, "churn-predictor", "production", "bob", Some("errors")).unwrap();
    assert_eq!((back.from, back.to, back.archived), (Some(3), 2, Some(3)));
    let back = rollback(&store, "churn-predictor", "production", "bob", None).unwrap();
    assert_eq!((back.from, back.to), (Some(2), 1));
    let err = rollback(&store, "churn-predictor", "production", "bob", None).unwrap_err();
    assert_eq!(err.to_string(), "production has held only version 1 of `churn-predictor`: nothing to roll back to");
    assert!(matches!(err, RegistryError::NothingToRollBack { current: 1, .. }));
    let err = rollback(&store, "churn-predictor", "staging", "bob", None).unwrap_err();
    assert_eq!(err.to_string(), "no version of `churn-predictor` is in staging");
    let history = show(&store, "churn-predictor").unwrap().history;
    let kinds: Vec<(&str, &str)> = history.iter().map(|m| (m.stage.as_str(), m.kind.as_str())).collect();
    assert_eq!(kinds.iter().filter(|(_, k)| *k == "rollback").count(), 2);
    assert_eq!(holders(&store), BTreeMap::from([("production".into(), 1), ("archived".into(), 2)]));
}

#[test]
fn mistakes_are_clear_errors() {
    let (_dir, store) = store();
    assert!(show(&store, "x").unwrap_err().to_string().contains("nothing is registered"));
    register(&store, &new_version("a", 0.9, 0.7)).unwrap();
    assert_eq!(
        version(&store, "churn-predictor", 7).unwrap_err().to_string(),
        "`churn-predictor` has no version 7; its versions are 1 to 1"
    );
    assert_eq!(show(&store, "churn").unwrap_err().to_string(), "no model named `churn`; registered: churn-predictor");
    let err = promote(&store, "churn-predictor", 1, "prod", "a", None).unwrap_err();
    assert_eq!(err.to_string(), "unknown stage `prod`; stages: staging, production, archived");
    assert!(matches!(approve(&store, "churn-predictor", 1, "production", " ", None), Err(RegistryError::NoActor)));
    assert_eq!(audit::read(&store.dir).unwrap().len(), 1, "failed changes leave no entries");
}

#[test]
fn the_audit_log_records_every_change_and_detects_tampering() {
    let (_dir, store) = store();
    let v = register(&store, &new_version("a", 0.9, 0.7)).unwrap();
    approve(&store, "churn-predictor", v, "production", "alice", None).unwrap();
    apply_rules(&store, "churn-predictor", v, "alice").unwrap();
    let actions: Vec<String> = audit::read(&store.dir).unwrap().into_iter().map(|r| r.entry.action).collect();
    assert_eq!(actions, ["register", "approve", "promote", "promote"]);
    assert_eq!(audit::verify(&store.dir).unwrap().entries, 4);

    // Someone rewrites who approved: in the log file, or in the shared store's log table.
    if fixtures::on_postgres() {
        store.db.batch("UPDATE audit_log SET line = replace(line, 'alice', 'mallory') WHERE seq = 2").unwrap();
    } else {
        let log = audit::path(&store.dir);
        let text = std::fs::read_to_string(&log).unwrap().replacen("\"alice\"", "\"mallory\"", 1);
        std::fs::write(&log, text).unwrap();
    }
    let broken = audit::verify(&store.dir).unwrap_err();
    assert_eq!((broken.line, broken.why.as_str()), (2, "the hash does not match the entry"));
}

#[test]
fn git_commit_reads_head_and_is_none_outside_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(git_commit(dir.path()), None);
    let git = |args: &[&str]| {
        std::process::Command::new("git").arg("-C").arg(dir.path()).args(args).output().map(|o| o.status.success())
    };
    if git(&["init", "-q"]).ok() != Some(true) {
        return; // no git here: nothing more to check
    }
    assert_eq!(
        git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"]).ok(),
        Some(true)
    );
    assert_eq!(git_commit(dir.path()).map(|c| c.len()), Some(40));
}

#[test]
fn writers_at_once_never_give_out_one_number_twice() {
    let (dir, store) = store();
    drop(store);
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                // Each its own session: DuckDB's take turns, Postgres's race for the write lock.
                let store = Store::open(&dir).unwrap();
                let mut v = new_version("a", 0.9, 0.7);
                v.artifact_sha256 = format!("{i:064}");
                register(&store, &v).unwrap()
            })
        })
        .collect();
    let mut numbers: Vec<i64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(audit::verify(dir.path()).unwrap().entries, 4);
}
