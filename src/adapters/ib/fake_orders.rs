//! The fake TWS's orders: `placeOrder` (which also modifies a working order sent again with
//! its id), `cancelOrder`, global cancel, open and completed orders, and executions with
//! their commission reports, kept in [`FakeIbState`].
//!
//! How orders fill is [`FakeFillMode`]: at the touch straight away (market orders; limit
//! orders whose price the touch crosses), held until [`fill_working_orders`], rejected
//! (error 201), or reported cancelled with error 10349 and then filled anyway, as TWS does
//! when an order preset changes the order's time in force.

use chrono::{DateTime, Utc};

use super::fake_server::{error_body, resolve_contract, FakeContract, FakeIbState, FakePosition};
use super::proto_orders as po;
use super::wire::{self, codes, incoming, Message, WireError};

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

fn quantity_text(quantity: f64) -> String {
    format!("{quantity}")
}

fn execution_time(time: DateTime<Utc>) -> String {
    time.format("%Y%m%d %H:%M:%S UTC").to_string()
}

fn proto_order(order: &FakeOrder) -> po::Order {
    po::Order {
        client_id: Some(order.client_id),
        order_id: Some(order.order_id),
        perm_id: Some(order.perm_id),
        parent_id: Some(0),
        action: Some(order.action.clone()),
        total_quantity: Some(quantity_text(order.quantity)),
        order_type: Some(order.order_type.clone()),
        lmt_price: order.limit_price,
        aux_price: None,
        tif: Some("DAY".into()),
        account: Some(order.account.clone()),
        order_ref: Some(order.order_ref.clone()),
        transmit: Some(true),
        filled_quantity: Some(quantity_text(order.filled)),
    }
}

fn order_state(order: &FakeOrder) -> po::OrderState {
    po::OrderState {
        status: Some(order.status.clone()),
        ..Default::default()
    }
}

fn open_order_body(order: &FakeOrder) -> Vec<u8> {
    wire::proto_body(
        incoming::OPEN_ORDER,
        &po::OpenOrder {
            order_id: Some(order.order_id),
            contract: Some(order.contract.to_proto()),
            order: Some(proto_order(order)),
            order_state: Some(order_state(order)),
        },
    )
}

fn order_status_body(order: &FakeOrder, last_fill_price: f64) -> Vec<u8> {
    wire::proto_body(
        incoming::ORDER_STATUS,
        &po::OrderStatus {
            order_id: Some(order.order_id),
            status: Some(order.status.clone()),
            filled: Some(quantity_text(order.filled)),
            remaining: Some(quantity_text(order.remaining())),
            avg_fill_price: Some(order.avg_fill_price),
            perm_id: Some(order.perm_id),
            parent_id: Some(0),
            last_fill_price: Some(last_fill_price),
            client_id: Some(order.client_id),
        },
    )
}

fn execution_bodies(execution: &FakeExecution, req_id: i32) -> Vec<Vec<u8>> {
    vec![
        wire::proto_body(
            incoming::EXECUTION_DATA,
            &po::ExecutionDetails {
                req_id: Some(req_id),
                contract: Some(execution.contract.to_proto()),
                execution: Some(po::Execution {
                    order_id: Some(execution.order_id),
                    exec_id: Some(execution.exec_id.clone()),
                    time: Some(execution_time(execution.time)),
                    acct_number: Some(execution.account.clone()),
                    exchange: Some(execution.contract.exchange.clone()),
                    side: Some(execution.side.clone()),
                    shares: Some(quantity_text(execution.shares)),
                    price: Some(execution.price),
                    perm_id: Some(execution.perm_id),
                    client_id: Some(execution.client_id),
                    cum_qty: Some(quantity_text(execution.cum_qty)),
                    avg_price: Some(execution.avg_price),
                    order_ref: Some(execution.order_ref.clone()),
                }),
            },
        ),
        wire::proto_body(
            incoming::COMMISSION_REPORT,
            &po::CommissionAndFeesReport {
                exec_id: Some(execution.exec_id.clone()),
                commission_and_fees: Some(execution.commission),
                currency: Some(execution.contract.currency.clone()),
            },
        ),
    ]
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
fn fill(state: &mut FakeIbState, index: usize, price: f64) -> Vec<Vec<u8>> {
    let now = Utc::now();
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
    let mut replies = execution_bodies(&execution, codes::NO_REQUEST);
    state.executions.push(execution);
    replies.push(open_order_body(&order));
    replies.push(order_status_body(&order, price));
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
pub fn place_order(
    state: &mut FakeIbState,
    client_id: i32,
    message: &Message,
) -> Result<Vec<Vec<u8>>, WireError> {
    let request: po::PlaceOrderRequest = message.proto()?;
    let order_id = request.order_id.unwrap_or(0);
    let wanted = request.order.unwrap_or_default();
    let contract = match resolve_contract(state, order_id, request.contract.as_ref()) {
        Ok(contract) => contract.clone(),
        Err(reply) => return Ok(vec![reply]),
    };
    let quantity: f64 = wanted
        .total_quantity
        .as_deref()
        .and_then(|q| q.trim().parse().ok())
        .unwrap_or(0.0);
    let action = wanted
        .action
        .clone()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let order_type = wanted
        .order_type
        .clone()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let invalid = if quantity <= 0.0 {
        Some("the order quantity must be positive".to_string())
    } else if action != "BUY" && action != "SELL" {
        Some(format!("unknown order action {action:?}"))
    } else if order_type != "MKT" && order_type != "LMT" {
        Some(format!(
            "fake-ib takes MKT and LMT orders, not {order_type:?}"
        ))
    } else if order_type == "LMT" && wanted.lmt_price.is_none_or(|p| !p.is_finite()) {
        Some("a limit order needs a limit price".to_string())
    } else {
        None
    };
    if let Some(reason) = invalid {
        return Ok(vec![error_body(
            order_id,
            order_codes::ORDER_REJECTED,
            &format!("Order rejected - reason:{reason}"),
        )]);
    }

    // The same id again from the same client changes a working order.
    if let Some(index) = state
        .orders
        .iter()
        .position(|o| o.order_id == order_id && o.client_id == client_id)
    {
        if !state.orders[index].is_working() {
            return Ok(vec![error_body(
                order_id,
                codes::DUPLICATE_ORDER_ID,
                "Duplicate order id",
            )]);
        }
        let order = &mut state.orders[index];
        order.limit_price = wanted.lmt_price;
        order.order_type = order_type;
        order.quantity = quantity.max(order.filled);
        let order = order.clone();
        let mut replies = vec![open_order_body(&order), order_status_body(&order, 0.0)];
        if state.fill_mode != FakeFillMode::Hold {
            if let Some(price) = fill_price(state, &order) {
                replies.extend(fill(state, index, price));
            }
        }
        return Ok(replies);
    }

    state.next_perm_id += 1;
    let account = wanted
        .account
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
        limit_price: wanted.lmt_price,
        order_ref: wanted.order_ref.unwrap_or_default(),
        status: "Submitted".into(),
        filled: 0.0,
        avg_fill_price: 0.0,
    };
    state.next_order_id = state.next_order_id.max(order_id + 1);
    if state.fill_mode == FakeFillMode::Reject {
        order.status = "Inactive".into();
        let replies = vec![
            error_body(
                order_id,
                order_codes::ORDER_REJECTED,
                "Order rejected - reason:fake-ib rejects every order (fill mode Reject)",
            ),
            order_status_body(&order, 0.0),
        ];
        state.orders.push(order);
        return Ok(replies);
    }
    let mut replies = vec![open_order_body(&order), order_status_body(&order, 0.0)];
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
            replies.push(order_status_body(&cancelled, 0.0));
            replies.push(error_body(
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
    Ok(replies)
}

/// `cancelOrder`.
pub fn cancel_order(
    state: &mut FakeIbState,
    client_id: i32,
    message: &Message,
) -> Result<Vec<Vec<u8>>, WireError> {
    let request: po::CancelOrderRequest = message.proto()?;
    let order_id = request.order_id.unwrap_or(0);
    let Some(order) = state
        .orders
        .iter_mut()
        .find(|o| o.order_id == order_id && o.client_id == client_id)
    else {
        return Ok(vec![error_body(
            order_id,
            order_codes::CANCEL_NOT_FOUND,
            &format!("OrderId {order_id} that needs to be cancelled is not found."),
        )]);
    };
    if !order.is_working() {
        return Ok(vec![error_body(
            order_id,
            order_codes::CANCEL_NOT_POSSIBLE,
            &format!(
                "OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {}.",
                order.status
            ),
        )]);
    }
    order.status = "Cancelled".into();
    let order = order.clone();
    Ok(vec![
        order_status_body(&order, 0.0),
        error_body(
            order_id,
            order_codes::ORDER_CANCELLED,
            "Order Canceled - reason:",
        ),
    ])
}

/// `reqGlobalCancel`: every working order is cancelled; each owner hears of it in turn.
pub fn global_cancel(state: &mut FakeIbState) -> Vec<(i32, Vec<u8>)> {
    state
        .orders
        .iter_mut()
        .filter(|o| o.is_working())
        .map(|order| {
            order.status = "Cancelled".into();
            (order.client_id, order_status_body(order, 0.0))
        })
        .collect()
}

/// `reqOpenOrders` (this client's) or `reqAllOpenOrders` (every client's).
pub fn open_orders(state: &FakeIbState, client_id: Option<i32>) -> Vec<Vec<u8>> {
    let mut replies = Vec::new();
    for order in state
        .orders
        .iter()
        .filter(|o| o.is_working() && client_id.is_none_or(|id| id == o.client_id))
    {
        replies.push(open_order_body(order));
        replies.push(order_status_body(order, 0.0));
    }
    replies.push(wire::proto_body(
        incoming::OPEN_ORDER_END,
        &po::OpenOrdersEnd {},
    ));
    replies
}

/// `reqCompletedOrders`: orders that are final (filled, cancelled, rejected).
pub fn completed_orders(state: &FakeIbState) -> Vec<Vec<u8>> {
    let mut replies: Vec<Vec<u8>> = state
        .orders
        .iter()
        .filter(|o| !o.is_working())
        .map(|order| {
            wire::proto_body(
                incoming::COMPLETED_ORDER,
                &po::CompletedOrder {
                    contract: Some(order.contract.to_proto()),
                    order: Some(proto_order(order)),
                    order_state: Some(po::OrderState {
                        status: Some(order.status.clone()),
                        completed_status: Some(order.status.clone()),
                        ..Default::default()
                    }),
                },
            )
        })
        .collect();
    replies.push(wire::proto_body(
        incoming::COMPLETED_ORDERS_END,
        &po::CompletedOrdersEnd {},
    ));
    replies
}

/// `reqExecutions`: the fills matching the filter (a client id of 0 means every client),
/// each with its commission report, then the end marker.
pub fn executions(state: &FakeIbState, message: &Message) -> Result<Vec<Vec<u8>>, WireError> {
    let request: po::ExecutionRequest = message.proto()?;
    let req_id = request.req_id.unwrap_or(codes::NO_REQUEST);
    let filter = request.execution_filter.unwrap_or_default();
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
                .acct_code
                .as_deref()
                .is_none_or(|a| a.is_empty() || a == e.account)
            && filter
                .symbol
                .as_deref()
                .is_none_or(|s| s.is_empty() || s.eq_ignore_ascii_case(&e.contract.symbol))
            && since.is_none_or(|t| e.time >= t)
    }) {
        replies.extend(execution_bodies(execution, req_id));
    }
    replies.push(wire::proto_body(
        incoming::EXECUTION_DATA_END,
        &po::ExecutionDetailsEnd {
            req_id: Some(req_id),
        },
    ));
    Ok(replies)
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
pub fn fill_working_orders(state: &mut FakeIbState) -> Vec<(i32, Vec<u8>)> {
    let mut pushes = Vec::new();
    for index in 0..state.orders.len() {
        let order = state.orders[index].clone();
        if !order.is_working() {
            continue;
        }
        if let Some(price) = fill_price(state, &order) {
            for body in fill(state, index, price) {
                pushes.push((order.client_id, body));
            }
        }
    }
    pushes
}

#[cfg(test)]
#[path = "fake_orders_tests.rs"]
mod tests;
