//! The strategy order generator (§B11, sysproduction `run_strategy_order_generator`): for each
//! instrument of a strategy with an optimal position, the trade that brings the strategy's
//! position into its buffer, cut by overrides and position limits (§B13, §B14), skipped for a
//! locked instrument (§B23), and put on the instrument stack netted against what is already
//! there (§B12), with the reference price and contract for slippage reports.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::generate::buffered_trade;
use super::{AddOutcome, NewInstrumentOrder, OrderError, OrderStore, OrderType};
use crate::domain::controls::{apply_controls, ControlReason, ControlStore, StrategyName};
use crate::domain::instrument::InstrumentCode;
use crate::domain::optimal::OptimalPositionStore;

/// What the generator did for one instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneratedOrder {
    pub instrument: InstrumentCode,
    pub position: i64,
    pub lower: f64,
    pub upper: f64,
    /// The buffered trade before the controls.
    pub proposed: i64,
    /// After overrides and limits.
    pub trade: i64,
    pub reasons: Vec<String>,
    /// `added` (with the order id), `netted`, `zero`, or `skipped` (with why).
    pub outcome: String,
    pub order_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    #[error(transparent)]
    Orders(#[from] OrderError),
    #[error("{0}")]
    Store(String),
}

/// Generates one strategy's instrument orders.
pub async fn generate_orders(
    strategy: &StrategyName,
    optimal: &dyn OptimalPositionStore,
    orders: &dyn OrderStore,
    controls: &dyn ControlStore,
    now: DateTime<Utc>,
    left_alone: &(dyn Fn(&InstrumentCode) -> Option<String> + Send + Sync),
) -> Result<Vec<GeneratedOrder>, GeneratorError> {
    let store = |e: &dyn std::fmt::Display| GeneratorError::Store(e.to_string());
    let targets = optimal
        .latest_optimal_positions(Some(strategy.as_str()))
        .await
        .map_err(|e| store(&e))?;
    let positions = orders.strategy_positions().await?;
    let locks = orders.locks().await?;
    let overrides = controls.overrides().await.map_err(|e| store(&e))?;
    let limits = controls.position_limits().await.map_err(|e| store(&e))?;
    let mut out = Vec::new();
    for target in targets {
        let code = target.instrument.clone();
        let position = positions
            .iter()
            .find(|p| p.strategy == strategy.as_str() && p.instrument == code)
            .map_or(0, |p| p.position);
        let instrument_position: i64 = positions
            .iter()
            .filter(|p| p.instrument == code)
            .map(|p| p.position)
            .sum();
        let mut report = GeneratedOrder {
            instrument: code.clone(),
            position,
            lower: target.lower,
            upper: target.upper,
            proposed: 0,
            trade: 0,
            reasons: Vec::new(),
            outcome: String::new(),
            order_id: None,
        };
        let Some(proposed) = buffered_trade(position, target.lower, target.upper) else {
            report.outcome = "skipped: the buffer edges are not finite".into();
            out.push(report);
            continue;
        };
        report.proposed = proposed;
        if let Some(why) = left_alone(&code) {
            report.outcome = format!("skipped: {why}");
            tracing::warn!(instrument = %code, "{}", report.outcome);
            out.push(report);
            continue;
        }
        if let Some(lock) = locks.iter().find(|l| l.instrument == code) {
            report.outcome = format!("skipped: {code} is locked ({})", lock.reason);
            tracing::warn!(instrument = %code, "{}", report.outcome);
            out.push(report);
            continue;
        }
        let controlled = apply_controls(
            strategy,
            &code,
            position,
            instrument_position,
            proposed,
            &overrides,
            &limits,
        );
        report.trade = controlled.trade;
        report.reasons = controlled
            .reasons
            .iter()
            .map(ControlReason::to_string)
            .collect();
        let outcome = orders
            .add_instrument_order(&NewInstrumentOrder {
                strategy: strategy.to_string(),
                instrument: code.clone(),
                trade: controlled.trade,
                order_type: OrderType::Best,
                limit_price: None,
                reference_price: Some(target.reference_price),
                reference_contract: target.reference_contract,
                reference_time: Some(target.computed_at),
                generated_at: now,
                manual: false,
                roll_order: false,
            })
            .await?;
        match outcome {
            AddOutcome::Added { order } => {
                tracing::info!(
                    instrument = %code,
                    strategy = %strategy,
                    order = order.id,
                    trade = order.trade,
                    "instrument order added"
                );
                report.outcome = "added".into();
                report.order_id = Some(order.id);
                report.trade = order.trade;
            }
            AddOutcome::Netted { existing } => {
                report.outcome = format!("netted against orders {existing:?}");
            }
            AddOutcome::Zero => report.outcome = "zero".into(),
        }
        out.push(report);
    }
    Ok(out)
}
