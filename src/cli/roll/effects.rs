//! The side effects of a roll state change (§B8), done after the state is stored:
//! - entering `no_open`: the instrument's current override is kept in
//!   `data/roll_overrides/INSTRUMENT.txt` and the instrument is made reduce-only;
//! - leaving `no_open`: the kept override is put back (none kept: the instrument override is
//!   removed) and the file deleted;
//! - entering `force`, `force_outright` or `close`: a warning when the remaining capacity of the
//!   instrument's trade limits is below the contracts the roll trades (|priced position|, ×2 for
//!   the forced states).
//!
//! Each returns the sentence printed as a note.

use std::path::PathBuf;

use anyhow::Context as _;

use super::Env;
use crate::domain::controls::{ControlStore, OverrideScope};
use crate::domain::overrides::Override;
use crate::domain::rolls::{contracts_to_trade_for_roll, RollSideEffect, RollState};

/// The word kept when the instrument had no override of its own.
const NO_OWN_OVERRIDE: &str = "(none)";

fn kept_override_file(env: &Env<'_>) -> PathBuf {
    env.ctx
        .home
        .data_dir()
        .join("roll_overrides")
        .join(format!("{}.txt", env.code))
}

pub(super) async fn apply(
    env: &Env<'_>,
    effects: &[RollSideEffect],
    to: RollState,
    priced_position: i64,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    for e in effects {
        let note = match e {
            RollSideEffect::RestoreOverride => restore_override(env).await?,
            RollSideEffect::SetReduceOnly => set_reduce_only(env).await?,
            RollSideEffect::CheckTradeLimits { .. } => {
                check_trade_limits(env, to, priced_position).await?
            }
            RollSideEffect::RollPrices => continue,
        };
        notes.push(note);
    }
    Ok(notes)
}

fn controls<'a>(env: &'a Env<'_>) -> &'a dyn ControlStore {
    env.ctx.store.as_ref()
}

async fn set_reduce_only(env: &Env<'_>) -> anyhow::Result<String> {
    let scope = OverrideScope::Instrument(env.code.clone());
    let current = controls(env).override_for(&scope).await?;
    let file = kept_override_file(env);
    // An override kept earlier and not yet put back (a roll_adjusted that reverted to no_open)
    // is the instrument's own: keep it rather than the reduce-only set then.
    if let Ok(text) = std::fs::read_to_string(&file) {
        controls(env)
            .set_override(&scope, Override::ReduceOnly, env.ctx.clock.now())
            .await?;
        return Ok(format!(
            "entering no_open: {} is now reduce-only (the override kept before, {}, is put back \
             when it leaves no_open)",
            env.code,
            text.trim()
        ));
    }
    let kept = current
        .as_ref()
        .map_or(NO_OWN_OVERRIDE.to_string(), |r| r.value.to_string());
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&file, format!("{kept}\n"))
        .with_context(|| format!("writing {}", file.display()))?;
    controls(env)
        .set_override(&scope, Override::ReduceOnly, env.ctx.clock.now())
        .await?;
    Ok(format!(
        "entering no_open: {} is now reduce-only (its override before, {kept}, is kept and put \
         back when it leaves no_open)",
        env.code
    ))
}

async fn restore_override(env: &Env<'_>) -> anyhow::Result<String> {
    let file = kept_override_file(env);
    let kept = match std::fs::read_to_string(&file) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!(
                "leaving no_open: no override was kept for {} on entering it; its instrument \
                 override is left as it is (`systrade overrides list`)",
                env.code
            ))
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let scope = OverrideScope::Instrument(env.code.clone());
    let now = env.ctx.clock.now();
    let note = if kept == NO_OWN_OVERRIDE {
        controls(env).delete_override(&scope, now).await?;
        format!(
            "leaving no_open: the reduce-only override of {} is removed (it had none before)",
            env.code
        )
    } else {
        let value = Override::parse(&kept).map_err(|e| {
            anyhow::anyhow!(
                "{}: the kept override `{kept}` is unreadable: {e}",
                file.display()
            )
        })?;
        controls(env).set_override(&scope, value, now).await?;
        format!(
            "leaving no_open: the override of {} before it is put back ({value})",
            env.code
        )
    };
    std::fs::remove_file(&file).with_context(|| format!("deleting {}", file.display()))?;
    Ok(note)
}

/// The smallest remaining capacity of the instrument's trade limits (any strategy), if any.
async fn remaining_capacity(env: &Env<'_>) -> anyhow::Result<Option<i64>> {
    let now = env.ctx.clock.now();
    let limits = controls(env).trade_limits(now).await?;
    Ok(limits
        .into_iter()
        .filter(|l| l.instrument == env.code.as_str())
        .map(|mut l| {
            l.reset_if_due(now);
            l.capacity()
        })
        .min())
}

async fn check_trade_limits(
    env: &Env<'_>,
    to: RollState,
    priced_position: i64,
) -> anyhow::Result<String> {
    let needed = contracts_to_trade_for_roll(to, priced_position);
    let legs = if to.is_forced() { "2 x " } else { "" };
    Ok(match remaining_capacity(env).await? {
        None => format!(
            "{}: {to} trades {needed} contracts ({legs}|{priced_position}| in the priced \
             contract); no trade limit is set for it",
            env.code
        ),
        Some(capacity) if (capacity as u64) < needed => format!(
            "WARNING: {}: {to} trades {needed} contracts ({legs}|{priced_position}| in the priced \
             contract) but the trade limits leave only {capacity} today: the roll will be cut \
             short (`systrade controls trade-limits list`)",
            env.code
        ),
        Some(capacity) => format!(
            "{}: {to} trades {needed} contracts ({legs}|{priced_position}| in the priced \
             contract); the trade limits leave {capacity}",
            env.code
        ),
    })
}
