//! A stopped stack handler (STOP, SIGTERM, Ctrl-C) cancels its working broker orders before it
//! returns (issue 14): every broker order the broker still works is asked to cancel, the
//! confirmations are awaited for a bounded time, the fills that came meanwhile are booked, and
//! what could not be confirmed is reported (it stays `sent`; the next start reconciles it with
//! the broker). The legs are sent again by the next handler that runs.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::handler::{HandlerError, Hook, PassReport, StackHandler};
use super::{BrokerOrderStatus, BrokerOrderUpdate, OrderId};
use crate::domain::broker::{BrokerError, OrderStatus};

/// What cancelling on a stop did, by broker order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StopCancel {
    /// Cancelled at the broker (confirmed).
    pub cancelled: Vec<OrderId>,
    /// Filled (in full) before the cancel reached them.
    pub filled: Vec<OrderId>,
    /// Still working at the broker when the wait ended, or the cancel failed: with why.
    pub not_cancelled: Vec<(OrderId, String)>,
}

impl StackHandler<'_> {
    /// Cancels every broker order working at the broker, waiting at most `wait` for the
    /// confirmations; `why` is recorded as each cancelled order's reason.
    pub async fn cancel_working(
        &self,
        why: &str,
        wait: Duration,
        hook: Hook<'_>,
    ) -> Result<StopCancel, HandlerError> {
        let started = Instant::now();
        let mut result = StopCancel::default();
        let ours: Vec<_> = self
            .orders
            .broker_orders(true)
            .await?
            .into_iter()
            .filter(|b| {
                matches!(
                    b.status,
                    BrokerOrderStatus::Sent | BrokerOrderStatus::Created
                )
            })
            .collect();
        if ours.is_empty() {
            return Ok(result);
        }
        let open = self.broker.open_orders().await?;
        let mut pending: Vec<(OrderId, String)> = Vec::new();
        for bo in &ours {
            // A `created` order may be at the broker (a crash between sending and recording):
            // found by its reference.
            let Some(state) = open.iter().find(|o| {
                Some(&o.broker_id) == bo.broker_id.as_ref() || o.request.order_ref == bo.order_ref
            }) else {
                continue;
            };
            match self.broker.cancel_order(&state.broker_id).await {
                Ok(_) => pending.push((bo.id, state.broker_id.clone())),
                Err(BrokerError::UnknownOrder { .. }) => {}
                Err(e) => result
                    .not_cancelled
                    .push((bo.id, format!("cancel failed: {e}"))),
            }
        }
        // The confirmations: each order left the broker's open orders, then its final state.
        let mut last_log = Instant::now();
        loop {
            let open = self.open_broker_ids().await?;
            let mut still = Vec::new();
            for (id, broker_id) in pending {
                if open.contains(&broker_id) {
                    still.push((id, broker_id));
                    continue;
                }
                let state = match self.broker.order_state(&broker_id).await {
                    Ok(s) => s,
                    Err(e) => {
                        result
                            .not_cancelled
                            .push((id, format!("state unknown: {e}")));
                        continue;
                    }
                };
                let status = match state.status {
                    OrderStatus::Filled => {
                        result.filled.push(id);
                        BrokerOrderStatus::Filled
                    }
                    OrderStatus::Rejected => BrokerOrderStatus::Rejected,
                    _ => {
                        result.cancelled.push(id);
                        BrokerOrderStatus::Cancelled
                    }
                };
                self.orders
                    .update_broker_order(
                        id,
                        &BrokerOrderUpdate {
                            status: Some(status),
                            broker_id: Some(broker_id),
                            reason: Some(why.to_string()),
                            ..Default::default()
                        },
                    )
                    .await?;
            }
            pending = still;
            if pending.is_empty() || started.elapsed() >= wait {
                break;
            }
            if last_log.elapsed() >= Duration::from_secs(5) {
                last_log = Instant::now();
                tracing::info!(
                    "waiting for the broker to confirm {} cancels; {:.0} s left",
                    pending.len(),
                    (wait.saturating_sub(started.elapsed())).as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (id, _) in pending {
            result.not_cancelled.push((
                id,
                format!("no cancel confirmation within {} s", wait.as_secs_f64()),
            ));
        }
        // The fills that came before the cancels took effect.
        let mut report = PassReport::default();
        self.book_executions(&mut report, hook).await?;
        Ok(result)
    }
}
