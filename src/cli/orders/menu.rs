//! The menu of `systrade orders` with no subcommand, on a terminal: view the stacks and the
//! archive, manual and balance trades, cancel, lock and unlock, clear a stack, show the breaks,
//! until "quit". A bad entry prints its error and returns to the menu; nothing is written for it.

use std::io::IsTerminal;

use anyhow::Context as _;

use super::*;

/// Whether prompts can be shown.
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn ask(prompt: &str) -> anyhow::Result<String> {
    dialoguer::Input::<String>::new()
        .with_prompt(prompt)
        .interact_text()
        .context("input cancelled")
}

fn pick(prompt: &str, items: &[String]) -> anyhow::Result<usize> {
    dialoguer::Select::new()
        .with_prompt(prompt)
        .items(items)
        .default(0)
        .interact()
        .context("menu cancelled")
}

fn confirm(prompt: &str) -> anyhow::Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .interact()
        .context("prompt cancelled")
}

/// A strategy of `strategies.weights` (picked when there are any, typed otherwise).
fn ask_strategy(ctx: &Ctx) -> anyhow::Result<String> {
    let names: Vec<String> = ctx
        .config
        .strategies
        .weights
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    if names.is_empty() {
        return ask("Strategy");
    }
    let i = pick("Strategy", &names)?;
    Ok(names.get(i).cloned().unwrap_or_default())
}

fn ask_quantity(prompt: &str) -> anyhow::Result<i64> {
    parse_quantity(&ask(prompt)?).map_err(|e| invalid(format!("quantity: {e}")))
}

fn ask_number(prompt: &str) -> anyhow::Result<f64> {
    let text = ask(prompt)?;
    text.trim()
        .parse::<f64>()
        .map_err(|_| invalid(format!("`{text}` is not a number")))
}

fn pick_stack() -> anyhow::Result<StackArg> {
    const STACKS: [StackArg; 3] = [StackArg::Instrument, StackArg::Contract, StackArg::Broker];
    let labels: Vec<String> = ["instrument", "contract", "broker"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let i = pick("Which stack?", &labels)?;
    Ok(STACKS.get(i).copied().unwrap_or(StackArg::Instrument))
}

async fn trade_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let strategy = ask_strategy(ctx)?;
    let instrument = ask("Instrument")?;
    let quantity = ask_quantity("Contracts (positive buys, negative sells)")?;
    let types = [
        OrderTypeArg::Best,
        OrderTypeArg::Market,
        OrderTypeArg::Limit,
    ];
    let labels: Vec<String> = ["best", "market", "limit"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let order_type = types
        .get(pick("Order type", &labels)?)
        .copied()
        .unwrap_or(OrderTypeArg::Best);
    let limit_price = if order_type == OrderTypeArg::Limit {
        Some(ask_number("Limit price")?)
    } else {
        None
    };
    if !confirm(&format!(
        "Put a manual order {strategy} {instrument} {quantity:+} ({}) on the instrument stack?",
        OrderType::from(order_type)
    ))? {
        outln!("nothing written");
        return Ok(0);
    }
    let req = TradeRequest {
        strategy,
        instrument,
        quantity,
        order_type,
        limit_price,
    };
    trade(ctx, &req, false).await
}

async fn balance_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let strategy = ask_strategy(ctx)?;
    let instrument = ask("Instrument")?;
    let contract = ask("Contract (YYYYMM or YYYYMMDD)")?;
    let quantity = ask_quantity("Contracts traded (positive bought, negative sold)")?;
    let price = ask_number("Price it was done at")?;
    if !confirm(&format!(
        "Record {strategy} {instrument} {contract} {quantity:+} at {price} as done outside the system?"
    ))? {
        outln!("nothing written");
        return Ok(0);
    }
    let req = BalanceRequest {
        strategy,
        instrument,
        contract,
        quantity,
        price,
    };
    balance(ctx, &req, false).await
}

async fn cancel_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let active: Vec<_> = orders
        .instrument_orders(true)
        .await?
        .into_iter()
        .filter(|o| !o.cancel_requested)
        .collect();
    if active.is_empty() {
        outln!("no active instrument orders to cancel");
        return Ok(0);
    }
    let labels: Vec<String> = active
        .iter()
        .map(|o| {
            format!(
                "{}: {} {} {:+} (filled {:+}, {})",
                o.id, o.strategy, o.instrument, o.trade, o.fill, o.order_type
            )
        })
        .collect();
    match active.get(pick("Cancel which instrument order?", &labels)?) {
        Some(o) => cancel(ctx, o.id, false).await,
        None => Ok(0),
    }
}

async fn lock_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let instrument = ask("Instrument to lock")?;
    let reason = ask("Reason")?;
    lock(ctx, &instrument, &reason, false).await
}

async fn unlock_prompt(ctx: &Ctx) -> anyhow::Result<i32> {
    let orders: &dyn OrderStore = ctx.store.as_ref();
    let locks = orders.locks().await?;
    if locks.is_empty() {
        outln!("no instruments are locked");
        return Ok(0);
    }
    let labels: Vec<String> = locks
        .iter()
        .map(|l| {
            format!(
                "{} (since {}: {})",
                l.instrument,
                local(l.locked_at),
                l.reason
            )
        })
        .collect();
    match locks.get(pick("Unlock which instrument?", &labels)?) {
        Some(l) => unlock(ctx, l.instrument.as_str(), false).await,
        None => Ok(0),
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    const ITEMS: [&str; 10] = [
        "view the active stacks",
        "view the archived orders",
        "manual trade (instrument order)",
        "balance trade (record a trade done outside the system)",
        "cancel an instrument order",
        "lock an instrument",
        "unlock an instrument",
        "clear a stack",
        "show position breaks and locks",
        "quit",
    ];
    let items: Vec<String> = ITEMS.iter().map(|s| s.to_string()).collect();
    loop {
        let done = match pick("Orders", &items)? {
            0 => list(ctx, None, false, false).await,
            1 => list(ctx, None, true, false).await,
            2 => trade_prompt(ctx).await,
            3 => balance_prompt(ctx).await,
            4 => cancel_prompt(ctx).await,
            5 => lock_prompt(ctx).await,
            6 => unlock_prompt(ctx).await,
            7 => match pick_stack() {
                Ok(stack) => clear(ctx, stack, false, false).await,
                Err(e) => Err(e),
            },
            8 => breaks(ctx, false).await,
            _ => return Ok(0),
        };
        if let Err(e) = done {
            eprintln!("error: {e:#}");
        }
        outln!();
    }
}
