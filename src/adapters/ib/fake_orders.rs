//! The fake TWS's orders: `placeOrder` (which also modifies a working order sent again with
//! its id), `cancelOrder`, global cancel, open and completed orders, and executions with
//! their commission reports, kept in [`FakeIbState`].
//!
//! How orders fill is [`FakeFillMode`]: at the touch straight away (market orders; limit
//! orders whose price the touch crosses), held until [`fill_working_orders`], rejected
//! (error 201), or reported cancelled with error 10349 and then filled anyway, as TWS does
//! when an order preset changes the order's time in force.

use chrono::{DateTime, Utc};

use super::fake_messages::{resolve_contract, ExecutionQuery, OrderTicket, Reply};
use super::fake_server::{FakeContract, FakeIbState, FakePosition};
use super::wire::codes;

/// How the fake treats new orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FakeFillMode {
    /// Market orders fill at the touch at once; limit orders when the touch crosses them.
    #[default]
    AtTouch,
    /// Orders are accepted and wait for [`fill_working_orders`].
    Hold,
    /// Orders are rejected with error 201.
    Reject,
    /// The order is reported `Cancelled` with error 10349, then fills at the touch.
    CancelledThenFilled,
}

/// An order the fake holds.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOrder {
    pub order_id: i32,
    pub perm_id: i64,
    pub client_id: i32,
    pub account: String,
    pub contract: FakeContract,
    /// `BUY` or `SELL`.
    pub action: String,
    pub quantity: f64,
    /// `MKT` or `LMT`.
    pub order_type: String,
    pub limit_price: Option<f64>,
    pub order_ref: String,
    /// TWS's status: `Submitted`, `Filled`, `Cancelled`, `Inactive`.
    pub status: String,
    pub filled: f64,
    pub avg_fill_price: f64,
}

impl FakeOrder {
    pub fn is_working(&self) -> bool {
        self.status == "Submitted" || self.status == "PreSubmitted"
    }

    fn remaining(&self) -> f64 {
        (self.quantity - self.filled).max(0.0)
    }

    fn sign(&self) -> f64 {
        if self.action == "SELL" {
            -1.0
        } else {
            1.0
        }
    }
}

/// One fill.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeExecution {
    pub exec_id: String,
    pub order_id: i32,
    pub perm_id: i64,
    pub client_id: i32,
    pub account: String,
    pub contract: FakeContract,
    /// `BOT` or `SLD`.
    pub side: String,
    pub shares: f64,
    pub price: f64,
    pub time: DateTime<Utc>,
    pub order_ref: String,
    pub cum_qty: f64,
    pub avg_price: f64,
    pub commission: f64,
}

/// TWS's error codes for orders.
pub mod order_codes {
    /// Order rejected.
    pub const ORDER_REJECTED: i32 = 201;
    /// Order cancelled (sent with the cancel's status).
    pub const ORDER_CANCELLED: i32 = 202;
    /// The order to cancel is not found.
    pub const CANCEL_NOT_FOUND: i32 = 10147;
    /// The order to cancel cannot be cancelled (already final).
    pub const CANCEL_NOT_POSSIBLE: i32 = 10148;
    /// "Order TIF was set to DAY based on order preset": the order is reported cancelled,
    /// and may fill all the same.
    pub const TIF_SET_BY_PRESET: i32 = 10349;
}

fn order_status(order: &FakeOrder, last_fill_price: f64) -> Reply {
    Reply::OrderStatus {
        order: order.clone(),
        last_fill_price,
    }
}

/// The price a working order fills at now, if it does: the touch on its side.
fn fill_price(state: &FakeIbState, order: &FakeOrder) -> Option<f64> {
    let quote = state.quotes.get(&order.contract.con_id)?;
    let touch = if order.action == "SELL" {
        quote.bid?
    } else {
        quote.ask?
    };
    match order.limit_price.filter(|_| order.order_type == "LMT") {
        None => Some(touch),
        Some(limit) if order.action == "SELL" && touch >= limit => Some(touch),
        Some(limit) if order.action != "SELL" && touch <= limit => Some(touch),
        Some(_) => None,
    }
}

/// Fills the whole remainder of `state.orders[index]` at `price`; returns the messages TWS
/// sends for it (execution, commission, open order, status).
fn fill(state: &mut FakeIbState, index: usize, price: f64) -> Vec<Reply> {
    let now = state.now();
    state.next_exec_id += 1;
    let exec_number = state.next_exec_id;
    let commission_per_contract = state.commission_per_contract;
    let Some(order) = state.orders.get_mut(index) else {
        return Vec::new();
    };
    let shares = order.remaining();
    if shares <= 0.0 {
        return Vec::new();
    }
    let before = order.filled;
    order.filled += shares;
    order.avg_fill_price = (order.avg_fill_price * before + price * shares) / order.filled;
    order.status = "Filled".into();
    let order = order.clone();
    let execution = FakeExecution {
        exec_id: format!("0000fake.{:08x}.01.01", exec_number),
        order_id: order.order_id,
        perm_id: order.perm_id,
        client_id: order.client_id,
        account: order.account.clone(),
        contract: order.contract.clone(),
        side: if order.action == "SELL" { "SLD" } else { "BOT" }.into(),
        shares,
        price,
        time: now,
        order_ref: order.order_ref.clone(),
        cum_qty: order.filled,
        avg_price: order.avg_fill_price,
        commission: commission_per_contract * shares,
    };
    apply_to_positions(state, &order, shares * order.sign(), price);
    let replies = vec![
        Reply::Execution {
            req_id: codes::NO_REQUEST,
            execution: execution.clone(),
        },
        Reply::Commission(execution.clone()),
        Reply::OpenOrder(order.clone()),
        order_status(&order, price),
    ];
    state.executions.push(execution);
    replies
}

fn apply_to_positions(state: &mut FakeIbState, order: &FakeOrder, signed: f64, price: f64) {
    let multiplier = order.contract.multiplier;
    match state
        .positions
        .iter_mut()
        .find(|p| p.contract.con_id == order.contract.con_id && p.account == order.account)
    {
        Some(position) => position.position += signed,
        None => state.positions.push(FakePosition {
            account: order.account.clone(),
            contract: order.contract.clone(),
            position: signed,
            avg_cost: price * multiplier,
        }),
    }
    state.positions.retain(|p| p.position != 0.0);
}

/// `placeOrder`: a new order, or a change to a working one sent again with its id.
pub fn place_order(state: &mut FakeIbState, client_id: i32, wanted: &OrderTicket) -> Vec<Reply> {
    let order_id = wanted.order_id;
    let contract = match resolve_contract(state, order_id, &wanted.contract) {
        Ok(contract) => contract.clone(),
        Err(reply) => return vec![*reply],
    };
    let quantity = wanted.quantity;
    let action = wanted.action.trim().to_ascii_uppercase();
    let order_type = wanted.order_type.trim().to_ascii_uppercase();
    let invalid = if quantity <= 0.0 {
        Some("the order quantity must be positive".to_string())
    } else if action != "BUY" && action != "SELL" {
        Some(format!("unknown order action {action:?}"))
    } else if order_type != "MKT" && order_type != "LMT" {
        Some(format!(
            "fake-ib takes MKT and LMT orders, not {order_type:?}"
        ))
    } else if order_type == "LMT" && wanted.limit_price.is_none_or(|p| !p.is_finite()) {
        Some("a limit order needs a limit price".to_string())
    } else {
        None
    };
    if let Some(reason) = invalid {
        return vec![Reply::error(
            order_id,
            order_codes::ORDER_REJECTED,
            format!("Order rejected - reason:{reason}"),
        )];
    }

    // The same id again from the same client changes a working order.
    if let Some(index) = state
        .orders
        .iter()
        .position(|o| o.order_id == order_id && o.client_id == client_id)
    {
        if !state.orders[index].is_working() {
            return vec![Reply::error(
                order_id,
                codes::DUPLICATE_ORDER_ID,
                "Duplicate order id",
            )];
        }
        let order = &mut state.orders[index];
        order.limit_price = wanted.limit_price;
        order.order_type = order_type;
        order.quantity = quantity.max(order.filled);
        let order = order.clone();
        let mut replies = vec![Reply::OpenOrder(order.clone()), order_status(&order, 0.0)];
        if state.fill_mode != FakeFillMode::Hold {
            if let Some(price) = fill_price(state, &order) {
                replies.extend(fill(state, index, price));
            }
        }
        return replies;
    }

    state.next_perm_id += 1;
    let account = wanted
        .account
        .clone()
        .filter(|a| !a.trim().is_empty())
        .or_else(|| state.accounts.first().cloned())
        .unwrap_or_default();
    let mut order = FakeOrder {
        order_id,
        perm_id: state.next_perm_id,
        client_id,
        account,
        contract,
        action,
        quantity,
        order_type,
        limit_price: wanted.limit_price,
        order_ref: wanted.order_ref.clone(),
        status: "Submitted".into(),
        filled: 0.0,
        avg_fill_price: 0.0,
    };
    state.next_order_id = state.next_order_id.max(order_id + 1);
    if state.fill_mode == FakeFillMode::Reject {
        order.status = "Inactive".into();
        let replies = vec![
            Reply::error(
                order_id,
                order_codes::ORDER_REJECTED,
                "Order rejected - reason:fake-ib rejects every order (fill mode Reject)",
            ),
            order_status(&order, 0.0),
        ];
        state.orders.push(order);
        return replies;
    }
    let mut replies = vec![Reply::OpenOrder(order.clone()), order_status(&order, 0.0)];
    state.orders.push(order.clone());
    let index = state.orders.len() - 1;
    match state.fill_mode {
        FakeFillMode::AtTouch => {
            if let Some(price) = fill_price(state, &order) {
                replies.extend(fill(state, index, price));
            }
        }
        FakeFillMode::CancelledThenFilled => {
            let mut cancelled = order.clone();
            cancelled.status = "Cancelled".into();
            replies.push(order_status(&cancelled, 0.0));
            replies.push(Reply::error(
                order_id,
                order_codes::TIF_SET_BY_PRESET,
                "Order TIF was set to DAY based on order preset.",
            ));
            if let Some(price) = fill_price(state, &order) {
                replies.extend(fill(state, index, price));
            } else {
                state.orders[index].status = "Cancelled".into();
            }
        }
        FakeFillMode::Hold | FakeFillMode::Reject => {}
    }
    replies
}

/// `cancelOrder`.
pub fn cancel_order(state: &mut FakeIbState, client_id: i32, order_id: i32) -> Vec<Reply> {
    let Some(order) = state
        .orders
        .iter_mut()
        .find(|o| o.order_id == order_id && o.client_id == client_id)
    else {
        return vec![Reply::error(
            order_id,
            order_codes::CANCEL_NOT_FOUND,
            format!("OrderId {order_id} that needs to be cancelled is not found."),
        )];
    };
    if !order.is_working() {
        return vec![Reply::error(
            order_id,
            order_codes::CANCEL_NOT_POSSIBLE,
            format!(
                "OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {}.",
                order.status
            ),
        )];
    }
    order.status = "Cancelled".into();
    let order = order.clone();
    vec![
        order_status(&order, 0.0),
        Reply::error(
            order_id,
            order_codes::ORDER_CANCELLED,
            "Order Canceled - reason:",
        ),
    ]
}

/// `reqGlobalCancel`: every working order is cancelled; each owner hears of it in turn.
pub fn global_cancel(state: &mut FakeIbState) -> Vec<(i32, Reply)> {
    state
        .orders
        .iter_mut()
        .filter(|o| o.is_working())
        .map(|order| {
            order.status = "Cancelled".into();
            (order.client_id, order_status(order, 0.0))
        })
        .collect()
}

/// `reqOpenOrders` (this client's) or `reqAllOpenOrders` (every client's).
pub fn open_orders(state: &FakeIbState, client_id: Option<i32>) -> Vec<Reply> {
    let mut replies = Vec::new();
    for order in state
        .orders
        .iter()
        .filter(|o| o.is_working() && client_id.is_none_or(|id| id == o.client_id))
    {
        replies.push(Reply::OpenOrder(order.clone()));
        replies.push(order_status(order, 0.0));
    }
    replies.push(Reply::OpenOrderEnd);
    replies
}

/// `reqCompletedOrders`: orders that are final (filled, cancelled, rejected).
pub fn completed_orders(state: &FakeIbState) -> Vec<Reply> {
    let mut replies: Vec<Reply> = state
        .orders
        .iter()
        .filter(|o| !o.is_working())
        .cloned()
        .map(Reply::CompletedOrder)
        .collect();
    replies.push(Reply::CompletedOrdersEnd);
    replies
}

/// `reqExecutions`: the fills matching the filter (a client id of 0 means every client),
/// each with its commission report, then the end marker.
pub fn executions(state: &FakeIbState, req_id: i32, filter: &ExecutionQuery) -> Vec<Reply> {
    let since = filter
        .time
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(parse_filter_time);
    let mut replies = Vec::new();
    for execution in state.executions.iter().filter(|e| {
        filter
            .client_id
            .is_none_or(|id| id == 0 || id == e.client_id)
            && filter
                .account
                .as_deref()
                .is_none_or(|a| a.is_empty() || a == e.account)
            && filter
                .symbol
                .as_deref()
                .is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case(&e.contract.symbol))
            && since.is_none_or(|t| e.time >= t)
    }) {
        replies.push(Reply::Execution {
            req_id,
            execution: execution.clone(),
        });
        replies.push(Reply::Commission(execution.clone()));
    }
    replies.push(Reply::ExecutionEnd(req_id));
    replies
}

/// The filter's `yyyymmdd hh:mm:ss` (optionally followed by a zone, read as UTC) or
/// `yyyymmdd-hh:mm:ss`.
fn parse_filter_time(text: &str) -> Option<DateTime<Utc>> {
    let head: String = text.chars().take(17).collect();
    ["%Y%m%d %H:%M:%S", "%Y%m%d-%H:%M:%S"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(&head, format).ok())
        .map(|t| t.and_utc())
}

/// Fills every working order the touch now allows (whatever the fill mode): what the fake
/// sends, by the client id that placed each order.
pub fn fill_working_orders(state: &mut FakeIbState) -> Vec<(i32, Reply)> {
    let mut pushes = Vec::new();
    for index in 0..state.orders.len() {
        let order = state.orders[index].clone();
        if !order.is_working() {
            continue;
        }
        if let Some(price) = fill_price(state, &order) {
            for reply in fill(state, index, price) {
                pushes.push((order.client_id, reply));
            }
        }
    }
    pushes
}

#[cfg(test)]
#[path = "fake_orders_tests.rs"]
mod tests;
