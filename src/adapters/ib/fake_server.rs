//! A fake TWS / IB Gateway on 127.0.0.1: enough of the socket protocol for an
//! IB API client to connect and ask for accounts, account summary, positions,
//! contract details, historical bars and quotes (the last two in `fake_data`),
//! answered from a [`FakeIbState`] that the caller fills.
//!
//! Two encodings, chosen by the client's version range at the handshake:
//! - protobuf (server versions [`MIN_SERVER_VERSION`] to [`SERVER_VERSION`], what the
//!   `ibapi` crate requires; `startApi` is also accepted as text fields there);
//! - the older text encoding, for clients whose range tops out below
//!   [`MIN_SERVER_VERSION`]: the fake answers `min(client max, `[`TEXT_SERVER_VERSION`]`)`,
//!   down to [`MIN_TEXT_SERVER_VERSION`] (what `ib_async` 2.1, Python, negotiates).
//!
//! Requests are decoded into [`Request`]s, answered from the state as [`Reply`]s
//! (`fake_messages`), and encoded for the connection (`fake_proto`, `fake_text`).
//! Requests it does not implement are answered with error 321 so a client fails fast
//! instead of waiting.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use super::fake_data::{FakeBar, FakeBarSeries, FakeQuote};
use super::fake_messages::handle;
pub use super::fake_messages::{ContractQuery, Encoding, Reply, Request};
pub use super::fake_orders::{FakeExecution, FakeFillMode, FakeOrder};
use super::wire::{self, codes, outgoing, Message, Payload, WireError};
use super::{fake_orders, fake_proto, proto};

/// The highest server version the fake claims (`CONDITIONS_INCLUDE_OVERNIGHT`).
pub const SERVER_VERSION: i32 = 226;
/// The lowest it accepts: the first version with protobuf for every request
/// family it answers (`PROTOBUF_REST_MESSAGES_3`).
pub const MIN_SERVER_VERSION: i32 = 213;
/// The highest version spoken in the text encoding: 178 (`PENDING_PRICE_REVISION` in IB's
/// numbering), the top of `ib_async` 2.1's range. Versions 179..212 add fields and (from 201)
/// binary message ids that the fake does not write, so a text client is held at 178.
pub const TEXT_SERVER_VERSION: i32 = 178;
/// The lowest text version the fake accepts (`ib_async` 2.1's minimum).
pub const MIN_TEXT_SERVER_VERSION: i32 = 157;

/// A contract the fake knows, as IB describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeContract {
    pub con_id: i32,
    pub symbol: String,
    /// `FUT` for futures.
    pub sec_type: String,
    pub exchange: String,
    pub currency: String,
    pub multiplier: f64,
    /// `YYYYMMDD` expiry; a request's `YYYYMM` contract month matches it.
    pub last_trade_date: String,
    pub local_symbol: String,
    pub trading_class: String,
    pub min_tick: f64,
    pub long_name: String,
    pub time_zone_id: String,
}

impl FakeContract {
    /// A future with the usual defaults (local symbol and trading class from the symbol).
    pub fn future(
        con_id: i32,
        symbol: &str,
        exchange: &str,
        currency: &str,
        multiplier: f64,
        last_trade_date: &str,
    ) -> Self {
        Self {
            con_id,
            symbol: symbol.to_string(),
            sec_type: "FUT".to_string(),
            exchange: exchange.to_string(),
            currency: currency.to_string(),
            multiplier,
            last_trade_date: last_trade_date.to_string(),
            local_symbol: symbol.to_string(),
            trading_class: symbol.to_string(),
            min_tick: 0.25,
            long_name: symbol.to_string(),
            time_zone_id: "US/Central".to_string(),
        }
    }

    /// A spot FX pair on IDEALPRO, `base`.`quote` (USD.JPY: yen per dollar), as IB lists it.
    pub fn forex(con_id: i32, base: &str, quote: &str) -> Self {
        let pair = format!("{base}.{quote}");
        Self {
            con_id,
            symbol: base.to_string(),
            sec_type: "CASH".to_string(),
            exchange: "IDEALPRO".to_string(),
            currency: quote.to_string(),
            multiplier: 0.0,
            last_trade_date: String::new(),
            local_symbol: pair.clone(),
            trading_class: pair.clone(),
            min_tick: 0.00005,
            long_name: pair,
            time_zone_id: "US/Eastern".to_string(),
        }
    }

    pub(super) fn to_proto(&self) -> proto::Contract {
        proto::Contract {
            con_id: Some(self.con_id),
            symbol: Some(self.symbol.clone()),
            sec_type: Some(self.sec_type.clone()),
            last_trade_date_or_contract_month: Some(self.last_trade_date.clone()),
            multiplier: Some(self.multiplier),
            exchange: Some(self.exchange.clone()),
            currency: Some(self.currency.clone()),
            local_symbol: Some(self.local_symbol.clone()),
            trading_class: Some(self.trading_class.clone()),
            last_trade_date: Some(self.last_trade_date.clone()),
            ..Default::default()
        }
    }

    /// Whether a request's contract (fields left empty match anything) names this one.
    pub(super) fn matches(&self, wanted: &ContractQuery) -> bool {
        fn field(wanted: &Option<String>, have: &str) -> bool {
            match wanted.as_deref().map(str::trim) {
                None | Some("") => true,
                Some(w) => w.eq_ignore_ascii_case(have),
            }
        }
        if let Some(con_id) = wanted.con_id.filter(|id| *id > 0) {
            return con_id == self.con_id;
        }
        let symbol_given = wanted
            .symbol
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
            || wanted
                .local_symbol
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty());
        let exchange_ok = match wanted.exchange.as_deref() {
            None | Some("") | Some("SMART") => true,
            Some(e) => e.eq_ignore_ascii_case(&self.exchange),
        };
        let month_ok = match wanted.month.as_deref() {
            None | Some("") => true,
            Some(m) => self.last_trade_date.starts_with(m),
        };
        let multiplier_ok = match wanted.multiplier {
            Some(m) if m > 0.0 => (m - self.multiplier).abs() < 1e-9,
            _ => true,
        };
        symbol_given
            && field(&wanted.symbol, &self.symbol)
            && field(&wanted.local_symbol, &self.local_symbol)
            && field(&wanted.sec_type, &self.sec_type)
            && field(&wanted.currency, &self.currency)
            && field(&wanted.trading_class, &self.trading_class)
            && exchange_ok
            && month_ok
            && multiplier_ok
    }
}

/// One account summary row (`NetLiquidation`, `TotalCashValue`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAccountValue {
    pub account: String,
    pub tag: String,
    pub value: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakePosition {
    pub account: String,
    pub contract: FakeContract,
    pub position: f64,
    pub avg_cost: f64,
}

/// What the fake server reports. Tests fill it; later the simulated market and broker will.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeIbState {
    pub accounts: Vec<String>,
    pub account_values: Vec<FakeAccountValue>,
    pub positions: Vec<FakePosition>,
    pub contracts: Vec<FakeContract>,
    /// Historical bars by contract and bar size.
    pub bar_series: Vec<FakeBarSeries>,
    /// Quotes by contract id.
    pub quotes: BTreeMap<i32, FakeQuote>,
    pub next_order_id: i32,
    /// Orders placed, working and final.
    pub orders: Vec<FakeOrder>,
    pub executions: Vec<FakeExecution>,
    pub fill_mode: FakeFillMode,
    /// Commission per contract filled, in the contract's currency.
    pub commission_per_contract: f64,
    pub next_perm_id: i64,
    pub next_exec_id: u64,
    /// The next this many historical data requests are refused with a pacing violation
    /// (error 162), as TWS does past 60 requests in 10 minutes.
    pub pacing_violations: u32,
    /// The next this many `placeOrder` requests are carried out, but the connection is then
    /// dropped before any answer is sent (a gateway that dies mid-order).
    pub drop_after_place: u32,
    /// The fake's "now" is the wall clock plus this (`broker fake-ib` sets it from the app
    /// clock, so a home built under `SYSTRADE_NOW` gets its history back).
    pub clock_offset: chrono::Duration,
}

impl FakeIbState {
    /// The fake's "now": the wall clock shifted by [`FakeIbState::clock_offset`].
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.clock_offset
    }
}

impl Default for FakeIbState {
    fn default() -> Self {
        Self {
            accounts: vec!["DU1234567".to_string()],
            account_values: Vec::new(),
            positions: Vec::new(),
            contracts: Vec::new(),
            bar_series: Vec::new(),
            quotes: BTreeMap::new(),
            next_order_id: 1,
            orders: Vec::new(),
            executions: Vec::new(),
            fill_mode: FakeFillMode::default(),
            commission_per_contract: 2.0,
            next_perm_id: 1_000_000,
            next_exec_id: 0,
            pacing_violations: 0,
            drop_after_place: 0,
            clock_offset: chrono::Duration::zero(),
        }
    }
}

/// Where messages for one connected client go that it did not ask for (fills later on),
/// encoded by that client's connection.
type Outbox = mpsc::UnboundedSender<Vec<Reply>>;

struct Shared {
    state: Mutex<FakeIbState>,
    /// The connected clients, by client id.
    clients: Mutex<HashMap<i32, Outbox>>,
    /// Bumped to make every open connection close.
    drop_tx: watch::Sender<u64>,
}

impl Shared {
    /// Sends each message to its client, if that client is connected (a client that is not
    /// misses it, as with TWS; the state keeps the order and its executions).
    fn push(&self, pushes: Vec<(i32, Reply)>) {
        let mut by_client: BTreeMap<i32, Vec<Reply>> = BTreeMap::new();
        for (client_id, reply) in pushes {
            by_client.entry(client_id).or_default().push(reply);
        }
        let clients = lock(&self.clients);
        for (client_id, replies) in by_client {
            if let Some(outbox) = clients.get(&client_id) {
                let _ = outbox.send(replies);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake TWS. Dropping it closes the listener and every connection.
pub struct FakeIbServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FakeIbServer {
    /// Listens on 127.0.0.1:`port` (0 for an ephemeral port).
    pub async fn start(state: FakeIbState, port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (drop_tx, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            clients: Mutex::new(HashMap::new()),
            drop_tx,
        });
        let accept_shared = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        tracing::debug!(%peer, "fake-ib: connection");
                        let shared = Arc::clone(&accept_shared);
                        tokio::spawn(serve_connection(stream, shared));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "fake-ib: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes what later requests see.
    pub fn update_state(&self, change: impl FnOnce(&mut FakeIbState)) {
        change(&mut lock(&self.shared.state));
    }

    /// Closes every open client connection (the listener stays up), as TWS does on a restart.
    pub fn drop_connections(&self) {
        self.shared
            .drop_tx
            .send_modify(|generation| *generation += 1);
    }

    /// Client ids of the connections that completed `startApi` and are still open.
    pub fn connected_client_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = lock(&self.shared.clients).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// A copy of the state as it is now (to restart a server with it, as TWS keeps its
    /// orders over a gateway restart).
    pub fn state(&self) -> FakeIbState {
        lock(&self.shared.state).clone()
    }

    /// Fills every working order the current quotes allow, telling each order's client.
    pub fn fill_working_orders(&self) {
        let pushes = fake_orders::fill_working_orders(&mut lock(&self.shared.state));
        self.shared.push(pushes);
    }

    /// Stops listening and closes every connection; returns once the port is free again
    /// (to start another server on it, as after a gateway restart).
    pub async fn stop(mut self) {
        self.accept.abort();
        self.drop_connections();
        let _ = (&mut self.accept).await;
    }

    /// Serves until the process ends (for the `systrade broker fake-ib` command).
    pub async fn serve_forever(self) {
        std::future::pending::<()>().await;
    }
}

impl Drop for FakeIbServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_connections();
    }
}

/// Holds a client id for one connection; releases it when the connection ends.
struct ClientIdLease {
    shared: Arc<Shared>,
    id: i32,
}

impl ClientIdLease {
    fn acquire(shared: &Arc<Shared>, id: i32, outbox: Outbox) -> Option<Self> {
        let mut clients = lock(&shared.clients);
        if clients.contains_key(&id) {
            return None;
        }
        clients.insert(id, outbox);
        Some(Self {
            shared: Arc::clone(shared),
            id,
        })
    }
}

impl Drop for ClientIdLease {
    fn drop(&mut self) {
        lock(&self.shared.clients).remove(&self.id);
    }
}

/// Aborts the connection's reader task when the session ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let mut drop_rx = shared.drop_tx.subscribe();
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    let outcome = tokio::select! {
        outcome = session(reader, &mut writer, &shared) => outcome,
        _ = drop_rx.changed() => Ok(()),
    };
    match outcome {
        Ok(()) | Err(WireError::Closed) => tracing::debug!("fake-ib: connection closed"),
        Err(e) => tracing::info!(error = %e, "fake-ib: connection ended"),
    }
    let _ = writer.shutdown().await;
}

async fn send<W: AsyncWrite + Unpin>(writer: &mut W, bodies: &[Vec<u8>]) -> Result<(), WireError> {
    let mut bytes = Vec::new();
    for body in bodies {
        bytes.extend(wire::frame(body));
    }
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}

/// The server's half of the handshake: the version reply (server version and connection
/// time) and the encoding of the connection, or `None` for a range the fake cannot serve.
fn handshake_reply(
    client_min: i32,
    client_max: i32,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(Vec<u8>, Encoding)> {
    let (version, encoding) = if client_max >= MIN_SERVER_VERSION {
        let version = SERVER_VERSION
            .min(client_max)
            .max(client_min.min(SERVER_VERSION));
        (version, Encoding::Protobuf)
    } else if client_max >= MIN_TEXT_SERVER_VERSION && client_min <= TEXT_SERVER_VERSION {
        let version = client_max.min(TEXT_SERVER_VERSION);
        (version, Encoding::Text { version })
    } else {
        return None;
    };
    let time = now.format("%Y%m%d %H:%M:%S UTC").to_string();
    Some((wire::text_fields(&[version.to_string(), time]), encoding))
}

/// The client id from a `startApi` message in either encoding.
fn start_api_client_id(message: &Message) -> Result<i32, WireError> {
    match &message.payload {
        Payload::Protobuf(_) => {
            let request: proto::StartApiRequest = message.proto()?;
            Ok(request.client_id.unwrap_or(0))
        }
        Payload::Text(fields) => {
            fields
                .get(1)
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| WireError::Text {
                    id: message.id,
                    reason: format!("startApi without a client id: {fields:?}"),
                })
        }
    }
}

async fn session<R, W>(mut reader: R, writer: &mut W, shared: &Arc<Shared>) -> Result<(), WireError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let (min, max) = wire::read_client_hello(&mut reader).await?;
    let now = lock(&shared.state).now();
    let Some((reply, encoding)) = handshake_reply(min, max, now) else {
        tracing::info!(
            min,
            max,
            "fake-ib: client versions outside {MIN_TEXT_SERVER_VERSION}..={TEXT_SERVER_VERSION} \
             (text) and {MIN_SERVER_VERSION}.. (protobuf); closing"
        );
        return Ok(());
    };
    send(writer, &[reply]).await?;

    let start_body = wire::read_frame(&mut reader).await?;
    let start = match encoding {
        Encoding::Protobuf => wire::decode_body(&start_body)?,
        Encoding::Text { .. } => wire::decode_text_body(&start_body)?,
    };
    if start.id != outgoing::START_API {
        return Err(WireError::Text {
            id: start.id,
            reason: "expected startApi after the handshake".into(),
        });
    }
    let client_id = start_api_client_id(&start)?;
    let (outbox, mut pushed) = mpsc::unbounded_channel();
    let Some(_lease) = ClientIdLease::acquire(shared, client_id, outbox) else {
        let message =
            "Unable to connect as the client id is already in use. Retry with a unique client id.";
        let refusal = Reply::error(codes::NO_REQUEST, codes::CLIENT_ID_IN_USE, message);
        send(writer, &encoding.encode(&[refusal])).await?;
        return Ok(());
    };
    let greeting = {
        let state = lock(&shared.state);
        vec![
            Reply::NextValidId(state.next_order_id),
            Reply::ManagedAccounts(state.accounts.clone()),
        ]
    };
    send(writer, &encoding.encode(&greeting)).await?;

    // Frames are read on their own task so that waiting for the next request and for
    // messages pushed to this client can be raced without losing half-read frames.
    let (frame_tx, mut frames) = mpsc::channel::<Result<Vec<u8>, WireError>>(64);
    let _reader = AbortOnDrop(tokio::spawn(async move {
        loop {
            let frame = wire::read_frame(&mut reader).await;
            let failed = frame.is_err();
            if frame_tx.send(frame).await.is_err() || failed {
                break;
            }
        }
    }));
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let body = frame.unwrap_or(Err(WireError::Closed))?;
                let replies = match encoding.decode(&body) {
                    Ok(Request::GlobalCancel) => {
                        let pushes = fake_orders::global_cancel(&mut lock(&shared.state));
                        shared.push(pushes);
                        Vec::new()
                    }
                    Ok(request @ Request::PlaceOrder(_)) => {
                        let mut state = lock(&shared.state);
                        let now = state.now();
                        let replies = handle(&mut state, client_id, &request, now);
                        if state.drop_after_place > 0 {
                            state.drop_after_place -= 1;
                            tracing::info!("fake-ib: dropping the connection after a placeOrder");
                            return Ok(());
                        }
                        replies
                    }
                    Ok(request) => {
                        let mut state = lock(&shared.state);
                        let now = state.now();
                        handle(&mut state, client_id, &request, now)
                    }
                    Err(e) => vec![Reply::error(
                        codes::NO_REQUEST,
                        codes::REQUEST_VALIDATION,
                        e.to_string(),
                    )],
                };
                if !replies.is_empty() {
                    send(writer, &encoding.encode(&replies)).await?;
                }
            }
            Some(replies) = pushed.recv() => send(writer, &encoding.encode(&replies)).await?,
        }
    }
}

/// The replies to one protobuf request from `client_id`, as frame bodies. Orders change
/// the state.
pub fn respond(state: &mut FakeIbState, client_id: i32, message: &Message) -> Vec<Vec<u8>> {
    let replies = match fake_proto::decode(message) {
        Ok(request) => {
            let now = state.now();
            handle(state, client_id, &request, now)
        }
        Err(e) => vec![Reply::error(
            codes::NO_REQUEST,
            codes::REQUEST_VALIDATION,
            e.to_string(),
        )],
    };
    Encoding::Protobuf.encode(&replies)
}

#[cfg(test)]
#[path = "fake_server_tests.rs"]
pub(crate) mod tests;
