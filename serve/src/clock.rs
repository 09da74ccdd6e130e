//! Time as time-driven logic reads it (canary steps here, the daemon's schedule and
//! monitors): the system's clocks when serving, a clock moved by hand in tests.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

pub trait Clock: Send + Sync {
    /// Monotonic time, for intervals.
    fn now(&self) -> Instant;
    /// Wall-clock time, for schedules and windows of logged requests.
    fn wall(&self) -> SystemTime;
}

/// Microseconds since the epoch, now, as logs and records stamp rows.
pub fn now_micros() -> i64 {
    SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The system's clocks.
pub struct System;

impl Clock for System {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until moved: for tests.
pub struct Manual(Mutex<(Instant, SystemTime)>);

impl Manual {
    /// Stopped at `wall` (its monotonic time starts at the moment it is made).
    pub fn at(wall: SystemTime) -> Manual {
        Manual(Mutex::new((Instant::now(), wall)))
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = (t.0 + by, t.1 + by);
    }
}

impl Clock for Manual {
    fn now(&self) -> Instant {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).0
    }
    fn wall(&self) -> SystemTime {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}
