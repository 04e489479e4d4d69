//! `systrade broker`: check the configured broker (account, positions, a price), list and clear
//! the client ids processes hold, and run a fake IB Gateway built from the home.

use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{print_json, table};
use super::CliError;
use crate::adapters::ib::contracts::IbContractMap;
use crate::domain::broker::ClientIdLeases;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;

#[derive(Args, Debug)]
pub struct BrokerArgs {
    #[command(subcommand)]
    pub command: BrokerCommand,
}

#[derive(Subcommand, Debug)]
pub enum BrokerCommand {
    /// Connect to the configured broker and print the account value, positions and a quote.
    Check(CheckArgs),
    /// The client ids held by systrade processes (IB allows one connection per id).
    ClientIds(ClientIdsArgs),
    /// Run a fake TWS / IB Gateway on 127.0.0.1 with this home's prices and simulated account,
    /// so the IB path can be tried without an account (point `broker.kind = "ib"` and
    /// `broker.ib_port` at it, or any IB API client). Runs until interrupted.
    FakeIb(FakeIbArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Quote this instrument (default: the first position's).
    #[arg(long)]
    pub instrument: Option<String>,
    /// Its contract, YYYYMM or YYYYMMDD (default: the position's contract).
    #[arg(long)]
    pub contract: Option<String>,
    /// As JSON: {broker, health, account: {currency, value, margin_used}, positions: [...],
    /// quote: {instrument, contract, bid, ask, last} | null}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ClientIdsArgs {
    /// Delete the leases of processes that are gone.
    #[arg(long)]
    pub clear_dead: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FakeIbArgs {
    /// Port to listen on (0: any free port, printed).
    #[arg(long, default_value_t = 4002)]
    pub port: u16,
}

pub async fn broker(opts: &GlobalOpts, a: BrokerArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    match a.command {
        BrokerCommand::Check(c) => check(&ctx, c).await,
        BrokerCommand::ClientIds(c) => client_ids(&ctx, c).await,
        BrokerCommand::FakeIb(f) => fake_ib(&ctx, f).await,
    }
}

pub(super) fn parse_contract(text: &str) -> anyhow::Result<ContractId> {
    let padded = if text.len() == 6 {
        format!("{text}00")
    } else {
        text.to_string()
    };
    ContractId::parse(&padded)
        .map_err(|e| CliError::Invalid(format!("--contract `{text}`: {e}")).into())
}

async fn check(ctx: &Ctx, a: CheckArgs) -> anyhow::Result<i32> {
    let broker = ctx.broker();
    let currency = ctx.config.capital.base_currency.clone();
    let account = broker
        .account_value(&currency)
        .await
        .map_err(|e| anyhow::anyhow!("{} broker: account value: {e}", broker.kind()))?;
    let positions = broker
        .positions()
        .await
        .map_err(|e| anyhow::anyhow!("{} broker: positions: {e}", broker.kind()))?;
    let target = match (&a.instrument, &a.contract) {
        (Some(i), Some(c)) => Some((
            InstrumentCode::new(i).map_err(|e| CliError::Invalid(format!("--instrument: {e}")))?,
            parse_contract(c)?,
        )),
        (Some(i), None) => {
            let code = InstrumentCode::new(i)
                .map_err(|e| CliError::Invalid(format!("--instrument: {e}")))?;
            let held = positions
                .iter()
                .find(|p| p.instrument == code)
                .map(|p| p.contract);
            match held {
                Some(c) => Some((code, c)),
                None => {
                    return Err(CliError::Invalid(format!(
                        "no position in {i}: give --contract YYYYMM"
                    ))
                    .into())
                }
            }
        }
        (None, Some(_)) => {
            return Err(CliError::Invalid("--contract needs --instrument".into()).into())
        }
        (None, None) => positions
            .first()
            .map(|p| (p.instrument.clone(), p.contract)),
    };
    let quote = match &target {
        Some((instrument, contract)) => {
            Some(broker.quote(instrument, *contract).await.map_err(|e| {
                anyhow::anyhow!(
                    "{} broker: quote for {instrument} {contract}: {e}",
                    broker.kind()
                )
            })?)
        }
        None => None,
    };
    let health = broker.health().await;
    broker.close().await;
    if a.json {
        print_json(&json!({
            "broker": broker.kind(),
            "health": health,
            "account": {"currency": currency, "value": account.value, "margin_used": account.margin_used},
            "positions": positions,
            "quote": target.as_ref().zip(quote.as_ref()).map(|((i, c), q)| json!({
                "instrument": i.as_str(), "contract": c.to_string(),
                "bid": q.bid, "ask": q.ask, "last": q.last,
            })),
        }))?;
    } else {
        println!("broker: {} ({})", broker.kind(), health.detail);
        println!(
            "account value: {:.2} {currency} (margin used {:.2})",
            account.value, account.margin_used
        );
        if positions.is_empty() {
            println!("positions: none");
        } else {
            let rows: Vec<Vec<String>> = positions
                .iter()
                .map(|p| {
                    vec![
                        p.instrument.to_string(),
                        p.contract.to_string(),
                        p.quantity.to_string(),
                    ]
                })
                .collect();
            print!("{}", table(&["instrument", "contract", "quantity"], &rows));
        }
        match target.as_ref().zip(quote.as_ref()) {
            Some(((i, c), q)) => println!(
                "{i} {c}: bid {} ask {} last {}",
                q.bid,
                q.ask,
                q.last.map_or("-".into(), |l| l.to_string())
            ),
            None => println!("no quote: no position; give --instrument and --contract"),
        }
    }
    Ok(0)
}

async fn client_ids(ctx: &Ctx, a: ClientIdsArgs) -> anyhow::Result<i32> {
    let store: &dyn ClientIdLeases = ctx.store.as_ref();
    let cleared = if a.clear_dead {
        store.clear_dead().await?
    } else {
        0
    };
    let leases = store.leases().await?;
    if a.json {
        print_json(&json!({"cleared": cleared, "leases": leases}))?;
        return Ok(0);
    }
    if a.clear_dead {
        println!("cleared {cleared} client id(s) of processes that are gone");
    }
    if leases.is_empty() {
        println!("no client ids are held");
    } else {
        let rows: Vec<Vec<String>> = leases
            .iter()
            .map(|l| {
                vec![
                    l.client_id.to_string(),
                    l.pid.to_string(),
                    l.host.clone(),
                    l.purpose.clone(),
                    super::output::local(l.acquired_at),
                    if l.dead {
                        "dead".into()
                    } else {
                        "alive".into()
                    },
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &["client id", "pid", "host", "purpose", "since", "process"],
                &rows
            )
        );
    }
    Ok(0)
}

async fn fake_ib(ctx: &Ctx, a: FakeIbArgs) -> anyhow::Result<i32> {
    use crate::adapters::ib::fake_home::fake_state_from_home;
    use crate::adapters::ib::fake_server::FakeIbServer;
    let contracts = match &ctx.ib_contracts {
        Some(map) => Arc::clone(map),
        None => Arc::new(IbContractMap::load(&ctx.home.reference_dir())?),
    };
    let reference =
        crate::adapters::reference_files::load_reference_data(&ctx.home.reference_dir())
            .map_err(|d| anyhow::anyhow!("reference data: {d}"))?;
    let prices = crate::adapters::parquet::ParquetPriceStore::new(ctx.home.data_dir());
    // The account and positions come from the simulated broker whatever broker.kind says.
    let sim = ctx.sim_broker();
    let state = fake_state_from_home(
        &prices,
        &reference,
        &contracts,
        sim.as_ref(),
        &ctx.config.capital.base_currency,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot build the fake gateway's state: {e}"))?;
    // "Now" is the app clock (`SYSTRADE_NOW`), as for every other command: a home built under
    // a fixed clock has its bars at that time, and an empty end date means its now.
    let mut state = state;
    state.clock_offset = ctx.clock.now() - chrono::Utc::now();
    let (n_contracts, n_positions) = (state.contracts.len(), state.positions.len());
    let server = FakeIbServer::start(state, a.port)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", a.port))?;
    println!(
        "fake IB Gateway listening on {} ({n_contracts} contracts, {n_positions} positions); Ctrl-C stops it",
        server.local_addr()
    );
    tokio::select! {
        _ = server.serve_forever() => {}
        _ = tokio::signal::ctrl_c() => println!("stopped"),
    }
    Ok(0)
}
