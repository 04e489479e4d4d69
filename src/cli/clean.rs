//! `systrade clean`: the cleaners of the daily workflow by hand (`app::cleaners::clean`, the
//! same code as the `clean` task), every kind or those named with `--what`; `--dry-run` lists
//! what would go and changes nothing.

use clap::Args;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{local_opt, print_json};
use crate::app::cleaners::{clean, Cleanable, Cleaned};

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Only list what would be deleted (how many, the oldest and newest, the files); change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this kind (repeatable; default: every kind): run_logs, run_attempts,
    /// archived_orders, backtest_states, reports, kept_email.
    #[arg(long, value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(Cleanable::ALL.map(Cleanable::as_str)))]
    pub what: Vec<String>,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How many file names to print per kind before "and N more".
const FILES_SHOWN: usize = 10;

pub async fn clean_command(opts: &GlobalOpts, a: CleanArgs) -> anyhow::Result<i32> {
    let kinds: Vec<Cleanable> = if a.what.is_empty() {
        Cleanable::ALL.to_vec()
    } else {
        Cleanable::ALL
            .into_iter()
            .filter(|c| a.what.iter().any(|w| w == c.as_str()))
            .collect()
    };
    let ctx = Ctx::open(opts).await?;
    let app = ctx.app();
    let mut done: Vec<Cleaned> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for what in kinds {
        match clean(&app, what, None, a.dry_run).await {
            Ok(c) => done.push(c),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if a.json {
        print_json(&json!({ "dry_run": a.dry_run, "cleaned": done, "errors": errors }))?;
    } else {
        for c in &done {
            print_cleaned(c)?;
        }
        for e in &errors {
            eprintln!("error: {e}");
        }
        if a.dry_run {
            outln!("dry run: nothing was deleted; `systrade clean` deletes it");
        }
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}

fn print_cleaned(c: &Cleaned) -> anyhow::Result<()> {
    let verb = if c.dry_run { "would delete" } else { "deleted" };
    let what = match c.what {
        Cleanable::RunLogs => "run log events",
        Cleanable::RunAttempts => "attempts of finished runs",
        Cleanable::ArchivedOrders => "archived instrument orders with their families",
        Cleanable::BacktestStates => "backtest states",
        Cleanable::Reports => "report files",
        Cleanable::KeptEmail => "kept e-mails (given up)",
    };
    let span = if c.count == 0 {
        String::new()
    } else {
        format!(" ({} .. {})", local_opt(c.oldest), local_opt(c.newest))
    };
    outln!(
        "{:<16} older than {} days (before {}): {verb} {} {what}{span}",
        c.what.as_str(),
        c.keep_days,
        c.cutoff.format("%Y-%m-%d %H:%M UTC"),
        c.count
    );
    if let Some(o) = &c.orders {
        if c.count > 0 {
            outln!(
                "{:<16} {} contract orders, {} broker orders, {} executions",
                "",
                o.contract_orders,
                o.broker_orders,
                o.executions
            );
        }
    }
    for f in c.files.iter().take(FILES_SHOWN) {
        outln!("{:<16} {f}", "");
    }
    if c.files.len() > FILES_SHOWN {
        outln!("{:<16} and {} more", "", c.files.len() - FILES_SHOWN);
    }
    Ok(())
}
