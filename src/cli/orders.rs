//! `systrade orders`: the three order stacks by hand (pysystemtrade's `interactive_order_stack`):
//! list the active stacks or the archive, put a manual instrument order on the stack (checked
//! against the locks, the overrides and the position limits first), record a balance trade done
//! outside the system, ask to cancel an order, lock and unlock instruments, clear a stack, and
//! show the position breaks. Without a subcommand, on a terminal, a menu offers the same (see
//! [`menu`]). Bad input exits 2 and a refused request 3, with nothing written.

mod menu;
mod tables;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::broker::parse_contract;
use super::context::{Ctx, GlobalOpts};
use super::output::{local, print_json};
use super::positions::{view_exit_code, PositionView};
use super::prices::known_instrument;
use super::CliError;
use crate::adapters::reference_files::load_reference_data;
use crate::domain::controls::{
    apply_controls, ControlStore, LimitRecord, OverrideRecord, StrategyName,
};
use crate::domain::instrument::InstrumentCode;
use crate::domain::orders::{
    AddOutcome, BalanceTrade, NewInstrumentOrder, OrderId, OrderStore, OrderType, StackLevel,
    StrategyPosition,
};
use crate::engine::diagnostic::did_you_mean;

#[derive(Args, Debug)]
pub struct OrdersArgs {
    #[command(subcommand)]
    pub command: Option<OrdersCommand>,
}

#[derive(Subcommand, Debug)]
pub enum OrdersCommand {
    /// The active order stacks (instrument, contract, broker), or with --history the archive.
    List(ListArgs),
    /// Put a manual order on the instrument stack: the stack handler spawns its contract orders
    /// and sends them. Refused (exit 3, nothing written) when the instrument is locked or the
    /// overrides or position limits would change the trade.
    Trade(TradeArgs),
    /// Record a trade done outside the system (at the broker's screen, or a fill the system
    /// missed) as filled at all three levels: moves the strategy position and the contract
    /// position together. Use it to offset a position break (see `orders breaks`); nothing is
    /// sent to the broker, and no override or position limit applies (it records what
    /// happened).
    Balance(BalanceArgs),
    /// Ask to cancel an instrument order and its family: the stack handler cancels what is
    /// working at the broker, then archives the orders.
    Cancel(CancelArgs),
    /// Lock an instrument: no orders are spawned or sent for it until it is unlocked.
    Lock(LockArgs),
    /// Unlock an instrument (the stack handler locks it again while a position break remains).
    Unlock(UnlockArgs),
    /// Remove every active order of one stack that has no live broker order below it (archived
    /// as cancelled). Asks first on a terminal; elsewhere needs --yes.
    Clear(ClearArgs),
    /// Position breaks: system vs broker per contract (these lock instruments), strategies vs
    /// contracts per instrument, and the instrument locks. Exit 1 if the broker cannot be asked.
    Breaks(JsonArgs),
}

#[derive(Args, Debug)]
pub struct JsonArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One of the three stacks.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackArg {
    Instrument,
    Contract,
    Broker,
}

impl From<StackArg> for StackLevel {
    fn from(s: StackArg) -> Self {
        match s {
            StackArg::Instrument => StackLevel::Instrument,
            StackArg::Contract => StackLevel::Contract,
            StackArg::Broker => StackLevel::Broker,
        }
    }
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this stack (default: all three).
    #[arg(long, value_enum)]
    pub stack: Option<StackArg>,
    /// The archived (completed or cancelled) orders instead of the active ones.
    #[arg(long)]
    pub history: bool,
    /// As JSON: {"history": bool, "instrument_orders": [...], "contract_orders": [...],
    /// "broker_orders": [...]} (only the stacks asked for).
    #[arg(long)]
    pub json: bool,
}

/// How a manual order is executed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTypeArg {
    /// A passive limit order that turns aggressive (best execution).
    Best,
    /// A market order.
    Market,
    /// A limit order at --limit-price, left working.
    Limit,
}

impl From<OrderTypeArg> for OrderType {
    fn from(t: OrderTypeArg) -> Self {
        match t {
            OrderTypeArg::Best => OrderType::Best,
            OrderTypeArg::Market => OrderType::Market,
            OrderTypeArg::Limit => OrderType::Limit,
        }
    }
}

#[derive(Args, Debug)]
pub struct TradeArgs {
    /// The strategy (one of strategies.weights in the config).
    #[arg(long)]
    pub strategy: String,
    /// The instrument (a code of the reference data).
    #[arg(long)]
    pub instrument: String,
    /// Contracts: positive buys, negative sells (not 0).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = parse_quantity)]
    pub quantity: i64,
    /// How the order is executed.
    #[arg(long = "type", value_enum, default_value = "best")]
    pub order_type: OrderTypeArg,
    /// The limit price (only with --type limit).
    #[arg(long, allow_hyphen_values = true)]
    pub limit_price: Option<f64>,
    /// Print JSON on stdout: {"action": "trade", "order": {...}}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BalanceArgs {
    /// The strategy whose position the trade belongs to (one of strategies.weights).
    #[arg(long)]
    pub strategy: String,
    /// The instrument (a code of the reference data).
    #[arg(long)]
    pub instrument: String,
    /// The contract traded: YYYYMM or YYYYMMDD.
    #[arg(long)]
    pub contract: String,
    /// Contracts traded: positive bought, negative sold (not 0).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = parse_quantity)]
    pub quantity: i64,
    /// The price it was done at (positive).
    #[arg(long, allow_hyphen_values = true)]
    pub price: f64,
    /// Print JSON on stdout: {"action": "balance", "order_id", "strategy_position",
    /// "contract_position"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The id of an active instrument order (as `orders list` shows it).
    pub id: OrderId,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LockArgs {
    /// The instrument to lock.
    pub instrument: String,
    /// Why (shown with the lock).
    #[arg(long)]
    pub reason: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// The instrument to unlock.
    pub instrument: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ClearArgs {
    /// The stack to clear.
    #[arg(long, value_enum)]
    pub stack: StackArg,
    /// Do not ask (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    CliError::Invalid(msg.into()).into()
}

fn refused(msg: impl Into<String>) -> anyhow::Error {
    CliError::Refused(msg.into()).into()
}

/// A trade's quantity: a non-zero whole number of contracts.
fn check_quantity(quantity: i64) -> Result<i64, String> {
    if quantity == 0 {
        Err("the quantity is 0: give a non-zero number of contracts (positive buys, negative sells)".into())
    } else {
        Ok(quantity)
    }
}

/// `--quantity`: a whole, non-zero number of contracts.
fn parse_quantity(text: &str) -> Result<i64, String> {
    let n = text.trim().parse::<i64>().map_err(|_| {
        format!("`{text}` is not a whole number of contracts (e.g. 3 to buy, -2 to sell)")
    })?;
    check_quantity(n)
}

/// A price done at: finite and positive.
fn check_price(price: f64) -> Result<f64, String> {
    if price.is_finite() && price > 0.0 {
        Ok(price)
    } else {
        Err(format!(
            "--price {price}: the price must be a positive number"
        ))
    }
}

/// The order type and limit price: a limit price with `limit` and only then.
fn order_pricing(
    order_type: OrderTypeArg,
    limit_price: Option<f64>,
) -> Result<(OrderType, Option<f64>), String> {
    match (order_type, limit_price) {
        (OrderTypeArg::Limit, None) => {
            Err("--type limit needs --limit-price (the price to leave the order at)".into())
        }
        (OrderTypeArg::Limit, Some(p)) if !p.is_finite() => {
            Err(format!("--limit-price {p}: not a price"))
        }
        (OrderTypeArg::Limit, Some(p)) => Ok((OrderType::Limit, Some(p))),
        (other, Some(p)) => Err(format!(
            "--limit-price {p} is only for --type limit (this order is {})",
            OrderType::from(other)
        )),
        (other, None) => Ok((other.into(), None)),
    }
}

/// A strategy of `strategies.weights`; anything else is refused with the list.
fn configured_strategy(weights: &[(String, f64)], text: &str) -> Result<StrategyName, String> {
    let name = StrategyName::new(text.trim()).map_err(|e| format!("--strategy: {e}"))?;
    let configured: Vec<&str> = weights.iter().map(|(n, _)| n.as_str()).collect();
    if configured.contains(&name.as_str()) {
        return Ok(name);
    }
    if configured.is_empty() {
        return Err(format!(
            "--strategy: unknown strategy `{name}`: strategies.weights in the config lists none"
        ));
    }
    let help = did_you_mean(name.as_str(), configured.iter().copied())
        .map(|h| format!("; {h}"))
        .unwrap_or_default();
    Err(format!(
        "--strategy: unknown strategy `{name}` (strategies.weights in the config: {}){help}",
        configured.join(", ")
    ))
}

/// An instrument of the reference data; `what` names the argument in the error.
fn instrument_code(ctx: &Ctx, what: &str, text: &str) -> anyhow::Result<InstrumentCode> {
    let reference = load_reference_data(&ctx.home.reference_dir())?;
    known_instrument(&reference, text.trim()).with_context(|| what.to_string())
}

/// Why the controls refuse a manual trade: the controlled trade differs from the requested one.
fn controls_refusal(
    strategy: &StrategyName,
    instrument: &InstrumentCode,
    quantity: i64,
    positions: &[StrategyPosition],
    overrides: &[OverrideRecord],
    limits: &[LimitRecord],
) -> Option<String> {
    let strategy_position: i64 = positions
        .iter()
        .filter(|p| p.strategy == strategy.as_str() && &p.instrument == instrument)
        .map(|p| p.position)
        .sum();
    let instrument_position: i64 = positions
        .iter()
        .filter(|p| &p.instrument == instrument)
        .map(|p| p.position)
        .sum();
    let controlled = apply_controls(
        strategy,
        instrument,
        strategy_position,
        instrument_position,
        quantity,
        overrides,
        limits,
    );
    if controlled.trade == quantity {
        return None;
    }
    let reasons: Vec<String> = controlled
        .reasons
        .iter()
        .map(|r| format!("  - {r}"))
        .collect();
    Some(format!(
        "the controls would change this trade of {quantity:+} in {strategy}/{instrument} \
         (strategy position {strategy_position}, instrument position {instrument_position}) \
         to {:+}; nothing written:\n{}\n  (`systrade overrides list`, `systrade limits list` \
         show the controls)",
        controlled.trade,
        reasons.join("\n")
    ))
}

/// A manual trade as asked for on the command line or in the menu.
pub(super) struct TradeRequest {
    pub strategy: String,
    pub instrument: String,
    pub quantity: i64,
    pub order_type: OrderTypeArg,
    pub limit_price: Option<f64>,
}

/// A balance trade as asked for.
pub(super) struct BalanceRequest {
    pub strategy: String,
    pub instrument: String,
    pub contract: String,
    pub quantity: i64,
    pub price: f64,
}

/// Prints `systrade orders --help` on stderr (used off a terminal with no subcommand).
fn help_and_exit_2() -> anyhow::Result<i32> {
    use clap::CommandFactory;
    match super::Cli::command().try_get_matches_from(["systrade", "orders", "--help"]) {
        Err(e) => eprintln!("{}", e.render()),
        Ok(_) => {
            eprintln!("usage: systrade orders <list|trade|balance|cancel|lock|unlock|clear|breaks>")
        }
    }
    eprintln!("error: give a subcommand (list, trade, balance, cancel, lock, unlock, clear, breaks); the menu needs a terminal");
    Ok(2)
}

pub async fn orders(opts: &GlobalOpts, a: OrdersArgs) -> anyhow::Result<i32> {
    let Some(command) = a.command else {
        if !menu::on_terminal() {
            return help_and_exit_2();
        }
        let ctx = Ctx::open(opts).await?;
        return menu::run(&ctx).await;
    };
    let ctx = Ctx::open(opts).await?;
    match command {
        OrdersCommand::List(l) => list(&ctx, l.stack, l.history, l.json).await,
        OrdersCommand::Trade(t) => {
            let req = TradeRequest {
                strategy: t.strategy,
                instrument: t.instrument,
                quantity: t.quantity,
                order_type: t.order_type,
                limit_price: t.limit_price,
            };
            trade(&ctx, &req, t.json).await
        }
        OrdersCommand::Balance(b) => {
            let req = BalanceRequest {
                strategy: b.strategy,
                instrument: b.instrument,
                contract: b.contract,
                quantity: b.quantity,
                price: b.price,
            };
            balance(&ctx, &req, b.json).await
        }
        OrdersCommand::Cancel(c) => cancel(&ctx, c.id, c.json).await,
        OrdersCommand::Lock(l) => lock(&ctx, &l.instrument, &l.reason, l.json).await,
        OrdersCommand::Unlock(u) => unlock(&ctx, &u.instrument, u.json).await,
        OrdersCommand::Clear(c) => clear(&ctx, c.stack, c.yes, c.json).await,
        OrdersCommand::Breaks(b) => breaks(&ctx, b.json).await,
    }
}

async fn list(
    ctx: &Ctx,
    stack: Option<StackArg>,
    history: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let wanted = |s: StackArg| stack.is_none_or(|w| w == s);
    let active = !history;
    let instrument = if wanted(StackArg::Instrument) {
        Some(orders.instrument_orders(active).await?)
    } else {
        None
    };
    let contract = if wanted(StackArg::Contract) {
        Some(orders.contract_orders(active).await?)
    } else {
        None
    };
    let broker = if wanted(StackArg::Broker) {
        Some(orders.broker_orders(active).await?)
    } else {
        None
    };
    if json {
        let mut v = json!({ "history": history });
        if let Some(o) = &instrument {
            v["instrument_orders"] = serde_json::to_value(o)?;
        }
        if let Some(o) = &contract {
            v["contract_orders"] = serde_json::to_value(o)?;
        }
        if let Some(o) = &broker {
            v["broker_orders"] = serde_json::to_value(o)?;
        }
        print_json(&v)?;
        return Ok(0);
    }
    let which = if history { "archived" } else { "active" };
    let mut first = true;
    let mut section = |title: String, body: String| -> anyhow::Result<()> {
        if !first {
            outln!();
        }
        first = false;
        outln!("{title}");
        out!("{body}");
        Ok(())
    };
    if let Some(o) = &instrument {
        section(
            format!("instrument stack: {} {which} order(s)", o.len()),
            tables::instrument_table(o),
        )?;
    }
    if let Some(o) = &contract {
        section(
            format!("contract stack: {} {which} order(s)", o.len()),
            tables::contract_table(o),
        )?;
    }
    if let Some(o) = &broker {
        section(
            format!("broker stack: {} {which} order(s)", o.len()),
            tables::broker_table(o),
        )?;
    }
    Ok(0)
}

pub(super) async fn trade(ctx: &Ctx, req: &TradeRequest, json: bool) -> anyhow::Result<i32> {
    let quantity = check_quantity(req.quantity).map_err(|e| invalid(format!("--quantity: {e}")))?;
    let strategy =
        configured_strategy(&ctx.config.strategies.weights, &req.strategy).map_err(invalid)?;
    let instrument = instrument_code(ctx, "--instrument", &req.instrument)?;
    let (order_type, limit_price) =
        order_pricing(req.order_type, req.limit_price).map_err(invalid)?;
    let orders: &dyn OrderStore = ctx.store.as_ref();
    if let Some(l) = orders
        .locks()
        .await?
        .into_iter()
        .find(|l| l.instrument == instrument)
    {
        return Err(refused(format!(
            "{instrument} is locked since {} ({}): no orders are taken for it; nothing written \
             (`systrade orders unlock {instrument}` once that is resolved)",
            local(l.locked_at),
            l.reason
        )));
    }
    let positions = orders.strategy_positions().await?;
    let controls: &dyn ControlStore = ctx.store.as_ref();
    let overrides = controls.overrides().await?;
    let limits = controls.position_limits().await?;
    if let Some(why) = controls_refusal(
        &strategy,
        &instrument,
        quantity,
        &positions,
        &overrides,
        &limits,
    ) {
        return Err(refused(why));
    }
    let new = NewInstrumentOrder {
        strategy: strategy.to_string(),
        instrument: instrument.clone(),
        trade: quantity,
        order_type,
        limit_price,
        reference_price: None,
        reference_contract: None,
        reference_time: None,
        generated_at: ctx.clock.now(),
        manual: true,
        roll_order: false,
    };
    let order = match orders.add_instrument_order(&new).await? {
        AddOutcome::Added { order } => order,
        AddOutcome::Netted { existing } => {
            return Err(refused(format!(
                "orders {existing:?} already cover this trade; nothing written"
            )))
        }
        AddOutcome::Zero => return Err(invalid("a trade of 0 contracts is not an order")),
    };
    if json {
        print_json(&json!({ "action": "trade", "order": order }))?;
    } else {
        let price = order
            .limit_price
            .map(|p| format!(" at {p}"))
            .unwrap_or_default();
        outln!(
            "instrument order {}: {strategy} {instrument} {:+} {}{price} (manual), on the stack; \
             the stack handler spawns and sends it",
            order.id,
            order.trade,
            order.order_type
        );
    }
    Ok(0)
}

pub(super) async fn balance(ctx: &Ctx, req: &BalanceRequest, json: bool) -> anyhow::Result<i32> {
    let quantity = check_quantity(req.quantity).map_err(|e| invalid(format!("--quantity: {e}")))?;
    let strategy =
        configured_strategy(&ctx.config.strategies.weights, &req.strategy).map_err(invalid)?;
    let instrument = instrument_code(ctx, "--instrument", &req.instrument)?;
    let contract = parse_contract(req.contract.trim())?;
    let price = check_price(req.price).map_err(invalid)?;
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let id = orders
        .balance_trade(&BalanceTrade {
            strategy: strategy.to_string(),
            instrument: instrument.clone(),
            contract,
            quantity,
            price,
            at: ctx.clock.now(),
        })
        .await?;
    let strategy_position = orders
        .strategy_positions()
        .await?
        .into_iter()
        .find(|p| p.strategy == strategy.as_str() && p.instrument == instrument)
        .map_or(0, |p| p.position);
    let contract_position = orders
        .contract_positions()
        .await?
        .into_iter()
        .find(|p| p.instrument == instrument && p.contract == contract)
        .map_or(0, |p| p.position);
    if json {
        print_json(&json!({
            "action": "balance",
            "order_id": id,
            "strategy": strategy,
            "instrument": instrument,
            "contract": contract,
            "quantity": quantity,
            "price": price,
            "strategy_position": strategy_position,
            "contract_position": contract_position,
        }))?;
    } else {
        outln!(
            "balance trade recorded as instrument order {id}: {strategy} {instrument} {contract} \
             {quantity:+} at {price}"
        );
        outln!(
            "position of {strategy} in {instrument}: {strategy_position}; system position in \
             {instrument} {contract}: {contract_position}"
        );
    }
    Ok(0)
}

pub(super) async fn cancel(ctx: &Ctx, id: OrderId, json: bool) -> anyhow::Result<i32> {
    let orders: &dyn OrderStore = ctx.store.as_ref();
    if !orders.request_cancel(id).await? {
        let archived = orders
            .instrument_orders(false)
            .await?
            .iter()
            .any(|o| o.id == id);
        return Err(invalid(if archived {
            format!(
                "instrument order {id} is not active (it is archived: `systrade orders list \
                 --history`); nothing to cancel"
            )
        } else {
            format!(
                "no active instrument order {id}; nothing to cancel (`systrade orders list \
                 --stack instrument` shows their ids)"
            )
        }));
    }
    if json {
        print_json(&json!({ "action": "cancel", "id": id, "cancel_requested": true }))?;
    } else {
        outln!(
            "cancel of instrument order {id} requested: the stack handler cancels what is \
             working at the broker and archives the family"
        );
    }
    Ok(0)
}

pub(super) async fn lock(
    ctx: &Ctx,
    instrument: &str,
    reason: &str,
    json: bool,
) -> anyhow::Result<i32> {
    let instrument = instrument_code(ctx, "lock", instrument)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("--reason: say why the instrument is locked"));
    }
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let new = orders
        .lock_instrument(&instrument, reason, ctx.clock.now())
        .await?;
    let current = orders
        .locks()
        .await?
        .into_iter()
        .find(|l| l.instrument == instrument);
    if json {
        print_json(
            &json!({ "action": "lock", "instrument": instrument, "new": new, "lock": current }),
        )?;
    } else if new {
        outln!("{instrument} locked: {reason}");
    } else {
        let why = current.map(|l| format!(" since {}: {}", local(l.locked_at), l.reason));
        outln!("{instrument} was locked already{}", why.unwrap_or_default());
    }
    Ok(0)
}

pub(super) async fn unlock(ctx: &Ctx, instrument: &str, json: bool) -> anyhow::Result<i32> {
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let text = instrument.trim();
    // A lock is removable even for an instrument the reference data no longer has.
    let locked = orders
        .locks()
        .await?
        .into_iter()
        .find(|l| l.instrument.as_str() == text);
    let Some(lock) = locked else {
        let code = instrument_code(ctx, "unlock", text)?;
        return Err(invalid(format!(
            "{code} is not locked; nothing to unlock (`systrade orders breaks` shows the locks)"
        )));
    };
    orders.unlock_instrument(&lock.instrument).await?;
    if json {
        print_json(
            &json!({ "action": "unlock", "instrument": lock.instrument, "previous": lock }),
        )?;
    } else {
        outln!(
            "{} unlocked (was locked since {}: {}); a remaining position break locks it again",
            lock.instrument,
            local(lock.locked_at),
            lock.reason
        );
    }
    Ok(0)
}

pub(super) async fn clear(
    ctx: &Ctx,
    stack: StackArg,
    yes: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let level = StackLevel::from(stack);
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let active = match level {
        StackLevel::Instrument => orders.instrument_orders(true).await?.len(),
        StackLevel::Contract => orders.contract_orders(true).await?.len(),
        StackLevel::Broker => orders.broker_orders(true).await?.len(),
    };
    if !yes {
        if !menu::on_terminal() {
            return Err(refused(format!(
                "refusing to clear the {} stack ({active} active order(s)) without --yes when \
                 not on a terminal: add --yes",
                level.as_str()
            )));
        }
        let sure = dialoguer::Confirm::new()
            .with_prompt(format!(
                "Clear the {} stack ({active} active order(s); those with a live broker order stay)?",
                level.as_str()
            ))
            .default(false)
            .interact()
            .context("prompt cancelled")?;
        if !sure {
            outln!("nothing cleared");
            return Ok(0);
        }
    }
    let cleared = orders.clear_stack(level, ctx.clock.now()).await?;
    if json {
        print_json(
            &json!({ "action": "clear", "stack": level, "active": active, "cleared": cleared }),
        )?;
    } else {
        outln!(
            "{} stack: cleared {cleared} of {active} active order(s){}",
            level.as_str(),
            if cleared < active {
                " (orders with a live broker order below them stay: cancel them first)"
            } else {
                ""
            }
        );
    }
    Ok(0)
}

pub(super) async fn breaks(ctx: &Ctx, json: bool) -> anyhow::Result<i32> {
    let view = PositionView::load(ctx).await?;
    if json {
        print_json(&json!({
            "breaks": view.breaks_json(),
            "locks": view.locks,
            "broker_error": view.broker_error,
        }))?;
    } else {
        out!("{}", view.breaks_text());
    }
    Ok(view_exit_code(&view))
}

#[cfg(test)]
mod tests;
