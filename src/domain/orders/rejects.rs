//! Broker rejections (issue 14): a leg — a contract order's contract — the broker rejected is
//! not sent again at once. It waits `reject_backoff` after its last rejection, and after
//! `max_reject_tries` rejections it is not sent again at all: the order stays on the stack for
//! an operator (cancel it, or fix the cause and clear the broker stack). The tries are the
//! rejected broker orders of the leg still on the stack, so they survive a restart.
//! [`rejection_warnings`] words them for the task output's `"warnings"`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{BrokerOrder, BrokerOrderStatus, OrderId};
use crate::domain::contract::ContractId;
use crate::domain::execution::BestExecutionParams;

/// The rejected broker orders of one leg.
#[derive(Debug, Clone, PartialEq)]
pub struct LegRejections {
    /// The rejected broker orders, oldest first.
    pub ids: Vec<OrderId>,
    /// When the last one was rejected.
    pub last_at: DateTime<Utc>,
    /// The broker's reason for the last one.
    pub reason: String,
    /// The last one (for its instrument, contract and trade).
    pub last: BrokerOrder,
}

/// When a rejected leg may be sent again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextTry {
    At(DateTime<Utc>),
    Never,
}

impl LegRejections {
    pub fn tries(&self) -> u32 {
        self.ids.len() as u32
    }

    pub fn next_try(&self, best: &BestExecutionParams) -> NextTry {
        if self.tries() >= best.max_reject_tries {
            NextTry::Never
        } else {
            NextTry::At(self.last_at + best.reject_backoff)
        }
    }

    /// Whether the leg may be sent at `now`.
    pub fn may_send(&self, best: &BestExecutionParams, now: DateTime<Utc>) -> bool {
        matches!(self.next_try(best), NextTry::At(t) if now >= t)
    }

    /// One sentence naming the instrument, the orders, the reason and what happens next.
    pub fn warning(&self, best: &BestExecutionParams) -> String {
        let b = &self.last;
        let which = if self.ids.len() == 1 {
            format!("broker order {}", b.id)
        } else {
            let ids: Vec<String> = self.ids.iter().map(|i| i.to_string()).collect();
            format!("broker orders {}", ids.join(", "))
        };
        let next = match self.next_try(best) {
            NextTry::At(t) => format!(
                "it will not be sent again until {} UTC (try {} of {})",
                t.format("%Y-%m-%d %H:%M:%S"),
                self.tries() + 1,
                best.max_reject_tries
            ),
            NextTry::Never => format!(
                "it will not be sent again after {} tries: cancel contract order {} or fix the cause and clear the broker stack",
                self.tries(),
                b.parent
            ),
        };
        format!(
            "{}: {which} ({} {:+}) rejected by the broker ({}); {next}",
            b.instrument, b.contract, b.trade, self.reason
        )
    }
}

/// The rejections of each leg among `orders` (active broker orders), by (contract order, contract).
pub fn rejections(orders: &[BrokerOrder]) -> BTreeMap<(OrderId, ContractId), LegRejections> {
    let mut rejected: Vec<&BrokerOrder> = orders
        .iter()
        .filter(|b| b.status == BrokerOrderStatus::Rejected)
        .collect();
    rejected.sort_by_key(|b| (b.submitted_at.unwrap_or(b.created_at), b.id));
    let mut legs: BTreeMap<(OrderId, ContractId), LegRejections> = BTreeMap::new();
    for b in rejected {
        let at = b.submitted_at.unwrap_or(b.created_at);
        let reason = b
            .reason
            .clone()
            .unwrap_or_else(|| "no reason given".to_string());
        legs.entry((b.parent, b.contract))
            .and_modify(|l| {
                l.ids.push(b.id);
                l.last_at = at;
                l.reason = reason.clone();
                l.last = b.clone();
            })
            .or_insert_with(|| LegRejections {
                ids: vec![b.id],
                last_at: at,
                reason,
                last: b.clone(),
            });
    }
    legs
}

/// A warning for each leg with a rejection at or after `since` (the start of a run).
pub fn rejection_warnings(
    orders: &[BrokerOrder],
    best: &BestExecutionParams,
    since: DateTime<Utc>,
) -> Vec<String> {
    rejections(orders)
        .values()
        .filter(|l| l.last_at >= since)
        .map(|l| l.warning(best))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instrument::InstrumentCode;
    use crate::domain::orders::OrderType;

    fn rejected(id: OrderId, at: DateTime<Utc>) -> BrokerOrder {
        BrokerOrder {
            id,
            parent: 4,
            strategy: "s".into(),
            instrument: InstrumentCode::new("SP500").expect("code"),
            contract: ContractId::monthly(2026, 12),
            trade: 2,
            fill: 0,
            filled_price: None,
            fill_time: None,
            order_type: OrderType::Market,
            limit_price: None,
            order_ref: format!("r{id}"),
            broker_id: None,
            status: BrokerOrderStatus::Rejected,
            algo: "market".into(),
            side_price: None,
            offside_price: None,
            mid_price: None,
            commission: 0.0,
            created_at: at,
            submitted_at: Some(at),
            aggressive_at: None,
            reason: Some("no margin".into()),
            active: true,
        }
    }

    #[test]
    fn a_rejected_leg_waits_the_backoff_then_stops_after_the_last_try() {
        let best = BestExecutionParams::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let one = rejections(&[rejected(7, t0)]);
        let leg = &one[&(4, ContractId::monthly(2026, 12))];
        assert_eq!(leg.next_try(&best), NextTry::At(t0 + best.reject_backoff));
        assert!(!leg.may_send(&best, t0 + chrono::Duration::seconds(59)));
        assert!(leg.may_send(&best, t0 + chrono::Duration::seconds(60)));
        let w = leg.warning(&best);
        assert!(
            w.starts_with("SP500: broker order 7 ")
                && w.contains("no margin")
                && w.contains("(try 2 of 3)"),
            "{w}"
        );
        let t2 = t0 + chrono::Duration::seconds(120);
        let three = rejections(&[
            rejected(9, t2),
            rejected(7, t0),
            rejected(8, t0 + best.reject_backoff),
        ]);
        let leg = &three[&(4, ContractId::monthly(2026, 12))];
        assert_eq!(leg.ids, vec![7, 8, 9]);
        assert_eq!(leg.next_try(&best), NextTry::Never);
        assert!(!leg.may_send(&best, t2 + chrono::Duration::days(1)));
        assert!(leg
            .warning(&best)
            .contains("will not be sent again after 3 tries"));
        assert_eq!(
            rejection_warnings(&[rejected(7, t0)], &best, t0 + chrono::Duration::seconds(1)).len(),
            0
        );
    }
}
