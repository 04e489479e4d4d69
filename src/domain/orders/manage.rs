//! The stack handler's management of working orders (§B20): a broker order whose leg another
//! order already filled is cancelled; a passive best-execution limit that must go aggressive
//! (time-out, closing soon, adverse move, imbalance) is moved to the side price; one past the
//! total time-out is cancelled (the leg is sent again on a later pass).

use std::collections::HashSet;

use super::fills::remaining;
use super::handler::{HandlerError, PassReport, StackHandler};
use super::{BrokerOrder, BrokerOrderStatus, BrokerOrderUpdate, OrderId, OrderType};
use crate::domain::contract::ContractId;
use crate::domain::execution::{
    aggressive_price, analyse, go_aggressive, timed_out, Tick, TickAnalysis,
};

impl StackHandler<'_> {
    /// §B20: passive best-execution limits that must go aggressive are moved to the side
    /// price; orders past the total time-out are cancelled (the leg is sent again later).
    pub(super) async fn manage(&self, report: &mut PassReport) -> Result<(), HandlerError> {
        let now = (self.now)();
        // A leg filled by another broker order (a late fill of one that was cancelled and
        // replaced): what still works for it would over-fill it.
        let filled_legs: HashSet<(OrderId, ContractId)> = self
            .orders
            .contract_orders(true)
            .await?
            .iter()
            .flat_map(|co| {
                co.legs
                    .iter()
                    .filter(|l| remaining(l.trade, l.fill) == 0)
                    .map(move |l| (co.id, l.contract))
            })
            .collect();
        for bo in self.orders.broker_orders(true).await? {
            if bo.status == BrokerOrderStatus::Sent
                && remaining(bo.trade, bo.fill) != 0
                && filled_legs.contains(&(bo.parent, bo.contract))
            {
                self.cancel(&bo, "its contract order is filled already")
                    .await?;
                report.cancelled += 1;
                continue;
            }
            let (BrokerOrderStatus::Sent, Some(id), OrderType::Limit) =
                (bo.status, &bo.broker_id, bo.order_type)
            else {
                continue;
            };
            if bo.algo != "best" {
                continue;
            }
            let elapsed = now - bo.submitted_at.unwrap_or(bo.created_at);
            if timed_out(elapsed, &self.best) {
                self.cancel(&bo, "best execution timed out").await?;
                report.cancelled += 1;
                continue;
            }
            let left = remaining(bo.trade, bo.fill);
            if left == 0 {
                continue;
            }
            let current = match self.broker.quote(&bo.instrument, bo.contract).await {
                Ok(q) => analyse(
                    &Tick {
                        bid: q.bid,
                        ask: q.ask,
                        bid_size: q.bid_size,
                        ask_size: q.ask_size,
                    },
                    left,
                ),
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(_) => None,
            };
            let reference = reference_tick(&bo);
            let time_left = self.time_left(&bo.instrument, bo.contract).await;
            let aggressive_now = bo.aggressive_at.is_some()
                || go_aggressive(elapsed, &reference, current.as_ref(), left, time_left, &self.best)
                    .inspect(|why| {
                        tracing::info!(order = bo.id, instrument = %bo.instrument, "best execution goes aggressive: {why}")
                    })
                    .is_some();
            let Some(current) = current else { continue };
            if !aggressive_now {
                continue;
            }
            let price = self
                .round(&bo.instrument, bo.contract, aggressive_price(&current))
                .await;
            if bo.limit_price == Some(price) {
                continue;
            }
            match self.broker.modify_order(id, price).await {
                Ok(_) => {
                    self.orders
                        .update_broker_order(
                            bo.id,
                            &BrokerOrderUpdate {
                                limit_price: Some(price),
                                aggressive_at: Some(bo.aggressive_at.unwrap_or(now)),
                                ..Default::default()
                            },
                        )
                        .await?;
                    report.aggressive += 1;
                }
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => report
                    .notes
                    .push(format!("broker order {}: modify refused: {e}", bo.id)),
            }
        }
        Ok(())
    }
}

/// The tick a broker order was created on (prices only: the adverse-move check needs no sizes).
fn reference_tick(bo: &BrokerOrder) -> TickAnalysis {
    TickAnalysis {
        side_price: bo.side_price.unwrap_or(f64::NAN),
        offside_price: bo.offside_price.unwrap_or(f64::NAN),
        side_qty: 0.0,
        offside_qty: 0.0,
        mid: bo.mid_price.unwrap_or(f64::NAN),
        imbalance: 0.0,
    }
}
