//! The cleaners (sysproduction's `run_cleaners`): what each kind of old thing is, its retention
//! in the config, and [`clean`], which finds what is older than the retention and deletes it
//! (or, dry, only lists it). The `clean` task of the daily workflow and `systrade clean` both
//! call [`clean`], so the two can never disagree. The deleting itself is the stores' (run store,
//! order store, alert store, backtest states, report files), each of which never deletes what
//! is live.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::App;
use crate::config::Config;
use crate::domain::orders::PrunedOrders;
use crate::engine::store::Aged;

/// One kind of thing the cleaners delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cleanable {
    /// Run log events (`log_events`).
    RunLogs,
    /// Attempts (`node_attempts`) of finished runs.
    RunAttempts,
    /// Archived order families.
    ArchivedOrders,
    /// Backtest states under `<home>/backtests/` (never a strategy's newest).
    BacktestStates,
    /// Report files under `<home>/reports/` (never today's).
    Reports,
    /// E-mail of alerts that could not be sent (`kept`).
    KeptEmail,
}

impl Cleanable {
    /// Every kind, in the daily workflow's order.
    pub const ALL: [Cleanable; 6] = [
        Cleanable::RunLogs,
        Cleanable::RunAttempts,
        Cleanable::ArchivedOrders,
        Cleanable::BacktestStates,
        Cleanable::Reports,
        Cleanable::KeptEmail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cleanable::RunLogs => "run_logs",
            Cleanable::RunAttempts => "run_attempts",
            Cleanable::ArchivedOrders => "archived_orders",
            Cleanable::BacktestStates => "backtest_states",
            Cleanable::Reports => "reports",
            Cleanable::KeptEmail => "kept_email",
        }
    }

    pub fn parse(text: &str) -> Option<Cleanable> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The names, for messages: `run_logs | run_attempts | ...`.
    pub fn choices() -> String {
        Self::ALL.map(Cleanable::as_str).join(" | ")
    }

    /// The config key holding this kind's retention.
    pub fn config_key(self) -> &'static str {
        match self {
            Cleanable::RunLogs => "logging.retention_days",
            Cleanable::RunAttempts => "cleaners.run_attempt_days",
            Cleanable::ArchivedOrders => "cleaners.archived_order_days",
            Cleanable::BacktestStates => "strategies.backtest_keep_days",
            Cleanable::Reports => "cleaners.report_days",
            Cleanable::KeptEmail => "cleaners.kept_email_days",
        }
    }

    /// This kind's configured retention, in days.
    pub fn keep_days(self, config: &Config) -> u32 {
        let c = &config.cleaners;
        match self {
            Cleanable::RunLogs => config.logging.retention_days,
            Cleanable::RunAttempts => c.run_attempt_days,
            Cleanable::ArchivedOrders => c.archived_order_days,
            Cleanable::BacktestStates => config.strategies.backtest_keep_days,
            Cleanable::Reports => c.report_days,
            Cleanable::KeptEmail => c.kept_email_days,
        }
    }
}

impl std::fmt::Display for Cleanable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one cleaner found older than its cutoff, and deleted unless `dry_run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cleaned {
    pub what: Cleanable,
    pub keep_days: u32,
    /// Everything older than this went (or would go).
    pub cutoff: DateTime<Utc>,
    pub dry_run: bool,
    /// How many (log events, attempts, instrument orders with their families, files, alerts).
    pub count: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
    /// The files, for the kinds kept as files (backtest states, reports).
    pub files: Vec<String>,
    /// The rows of each order table, for archived orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<PrunedOrders>,
}

/// A cleaner that could not finish: what it was cleaning and why (nothing of a kind's store
/// transaction is half done; files already deleted stay deleted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cleaning {what}: {detail}")]
pub struct CleanError {
    pub what: Cleanable,
    pub detail: String,
}

/// The longest retention a node or command may ask for (a hundred years).
pub const MAX_KEEP_DAYS: u32 = 36_500;

/// Finds what of `what` is older than `keep_days` (default: its config key) before the clock's
/// now, and deletes it unless `dry_run`.
pub async fn clean(
    app: &App,
    what: Cleanable,
    keep_days: Option<u32>,
    dry_run: bool,
) -> Result<Cleaned, CleanError> {
    let keep_days = keep_days.unwrap_or_else(|| what.keep_days(&app.config));
    let now = app.clock.now();
    let cutoff = now - Duration::days(i64::from(keep_days.min(MAX_KEEP_DAYS)));
    let fail = |detail: String| CleanError { what, detail };
    let mut out = Cleaned {
        what,
        keep_days,
        cutoff,
        dry_run,
        count: 0,
        oldest: None,
        newest: None,
        files: Vec::new(),
        orders: None,
    };
    let aged = |a: Aged, out: &mut Cleaned| {
        out.count = a.count;
        out.oldest = a.oldest;
        out.newest = a.newest;
    };
    match what {
        Cleanable::RunLogs => {
            let a = app
                .runs
                .prune_logs(cutoff, dry_run)
                .await
                .map_err(|e| fail(e.to_string()))?;
            aged(a, &mut out);
        }
        Cleanable::RunAttempts => {
            let a = app
                .runs
                .prune_attempts(cutoff, dry_run)
                .await
                .map_err(|e| fail(e.to_string()))?;
            aged(a, &mut out);
        }
        Cleanable::KeptEmail => {
            let reason = format!(
                "kept for more than {keep_days} days without being sent: given up by the \
                 kept_email cleaner"
            );
            let a = app
                .alerts
                .give_up_kept(cutoff, &reason, dry_run)
                .await
                .map_err(|e| fail(e.to_string()))?;
            aged(a, &mut out);
        }
        Cleanable::ArchivedOrders => {
            let p = app
                .orders
                .prune_archived_orders(cutoff, dry_run)
                .await
                .map_err(|e| fail(e.to_string()))?;
            out.count = p.instrument_orders;
            out.oldest = p.oldest;
            out.newest = p.newest;
            out.orders = Some(p);
        }
        Cleanable::BacktestStates => {
            let states = app
                .backtest_states()
                .prune_states(None, cutoff, dry_run)
                .map_err(|e| fail(e.to_string()))?;
            out.count = states.len() as u64;
            out.oldest = states.iter().map(|s| s.computed_at).min();
            out.newest = states.iter().map(|s| s.computed_at).max();
            out.files = states
                .iter()
                .map(|s| s.path.display().to_string())
                .collect();
        }
        Cleanable::Reports => {
            let old = crate::reports::write::prune(
                &app.home.reports_dir(),
                cutoff.date_naive(),
                now.date_naive(),
                dry_run,
            )
            .map_err(|e| fail(format!("{}: {e}", app.home.reports_dir().display())))?;
            let day = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
            out.count = old.len() as u64;
            out.oldest = old.first().and_then(|(_, d)| day(*d));
            out.newest = old.last().and_then(|(_, d)| day(*d));
            out.files = old.iter().map(|(p, _)| p.display().to_string()).collect();
        }
    }
    tracing::info!(what = %what, keep_days, count = out.count, dry_run, "cleaner done");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_every_kind_has_a_config_key_of_the_defaults() {
        let config = Config::load(std::path::Path::new("/nonexistent"), &[]).unwrap();
        for c in Cleanable::ALL {
            assert_eq!(Cleanable::parse(c.as_str()), Some(c));
            let (value, _) = &config.entries[c.config_key()];
            assert_eq!(value.as_integer(), Some(i64::from(c.keep_days(&config))));
        }
        assert_eq!(Cleanable::parse("logs"), None);
        assert!(Cleanable::choices().starts_with("run_logs | run_attempts"));
    }
}
