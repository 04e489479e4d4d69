//! Orders between systrade and IB: our [`OrderRequest`] as an `ibapi` order, and an order's
//! [`OrderState`] rebuilt from what IB lists — open orders, completed orders and executions
//! (with their commission reports). The executions decide how much filled: a repeated
//! execution report (same exec id) counts once, and an order IB calls `Cancelled` that has
//! fills for its whole quantity is `Filled` (IB error 10349).

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use ibapi::orders::order_builder::{limit_order, market_order};
use ibapi::orders::{
    Action, CommissionReport, ExecutionData, ExecutionSide, OrderData, OrderStatusKind,
};

use super::calls::parse_ib_time;
use super::contracts::IbInstrumentConfig;
use crate::domain::broker::*;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

type Ours = Option<(InstrumentCode, ContractId)>;

/// Our order as IB's: buy or sell the absolute quantity, limit prices in IB's unit.
pub(super) fn ib_order(
    order: &OrderRequest,
    config: &IbInstrumentConfig,
    account: Option<&str>,
) -> Result<ibapi::orders::Order, BrokerError> {
    if order.quantity == 0 {
        return Err(BrokerError::Rejected {
            reason: format!("order {} has a zero quantity", order.order_ref),
        });
    }
    if order.order_ref.trim().is_empty() {
        return Err(BrokerError::Rejected {
            reason: "an order needs an order_ref (it is how it is found after a reconnect)".into(),
        });
    }
    let action = if order.quantity > 0 {
        Action::Buy
    } else {
        Action::Sell
    };
    let quantity = order.quantity.unsigned_abs() as f64;
    let mut ib = match order.pricing {
        OrderPricing::Market => market_order(action, quantity),
        OrderPricing::Limit { price } if price.is_finite() && price > 0.0 => {
            limit_order(action, quantity, price / config.price_magnifier)
        }
        OrderPricing::Limit { price } => {
            return Err(BrokerError::Rejected {
                reason: format!(
                    "order {}: limit price {price} is not a positive number",
                    order.order_ref
                ),
            })
        }
    };
    ib.order_ref = order.order_ref.clone();
    ib.tif = ibapi::orders::TimeInForce::Day;
    if let Some(account) = account {
        ib.account = account.to_string();
    }
    Ok(ib)
}

struct KnownOrder {
    data: OrderData,
    ours: Ours,
    open: bool,
}

/// What IB lists about orders at one moment.
#[derive(Default)]
pub(super) struct BrokerOrders {
    orders: Vec<KnownOrder>,
    /// By exec id: a repeated report replaces, not adds.
    executions: BTreeMap<String, (ExecutionData, Ours)>,
    commissions: HashMap<String, CommissionReport>,
}

fn signed(action: &Action, quantity: f64) -> f64 {
    match action {
        Action::Buy => quantity,
        _ => -quantity,
    }
}

impl BrokerOrders {
    pub fn add_order(&mut self, data: OrderData, ours: Ours, open: bool) {
        let perm_id = data.order.perm_id;
        if let Some(known) = self
            .orders
            .iter_mut()
            .find(|k| k.data.order.perm_id == perm_id)
        {
            if open {
                *known = KnownOrder { data, ours, open };
            }
            return;
        }
        self.orders.push(KnownOrder { data, ours, open });
    }

    pub fn add_execution(&mut self, execution: ExecutionData, ours: Ours) {
        self.executions
            .insert(execution.execution.execution_id.clone(), (execution, ours));
    }

    pub fn add_commission(&mut self, report: CommissionReport) {
        self.commissions.insert(report.execution_id.clone(), report);
    }

    fn find(&self, broker_id: &str) -> Option<&KnownOrder> {
        self.orders
            .iter()
            .find(|k| k.data.order.perm_id.to_string() == broker_id)
    }

    /// The working order with this broker id.
    pub fn open_order(&self, broker_id: &str) -> Option<&OrderData> {
        self.find(broker_id).filter(|k| k.open).map(|k| &k.data)
    }

    pub fn ours_of(&self, broker_id: &str) -> Option<(InstrumentCode, ContractId)> {
        self.find(broker_id).and_then(|k| k.ours.clone())
    }

    pub fn by_broker_id(
        &self,
        broker_id: &str,
        magnifier: impl Fn(&InstrumentCode) -> f64,
    ) -> Option<OrderState> {
        self.find(broker_id).and_then(|k| self.state(k, &magnifier))
    }

    /// The order with this reference: from the order lists, or (when IB no longer lists the
    /// order) from its executions alone.
    pub fn by_ref(
        &self,
        order_ref: &str,
        magnifier: impl Fn(&InstrumentCode) -> f64,
    ) -> Option<OrderState> {
        if let Some(known) = self
            .orders
            .iter()
            .find(|k| k.data.order.order_ref == order_ref)
        {
            return self.state(known, &magnifier);
        }
        let fills = self.fills_where(|x| x.order_reference == order_ref, &magnifier);
        let first = fills.first()?;
        let filled: i64 = fills.iter().map(|e| e.quantity).sum();
        Some(OrderState {
            broker_id: first.broker_id.clone(),
            request: OrderRequest {
                order_ref: order_ref.to_string(),
                instrument: first.instrument.clone(),
                contract: first.contract,
                quantity: filled,
                pricing: OrderPricing::Market,
            },
            status: OrderStatus::Filled,
            filled,
            avg_fill_price: average(&fills),
            reason: None,
            updated_at: fills.iter().map(|e| e.ts).max().unwrap_or_else(Utc::now),
        })
    }

    /// Every order whose contract is in the IB config.
    pub fn states(&self, magnifier: impl Fn(&InstrumentCode) -> f64) -> Vec<OrderState> {
        self.orders
            .iter()
            .filter_map(|k| self.state(k, &magnifier))
            .collect()
    }

    /// Every execution whose contract is in the IB config, once per exec id.
    pub fn executions(&self, magnifier: impl Fn(&InstrumentCode) -> f64) -> Vec<Execution> {
        self.fills_where(|_| true, &magnifier)
    }

    /// The executions IB reports that `wanted` accepts (tested on IB's own report, before
    /// anything is converted), as ours.
    fn fills_where(
        &self,
        wanted: impl Fn(&ibapi::orders::Execution) -> bool,
        magnifier: &impl Fn(&InstrumentCode) -> f64,
    ) -> Vec<Execution> {
        self.executions
            .values()
            .filter(|(e, _)| wanted(&e.execution))
            .filter_map(|(e, ours)| {
                let (instrument, contract) = ours.clone()?;
                let x = &e.execution;
                let sign = match x.side {
                    ExecutionSide::Sold => -1.0,
                    ExecutionSide::Bought => 1.0,
                };
                let commission = self.commissions.get(&x.execution_id);
                Some(Execution {
                    exec_id: x.execution_id.clone(),
                    broker_id: x.perm_id.to_string(),
                    order_ref: x.order_reference.clone(),
                    quantity: (sign * x.shares).round() as i64,
                    price: x.price * magnifier(&instrument),
                    ts: parse_ib_time(&x.time).unwrap_or_else(Utc::now),
                    commission: commission.map_or(0.0, |c| c.commission),
                    commission_currency: commission
                        .map_or_else(String::new, |c| c.currency.clone()),
                    instrument,
                    contract,
                })
            })
            .collect()
    }

    fn state(
        &self,
        known: &KnownOrder,
        magnifier: &impl Fn(&InstrumentCode) -> f64,
    ) -> Option<OrderState> {
        let (instrument, contract) = known.ours.clone()?;
        let order = &known.data.order;
        let m = magnifier(&instrument);
        let quantity = signed(&order.action, order.total_quantity).round() as i64;
        let fills = self.fills_where(|x| x.perm_id == order.perm_id, magnifier);
        let mut filled: i64 = fills.iter().map(|e| e.quantity).sum();
        let reported = &known.data.order_state.status;
        let status = if quantity != 0 && filled.abs() >= quantity.abs() {
            OrderStatus::Filled
        } else if known.open {
            if filled != 0 {
                OrderStatus::PartiallyFilled
            } else {
                OrderStatus::Submitted
            }
        } else {
            match reported {
                OrderStatusKind::Filled => {
                    if fills.is_empty() {
                        filled = signed(&order.action, order.filled_quantity).round() as i64;
                    }
                    OrderStatus::Filled
                }
                OrderStatusKind::Inactive => OrderStatus::Rejected,
                _ => OrderStatus::Cancelled,
            }
        };
        let reason = [
            &known.data.order_state.reject_reason,
            &known.data.order_state.warning_text,
            &known.data.order_state.completed_status,
        ]
        .into_iter()
        .find(|t| !t.is_empty())
        .cloned()
        .filter(|_| matches!(status, OrderStatus::Cancelled | OrderStatus::Rejected));
        Some(OrderState {
            broker_id: order.perm_id.to_string(),
            request: OrderRequest {
                order_ref: order.order_ref.clone(),
                instrument,
                contract,
                quantity,
                pricing: match order.limit_price {
                    Some(price) if order.order_type == "LMT" => {
                        OrderPricing::Limit { price: price * m }
                    }
                    _ => OrderPricing::Market,
                },
            },
            status,
            filled,
            avg_fill_price: average(&fills),
            reason,
            updated_at: fills.iter().map(|e| e.ts).max().unwrap_or_else(Utc::now),
        })
    }
}

fn average(fills: &[Execution]) -> Option<f64> {
    let quantity: i64 = fills.iter().map(|e| e.quantity.abs()).sum();
    (quantity > 0).then(|| {
        fills
            .iter()
            .map(|e| e.price * e.quantity.abs() as f64)
            .sum::<f64>()
            / quantity as f64
    })
}
