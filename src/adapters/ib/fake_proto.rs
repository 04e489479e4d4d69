//! The fake TWS's protobuf encoding (server versions 213 and up, what `ibapi` speaks):
//! requests decoded into [`Request`]s, [`Reply`]s encoded as protobuf frame bodies.

use super::fake_messages::{
    BarsRequest, ContractQuery, ExecutionQuery, OrderTicket, QuoteRequest, Reply, Request,
};
use super::fake_orders::{FakeExecution, FakeOrder};
use super::proto;
use super::proto_orders as po;
use super::wire::{self, codes, incoming, outgoing, Message, WireError};

impl From<&proto::Contract> for ContractQuery {
    fn from(c: &proto::Contract) -> Self {
        ContractQuery {
            con_id: c.con_id,
            symbol: c.symbol.clone(),
            sec_type: c.sec_type.clone(),
            month: c.last_trade_date_or_contract_month.clone(),
            multiplier: c.multiplier,
            exchange: c.exchange.clone(),
            currency: c.currency.clone(),
            local_symbol: c.local_symbol.clone(),
            trading_class: c.trading_class.clone(),
        }
    }
}

fn query(contract: Option<&proto::Contract>) -> ContractQuery {
    contract.map(ContractQuery::from).unwrap_or_default()
}

/// Most requests carry their id in protobuf field 1 as an int32.
fn request_id_of(message: &Message) -> Option<i32> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct WithReqId {
        #[prost(int32, optional, tag = "1")]
        req_id: Option<i32>,
    }
    message.proto::<WithReqId>().ok().and_then(|m| m.req_id)
}

/// The request a protobuf message carries.
pub fn decode(message: &Message) -> Result<Request, WireError> {
    Ok(match message.id {
        outgoing::PLACE_ORDER => {
            let request: po::PlaceOrderRequest = message.proto()?;
            let order = request.order.unwrap_or_default();
            Request::PlaceOrder(OrderTicket {
                order_id: request.order_id.unwrap_or(0),
                contract: query(request.contract.as_ref()),
                action: order.action.unwrap_or_default(),
                quantity: order
                    .total_quantity
                    .as_deref()
                    .and_then(|q| q.trim().parse().ok())
                    .unwrap_or(0.0),
                order_type: order.order_type.unwrap_or_default(),
                limit_price: order.lmt_price,
                account: order.account,
                order_ref: order.order_ref.unwrap_or_default(),
            })
        }
        outgoing::CANCEL_ORDER => {
            let request: po::CancelOrderRequest = message.proto()?;
            Request::CancelOrder {
                order_id: request.order_id.unwrap_or(0),
            }
        }
        outgoing::REQ_OPEN_ORDERS => Request::OpenOrders,
        outgoing::REQ_ALL_OPEN_ORDERS | outgoing::REQ_AUTO_OPEN_ORDERS => Request::AllOpenOrders,
        outgoing::REQ_COMPLETED_ORDERS => Request::CompletedOrders,
        outgoing::REQ_EXECUTIONS => {
            let request: po::ExecutionRequest = message.proto()?;
            let filter = request.execution_filter.unwrap_or_default();
            Request::Executions {
                req_id: request.req_id.unwrap_or(codes::NO_REQUEST),
                filter: ExecutionQuery {
                    client_id: filter.client_id,
                    account: filter.acct_code,
                    symbol: filter.symbol,
                    time: filter.time,
                },
            }
        }
        outgoing::REQ_GLOBAL_CANCEL => Request::GlobalCancel,
        outgoing::REQ_IDS => Request::Ids,
        outgoing::REQ_MANAGED_ACCTS => Request::ManagedAccounts,
        outgoing::REQ_CURRENT_TIME => Request::CurrentTime,
        outgoing::REQ_ACCOUNT_SUMMARY => {
            let request: proto::AccountSummaryRequest = message.proto()?;
            Request::AccountSummary {
                req_id: request.req_id.unwrap_or(codes::NO_REQUEST),
                tags: request.tags.unwrap_or_default(),
            }
        }
        outgoing::REQ_POSITIONS => Request::Positions,
        outgoing::REQ_HISTORICAL_DATA => {
            let request: proto::HistoricalDataRequest = message.proto()?;
            Request::HistoricalData(BarsRequest {
                req_id: request.req_id.unwrap_or(codes::NO_REQUEST),
                contract: query(request.contract.as_ref()),
                end: request.end_date_time.unwrap_or_default(),
                duration: request.duration.unwrap_or_default(),
                bar_size: request.bar_size_setting.unwrap_or_default(),
                what_to_show: request.what_to_show.unwrap_or_default(),
                // `ibapi` reads intraday bars as epoch seconds whatever it asks for.
                epoch_dates: true,
            })
        }
        outgoing::REQ_MKT_DATA => {
            let request: proto::MarketDataRequest = message.proto()?;
            Request::MarketData(QuoteRequest {
                req_id: request.req_id.unwrap_or(codes::NO_REQUEST),
                contract: query(request.contract.as_ref()),
                snapshot: request.snapshot.unwrap_or(false)
                    || request.regulatory_snapshot.unwrap_or(false),
            })
        }
        outgoing::REQ_CONTRACT_DATA => {
            let request: proto::ContractDataRequest = message.proto()?;
            Request::ContractDetails {
                req_id: request.req_id.unwrap_or(codes::NO_REQUEST),
                contract: query(request.contract.as_ref()),
            }
        }
        outgoing::CANCEL_ACCOUNT_SUMMARY
        | outgoing::CANCEL_POSITIONS
        | outgoing::CANCEL_CONTRACT_DATA
        | outgoing::CANCEL_MKT_DATA
        | outgoing::CANCEL_HISTORICAL_DATA
        | outgoing::REQ_MARKET_DATA_TYPE => Request::NoReply,
        id => Request::Unsupported {
            id,
            req_id: request_id_of(message).unwrap_or(codes::NO_REQUEST),
        },
    })
}

fn quantity_text(quantity: f64) -> String {
    format!("{quantity}")
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

fn execution_details(execution: &FakeExecution, req_id: i32) -> po::ExecutionDetails {
    po::ExecutionDetails {
        req_id: Some(req_id),
        contract: Some(execution.contract.to_proto()),
        execution: Some(po::Execution {
            order_id: Some(execution.order_id),
            exec_id: Some(execution.exec_id.clone()),
            time: Some(execution.time.format("%Y%m%d %H:%M:%S UTC").to_string()),
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
    }
}

/// One reply as protobuf frame bodies (historical data is two messages: the bars, then
/// the window's end).
pub fn encode(reply: &Reply) -> Vec<Vec<u8>> {
    let mut bodies = vec![encode_one(reply)];
    if let Reply::HistoricalData {
        req_id, start, end, ..
    } = reply
    {
        bodies.push(wire::proto_body(
            incoming::HISTORICAL_DATA_END,
            &proto::HistoricalDataEnd {
                req_id: Some(*req_id),
                start_date_str: Some(start.clone()),
                end_date_str: Some(end.clone()),
            },
        ));
    }
    bodies
}

/// Replies only the text encoding has (account updates) never come from a protobuf
/// request; should one get here it is sent as error 321.
fn encode_one(reply: &Reply) -> Vec<u8> {
    match reply {
        Reply::Error { req_id, code, text } => wire::proto_body(
            incoming::ERR_MSG,
            &proto::ErrorMessage {
                id: Some(*req_id),
                error_time: Some(chrono::Utc::now().timestamp_millis()),
                error_code: Some(*code),
                error_msg: Some(text.clone()),
                advanced_order_reject_json: None,
            },
        ),
        Reply::NextValidId(id) => wire::proto_body(
            incoming::NEXT_VALID_ID,
            &proto::NextValidId {
                order_id: Some(*id),
            },
        ),
        Reply::ManagedAccounts(accounts) => wire::proto_body(
            incoming::MANAGED_ACCTS,
            &proto::ManagedAccounts {
                accounts_list: Some(accounts.join(",")),
            },
        ),
        Reply::CurrentTime(seconds) => wire::proto_body(
            incoming::CURRENT_TIME,
            &proto::CurrentTime {
                current_time: Some(*seconds),
            },
        ),
        Reply::AccountSummary { req_id, value } => wire::proto_body(
            incoming::ACCOUNT_SUMMARY,
            &proto::AccountSummary {
                req_id: Some(*req_id),
                account: Some(value.account.clone()),
                tag: Some(value.tag.clone()),
                value: Some(value.value.clone()),
                currency: Some(value.currency.clone()),
            },
        ),
        Reply::AccountSummaryEnd(req_id) => wire::proto_body(
            incoming::ACCOUNT_SUMMARY_END,
            &proto::AccountSummaryEnd {
                req_id: Some(*req_id),
            },
        ),
        Reply::Position(p) => wire::proto_body(
            incoming::POSITION_DATA,
            &proto::Position {
                account: Some(p.account.clone()),
                contract: Some(p.contract.to_proto()),
                position: Some(p.position.to_string()),
                avg_cost: Some(p.avg_cost),
            },
        ),
        Reply::PositionEnd => wire::proto_body(incoming::POSITION_END, &proto::PositionEnd {}),
        Reply::ContractDetails {
            req_id,
            contract: c,
        } => wire::proto_body(
            incoming::CONTRACT_DATA,
            &proto::ContractData {
                req_id: Some(*req_id),
                contract: Some(c.to_proto()),
                contract_details: Some(proto::ContractDetails {
                    market_name: Some(c.trading_class.clone()),
                    min_tick: Some(c.min_tick.to_string()),
                    order_types: Some("LMT,MKT,STP".to_string()),
                    valid_exchanges: Some(c.exchange.clone()),
                    price_magnifier: Some(1),
                    long_name: Some(c.long_name.clone()),
                    contract_month: Some(c.last_trade_date.chars().take(6).collect()),
                    time_zone_id: Some(c.time_zone_id.clone()),
                    real_expiration_date: Some(c.last_trade_date.clone()),
                    under_symbol: Some(c.symbol.clone()),
                    ..Default::default()
                }),
            },
        ),
        Reply::ContractDetailsEnd(req_id) => wire::proto_body(
            incoming::CONTRACT_DATA_END,
            &proto::ContractDataEnd {
                req_id: Some(*req_id),
            },
        ),
        Reply::HistoricalData { req_id, bars, .. } => wire::proto_body(
            incoming::HISTORICAL_DATA,
            &proto::HistoricalData {
                req_id: Some(*req_id),
                historical_data_bars: bars
                    .iter()
                    .map(|(date, b)| proto::HistoricalDataBar {
                        date: Some(date.clone()),
                        open: Some(b.open),
                        high: Some(b.high),
                        low: Some(b.low),
                        close: Some(b.close),
                        volume: Some(b.volume.to_string()),
                        wap: Some(b.close.to_string()),
                        bar_count: Some(1),
                    })
                    .collect(),
            },
        ),
        Reply::TickPrice {
            req_id,
            tick_type,
            price,
            size,
        } => wire::proto_body(
            incoming::TICK_PRICE,
            &proto::TickPrice {
                req_id: Some(*req_id),
                tick_type: Some(*tick_type),
                price: Some(*price),
                size: Some(size.to_string()),
                attr_mask: Some(0),
            },
        ),
        Reply::TickSize {
            req_id,
            tick_type,
            size,
        } => wire::proto_body(
            incoming::TICK_SIZE,
            &proto::TickSize {
                req_id: Some(*req_id),
                tick_type: Some(*tick_type),
                size: Some(size.to_string()),
            },
        ),
        Reply::TickSnapshotEnd(req_id) => wire::proto_body(
            incoming::TICK_SNAPSHOT_END,
            &proto::TickSnapshotEnd {
                req_id: Some(*req_id),
            },
        ),
        Reply::OpenOrder(order) => wire::proto_body(
            incoming::OPEN_ORDER,
            &po::OpenOrder {
                order_id: Some(order.order_id),
                contract: Some(order.contract.to_proto()),
                order: Some(proto_order(order)),
                order_state: Some(po::OrderState {
                    status: Some(order.status.clone()),
                    ..Default::default()
                }),
            },
        ),
        Reply::OrderStatus {
            order,
            last_fill_price,
        } => wire::proto_body(
            incoming::ORDER_STATUS,
            &po::OrderStatus {
                order_id: Some(order.order_id),
                status: Some(order.status.clone()),
                filled: Some(quantity_text(order.filled)),
                remaining: Some(quantity_text((order.quantity - order.filled).max(0.0))),
                avg_fill_price: Some(order.avg_fill_price),
                perm_id: Some(order.perm_id),
                parent_id: Some(0),
                last_fill_price: Some(*last_fill_price),
                client_id: Some(order.client_id),
            },
        ),
        Reply::OpenOrderEnd => wire::proto_body(incoming::OPEN_ORDER_END, &po::OpenOrdersEnd {}),
        Reply::CompletedOrder(order) => wire::proto_body(
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
        ),
        Reply::CompletedOrdersEnd => {
            wire::proto_body(incoming::COMPLETED_ORDERS_END, &po::CompletedOrdersEnd {})
        }
        Reply::Execution { req_id, execution } => wire::proto_body(
            incoming::EXECUTION_DATA,
            &execution_details(execution, *req_id),
        ),
        Reply::Commission(execution) => wire::proto_body(
            incoming::COMMISSION_REPORT,
            &po::CommissionAndFeesReport {
                exec_id: Some(execution.exec_id.clone()),
                commission_and_fees: Some(execution.commission),
                currency: Some(execution.contract.currency.clone()),
            },
        ),
        Reply::ExecutionEnd(req_id) => wire::proto_body(
            incoming::EXECUTION_DATA_END,
            &po::ExecutionDetailsEnd {
                req_id: Some(*req_id),
            },
        ),
        Reply::AccountValue(_)
        | Reply::Portfolio { .. }
        | Reply::AccountTime(_)
        | Reply::AccountDownloadEnd(_)
        | Reply::AccountUpdateMulti { .. }
        | Reply::AccountUpdateMultiEnd(_) => encode_one(&Reply::error(
            codes::NO_REQUEST,
            codes::REQUEST_VALIDATION,
            "fake-ib sends account updates in the text encoding only",
        )),
    }
}
