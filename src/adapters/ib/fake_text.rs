//! The fake TWS's text encoding (server versions [`MIN_TEXT_SERVER_VERSION`] to
//! [`TEXT_SERVER_VERSION`], what older clients such as `ib_async` 2.1 speak): every frame
//! body is NUL-terminated text fields, the message id the first of them. Requests are
//! decoded into [`Request`]s and [`Reply`]s encoded field by field as of the connection's
//! server version, following the TWS API's decoder for those versions (the fields that
//! changed between 157 and 178 are marked with the version that changed them).
//!
//! A request with too few fields or an unreadable number is an error (answered with
//! error 321 by the connection), never a panic.
//!
//! [`MIN_TEXT_SERVER_VERSION`]: super::fake_server::MIN_TEXT_SERVER_VERSION
//! [`TEXT_SERVER_VERSION`]: super::fake_server::TEXT_SERVER_VERSION

use super::fake_messages::{
    BarsRequest, ContractQuery, ExecutionQuery, OrderTicket, QuoteRequest, Reply, Request,
};
use super::fake_orders::{FakeExecution, FakeOrder};
use super::fake_server::FakeContract;
use super::wire::{self, codes, incoming, outgoing, Message, Payload, WireError};

/// The fields of one text request after its message id, read by position.
struct Fields<'a> {
    id: i32,
    fields: &'a [String],
}

impl Fields<'_> {
    fn error(&self, reason: String) -> WireError {
        WireError::Text {
            id: self.id,
            reason,
        }
    }

    fn text(&self, index: usize) -> Result<&str, WireError> {
        self.fields.get(index).map(String::as_str).ok_or_else(|| {
            self.error(format!(
                "too few fields: no field {} in {:?}",
                index + 1,
                self.fields
            ))
        })
    }

    /// A field that may be missing (trailing fields newer versions added).
    fn text_or_empty(&self, index: usize) -> &str {
        self.fields.get(index).map(String::as_str).unwrap_or("")
    }

    fn int(&self, index: usize) -> Result<i32, WireError> {
        let text = self.text(index)?;
        text.trim()
            .parse()
            .map_err(|_| self.error(format!("field {} is not an integer: {text:?}", index + 1)))
    }

    fn bool(&self, index: usize) -> bool {
        matches!(
            self.text_or_empty(index)
                .trim()
                .to_ascii_lowercase()
                .as_str(),
            "1" | "true"
        )
    }

    fn optional(&self, index: usize) -> Option<String> {
        Some(self.text_or_empty(index).to_string()).filter(|s| !s.trim().is_empty())
    }

    /// The 12 contract fields from `start`: con id, symbol, sec type, expiry, strike, right,
    /// multiplier, exchange, primary exchange, currency, local symbol, trading class.
    fn contract(&self, start: usize) -> Result<ContractQuery, WireError> {
        self.text(start + 11)?;
        let field = |offset: usize| self.optional(start + offset);
        Ok(ContractQuery {
            con_id: field(0).and_then(|id| id.trim().parse().ok()),
            symbol: field(1),
            sec_type: field(2),
            month: field(3),
            multiplier: field(6).and_then(|m| m.trim().parse().ok()),
            exchange: field(7),
            currency: field(9),
            local_symbol: field(10),
            trading_class: field(11),
        })
    }
}

/// The request a text message carries. What the fake reads of each request is laid out
/// alike at every version from 157 to 178 (later versions only add trailing fields).
pub fn decode(message: &Message) -> Result<Request, WireError> {
    let Payload::Text(fields) = &message.payload else {
        return Err(WireError::Text {
            id: message.id,
            reason: "expected text fields, got a protobuf payload".into(),
        });
    };
    let f = Fields {
        id: message.id,
        fields,
    };
    Ok(match message.id {
        // version, req id, contract, [combo legs], delta neutral flag, [its 3 fields],
        // generic ticks, snapshot, regulatory snapshot, options
        outgoing::REQ_MKT_DATA => {
            let contract = f.contract(2)?;
            let mut next = 14;
            if contract
                .sec_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("BAG"))
            {
                let legs: usize = f.int(next)?.max(0).try_into().unwrap_or(0);
                next += 1 + 4 * legs;
            }
            if f.bool(next) {
                next += 3;
            }
            Request::MarketData(QuoteRequest {
                req_id: f.int(1)?,
                contract,
                snapshot: f.bool(next + 2) || f.bool(next + 3),
            })
        }
        // order id, contract, sec id type, sec id, action, quantity, type, limit, aux, tif,
        // oca group, account, open/close, origin, order ref, ...
        outgoing::PLACE_ORDER => Request::PlaceOrder(OrderTicket {
            order_id: f.int(0)?,
            contract: f.contract(1)?,
            action: f.text(15)?.to_string(),
            quantity: f.text(16)?.trim().parse().unwrap_or(0.0),
            order_type: f.text(17)?.to_string(),
            limit_price: f.optional(18).and_then(|p| p.trim().parse().ok()),
            account: f.optional(22),
            order_ref: f.text_or_empty(25).to_string(),
        }),
        // version, order id, [manual cancel time (169)]
        outgoing::CANCEL_ORDER => Request::CancelOrder {
            order_id: f.int(1)?,
        },
        outgoing::REQ_OPEN_ORDERS => Request::OpenOrders,
        outgoing::REQ_ALL_OPEN_ORDERS => Request::AllOpenOrders,
        // Binds manual TWS orders to client 0; there are none, and TWS sends no list.
        outgoing::REQ_AUTO_OPEN_ORDERS => Request::NoReply,
        // version, subscribe, account
        outgoing::REQ_ACCOUNT_UPDATES => Request::AccountUpdates {
            subscribe: f.bool(1),
            account: f.text_or_empty(2).trim().to_string(),
        },
        // version, req id, account, model code, ledger and NLV
        outgoing::REQ_ACCOUNT_UPDATES_MULTI => Request::AccountUpdatesMulti {
            req_id: f.int(1)?,
            account: f.text_or_empty(2).trim().to_string(),
        },
        // version, req id, client id, account, time, symbol, sec type, exchange, side
        outgoing::REQ_EXECUTIONS => Request::Executions {
            req_id: f.int(1)?,
            filter: ExecutionQuery {
                client_id: f.optional(2).and_then(|id| id.trim().parse().ok()),
                account: f.optional(3),
                time: f.optional(4),
                symbol: f.optional(5),
            },
        },
        outgoing::REQ_IDS => Request::Ids,
        // version, req id, contract, include expired, sec id type, sec id, [issuer id (176)]
        outgoing::REQ_CONTRACT_DATA => Request::ContractDetails {
            req_id: f.int(1)?,
            contract: f.contract(2)?,
        },
        outgoing::REQ_MANAGED_ACCTS => Request::ManagedAccounts,
        // req id, contract, include expired, end, bar size, duration, RTH only, what to
        // show, date format, [combo legs], keep up to date, chart options
        outgoing::REQ_HISTORICAL_DATA => Request::HistoricalData(BarsRequest {
            req_id: f.int(0)?,
            contract: f.contract(1)?,
            end: f.text(14)?.to_string(),
            bar_size: f.text(15)?.to_string(),
            duration: f.text(16)?.to_string(),
            what_to_show: f.text(18)?.to_string(),
            epoch_dates: f.text_or_empty(19).trim() == "2",
        }),
        outgoing::REQ_CURRENT_TIME => Request::CurrentTime,
        outgoing::REQ_GLOBAL_CANCEL => Request::GlobalCancel,
        outgoing::REQ_POSITIONS => Request::Positions,
        // version, req id, group, tags
        outgoing::REQ_ACCOUNT_SUMMARY => Request::AccountSummary {
            req_id: f.int(1)?,
            tags: f.text_or_empty(3).to_string(),
        },
        // api only
        outgoing::REQ_COMPLETED_ORDERS => Request::CompletedOrders,
        outgoing::CANCEL_MKT_DATA
        | outgoing::CANCEL_HISTORICAL_DATA
        | outgoing::CANCEL_ACCOUNT_SUMMARY
        | outgoing::CANCEL_POSITIONS
        | outgoing::CANCEL_ACCOUNT_UPDATES_MULTI
        | outgoing::CANCEL_CONTRACT_DATA
        | outgoing::REQ_MARKET_DATA_TYPE => Request::NoReply,
        id => Request::Unsupported {
            id,
            req_id: unsupported_request_id(&f),
        },
    })
}

/// Where a request the fake does not read keeps its request id: older messages open with a
/// version field and then the id; those from `reqSecDefOptParams` (78) on have no version.
fn unsupported_request_id(f: &Fields<'_>) -> i32 {
    let index = if f.id >= 78 { 0 } else { 1 };
    f.text_or_empty(index)
        .trim()
        .parse()
        .unwrap_or(codes::NO_REQUEST)
}

/// Builds a message's fields.
#[derive(Default)]
struct Out(Vec<String>);

impl Out {
    fn add(&mut self, value: impl ToString) -> &mut Self {
        self.0.push(value.to_string());
        self
    }

    /// `count` empty fields (values the fake leaves unset).
    fn empty(&mut self, count: usize) -> &mut Self {
        self.0.extend(std::iter::repeat_n(String::new(), count));
        self
    }

    fn all(&mut self, values: &[&str]) -> &mut Self {
        self.0.extend(values.iter().map(|v| v.to_string()));
        self
    }

    /// Con id, symbol, sec type, expiry, strike, right, multiplier, exchange (or primary
    /// exchange, as `updatePortfolio` has it), currency, local symbol, trading class.
    fn contract(&mut self, c: &FakeContract) -> &mut Self {
        self.add(c.con_id)
            .add(&c.symbol)
            .add(&c.sec_type)
            .add(&c.last_trade_date)
            .add("0")
            .add("")
            .add(c.multiplier)
            .add(&c.exchange)
            .add(&c.currency)
            .add(&c.local_symbol)
            .add(&c.trading_class)
    }
}

/// One reply as a text frame body, as a server of `version` writes it.
pub fn encode(reply: &Reply, version: i32) -> Vec<u8> {
    let mut out = Out::default();
    let id = match reply {
        Reply::Error { req_id, code, text } => {
            out.add(2).add(req_id).add(code).add(text);
            if version >= 166 {
                out.add(""); // advanced order reject JSON
            }
            incoming::ERR_MSG
        }
        Reply::NextValidId(id) => {
            out.add(1).add(id);
            incoming::NEXT_VALID_ID
        }
        Reply::ManagedAccounts(accounts) => {
            out.add(1).add(accounts.join(","));
            incoming::MANAGED_ACCTS
        }
        Reply::CurrentTime(seconds) => {
            out.add(1).add(seconds);
            incoming::CURRENT_TIME
        }
        Reply::AccountSummary { req_id, value } => {
            out.add(1)
                .add(req_id)
                .add(&value.account)
                .add(&value.tag)
                .add(&value.value)
                .add(&value.currency);
            incoming::ACCOUNT_SUMMARY
        }
        Reply::AccountSummaryEnd(req_id) => {
            out.add(1).add(req_id);
            incoming::ACCOUNT_SUMMARY_END
        }
        Reply::Position(p) => {
            out.add(3)
                .add(&p.account)
                .contract(&p.contract)
                .add(p.position)
                .add(p.avg_cost);
            incoming::POSITION_DATA
        }
        Reply::PositionEnd => {
            out.add(1);
            incoming::POSITION_END
        }
        Reply::AccountValue(value) => {
            out.add(2)
                .add(&value.tag)
                .add(&value.value)
                .add(&value.currency)
                .add(&value.account);
            incoming::ACCT_VALUE
        }
        Reply::Portfolio {
            position: p,
            market_price,
        } => {
            let market_value = p.position * market_price * p.contract.multiplier;
            out.add(8)
                .contract(&p.contract)
                .add(p.position)
                .add(market_price)
                .add(market_value)
                .add(p.avg_cost)
                .add(market_value - p.position * p.avg_cost)
                .add(0)
                .add(&p.account);
            incoming::PORTFOLIO_VALUE
        }
        Reply::AccountTime(time) => {
            out.add(1).add(time);
            incoming::ACCT_UPDATE_TIME
        }
        Reply::AccountDownloadEnd(account) => {
            out.add(1).add(account);
            incoming::ACCT_DOWNLOAD_END
        }
        Reply::AccountUpdateMulti { req_id, value } => {
            out.add(1)
                .add(req_id)
                .add(&value.account)
                .add("")
                .add(&value.tag)
                .add(&value.value)
                .add(&value.currency);
            incoming::ACCOUNT_UPDATE_MULTI
        }
        Reply::AccountUpdateMultiEnd(req_id) => {
            out.add(1).add(req_id);
            incoming::ACCOUNT_UPDATE_MULTI_END
        }
        Reply::ContractDetails { req_id, contract } => {
            contract_details(&mut out, *req_id, contract, version);
            incoming::CONTRACT_DATA
        }
        Reply::ContractDetailsEnd(req_id) => {
            out.add(1).add(req_id);
            incoming::CONTRACT_DATA_END
        }
        Reply::HistoricalData {
            req_id,
            bars,
            start,
            end,
        } => {
            out.add(req_id).add(start).add(end).add(bars.len());
            for (date, bar) in bars {
                out.add(date)
                    .add(bar.open)
                    .add(bar.high)
                    .add(bar.low)
                    .add(bar.close)
                    .add(bar.volume)
                    .add(bar.close)
                    .add(1);
            }
            incoming::HISTORICAL_DATA
        }
        Reply::TickPrice {
            req_id,
            tick_type,
            price,
            size,
        } => {
            out.add(6)
                .add(req_id)
                .add(tick_type)
                .add(price)
                .add(size)
                .add(0);
            incoming::TICK_PRICE
        }
        Reply::TickSize {
            req_id,
            tick_type,
            size,
        } => {
            out.add(6).add(req_id).add(tick_type).add(size);
            incoming::TICK_SIZE
        }
        Reply::TickSnapshotEnd(req_id) => {
            out.add(1).add(req_id);
            incoming::TICK_SNAPSHOT_END
        }
        Reply::OpenOrder(order) => {
            open_order(&mut out, order, version);
            incoming::OPEN_ORDER
        }
        Reply::OrderStatus {
            order,
            last_fill_price,
        } => {
            out.add(order.order_id)
                .add(&order.status)
                .add(order.filled)
                .add((order.quantity - order.filled).max(0.0))
                .add(order.avg_fill_price)
                .add(order.perm_id)
                .add(0) // parent id
                .add(last_fill_price)
                .add(order.client_id)
                .add("") // why held
                .add(0); // market cap price
            incoming::ORDER_STATUS
        }
        Reply::OpenOrderEnd => {
            out.add(1);
            incoming::OPEN_ORDER_END
        }
        Reply::CompletedOrder(order) => {
            completed_order(&mut out, order, version);
            incoming::COMPLETED_ORDER
        }
        Reply::CompletedOrdersEnd => incoming::COMPLETED_ORDERS_END,
        Reply::Execution { req_id, execution } => {
            execution_details(&mut out, *req_id, execution, version);
            incoming::EXECUTION_DATA
        }
        Reply::Commission(e) => {
            // exec id, commission, currency, realized P&L, yield, yield redemption date
            out.add(1)
                .add(&e.exec_id)
                .add(e.commission)
                .add(&e.contract.currency)
                .empty(3);
            incoming::COMMISSION_REPORT
        }
        Reply::ExecutionEnd(req_id) => {
            out.add(1).add(req_id);
            incoming::EXECUTION_DATA_END
        }
    };
    wire::text_message(id, &out.0)
}

fn contract_details(out: &mut Out, req_id: i32, c: &FakeContract, version: i32) {
    if version < 164 {
        out.add(8); // message version, dropped at 164
    }
    out.add(req_id)
        .add(&c.symbol)
        .add(&c.sec_type)
        .add(&c.last_trade_date)
        .add("0") // strike
        .add("") // right
        .add(&c.exchange)
        .add(&c.currency)
        .add(&c.local_symbol)
        .add(&c.trading_class) // market name
        .add(&c.trading_class)
        .add(c.con_id)
        .add(c.min_tick);
    if version < 164 {
        out.add(1); // market data size multiplier, dropped at 164
    }
    out.add(c.multiplier)
        .add("LMT,MKT,STP") // order types
        .add(&c.exchange) // valid exchanges
        .add(1) // price magnifier
        .add(0) // underlying con id
        .add(&c.long_name)
        .add(&c.exchange) // primary exchange
        .add(c.last_trade_date.chars().take(6).collect::<String>())
        .empty(3) // industry, category, subcategory
        .add(&c.time_zone_id)
        .empty(4) // trading hours, liquid hours, EV rule, EV multiplier
        .add(0) // sec id list
        .add("") // agg group
        .add(&c.symbol) // underlying symbol
        .add("") // underlying sec type
        .add("") // market rule ids
        .add(&c.last_trade_date) // real expiration date
        .add(""); // stock type
    if version == 163 {
        out.add(1); // suggested size increment
    }
    if version >= 164 {
        out.add(1).add(1).add(1); // min size, size increment, suggested size increment
    }
}

fn execution_details(out: &mut Out, req_id: i32, e: &FakeExecution, version: i32) {
    out.add(req_id)
        .add(e.order_id)
        .contract(&e.contract)
        .add(&e.exec_id)
        .add(e.time.format("%Y%m%d %H:%M:%S UTC"))
        .add(&e.account)
        .add(&e.contract.exchange)
        .add(&e.side)
        .add(e.shares)
        .add(e.price)
        .add(e.perm_id)
        .add(e.client_id)
        .add(0) // liquidation
        .add(e.cum_qty)
        .add(e.avg_price)
        .add(&e.order_ref)
        .empty(3) // EV rule, EV multiplier, model code
        .add(1); // last liquidity: added
    if version >= 178 {
        out.add(0); // pending price revision
    }
}

/// The order fields `openOrder` and `completedOrder` share up to the order ref.
fn order_head(out: &mut Out, order: &FakeOrder) {
    out.contract(&order.contract)
        .add(&order.action)
        .add(order.quantity)
        .add(&order.order_type)
        .add(order.limit_price.map(|p| p.to_string()).unwrap_or_default())
        .add("") // aux price
        .add("DAY")
        .add("") // OCA group
        .add(&order.account)
        .add("") // open/close
        .add(0) // origin: customer
        .add(&order.order_ref);
}

fn open_order(out: &mut Out, order: &FakeOrder, version: i32) {
    out.add(order.order_id);
    order_head(out, order);
    out.add(order.client_id)
        .add(order.perm_id)
        .all(&["0", "0", "0", ""]) // outside RTH, hidden, discretionary amount, good after
        .add("") // shares allocation (deprecated)
        .empty(3); // FA group, method, percentage
    if version < 177 {
        out.add(""); // FA profile, removed at 177
    }
    out.empty(5) // model code, good till, rule 80A, percent offset, settling firm
        .all(&["0", "", "-1"]) // short sale slot, designated location, exempt code
        .all(&["0", "", "", "", "", ""]) // auction strategy, starting/ref price, delta, range
        .add("") // display size
        .all(&["0", "0", "0", ""]) // block order, sweep to fill, all or none, min qty
        .all(&["3", "0", "0", ""]) // OCA type, e-trade only, firm quote only, NBBO cap
        .all(&["0", "0"]) // parent id, trigger method
        .all(&["", "0", "", ""]) // volatility, its type, delta neutral type and aux price
        .all(&["0", "0", "", "", "", "", ""]) // continuous update .. combo legs description
        .all(&["0", "0", "0"]) // combo legs, order combo legs, smart combo routing params
        .empty(3) // scale init level size, subs level size, price increment
        .add("") // hedge type
        .all(&["0", "", "IB", "0", "0"]) // opt out SMART, clearing, not held, delta neutral
        .add("") // algo strategy
        .all(&["0", "0"]) // solicited, what-if
        .add(&order.status)
        .empty(14) // margins before/change/after, commissions, currency, warning
        .all(&["0", "0"]) // randomize size, price
        .add(0) // conditions
        .empty(8) // adjusted order type .. adjustable trailing unit
        .empty(3) // soft dollar tier name, value, display name
        .add("") // cash quantity
        .all(&["0", "0", "0", ""]); // no auto price for hedge, OMS container, .., price mgmt
    if version >= 159 {
        out.add(""); // duration
    }
    if version >= 160 {
        out.add(""); // post to ATS
    }
    if version >= 162 {
        out.add(0); // auto cancel parent
    }
    if version >= 170 {
        out.empty(5); // min trade qty, min compete size, compete offset, mid offsets
    }
}

fn completed_order(out: &mut Out, order: &FakeOrder, version: i32) {
    order_head(out, order);
    out.add(order.perm_id)
        .all(&["0", "0", "0", ""]) // outside RTH, hidden, discretionary amount, good after
        .empty(3); // FA group, method, percentage
    if version < 177 {
        out.add(""); // FA profile, removed at 177
    }
    out.empty(5) // model code, good till, rule 80A, percent offset, settling firm
        .all(&["0", "", "-1"]) // short sale slot, designated location, exempt code
        .empty(5) // starting/ref price, delta, range
        .add("") // display size
        .all(&["0", "0", "", "3", "0"]) // sweep, all or none, min qty, OCA type, trigger
        .all(&["", "0", "", ""]) // volatility, its type, delta neutral type and aux price
        .all(&["0", "0", "", "", ""]) // continuous update .. combo legs description
        .all(&["0", "0", "0"]) // combo legs, order combo legs, smart combo routing params
        .empty(3) // scale init level size, subs level size, price increment
        .add("") // hedge type
        .all(&["", "IB", "0", "0"]) // clearing account, intent, not held, delta neutral
        .add("") // algo strategy
        .add(0) // solicited
        .add(&order.status)
        .all(&["0", "0"]) // randomize size, price
        .add(0) // conditions
        .empty(3) // trail stop price, limit price offset, cash quantity
        .all(&["0", "0", ""]) // no auto price for hedge, OMS container, auto cancel date
        .add(order.filled)
        .all(&["", "0", "", "0", "0", ""]) // ref futures con id .. parent perm id
        .add("") // completed time
        .add(&order.status); // completed status
    if version >= 170 {
        out.empty(5); // min trade qty, min compete size, compete offset, mid offsets
    }
}

#[cfg(test)]
#[path = "fake_text_tests.rs"]
mod tests;
