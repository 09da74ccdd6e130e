//! Stage moves seen as they commit, on a shared (Postgres) store: each move NOTIFYs
//! [`CHANNEL`] in its own transaction (Postgres delivers it at the commit, never for a
//! change rolled back), and [`follow`] LISTENs on a connection of its own. Notifications
//! sent while that connection is down are lost, so it also asks for the latest move every
//! [`POLL`] and after every reconnect.

use crate::db::{args, Db, DbError, PgTarget};
use postgres::fallible_iterator::FallibleIterator;
use std::time::Duration;

/// The channel stage moves are announced on; the payload is the model's name.
pub const CHANNEL: &str = "mlpc_stage_moves";

/// How often the latest move is asked for, in case a notification was missed.
pub const POLL: Duration = Duration::from_secs(2);

/// The longest wait between two tries to reconnect.
const RETRY_AT_MOST: Duration = Duration::from_secs(5);

/// Announces a move of `name`'s stages, delivered when the open transaction commits.
pub(super) fn announce(db: &Db, name: &str) -> Result<(), DbError> {
    if db.is_postgres() {
        db.execute("SELECT pg_notify(?, ?)", args![CHANNEL, name])?;
    }
    Ok(())
}

/// What [`follow`] heard.
#[derive(Debug)]
pub enum Heard {
    /// A stage may have moved: a notification, a latest move not seen before, or a
    /// (re)connection after which anything may have.
    Moved,
    /// Nothing in the last [`POLL`].
    Nothing,
    /// The connection failed (why); it is tried again after a wait.
    Lost(String),
}

/// Tells `tell` what it hears from `target` until `tell` returns false. Blocking: runs on
/// a thread of its own, which reconnects (waiting a little longer each time, up to 5 s)
/// whenever the connection is lost.
pub fn follow(target: &PgTarget, who: &str, mut tell: impl FnMut(Heard) -> bool) {
    let first = Duration::from_millis(100);
    let mut wait = first;
    loop {
        let began = std::time::Instant::now();
        let lost = match listen(target, who, &mut tell) {
            Ok(()) => return,
            Err(e) => {
                // A connection that lasted starts the waits over.
                if began.elapsed() > RETRY_AT_MOST * 2 {
                    wait = first;
                }
                format!("lost the notifications of {target} ({e}); reconnecting in {wait:?}")
            }
        };
        if !tell(Heard::Lost(lost)) {
            return;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(RETRY_AT_MOST);
    }
}

/// One connection's life: `Ok` once `tell` asks to stop, `Err` when the connection fails.
fn listen(target: &PgTarget, who: &str, tell: &mut impl FnMut(Heard) -> bool) -> Result<(), DbError> {
    let mut client = crate::db::connect(target, who)?;
    let fail = |e: postgres::Error| DbError::Engine(e.to_string());
    client.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(fail)?;
    let latest = |client: &mut postgres::Client| -> Result<i64, DbError> {
        let row = client.query_one("SELECT coalesce(max(id), 0) FROM stage_moves", &[]).map_err(fail)?;
        row.try_get::<_, i64>(0).map_err(fail)
    };
    let mut seen = latest(&mut client)?;
    // Listening now: whatever moved while it was not is read again.
    let mut heard = Heard::Moved;
    while tell(heard) {
        let next = client.notifications().timeout_iter(POLL).next().map_err(fail)?;
        let now = latest(&mut client)?;
        heard = if next.is_some() || now != seen { Heard::Moved } else { Heard::Nothing };
        seen = now;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fixtures::{new_version, shared_folder};
    use crate::registry::{promote, register};
    use crate::Store;
    use std::sync::mpsc;
    use std::time::Instant;

    #[test]
    fn a_stage_move_is_heard_at_its_commit_and_after_a_lost_connection() {
        let Some((dir, target)) = shared_folder() else { return };
        let store = Store::open(dir.path()).unwrap();
        let v = register(&store, &new_version("a", 0.9, 0.7)).unwrap();
        let (tx, heard) = mpsc::channel();
        let following = target.clone();
        std::thread::spawn(move || follow(&following, "live test", |h| tx.send(h).is_ok()));
        let next_move = |within: Duration| loop {
            match heard.recv_timeout(within).expect("heard something") {
                Heard::Moved => return,
                Heard::Nothing => {}
                Heard::Lost(why) => eprintln!("{why}"),
            }
        };
        next_move(Duration::from_secs(10)); // connected

        let moved = Instant::now();
        promote(&store, "churn-predictor", v, "production", "alice", None).unwrap();
        next_move(Duration::from_secs(10));
        let delay = moved.elapsed();
        assert!(delay < Duration::from_secs(1), "heard after {delay:?}, not through a notification");

        // The listener's connection is cut: it reconnects and says a move may have been missed.
        let cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'live test'";
        store.db.execute(cut, args![]).unwrap();
        let lost = loop {
            if let Heard::Lost(why) = heard.recv_timeout(Duration::from_secs(10)).unwrap() {
                break why;
            }
        };
        assert!(lost.contains("lost the notifications of") && lost.contains("reconnecting"), "{lost}");
        next_move(Duration::from_secs(10));
        promote(&store, "churn-predictor", v, "staging", "alice", None).unwrap();
        next_move(Duration::from_secs(1));
    }
}
