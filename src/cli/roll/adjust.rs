//! Rolling the prices on `roll_adjusted` (B8 "Rolling multiple prices"), with a backup so the
//! roll can be undone: the stored multiple and adjusted series are copied to
//! `<home>/data/roll_backups/CODE/<timestamp>/` before the rolled ones are written; `--undo`
//! restores them and the previous state, `--confirm` deletes the backup and sets `no_roll`.

use std::path::PathBuf;

use serde_json::json;

use super::{num, on_terminal, Env, RollArgs};
use crate::adapters::parquet::ParquetPriceStore;
use crate::cli::output::{multiple_row, print_json, table, MULTIPLE_HEADER};
use crate::cli::CliError;
use crate::domain::contract::ContractId;
use crate::domain::metadata::RollStateStore;
use crate::domain::panama::panama_stitch;
use crate::domain::ports::PriceStore;
use crate::domain::roll_prices::{roll_contracts, roll_multiple_prices};
use crate::domain::rolls::RollState;
use crate::domain::series::{format_timestamp, AdjustedPrices, MultiplePrices, PriceSeries};

/// Rows of the old and new series shown before asking.
const TAIL: usize = 5;

/// In a backup: the instrument had no adjusted prices before the roll (undo removes them).
const NO_ADJUSTED_MARKER: &str = "no_adjusted";

fn backups_dir(env: &Env<'_>) -> PathBuf {
    env.ctx
        .home
        .data_dir()
        .join("roll_backups")
        .join(env.code.as_str())
}

/// The newest backup of the instrument, if any.
pub(super) fn pending_backup(env: &Env<'_>) -> anyhow::Result<Option<PathBuf>> {
    let dir = backups_dir(env);
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    Ok(names.pop())
}

/// Deletes every backup of the instrument; returns how many there were.
pub(super) fn delete_backups(env: &Env<'_>) -> anyhow::Result<usize> {
    let dir = backups_dir(env);
    if !dir.is_dir() {
        return Ok(0);
    }
    let n = std::fs::read_dir(&dir)?.count();
    std::fs::remove_dir_all(&dir)?;
    Ok(n)
}

fn closes(env: &Env<'_>, contract: ContractId) -> anyhow::Result<PriceSeries> {
    Ok(env
        .bars(contract)?
        .map(|b| PriceSeries {
            ts: b.ts,
            value: b.close,
        })
        .unwrap_or_default())
}

fn multiple_tail(m: &MultiplePrices) -> String {
    let rows: Vec<Vec<String>> = (m.len().saturating_sub(TAIL)..m.len())
        .map(|i| multiple_row(m, i, "-"))
        .collect();
    table(&MULTIPLE_HEADER, &rows)
}

fn adjusted_tail(a: &AdjustedPrices) -> String {
    let rows: Vec<Vec<String>> = (a.len().saturating_sub(TAIL)..a.len())
        .map(|i| vec![format_timestamp(a.ts[i]), num(a.value[i])])
        .collect();
    table(&["timestamp", "price"], &rows)
}

fn ask(prompt: &str) -> anyhow::Result<bool> {
    if !on_terminal() {
        return Err(CliError::Invalid(
            "not a terminal, so cannot ask whether to roll the prices: pass --yes to roll without \
             asking; nothing was changed"
                .into(),
        )
        .into());
    }
    Ok(dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .interact()?)
}

/// `--state roll_adjusted`: computes the rolled prices, shows them, asks, then sets the state,
/// backs up the stored series and writes the new ones. Declining or failing writes nothing.
pub(super) async fn roll_adjusted(
    env: &Env<'_>,
    from: RollState,
    a: &RollArgs,
) -> anyhow::Result<i32> {
    let invalid = |e: String| anyhow::Error::from(CliError::Invalid(e));
    let old = env.multiple()?;
    let old_adjusted = env.prices.read_adjusted(&env.code)?;
    let contracts = roll_contracts(&old, &env.params, a.forward_fill)
        .map_err(|e| invalid(format!("{}: cannot roll: {e}", env.code)))?;
    let hint = if a.forward_fill {
        ""
    } else {
        " (retry with --forward-fill?)"
    };
    let rolled = roll_multiple_prices(
        &old,
        &env.params,
        a.forward_fill,
        &closes(env, contracts.forward)?,
        &closes(env, contracts.carry)?,
    )
    .map_err(|e| invalid(format!("{}: cannot roll: {e}{hint}", env.code)))?;
    let new_adjusted = panama_stitch(&rolled.multiple, a.forward_fill).map_err(|e| {
        invalid(format!(
            "{}: cannot stitch the rolled prices: {e}{hint}",
            env.code
        ))
    })?;
    let new = rolled.multiple;

    if !a.json {
        outln!(
            "{}: rolling onto price {}, forward {}, carry {}",
            env.code,
            contracts.price,
            contracts.forward,
            contracts.carry
        );
        if let Some(p) = rolled.inferred_price {
            outln!("note: the last PRICE was missing and inferred as {p}");
        }
        if let Some(f) = rolled.inferred_forward {
            outln!("note: the last FORWARD was missing and inferred as {f}");
        }
        outln!("\nmultiple prices now:\n{}", multiple_tail(&old));
        outln!("multiple prices after the roll:\n{}", multiple_tail(&new));
        match &old_adjusted {
            Some(o) => outln!("adjusted prices now:\n{}", adjusted_tail(o)),
            None => outln!("adjusted prices now: none stored\n"),
        }
        outln!(
            "adjusted prices after the roll:\n{}",
            adjusted_tail(&new_adjusted)
        );
    }
    if !a.yes && !ask(&format!("Roll {} and write the new prices?", env.code))? {
        outln!("{}: not rolled; roll state stays {from}", env.code);
        return Ok(0);
    }

    env.set_state(
        from,
        RollState::RollAdjusted,
        "systrade roll: prices rolled, pending confirmation",
    )
    .await?;
    let stamp = env.ctx.clock.now().format("%Y%m%dT%H%M%S%.6fZ").to_string();
    let backup = backups_dir(env).join(stamp);
    let written = write_rolled(
        env,
        &backup,
        &old,
        old_adjusted.as_ref(),
        &new,
        &new_adjusted,
    );
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&backup);
        let _ = env
            .set_state(
                RollState::RollAdjusted,
                from,
                "systrade roll: roll failed, state reverted",
            )
            .await;
        return Err(e.context(format!(
            "{}: rolling the prices failed; the stored prices and the roll state ({from}) are as before",
            env.code
        )));
    }
    if a.json {
        print_json(&json!({
            "instrument": env.code, "from": from, "to": RollState::RollAdjusted, "changed": true,
            "rolled": true, "pending_confirmation": true,
            "contracts": { "price": contracts.price, "forward": contracts.forward, "carry": contracts.carry },
            "inferred_price": rolled.inferred_price, "inferred_forward": rolled.inferred_forward,
            "backup": backup,
        }))?;
    } else {
        outln!(
            "{}: prices rolled; state roll_adjusted, pending confirmation. Backup in {}\n\
             check them (`systrade prices show {} --multiple`), then `systrade roll {} --confirm` \
             to keep them or `--undo` to restore the previous prices",
            env.code,
            backup.display(),
            env.code,
            env.code
        );
    }
    Ok(0)
}

/// Backs up the stored series, then writes the rolled ones; on a write error puts the old ones
/// back.
fn write_rolled(
    env: &Env<'_>,
    backup: &std::path::Path,
    old: &MultiplePrices,
    old_adjusted: Option<&AdjustedPrices>,
    new: &MultiplePrices,
    new_adjusted: &AdjustedPrices,
) -> anyhow::Result<()> {
    if let Some(parent) = backup.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::create_dir(backup)?;
    let store = ParquetPriceStore::new(backup.to_path_buf());
    store.write_multiple(&env.code, old)?;
    match old_adjusted {
        Some(o) => store.write_adjusted(&env.code, o)?,
        None => std::fs::write(backup.join(NO_ADJUSTED_MARKER), b"")?,
    }
    let result = env
        .prices
        .write_multiple(&env.code, new)
        .and_then(|()| env.prices.write_adjusted(&env.code, new_adjusted));
    if let Err(e) = result {
        let _ = env.prices.write_multiple(&env.code, old);
        if let Some(o) = old_adjusted {
            let _ = env.prices.write_adjusted(&env.code, o);
        }
        return Err(e.into());
    }
    Ok(())
}

/// `--undo`: restores the backed-up series and the state before `roll_adjusted`.
pub(super) async fn undo(env: &Env<'_>, json: bool) -> anyhow::Result<i32> {
    let state = env.state().await?;
    if state != RollState::RollAdjusted {
        return Err(CliError::Invalid(format!(
            "{}: nothing to undo: the roll state is {state} (undo works while roll_adjusted, \
             before --confirm)",
            env.code
        ))
        .into());
    }
    let Some(backup) = pending_backup(env)? else {
        return Err(CliError::Invalid(format!(
            "{}: nothing to undo: no roll backup under {}",
            env.code,
            backups_dir(env).display()
        ))
        .into());
    };
    let store = ParquetPriceStore::new(backup.clone());
    let Some(multiple) = store.read_multiple(&env.code)? else {
        return Err(CliError::Invalid(format!(
            "{}: the roll backup {} has no multiple prices; cannot undo",
            env.code,
            backup.display()
        ))
        .into());
    };
    let adjusted = store.read_adjusted(&env.code)?;
    let history = env
        .ctx
        .store
        .roll_state_history(Some(&env.code), 100)
        .await?;
    let previous = history
        .iter()
        .find(|c| c.to == RollState::RollAdjusted)
        .map_or(RollState::NoRoll, |c| c.from);
    env.prices.write_multiple(&env.code, &multiple)?;
    if let Some(a) = &adjusted {
        env.prices.write_adjusted(&env.code, a)?;
    } else if backup.join(NO_ADJUSTED_MARKER).exists() {
        // The price store cannot delete a series; its layout is `<root>/adjusted/CODE.parquet`.
        let path = env
            .prices
            .root()
            .join("adjusted")
            .join(format!("{}.parquet", env.code));
        if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    env.set_state(
        RollState::RollAdjusted,
        previous,
        "systrade roll --undo: prices restored",
    )
    .await?;
    std::fs::remove_dir_all(&backup)?;
    // Drop the instrument's backup folder once empty (fails harmlessly otherwise).
    let _ = std::fs::remove_dir(backups_dir(env));
    if json {
        print_json(&json!({
            "instrument": env.code, "from": RollState::RollAdjusted, "to": previous,
            "changed": true, "restored_from": backup,
        }))?;
    } else {
        outln!(
            "{}: roll undone; prices restored from {}, roll state {previous}",
            env.code,
            backup.display()
        );
    }
    Ok(0)
}

/// `--confirm`: keeps the rolled prices, deletes the backup, sets `no_roll`.
pub(super) async fn confirm(env: &Env<'_>, json: bool) -> anyhow::Result<i32> {
    let state = env.state().await?;
    if state != RollState::RollAdjusted {
        return Err(CliError::Invalid(format!(
            "{}: nothing to confirm: the roll state is {state}, not roll_adjusted",
            env.code
        ))
        .into());
    }
    env.set_state(
        RollState::RollAdjusted,
        RollState::NoRoll,
        "systrade roll --confirm",
    )
    .await?;
    let deleted = delete_backups(env)?;
    if json {
        print_json(&json!({
            "instrument": env.code, "from": state, "to": RollState::NoRoll, "changed": true,
            "backups_deleted": deleted,
        }))?;
    } else {
        outln!(
            "{}: roll confirmed; roll state no_roll, backup deleted",
            env.code
        );
    }
    Ok(0)
}
