//! The fake TWS's requests and replies, whatever the encoding on the wire.
//!
//! A connection decodes each request into a [`Request`] (`fake_proto` for the protobuf
//! encoding, `fake_text` for the older text encoding), [`handle`] answers it from the
//! [`FakeIbState`] as [`Reply`]s, and the connection encodes those for its client
//! ([`Encoding::encode`]). Fills pushed to a client later are `Reply`s too, encoded by the
//! connection they are pushed to.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::fake_data::{self, FakeBar};
use super::fake_orders::{self, FakeExecution, FakeOrder};
use super::fake_server::{FakeAccountValue, FakeContract, FakeIbState, FakePosition};
use super::wire::{codes, WireError};
use super::{fake_proto, fake_text};

/// How a connection's messages are encoded, fixed by the negotiated server version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Protobuf payloads behind a binary message id (server versions 213 and up).
    Protobuf,
    /// NUL-terminated text fields, the message id the first of them, as of `version`.
    Text { version: i32 },
}

impl Encoding {
    /// Decodes one frame body into the request it carries.
    pub fn decode(self, body: &[u8]) -> Result<Request, WireError> {
        match self {
            Encoding::Protobuf => fake_proto::decode(&super::wire::decode_body(body)?),
            Encoding::Text { .. } => fake_text::decode(&super::wire::decode_text_body(body)?),
        }
    }

    /// The frame bodies of `replies` in this encoding.
    pub fn encode(self, replies: &[Reply]) -> Vec<Vec<u8>> {
        match self {
            Encoding::Protobuf => replies.iter().flat_map(fake_proto::encode).collect(),
            Encoding::Text { version } => replies
                .iter()
                .map(|reply| fake_text::encode(reply, version))
                .collect(),
        }
    }
}

/// The contract a request names; fields left empty match anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContractQuery {
    pub con_id: Option<i32>,
    pub symbol: Option<String>,
    pub sec_type: Option<String>,
    /// `YYYYMM` or `YYYYMMDD`.
    pub month: Option<String>,
    pub multiplier: Option<f64>,
    pub exchange: Option<String>,
    pub currency: Option<String>,
    pub local_symbol: Option<String>,
    pub trading_class: Option<String>,
}

/// `reqHistoricalData`.
#[derive(Debug, Clone, PartialEq)]
pub struct BarsRequest {
    pub req_id: i32,
    pub contract: ContractQuery,
    /// Empty for now.
    pub end: String,
    pub duration: String,
    pub bar_size: String,
    pub what_to_show: String,
    /// Intraday bars dated in epoch seconds (`formatDate` 2) rather than
    /// `YYYYMMDD HH:MM:SS UTC` (`formatDate` 1).
    pub epoch_dates: bool,
}

/// `reqMktData`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRequest {
    pub req_id: i32,
    pub contract: ContractQuery,
    pub snapshot: bool,
}

/// `placeOrder`: the fields the fake looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTicket {
    pub order_id: i32,
    pub contract: ContractQuery,
    pub action: String,
    /// Zero when missing or unreadable (the order is then rejected).
    pub quantity: f64,
    pub order_type: String,
    pub limit_price: Option<f64>,
    pub account: Option<String>,
    pub order_ref: String,
}

/// `reqExecutions`'s filter; empty fields (and client id 0) match anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionQuery {
    pub client_id: Option<i32>,
    pub account: Option<String>,
    pub symbol: Option<String>,
    /// `yyyymmdd hh:mm:ss` (optionally followed by a zone) or `yyyymmdd-hh:mm:ss`.
    pub time: Option<String>,
}

/// A request, decoded from either encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Ids,
    ManagedAccounts,
    CurrentTime,
    AccountSummary {
        req_id: i32,
        /// Comma-separated; empty for every tag.
        tags: String,
    },
    Positions,
    /// `reqAccountUpdates` (text encoding only): values, portfolio, time, download end.
    AccountUpdates {
        subscribe: bool,
        account: String,
    },
    /// `reqAccountUpdatesMulti` (text encoding only).
    AccountUpdatesMulti {
        req_id: i32,
        account: String,
    },
    ContractDetails {
        req_id: i32,
        contract: ContractQuery,
    },
    HistoricalData(BarsRequest),
    MarketData(QuoteRequest),
    PlaceOrder(OrderTicket),
    CancelOrder {
        order_id: i32,
    },
    /// This client's open orders.
    OpenOrders,
    /// Every client's open orders (`reqAllOpenOrders`, `reqAutoOpenOrders`).
    AllOpenOrders,
    CompletedOrders,
    Executions {
        req_id: i32,
        filter: ExecutionQuery,
    },
    GlobalCancel,
    /// Cancels and settings: nothing to answer.
    NoReply,
    /// A request the fake does not implement: error 321 on its request id.
    Unsupported {
        id: i32,
        req_id: i32,
    },
}

/// A message the fake sends, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Error {
        req_id: i32,
        code: i32,
        text: String,
    },
    NextValidId(i32),
    ManagedAccounts(Vec<String>),
    /// Seconds since the epoch.
    CurrentTime(i64),
    AccountSummary {
        req_id: i32,
        value: FakeAccountValue,
    },
    AccountSummaryEnd(i32),
    Position(FakePosition),
    PositionEnd,
    /// `updateAccountValue` (text encoding only).
    AccountValue(FakeAccountValue),
    /// `updatePortfolio` (text encoding only).
    Portfolio {
        position: FakePosition,
        market_price: f64,
    },
    /// `updateAccountTime`, `HH:MM` (text encoding only).
    AccountTime(String),
    /// `accountDownloadEnd` with the account (text encoding only).
    AccountDownloadEnd(String),
    /// `accountUpdateMulti` (text encoding only).
    AccountUpdateMulti {
        req_id: i32,
        value: FakeAccountValue,
    },
    AccountUpdateMultiEnd(i32),
    ContractDetails {
        req_id: i32,
        contract: FakeContract,
    },
    ContractDetailsEnd(i32),
    /// Bars oldest first, each with its date as sent; then the window.
    HistoricalData {
        req_id: i32,
        bars: Vec<(String, FakeBar)>,
        start: String,
        end: String,
    },
    TickPrice {
        req_id: i32,
        tick_type: i32,
        price: f64,
        size: f64,
    },
    TickSize {
        req_id: i32,
        tick_type: i32,
        size: f64,
    },
    TickSnapshotEnd(i32),
    OpenOrder(FakeOrder),
    OrderStatus {
        order: FakeOrder,
        last_fill_price: f64,
    },
    OpenOrderEnd,
    CompletedOrder(FakeOrder),
    CompletedOrdersEnd,
    Execution {
        req_id: i32,
        execution: FakeExecution,
    },
    Commission(FakeExecution),
    ExecutionEnd(i32),
}

impl Reply {
    pub fn error(req_id: i32, code: i32, text: impl Into<String>) -> Self {
        Reply::Error {
            req_id,
            code,
            text: text.into(),
        }
    }
}

/// The replies to one request from `client_id`. Orders change the state. Global cancel is
/// the caller's (its replies go to every client with a working order).
pub fn handle(
    state: &mut FakeIbState,
    client_id: i32,
    request: &Request,
    now: DateTime<Utc>,
) -> Vec<Reply> {
    match request {
        Request::Ids => vec![Reply::NextValidId(state.next_order_id)],
        Request::ManagedAccounts => vec![Reply::ManagedAccounts(state.accounts.clone())],
        Request::CurrentTime => vec![Reply::CurrentTime(now.timestamp())],
        Request::AccountSummary { req_id, tags } => account_summary(state, *req_id, tags),
        Request::Positions => {
            let mut replies: Vec<Reply> = state
                .positions
                .iter()
                .cloned()
                .map(Reply::Position)
                .collect();
            replies.push(Reply::PositionEnd);
            replies
        }
        Request::AccountUpdates { subscribe, account } => {
            if *subscribe {
                account_updates(state, account, now)
            } else {
                Vec::new()
            }
        }
        Request::AccountUpdatesMulti { req_id, account } => {
            let mut replies: Vec<Reply> = state
                .account_values
                .iter()
                .filter(|v| account.is_empty() || v.account == *account)
                .map(|v| Reply::AccountUpdateMulti {
                    req_id: *req_id,
                    value: v.clone(),
                })
                .collect();
            replies.push(Reply::AccountUpdateMultiEnd(*req_id));
            replies
        }
        Request::ContractDetails { req_id, contract } => contract_details(state, *req_id, contract),
        Request::HistoricalData(request) if state.pacing_violations > 0 => {
            state.pacing_violations -= 1;
            vec![Reply::error(
                request.req_id,
                codes::HISTORICAL_DATA_ERROR,
                "Historical Market Data Service error message:Historical data request pacing violation",
            )]
        }
        Request::HistoricalData(request) => fake_data::historical_data(state, request, now),
        Request::MarketData(request) => fake_data::market_data(state, request),
        Request::PlaceOrder(ticket) => fake_orders::place_order(state, client_id, ticket),
        Request::CancelOrder { order_id } => fake_orders::cancel_order(state, client_id, *order_id),
        Request::OpenOrders => fake_orders::open_orders(state, Some(client_id)),
        Request::AllOpenOrders => fake_orders::open_orders(state, None),
        Request::CompletedOrders => fake_orders::completed_orders(state),
        Request::Executions { req_id, filter } => fake_orders::executions(state, *req_id, filter),
        Request::GlobalCancel | Request::NoReply => Vec::new(),
        Request::Unsupported { id, req_id } => vec![Reply::error(
            *req_id,
            codes::REQUEST_VALIDATION,
            format!("fake-ib does not implement request message {id}"),
        )],
    }
}

fn account_summary(state: &FakeIbState, req_id: i32, tags: &str) -> Vec<Reply> {
    let tags: HashSet<&str> = tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut replies: Vec<Reply> = state
        .account_values
        .iter()
        .filter(|v| tags.is_empty() || tags.contains(v.tag.as_str()))
        .map(|v| Reply::AccountSummary {
            req_id,
            value: v.clone(),
        })
        .collect();
    replies.push(Reply::AccountSummaryEnd(req_id));
    replies
}

/// `reqAccountUpdates`: the account's values and portfolio (priced at the last trade, else
/// the mid, else the average cost), the update time, then the download end.
fn account_updates(state: &FakeIbState, account: &str, now: DateTime<Utc>) -> Vec<Reply> {
    let account = if account.is_empty() {
        state.accounts.first().cloned().unwrap_or_default()
    } else {
        account.to_string()
    };
    let mut replies: Vec<Reply> = state
        .account_values
        .iter()
        .filter(|v| v.account == account)
        .cloned()
        .map(Reply::AccountValue)
        .collect();
    for position in state.positions.iter().filter(|p| p.account == account) {
        let quote = state.quotes.get(&position.contract.con_id);
        let mid = quote.and_then(|q| Some((q.bid? + q.ask?) / 2.0));
        let market_price = quote
            .and_then(|q| q.last)
            .or(mid)
            .unwrap_or(position.avg_cost / position.contract.multiplier.max(f64::MIN_POSITIVE));
        replies.push(Reply::Portfolio {
            position: position.clone(),
            market_price,
        });
    }
    replies.push(Reply::AccountTime(now.format("%H:%M").to_string()));
    replies.push(Reply::AccountDownloadEnd(account));
    replies
}

/// The one contract a request names, or the error reply TWS gives: 200 for none or several
/// (boxed: a `Reply` is large).
pub(super) fn resolve_contract<'a>(
    state: &'a FakeIbState,
    req_id: i32,
    wanted: &ContractQuery,
) -> Result<&'a FakeContract, Box<Reply>> {
    let mut found = state.contracts.iter().filter(|c| c.matches(wanted));
    match (found.next(), found.next()) {
        (Some(contract), None) => Ok(contract),
        (None, _) => Err(Box::new(Reply::error(
            req_id,
            codes::NO_SECURITY_DEFINITION,
            "No security definition has been found for the request",
        ))),
        (Some(_), Some(_)) => Err(Box::new(Reply::error(
            req_id,
            codes::NO_SECURITY_DEFINITION,
            "The contract description specified is ambiguous",
        ))),
    }
}

fn contract_details(state: &FakeIbState, req_id: i32, wanted: &ContractQuery) -> Vec<Reply> {
    let mut replies: Vec<Reply> = state
        .contracts
        .iter()
        .filter(|c| c.matches(wanted))
        .map(|c| Reply::ContractDetails {
            req_id,
            contract: c.clone(),
        })
        .collect();
    if replies.is_empty() {
        return vec![Reply::error(
            req_id,
            codes::NO_SECURITY_DEFINITION,
            "No security definition has been found for the request",
        )];
    }
    replies.push(Reply::ContractDetailsEnd(req_id));
    replies
}
