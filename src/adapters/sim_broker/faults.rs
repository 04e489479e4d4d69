//! Faults the simulated broker can inject, from `[broker] sim_*` config keys or set by tests
//! ([`super::SimBroker::set_faults`]).

use serde::{Deserialize, Serialize};

/// Which faults to inject. The default injects none.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimFaults {
    /// The connection drops at this call (1-based, counting every call but `kind` and
    /// `health`; 0 = never): that call and every later one fail with `Disconnected` until
    /// [`super::SimBroker::reconnect`].
    pub disconnect_at_call: u64,
    /// Every new order is rejected (recorded with status `Rejected`).
    pub reject_orders: bool,
    /// Each fill takes only this fraction of the remaining quantity (at least one contract;
    /// 0 = fill everything at once); the rest stays working and fills on later calls.
    pub partial_fill: f64,
    /// A marketable order fills only once this many more calls have been made after it was
    /// placed (0 = at once).
    pub late_fill_calls: u64,
    /// `executions` reports every execution twice (same `exec_id`).
    pub duplicate_executions: bool,
    /// Quotes freeze: each contract keeps the first quote the broker saw for it.
    pub stale_prices: bool,
}

impl SimFaults {
    /// Contracts a fill takes out of `remaining` (signed like it).
    pub fn fill_quantity(&self, remaining: i64) -> i64 {
        let f = self.partial_fill;
        if !(f > 0.0 && f < 1.0) || remaining == 0 {
            return remaining;
        }
        let n = ((remaining.unsigned_abs() as f64 * f).floor() as i64).max(1);
        n.min(remaining.abs()) * remaining.signum()
    }
}
