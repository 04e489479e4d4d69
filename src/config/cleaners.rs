//! The `[cleaners]` section: how long the daily cleaners (sysproduction's `run_cleaners`, here
//! the `clean` task and `systrade clean`) keep what they delete. Two retentions live with what
//! they belong to and are not repeated here: run log events follow `logging.retention_days`
//! (with the scheduler's rotated log files), backtest states `strategies.backtest_keep_days`.

use std::collections::BTreeMap;

use super::Source;

/// Days each kind of old thing is kept (each at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanersConfig {
    /// Attempts of finished runs (`node_attempts`); the runs and their node rows stay.
    pub run_attempt_days: u32,
    /// Archived order families (instrument, contract and broker orders and their executions).
    pub archived_order_days: u32,
    /// Report files under `<home>/reports/` (by the day in their name).
    pub report_days: u32,
    /// Alerts whose e-mail could not be sent (`kept`): after this long they are no longer
    /// carried by the next successful send.
    pub kept_email_days: u32,
}

/// The shipped defaults (a test checks `config/defaults.toml` agrees).
pub const DEFAULTS: CleanersConfig = CleanersConfig {
    run_attempt_days: 90,
    archived_order_days: 730,
    report_days: 90,
    kept_email_days: 30,
};

/// The longest retention accepted: a hundred years.
const MAX_DAYS: i64 = 36_500;

type Problems = Vec<(&'static str, String)>;

/// Reads `cleaners.*` from the config entries; every problem as `(key, message)`.
pub fn parse(entries: &BTreeMap<String, (toml::Value, Source)>) -> (CleanersConfig, Problems) {
    let mut problems = Problems::new();
    let mut days = |key: &'static str, default: u32| {
        let n = entries
            .get(key)
            .and_then(|(v, _)| v.as_integer())
            .unwrap_or(i64::from(default));
        if (1..=MAX_DAYS).contains(&n) {
            u32::try_from(n).unwrap_or(default)
        } else {
            problems.push((
                key,
                format!("must be a whole number of days from 1 to {MAX_DAYS}, got {n}"),
            ));
            default
        }
    };
    let config = CleanersConfig {
        run_attempt_days: days("cleaners.run_attempt_days", DEFAULTS.run_attempt_days),
        archived_order_days: days("cleaners.archived_order_days", DEFAULTS.archived_order_days),
        report_days: days("cleaners.report_days", DEFAULTS.report_days),
        kept_email_days: days("cleaners.kept_email_days", DEFAULTS.kept_email_days),
    };
    (config, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, i64)]) -> BTreeMap<String, (toml::Value, Source)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (toml::Value::Integer(*v), Source::Default)))
            .collect()
    }

    #[test]
    fn the_shipped_defaults_agree_with_the_constants() {
        let c = crate::config::Config::load(std::path::Path::new("/nonexistent"), &[]).unwrap();
        assert_eq!(c.cleaners, DEFAULTS);
    }

    #[test]
    fn out_of_range_days_name_their_key() {
        let (c, problems) = parse(&entries(&[
            ("cleaners.run_attempt_days", 0),
            ("cleaners.archived_order_days", 400),
            ("cleaners.report_days", 40_000),
            ("cleaners.kept_email_days", 7),
        ]));
        assert_eq!(c.archived_order_days, 400);
        assert_eq!(c.kept_email_days, 7);
        let keys: Vec<&str> = problems.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["cleaners.run_attempt_days", "cleaners.report_days"]);
        assert!(
            problems[0].1.contains("from 1 to 36500, got 0"),
            "{problems:?}"
        );
    }
}
