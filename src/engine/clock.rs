//! Time for the engine. Production uses the system clock; tests and drills inject a start instant
//! with `SYSTRADE_NOW` (RFC 3339), after which the clock runs forward in real time.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock shifted by a fixed offset from the system clock.
pub struct OffsetClock {
    offset: chrono::Duration,
}

impl OffsetClock {
    /// A clock that reads `start` now and advances in real time.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start - Utc::now(),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// The clock to use given the optional `SYSTRADE_NOW` value.
pub fn clock_from_env(value: Option<&str>) -> Result<Box<dyn Clock>, String> {
    match value {
        None | Some("") => Ok(Box::new(SystemClock)),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Box::new(OffsetClock::starting_at(t.with_timezone(&Utc))) as Box<dyn Clock>)
            .map_err(|e| {
                format!(
                    "SYSTRADE_NOW=`{v}` is not an RFC 3339 time such as 2026-11-24T07:30:00Z: {e}"
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_starts_at_given_instant() {
        let t = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = OffsetClock::starting_at(t);
        let d = c.now() - t;
        assert!(d >= chrono::Duration::zero() && d < chrono::Duration::seconds(5));
        assert!(clock_from_env(Some("yesterday")).is_err());
    }
}
