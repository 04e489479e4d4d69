//! `IbBroker`: the [`Broker`] port on Interactive Brokers (TWS or IB Gateway) through the
//! `ibapi` crate (`broker.kind = "ib"`).
//!
//! - **Connection.** One connection per process, opened on first use with a client id leased
//!   from the store ([`ClientIdLeases`]; dead processes' ids are reclaimed, an id IB refuses
//!   with 326 is skipped) and released on [`IbBroker::shutdown`]. `ibapi`'s own reconnect is
//!   off: a dropped connection is noticed by the next call (or [`IbBroker::watch`]), which
//!   reconnects with backoff (0.1 s doubling to 5 s) within `connect_timeout`. A connection
//!   down for longer than `disconnect_alert` logs a **critical alert** (target
//!   `systrade::alert`) once per outage.
//! - **Every call has a deadline** (`call_timeout`): a broker that does not answer is
//!   [`BrokerError::Timeout`], never a hang. Messages are paced by `ibapi`'s rate limiter
//!   (TWS allows 50 a second); historical data requests by a local window of 60 per 10
//!   minutes (TWS's pacing rule), beyond which a call fails fast with [`BrokerError::Pacing`].
//! - **Orders** carry the caller's `order_ref` as IB's `orderRef`; the broker id is IB's
//!   `permId`. An order's state is always rebuilt from the broker: open orders, completed
//!   orders and executions, and the fills in the executions win over the reported status —
//!   so an order IB reports `Cancelled` with error 10349 that then fills shows as filled.
//!   If the connection drops while an order is being placed, the adapter reconnects and
//!   looks the `order_ref` up before anything else: a recovered order is returned, never
//!   sent twice; an order IB never got is a retryable error.
//! - Prices are converted with the IB config's `priceMagnifier` (our price = IB price ×
//!   magnifier), see [`super::contracts`]; historical bars and spot FX are in
//!   [`super::market_data`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ibapi::accounts::types::AccountGroup;
use ibapi::accounts::{AccountSummaryResult, PositionUpdate};
use ibapi::contracts::Contract;
use ibapi::orders::{ExecutionFilter, Executions, OrderData, Orders, PlaceOrder};
use ibapi::prelude::StreamExt;
use ibapi::subscriptions::SubscriptionItem;
use ibapi::Client;

use super::calls::{collect, disconnected, map_error, map_notice};
use super::contracts::{IbContractMap, IbInstrumentConfig};
use super::ib_orders::{self, BrokerOrders};
use crate::domain::broker::*;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::ports::Frequency;
use crate::domain::series::{ContractPrices, FxPrices};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct IbSettings {
    pub host: String,
    pub port: u16,
    /// The account to use when the login manages several; `None`: the first.
    pub account: Option<String>,
    pub client_id_first: i32,
    pub client_id_last: i32,
    /// Longest wait for one call's answer.
    pub call_timeout: Duration,
    /// Longest time spent (re)connecting before a call gives up.
    pub connect_timeout: Duration,
    /// A connection down this long raises a critical alert.
    pub disconnect_alert: Duration,
    /// Messages per second sent to TWS (its limit is 50).
    pub messages_per_second: u32,
    /// Who holds the client id (shown by `systrade broker client-ids`).
    pub purpose: String,
}

/// TWS's historical data pacing: at most this many requests ...
const HISTORICAL_REQUESTS: usize = 60;
/// ... in this window.
const HISTORICAL_WINDOW: Duration = Duration::from_secs(600);
/// How long an order's stream may be quiet before its placement is considered answered.
const ORDER_QUIET: Duration = Duration::from_millis(300);

struct Connection {
    client: Arc<Client>,
    client_id: i32,
}

#[derive(Default)]
struct Health {
    client_id: Option<i32>,
    server_version: Option<i32>,
    last_ok: Option<DateTime<Utc>>,
    down_since: Option<DateTime<Utc>>,
    last_error: Option<String>,
    alerted: bool,
}

pub struct IbBroker {
    settings: IbSettings,
    pub(super) contracts: Arc<IbContractMap>,
    leases: Arc<dyn ClientIdLeases>,
    connection: tokio::sync::Mutex<Option<Connection>>,
    health: StdMutex<Health>,
    historical_requests: StdMutex<VecDeque<Instant>>,
    /// Our (instrument, contract) of each IB contract id seen.
    contract_ids: StdMutex<HashMap<i32, (InstrumentCode, ContractId)>>,
}

fn lock<T>(mutex: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IbBroker {
    pub fn new(
        settings: IbSettings,
        contracts: Arc<IbContractMap>,
        leases: Arc<dyn ClientIdLeases>,
    ) -> Self {
        Self {
            settings,
            contracts,
            leases,
            connection: tokio::sync::Mutex::new(None),
            health: StdMutex::new(Health::default()),
            historical_requests: StdMutex::new(VecDeque::new()),
            contract_ids: StdMutex::new(HashMap::new()),
        }
    }

    fn address(&self) -> String {
        format!("{}:{}", self.settings.host, self.settings.port)
    }

    fn mark_ok(&self) {
        let mut health = lock(&self.health);
        health.last_ok = Some(Utc::now());
        health.down_since = None;
        health.alerted = false;
    }

    /// Records that the connection is down; raises the critical alert once the outage is
    /// older than the configured deadline.
    fn mark_down(&self, detail: &str) {
        let now = Utc::now();
        let mut health = lock(&self.health);
        let since = *health.down_since.get_or_insert(now);
        health.last_error = Some(detail.to_string());
        let down_for = (now - since).to_std().unwrap_or_default();
        if down_for >= self.settings.disconnect_alert && !health.alerted {
            health.alerted = true;
            tracing::error!(
                target: "systrade::alert",
                severity = "critical",
                kind = "ib_disconnected",
                address = %self.address(),
                down_since = %since,
                seconds = down_for.as_secs_f64(),
                "CRITICAL: the IB connection has been down for {:.0} s (since {since}): {detail}",
                down_for.as_secs_f64()
            );
        }
    }

    /// Whether the critical disconnect alert has been raised for the current outage.
    pub fn alert_raised(&self) -> bool {
        lock(&self.health).alerted
    }

    /// The client id of the open connection, if any.
    pub async fn client_id(&self) -> Option<i32> {
        self.connection.lock().await.as_ref().map(|c| c.client_id)
    }

    /// The open connection, or a new one (leasing a client id, with backoff, within
    /// `connect_timeout`).
    async fn client(&self) -> Result<Arc<Client>, BrokerError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            if connection.client.is_connected() {
                return Ok(Arc::clone(&connection.client));
            }
            let id = connection.client_id;
            *slot = None;
            let _ = self.leases.release(id).await;
            self.mark_down("the connection to IB dropped");
        }
        let address = self.address();
        let deadline = Instant::now() + self.settings.connect_timeout;
        let mut backoff = Duration::from_millis(100);
        let mut refused: Vec<i32> = Vec::new();
        loop {
            let id = match self
                .leases
                .acquire(
                    self.settings.client_id_first,
                    self.settings.client_id_last,
                    &refused,
                    &self.settings.purpose,
                )
                .await
            {
                Ok(id) => id,
                Err(e) => {
                    return Err(match refused.last() {
                        Some(&client_id) => BrokerError::ClientIdInUse { client_id },
                        None => e,
                    })
                }
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt = tokio::time::timeout(
                remaining.max(Duration::from_millis(50)),
                Client::builder()
                    .address(address.as_str())
                    .client_id(id)
                    .max_reconnect_attempts(0)
                    .rate_limiter(ibapi::RateLimiter::per_second(
                        self.settings.messages_per_second.max(1),
                    ))
                    .connect(),
            )
            .await;
            let failure = match attempt {
                Ok(Ok(client)) => {
                    let client = Arc::new(client);
                    {
                        let mut health = lock(&self.health);
                        health.client_id = Some(id);
                        health.server_version = Some(client.server_version());
                    }
                    self.mark_ok();
                    tracing::info!(client_id = id, %address, "connected to IB");
                    *slot = Some(Connection {
                        client: Arc::clone(&client),
                        client_id: id,
                    });
                    return Ok(client);
                }
                Ok(Err(ibapi::Error::ClientIdInUse { client_id })) => {
                    let _ = self.leases.release(id).await;
                    tracing::warn!(
                        client_id,
                        "IB says the client id is in use; trying the next"
                    );
                    refused.push(client_id);
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the handshake timed out".to_string(),
            };
            let _ = self.leases.release(id).await;
            let detail = format!("cannot connect to IB at {address}: {failure}");
            self.mark_down(&detail);
            if Instant::now() + backoff >= deadline {
                return Err(disconnected(detail));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Closes the connection (if open) so the next call reconnects.
    async fn drop_connection(&self, why: &str) {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.take() {
            connection.client.disconnect().await;
            let _ = self.leases.release(connection.client_id).await;
        }
        self.mark_down(why);
    }

    /// Disconnects and gives the client id back. Call before the process exits.
    pub async fn shutdown(&self) {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.take() {
            connection.client.disconnect().await;
            let _ = self.leases.release(connection.client_id).await;
        }
    }

    /// Checks the connection every `every`, reconnecting when it dropped, so a dead connection
    /// is noticed (and alerted on) even when nothing calls the broker. Ends when the broker is
    /// dropped.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(broker) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = broker.client().await {
                    tracing::warn!(error = %e, "IB watchdog: still disconnected");
                }
            }
        })
    }

    /// Runs `body` on a connected client within the call deadline; a dropped connection is
    /// closed so the next call reconnects.
    pub(super) async fn call<T, F, Fut>(&self, name: &str, body: F) -> Result<T, BrokerError>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: std::future::Future<Output = Result<T, BrokerError>>,
    {
        let client = self.client().await?;
        match tokio::time::timeout(self.settings.call_timeout, body(Arc::clone(&client))).await {
            Ok(Ok(value)) => {
                self.mark_ok();
                Ok(value)
            }
            Ok(Err(e)) => {
                if matches!(e, BrokerError::Disconnected { .. }) || !client.is_connected() {
                    self.drop_connection(&e.to_string()).await;
                }
                Err(e)
            }
            Err(_) => {
                if !client.is_connected() {
                    self.drop_connection("the connection dropped during a call")
                        .await;
                }
                Err(BrokerError::Timeout {
                    call: name.to_string(),
                    seconds: self.settings.call_timeout.as_secs_f64(),
                })
            }
        }
    }

    pub(super) fn config(
        &self,
        instrument: &InstrumentCode,
    ) -> Result<&IbInstrumentConfig, BrokerError> {
        self.contracts.get(instrument)
    }

    /// Our instrument and contract for an IB contract: by symbol/exchange/multiplier through
    /// the IB config, and the contract month from IB's contract details (cached per con id).
    pub(super) async fn our_contract(
        &self,
        client: &Client,
        contract: &Contract,
    ) -> Option<(InstrumentCode, ContractId)> {
        if let Some(found) = lock(&self.contract_ids).get(&contract.contract_id) {
            return Some(found.clone());
        }
        let config = self.contracts.instrument_of(contract)?;
        let lookup = Contract {
            contract_id: contract.contract_id,
            exchange: contract.exchange.clone(),
            include_expired: true,
            ..Default::default()
        };
        let month = match client.contract_details(&lookup).await {
            Ok(details) => details
                .first()
                .map(|d| d.contract_month.clone())
                .filter(|m| m.len() >= 6),
            Err(e) => {
                tracing::warn!(con_id = contract.contract_id, error = %e, "contract details lookup failed");
                None
            }
        }
        .unwrap_or_else(|| contract.last_trade_date_or_contract_month.chars().take(6).collect());
        let year: i32 = month.get(..4)?.parse().ok()?;
        let month: u32 = month.get(4..6)?.parse().ok()?;
        let ours = (config.instrument.clone(), ContractId::monthly(year, month));
        lock(&self.contract_ids).insert(contract.contract_id, ours.clone());
        Some(ours)
    }

    /// Open orders, completed orders and executions, as the broker has them now.
    async fn broker_orders(&self, client: &Client) -> Result<BrokerOrders, BrokerError> {
        let map = |e| map_error(e, None, "");
        let open = collect(client.all_open_orders().await.map_err(map)?, None)
            .await
            .map_err(map)?;
        let completed = collect(client.completed_orders(false).await.map_err(map)?, None)
            .await
            .map_err(map)?;
        let executions = collect(
            client
                .executions(ExecutionFilter::default())
                .await
                .map_err(map)?,
            None,
        )
        .await
        .map_err(map)?;
        let data = |items: Vec<SubscriptionItem<Orders>>| -> Vec<OrderData> {
            items
                .into_iter()
                .filter_map(|i| match i {
                    SubscriptionItem::Data(Orders::OrderData(o)) => Some(o),
                    _ => None,
                })
                .collect()
        };
        let mut orders = BrokerOrders::default();
        for order in data(open) {
            let ours = self.our_contract(client, &order.contract).await;
            orders.add_order(order, ours, true);
        }
        for order in data(completed) {
            let ours = self.our_contract(client, &order.contract).await;
            orders.add_order(order, ours, false);
        }
        for item in executions {
            match item {
                SubscriptionItem::Data(Executions::ExecutionData(e)) => {
                    let ours = self.our_contract(client, &e.contract).await;
                    orders.add_execution(e, ours);
                }
                SubscriptionItem::Data(Executions::CommissionReport(c)) => orders.add_commission(c),
                SubscriptionItem::Notice(_) => {}
            }
        }
        Ok(orders)
    }

    fn magnifier_of(&self, instrument: &InstrumentCode) -> f64 {
        self.contracts
            .get(instrument)
            .map(|c| c.price_magnifier)
            .unwrap_or(1.0)
    }

    /// The order with this broker id as IB lists it now.
    async fn order_by_id(
        &self,
        client: &Client,
        broker_id: &str,
    ) -> Result<OrderState, BrokerError> {
        self.broker_orders(client)
            .await?
            .by_broker_id(broker_id, |i| self.magnifier_of(i))
            .ok_or_else(|| BrokerError::UnknownOrder {
                order: broker_id.to_string(),
            })
    }

    /// The order with this reference as IB lists it now, if IB has it.
    async fn order_by_ref(
        &self,
        client: &Client,
        order_ref: &str,
    ) -> Result<Option<OrderState>, BrokerError> {
        Ok(self
            .broker_orders(client)
            .await?
            .by_ref(order_ref, |i| self.magnifier_of(i)))
    }

    /// The state of the order with this `order_ref`, if the broker has it (open, completed or
    /// with executions).
    pub async fn find_order(&self, order_ref: &str) -> Result<Option<OrderState>, BrokerError> {
        let order_ref = order_ref.to_string();
        self.call("find_order", |client| async move {
            self.order_by_ref(&client, &order_ref).await
        })
        .await
    }

    pub(super) fn note_historical_request(&self) -> Result<(), BrokerError> {
        let now = Instant::now();
        let mut requests = lock(&self.historical_requests);
        while requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HISTORICAL_WINDOW)
        {
            requests.pop_front();
        }
        if requests.len() >= HISTORICAL_REQUESTS {
            let retry = requests
                .front()
                .map(|t| HISTORICAL_WINDOW.saturating_sub(now.duration_since(*t)))
                .unwrap_or(HISTORICAL_WINDOW);
            return Err(BrokerError::Pacing {
                detail: format!(
                    "{HISTORICAL_REQUESTS} historical data requests in the last {} minutes (IB's limit)",
                    HISTORICAL_WINDOW.as_secs() / 60
                ),
                retry_after_seconds: retry.as_secs_f64(),
            });
        }
        requests.push_back(now);
        Ok(())
    }

    async fn place(&self, order: &OrderRequest) -> Result<OrderState, BrokerError> {
        let config = self.config(&order.instrument)?.clone();
        let ib_order = ib_orders::ib_order(order, &config, self.settings.account.as_deref())?;
        let contract = config.ib_contract(order.contract);
        self.call("place_order", |client| async move {
            if let Some(state) = self.order_by_ref(&client, &order.order_ref).await? {
                return Err(BrokerError::Rejected {
                    reason: format!(
                        "order_ref {} was already sent (broker id {}, {:?}); not sending it twice",
                        order.order_ref, state.broker_id, state.status
                    ),
                });
            }
            let id = client.next_order_id();
            let stream = client
                .place_order(id, &contract, &ib_order)
                .await
                .map_err(|e| map_error(e, Some(&order.instrument), &order.contract.to_string()))?;
            self.await_order_answer(stream, &order.instrument, &order.contract.to_string())
                .await?;
            self.order_by_ref(&client, &order.order_ref)
                .await?
                .ok_or_else(|| BrokerError::Other {
                    code: None,
                    detail: format!(
                        "order {} was sent but IB lists no order with that reference",
                        order.order_ref
                    ),
                })
        })
        .await
    }

    /// Reads an order's stream until it is filled or rejected, or quiet once IB has taken it.
    async fn await_order_answer<S>(
        &self,
        mut stream: S,
        instrument: &InstrumentCode,
        contract: &str,
    ) -> Result<(), BrokerError>
    where
        S: StreamExt<Item = Result<SubscriptionItem<PlaceOrder>, ibapi::Error>> + Unpin,
    {
        let mut acknowledged = false;
        loop {
            let next = match tokio::time::timeout(ORDER_QUIET, stream.next()).await {
                Ok(next) => next,
                Err(_) if acknowledged => return Ok(()),
                Err(_) => continue,
            };
            let notice = match next {
                None | Some(Err(ibapi::Error::EndOfStream)) => return Ok(()),
                Some(Ok(SubscriptionItem::Data(PlaceOrder::OrderStatus(status)))) => {
                    acknowledged = true;
                    if status.status == ibapi::orders::OrderStatusKind::Filled {
                        return Ok(());
                    }
                    continue;
                }
                Some(Ok(SubscriptionItem::Data(_))) => {
                    acknowledged = true;
                    continue;
                }
                Some(Ok(SubscriptionItem::Notice(n))) | Some(Err(ibapi::Error::Notice(n))) => n,
                Some(Err(e)) => return Err(map_error(e, Some(instrument), contract)),
            };
            match map_notice(notice.code, &notice.message, Some(instrument), contract) {
                e @ (BrokerError::Rejected { .. } | BrokerError::UnknownContract { .. }) => {
                    return Err(e)
                }
                _ => {
                    // 10349 and other warnings: the order may still fill; the executions decide.
                    tracing::warn!(code = notice.code, message = %notice.message, "IB order notice");
                    acknowledged = true;
                }
            }
        }
    }

    async fn open_order_data(
        &self,
        client: &Client,
        broker_id: &str,
    ) -> Result<(BrokerOrders, OrderData), BrokerError> {
        let orders = self.broker_orders(client).await?;
        let data =
            orders
                .open_order(broker_id)
                .cloned()
                .ok_or_else(|| BrokerError::UnknownOrder {
                    order: format!("{broker_id} (not a working order at IB)"),
                })?;
        Ok((orders, data))
    }
}

#[async_trait]
impl Broker for IbBroker {
    fn kind(&self) -> &'static str {
        "ib"
    }

    async fn keep_alive(&self) {
        let used = {
            let health = lock(&self.health);
            health.last_ok.is_some() || health.down_since.is_some()
        };
        if used {
            if let Err(e) = self.client().await {
                tracing::warn!(error = %e, "IB watchdog: still disconnected");
            }
        }
    }

    async fn close(&self) {
        self.shutdown().await;
    }

    async fn health(&self) -> ConnectionHealth {
        let connected = match self.connection.lock().await.as_ref() {
            Some(c) => c.client.is_connected(),
            None => false,
        };
        let health = lock(&self.health);
        ConnectionHealth {
            connected,
            last_ok: health.last_ok,
            down_since: health.down_since,
            detail: format!(
                "IB at {}; client id {}; server version {}{}",
                self.address(),
                health.client_id.map_or("-".into(), |id| id.to_string()),
                health.server_version.map_or("-".into(), |v| v.to_string()),
                health
                    .last_error
                    .as_ref()
                    .filter(|_| !connected)
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ),
        }
    }

    async fn account_value(&self, currency: &str) -> Result<AccountValue, BrokerError> {
        let wanted = self.settings.account.clone();
        let rows = self
            .call("account_value", |client| async move {
                let map = |e| map_error(e, None, "");
                let stream = client
                    .account_summary(
                        &AccountGroup("All".into()),
                        &["NetLiquidation", "MaintMarginReq"],
                    )
                    .await
                    .map_err(map)?;
                let mut rows = Vec::new();
                let mut stream = stream;
                loop {
                    match stream.next().await {
                        Some(Ok(SubscriptionItem::Data(AccountSummaryResult::Summary(row)))) => {
                            rows.push(row)
                        }
                        Some(Ok(SubscriptionItem::Data(AccountSummaryResult::End))) | None => break,
                        Some(Ok(SubscriptionItem::Notice(_))) => {}
                        Some(Err(e)) => return Err(map(e)),
                    }
                }
                Ok(rows)
            })
            .await?;
        let account = wanted
            .or_else(|| rows.first().map(|r| r.account.clone()))
            .ok_or_else(|| BrokerError::Other {
                code: None,
                detail: "IB sent no account summary".into(),
            })?;
        let value_of = |tag: &str| {
            rows.iter()
                .find(|r| r.account == account && r.tag == tag)
                .map(|r| (r.value.parse::<f64>().ok(), r.currency.clone()))
        };
        let (net, base) = value_of("NetLiquidation").ok_or_else(|| BrokerError::Other {
            code: None,
            detail: "IB sent no NetLiquidation for the account (broker.ib_account)".to_string(),
        })?;
        if !base.eq_ignore_ascii_case(currency) {
            return Err(BrokerError::Currency {
                asked: currency.to_string(),
                base,
            });
        }
        let value = net.ok_or_else(|| BrokerError::Other {
            code: None,
            detail: "IB's NetLiquidation for the account (broker.ib_account) is not a number"
                .to_string(),
        })?;
        let margin_used = value_of("MaintMarginReq")
            .and_then(|(v, _)| v)
            .unwrap_or(0.0);
        Ok(AccountValue { value, margin_used })
    }

    async fn positions(&self) -> Result<Vec<BrokerPosition>, BrokerError> {
        let account = self.settings.account.clone();
        self.call("positions", |client| async move {
            let map = |e| map_error(e, None, "");
            let mut stream = client.positions().await.map_err(map)?;
            let mut found = Vec::new();
            loop {
                match stream.next().await {
                    Some(Ok(SubscriptionItem::Data(PositionUpdate::Position(p)))) => found.push(p),
                    Some(Ok(SubscriptionItem::Data(PositionUpdate::PositionEnd))) | None => break,
                    Some(Ok(SubscriptionItem::Notice(_))) => {}
                    Some(Err(e)) => return Err(map(e)),
                }
            }
            let mut positions = Vec::new();
            for p in found {
                if account.as_deref().is_some_and(|a| a != p.account) || p.position == 0.0 {
                    continue;
                }
                match self.our_contract(&client, &p.contract).await {
                    Some((instrument, contract)) => positions.push(BrokerPosition {
                        instrument,
                        contract,
                        quantity: p.position.round() as i64,
                    }),
                    None => tracing::warn!(
                        symbol = %p.contract.symbol,
                        exchange = %p.contract.exchange,
                        quantity = p.position,
                        "IB position in a contract with no instrument in the IB config; not reported"
                    ),
                }
            }
            Ok(positions)
        })
        .await
    }

    async fn contract_details(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<ContractDetails, BrokerError> {
        let config = self.config(instrument)?.clone();
        let ib_contract = config.ib_contract(contract);
        self.call("contract_details", |client| async move {
            let found = client
                .contract_details(&ib_contract)
                .await
                .map_err(|e| map_error(e, Some(instrument), &contract.to_string()))?;
            let details = match found.as_slice() {
                [one] => one,
                [] => {
                    return Err(BrokerError::UnknownContract {
                        instrument: instrument.clone(),
                        contract: contract.to_string(),
                        detail: "IB returned no contract".into(),
                    })
                }
                several => {
                    return Err(BrokerError::UnknownContract {
                        instrument: instrument.clone(),
                        contract: contract.to_string(),
                        detail: format!(
                            "ambiguous: IB has {} contracts for it; give the exact expiry",
                            several.len()
                        ),
                    })
                }
            };
            let expiry_text = if details.real_expiration_date.len() >= 8 {
                details.real_expiration_date.clone()
            } else {
                details.contract.last_trade_date_or_contract_month.clone()
            };
            let expiry = chrono::NaiveDate::parse_from_str(
                expiry_text.get(..8).unwrap_or(&expiry_text),
                "%Y%m%d",
            )
            .map_err(|e| BrokerError::Other {
                code: None,
                detail: format!("IB's expiry `{expiry_text}` for {instrument} {contract}: {e}"),
            })?;
            let ib_multiplier: f64 = details
                .contract
                .multiplier
                .parse()
                .unwrap_or(config.ib_multiplier);
            Ok(ContractDetails {
                instrument: instrument.clone(),
                contract,
                expiry,
                multiplier: ib_multiplier / config.price_magnifier,
                min_tick: details.min_tick * config.price_magnifier,
                currency: details.contract.currency.to_string(),
                trading_hours: details.trading_hours.join(";"),
                time_zone: details.time_zone_id.clone(),
            })
        })
        .await
    }

    async fn historical_bars(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<ContractPrices, BrokerError> {
        self.contract_bars(instrument, contract, frequency).await
    }

    async fn fx_history(&self, currency: &str) -> Result<FxPrices, BrokerError> {
        self.spot_fx_bars(currency).await
    }

    async fn quote(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Quote, BrokerError> {
        let config = self.config(instrument)?.clone();
        let ib_contract = config.ib_contract(contract);
        let wait = self.settings.call_timeout;
        self.call("quote", |client| async move {
            let ticks = client
                .market_data(&ib_contract)
                .snapshot_once(wait)
                .await
                .map_err(|e| map_error(e, Some(instrument), &contract.to_string()))?;
            let q = ibapi::market_data::realtime::Quote::from_ticks(&ticks);
            let m = config.price_magnifier;
            match (q.bid, q.ask) {
                (Some(bid), Some(ask)) => Ok(Quote {
                    ts: Utc::now(),
                    bid: bid * m,
                    ask: ask * m,
                    bid_size: q.bid_size.unwrap_or(0.0),
                    ask_size: q.ask_size.unwrap_or(0.0),
                    last: q.last.map(|l| l * m),
                }),
                _ => Err(BrokerError::NoMarketData {
                    instrument: instrument.clone(),
                    detail: format!("IB sent no bid and ask for {contract}"),
                }),
            }
        })
        .await
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderState, BrokerError> {
        match self.place(order).await {
            Err(e) if e.is_retryable() => {
                // The order may or may not have reached IB: look before anyone sends it again.
                tracing::warn!(order_ref = %order.order_ref, error = %e, "placing an order failed; looking it up at IB");
                match self.find_order(&order.order_ref).await {
                    Ok(Some(state)) => {
                        tracing::info!(order_ref = %order.order_ref, broker_id = %state.broker_id, "the order had reached IB; recovered its state");
                        Ok(state)
                    }
                    Ok(None) | Err(_) => Err(e),
                }
            }
            other => other,
        }
    }

    async fn modify_order(
        &self,
        broker_id: &str,
        limit_price: f64,
    ) -> Result<OrderState, BrokerError> {
        let broker_id = broker_id.to_string();
        self.call("modify_order", |client| async move {
            let (orders, mut data) = self.open_order_data(&client, &broker_id).await?;
            let mine = self.client_id().await;
            if Some(data.order.client_id) != mine {
                return Err(BrokerError::Rejected {
                    reason: format!(
                        "order {broker_id} was placed by client id {}; only that client can change it",
                        data.order.client_id
                    ),
                });
            }
            let (instrument, contract) = orders.ours_of(&broker_id).ok_or_else(|| BrokerError::UnknownOrder {
                order: format!("{broker_id} (its contract is not in the IB config)"),
            })?;
            data.order.limit_price = Some(limit_price / self.magnifier_of(&instrument));
            data.order.order_type = "LMT".into();
            let stream = client
                .place_order(data.order_id, &data.contract, &data.order)
                .await
                .map_err(|e| map_error(e, Some(&instrument), &contract.to_string()))?;
            self.await_order_answer(stream, &instrument, &contract.to_string())
                .await?;
            self.order_by_id(&client, &broker_id).await
        })
        .await
    }

    async fn cancel_order(&self, broker_id: &str) -> Result<OrderState, BrokerError> {
        let broker_id = broker_id.to_string();
        self.call("cancel_order", |client| async move {
            let (_, data) = match self.open_order_data(&client, &broker_id).await {
                Ok(found) => found,
                Err(BrokerError::UnknownOrder { .. }) => {
                    // Already final: say how it ended.
                    return self.order_by_id(&client, &broker_id).await;
                }
                Err(e) => return Err(e),
            };
            let map = |e| map_error(e, None, "");
            let stream = client.cancel_order(data.order_id, "").await.map_err(map)?;
            let _ = collect(stream, Some(ORDER_QUIET)).await;
            self.order_by_id(&client, &broker_id).await
        })
        .await
    }

    async fn order_state(&self, broker_id: &str) -> Result<OrderState, BrokerError> {
        let broker_id = broker_id.to_string();
        self.call("order_state", |client| async move {
            self.order_by_id(&client, &broker_id).await
        })
        .await
    }

    async fn open_orders(&self) -> Result<Vec<OrderState>, BrokerError> {
        self.call("open_orders", |client| async move {
            Ok(self
                .broker_orders(&client)
                .await?
                .states(|i| self.magnifier_of(i))
                .into_iter()
                .filter(|s| !s.status.is_final())
                .collect())
        })
        .await
    }

    async fn executions(
        &self,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Execution>, BrokerError> {
        self.call("executions", |client| async move {
            let mut executions = self
                .broker_orders(&client)
                .await?
                .executions(|i| self.magnifier_of(i));
            executions.retain(|e| since.is_none_or(|t| e.ts >= t));
            executions.sort_by_key(|e| e.ts);
            Ok(executions)
        })
        .await
    }
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
