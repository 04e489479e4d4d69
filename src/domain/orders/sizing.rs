//! Sizing a contract order before its broker orders are created (§B19 step 3), for the stack
//! handler: what is left of each leg that has no broker order working, cut by the trade limits
//! (§B15) and, for best-execution orders, by the size quoted at the top of the book; and the
//! count of what was sent towards the trade limits afterwards.
//!
//! * **Trade limits** apply to every order type but limit orders (pysystemtrade's rule): the
//!   smallest capacity of the relevant limits (the instrument's, and the strategy's
//!   instrument's, every period, after the period rule as of now) bounds Σ|legs|; the legs are
//!   scaled down together ([`scale_legs`]: floored, all zero when the leg ratios cannot be
//!   kept). §E6: capacity is never negative, so a limit lowered below the trades already done
//!   gives 0 — pysystemtrade's unclamped maths would send a positive size.
//! * **Liquidity** (best execution only): each leg is capped by the size quoted on the side it
//!   trades against ([`TickAnalysis::side_qty`]: the ask size for a buy), one ratio for all
//!   legs ([`liquidity_cap`]). §E7: pysystemtrade uses `offside_qty` (the bid size for a buy,
//!   the queue it would join), which says nothing about what can be bought now.
//! * Zero after either → no broker order this pass, and a note says why; the order waits for
//!   the next pass (a new period, a fuller book).
//! * **Counting**: every broker order the broker took (any answer but a rejection) adds its
//!   |quantity| to the relevant limits, limit orders included, as soon as the broker answers
//!   and before the answer is recorded. A broker order a crash left `created` (not sent, or
//!   sent with the answer unrecorded) is counted when the restart sends it or finds it at the
//!   broker. So an order is counted at least once; a crash between counting and recording the
//!   answer counts it twice — too much is the safe side for a limit (it waits for the period to
//!   end, or `systrade controls trade-limits reset`).

use super::handler::{HandlerError, PassReport, StackHandler};
use super::{BrokerOrder, ContractOrder, OrderType};
use crate::domain::contract::ContractId;
use crate::domain::execution::{
    allowed_abs_quantity, liquidity_cap, relevant, scale_legs, TickAnalysis, TradeLimit,
};
use crate::domain::instrument::InstrumentCode;

/// One leg to send: contract, signed quantity, and the tick it was priced on (best execution).
pub(super) type SizedLeg = (ContractId, i64, Option<TickAnalysis>);

fn total_abs(legs: &[i64]) -> i64 {
    legs.iter()
        .map(|l| l.saturating_abs())
        .fold(0, i64::saturating_add)
}

/// `SP500 per 1 day: 2 of 4 left` (`demo/SP500` for a strategy's).
fn describe(l: &TradeLimit) -> String {
    let scope = match &l.strategy {
        Some(s) => format!("{s}/{}", l.instrument),
        None => l.instrument.clone(),
    };
    let days = if l.period_days == 1 { "day" } else { "days" };
    format!(
        "{scope} per {} {days}: {} of {} left",
        l.period_days,
        l.capacity(),
        l.limit
    )
}

impl StackHandler<'_> {
    /// The legs (`pending`: signed quantities to send, 0 for legs not sent now) a contract order
    /// may send this pass with their ticks; empty when nothing can be sent (the reason is noted).
    pub(super) async fn size_legs(
        &self,
        co: &ContractOrder,
        pending: &[i64],
        report: &mut PassReport,
    ) -> Result<Vec<SizedLeg>, HandlerError> {
        let sized = self.within_trade_limits(co, pending, report).await?;
        let mut legs = Vec::new();
        for (leg, &quantity) in co.legs.iter().zip(&sized) {
            if quantity == 0 {
                continue;
            }
            let tick = if co.order_type == OrderType::Best {
                match self.leg_tick(co, leg.contract, quantity, report).await? {
                    Some(t) => Some(t),
                    None => continue,
                }
            } else {
                None
            };
            legs.push((leg.contract, quantity, tick));
        }
        if co.order_type == OrderType::Best {
            within_liquidity(co, &mut legs, report);
        }
        legs.retain(|(_, q, _)| *q != 0);
        Ok(legs)
    }

    /// The legs cut by the relevant trade limits (limit orders: unchanged).
    async fn within_trade_limits(
        &self,
        co: &ContractOrder,
        pending: &[i64],
        report: &mut PassReport,
    ) -> Result<Vec<i64>, HandlerError> {
        if co.order_type == OrderType::Limit || pending.iter().all(|&q| q == 0) {
            return Ok(pending.to_vec());
        }
        let limits = self.cached_trade_limits().await?;
        let relevant = relevant(&limits, &co.strategy, co.instrument.as_str());
        let Some(tightest) = relevant.iter().min_by_key(|l| l.capacity()) else {
            return Ok(pending.to_vec());
        };
        let wanted = total_abs(pending);
        let sized = scale_legs(pending, allowed_abs_quantity(&relevant, wanted));
        let sent = total_abs(&sized);
        if sent < wanted {
            let wait = if sent == 0 {
                "; nothing sent this pass"
            } else {
                ""
            };
            report.notes.push(format!(
                "contract order {}: trade limit: {wanted} -> {sent} contracts ({}){wait}",
                co.id,
                describe(tightest)
            ));
        }
        Ok(sized)
    }

    /// Counts a broker order the broker took towards the trade limits (§B15).
    pub(super) async fn count_trade(&self, bo: &BrokerOrder) -> Result<(), HandlerError> {
        let limits = self.cached_trade_limits().await?;
        if relevant(&limits, &bo.strategy, bo.instrument.as_str()).is_empty() {
            return Ok(()); // no limit counts this trade: nothing to write.
        }
        self.controls
            .record_trade(
                &bo.strategy,
                &bo.instrument,
                bo.trade.saturating_abs(),
                (self.now)(),
            )
            .await
            .inspect_err(|e| {
                tracing::error!(order = bo.id, instrument = %bo.instrument, "broker order sent but not counted towards its trade limits: {e}")
            })?;
        Ok(())
    }
}

impl StackHandler<'_> {
    /// Counts `quantity` against the pass's cached trade limits (what `send` is about to use),
    /// so the next legs of the pass are sized against it; the store is written when the order
    /// is sent ([`StackHandler::count_trade`]).
    pub(super) fn reserve_trade(&self, strategy: &str, instrument: &InstrumentCode, quantity: i64) {
        let now = (self.now)();
        if let Some(cached) = super::handler::lock(&self.cache.limits).as_mut() {
            for limit in cached
                .iter_mut()
                .filter(|l| l.applies_to(strategy, instrument.as_str()))
            {
                limit.reset_if_due(now);
                limit.record(quantity.saturating_abs());
            }
        }
    }

    /// The trade limits, read once per pass (the pass's own trades are added as it counts them).
    async fn cached_trade_limits(
        &self,
    ) -> Result<Vec<crate::domain::execution::TradeLimit>, HandlerError> {
        if let Some(limits) = super::handler::lock(&self.cache.limits).clone() {
            return Ok(limits);
        }
        let limits = self.controls.trade_limits((self.now)()).await?;
        *super::handler::lock(&self.cache.limits) = Some(limits.clone());
        Ok(limits)
    }
}

/// Caps the legs of a best-execution order by the size quoted on the side each trades against
/// (§E7), one ratio for all legs; a leg without a tick counts as nothing quoted.
fn within_liquidity(co: &ContractOrder, legs: &mut [SizedLeg], report: &mut PassReport) {
    let quantities: Vec<i64> = legs.iter().map(|(_, q, _)| *q).collect();
    let available: Vec<f64> = legs
        .iter()
        .map(|(_, _, t)| t.map_or(0.0, |t| t.side_qty))
        .collect();
    let capped = liquidity_cap(&quantities, &available);
    if capped == quantities {
        return;
    }
    let (wanted, sent) = (total_abs(&quantities), total_abs(&capped));
    let wait = if sent == 0 {
        "; nothing sent this pass"
    } else {
        ""
    };
    let quoted: Vec<String> = available.iter().map(|a| a.to_string()).collect();
    report.notes.push(format!(
        "contract order {}: liquidity: {wanted} -> {sent} contracts (quoted on our side: {}){wait}",
        co.id,
        quoted.join(", ")
    ));
    for (leg, q) in legs.iter_mut().zip(capped) {
        leg.1 = q;
    }
}
