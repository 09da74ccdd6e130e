//! When the daemon's timed work is next due — the pipeline's cron `schedule` and each
//! monitor's `every` — read on a clock, which tests move by hand.

use chrono::{DateTime, Local};
use croner::Cron;
use mlpc_serve::clock::Clock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Timers {
    clock: Arc<dyn Clock>,
    /// The schedule's next fire time.
    cron: Option<DateTime<Local>>,
    /// Each monitor's next check, by name.
    monitors: BTreeMap<String, Instant>,
}

impl Timers {
    /// Nothing due now: the schedule first fires at its next time after now, each of the
    /// `monitors` (name, every) is first checked one `every` from now.
    pub fn new<'a>(
        clock: Arc<dyn Clock>,
        schedule: Option<&Cron>,
        monitors: impl IntoIterator<Item = (&'a str, Duration)>,
    ) -> Timers {
        let now = clock.now();
        let monitors = monitors.into_iter().map(|(name, every)| (name.to_string(), now + every)).collect();
        let cron = next_fire(schedule, &clock.wall().into());
        Timers { clock, cron, monitors }
    }

    /// Whether the schedule fires now; when it does, it next fires at its next time after
    /// now (fire times missed meanwhile fire once, not once each).
    pub fn schedule_fires(&mut self, schedule: Option<&Cron>) -> bool {
        let now: DateTime<Local> = self.clock.wall().into();
        if self.cron.is_none_or(|at| at > now) {
            return false;
        }
        self.cron = next_fire(schedule, &now);
        true
    }

    /// Whether monitor `name` is checked now; when it is, its next check is one `every`
    /// later. A monitor not known before (a reload added it) is first checked one `every` on.
    pub fn monitor_due(&mut self, name: &str, every: Duration) -> bool {
        let now = self.clock.now();
        let at = self.monitors.entry(name.to_string()).or_insert(now + every);
        if *at > now {
            return false;
        }
        *at = now + every;
        true
    }
}

fn next_fire(schedule: Option<&Cron>, after: &DateTime<Local>) -> Option<DateTime<Local>> {
    schedule.and_then(|c| c.find_next_occurrence(after, false).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mlpc_serve::clock::Manual;

    const SECOND: Duration = Duration::from_secs(1);

    fn clock_at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Arc<Manual> {
        let wall = Local.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("a local time");
        Arc::new(Manual::at(wall.into()))
    }

    #[test]
    fn a_monitor_is_checked_once_per_every() {
        let clock = clock_at(2024, 3, 1, 12, 0, 0);
        let mut t = Timers::new(clock.clone(), None, [("drift", SECOND)]);
        assert!(!t.monitor_due("drift", SECOND), "not at start");
        clock.advance(SECOND - Duration::from_millis(1));
        assert!(!t.monitor_due("drift", SECOND));
        clock.advance(Duration::from_millis(1));
        assert!(t.monitor_due("drift", SECOND), "one `every` on");
        assert!(!t.monitor_due("drift", SECOND), "once");
        clock.advance(SECOND);
        assert!(t.monitor_due("drift", SECOND));
        // A monitor a reload added: first checked one `every` after it is first seen.
        assert!(!t.monitor_due("added", 2 * SECOND));
        clock.advance(SECOND);
        assert!(!t.monitor_due("added", 2 * SECOND));
        clock.advance(SECOND);
        assert!(t.monitor_due("added", 2 * SECOND));
    }

    #[test]
    fn the_schedule_fires_at_its_times_and_once_for_times_missed() {
        let cron = Cron::new("0 2 * * *").parse().unwrap();
        let clock = clock_at(2024, 3, 1, 1, 59, 59);
        let mut t = Timers::new(clock.clone(), Some(&cron), []);
        assert!(!t.schedule_fires(Some(&cron)), "01:59:59");
        clock.advance(SECOND);
        assert!(t.schedule_fires(Some(&cron)), "02:00:00");
        assert!(!t.schedule_fires(Some(&cron)), "once");
        clock.advance(Duration::from_secs(3 * 24 * 3600));
        assert!(t.schedule_fires(Some(&cron)), "three days on");
        assert!(!t.schedule_fires(Some(&cron)), "the two days missed do not fire again");
        assert!(!Timers::new(clock, None, []).schedule_fires(None), "no schedule, no run");
    }
}
