//! `systrade alerts [--all] [--json]`, `systrade alerts ack ID` and `systrade email test`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{local, local_opt, print_json, table};
use super::{CliError, JsonFlag};
use crate::domain::alerts::{AlertError, AlertStore, Message, SendState};

#[derive(Args, Debug)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Every alert, acknowledged ones too (default: those not acknowledged).
    #[arg(long)]
    pub all: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Acknowledge an alert: it no longer shows in `systrade alerts` (only with --all).
    Ack(AckArgs),
}

#[derive(Args, Debug)]
pub struct AckArgs {
    /// The alert's id, as `systrade alerts` shows it.
    pub id: i64,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EmailArgs {
    #[command(subcommand)]
    pub command: EmailCommand,
}

#[derive(Subcommand, Debug)]
pub enum EmailCommand {
    /// Send a test message to the configured recipients and say where it went (exit 1 with
    /// the server's answer if it failed).
    Test(JsonFlag),
}

pub async fn alerts(opts: &GlobalOpts, a: AlertsArgs) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    if let Some(AlertsCommand::Ack(ack)) = a.command {
        return acknowledge(&ctx, ack).await;
    }
    let list = ctx.store.list(a.all).await?;
    if a.json {
        print_json(&json!({ "alerts": list, "email": ctx.mailer().map(|m| m.describe()) }))?;
        return Ok(0);
    }
    if list.is_empty() {
        outln!("no {}alerts", if a.all { "" } else { "unacknowledged " });
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                local(r.time),
                r.severity.to_string(),
                r.kind.clone(),
                r.state.as_str().to_string(),
                local_opt(r.acknowledged_at),
                r.subject.clone(),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &[
                "ID",
                "TIME",
                "SEVERITY",
                "KIND",
                "E-MAIL",
                "ACKNOWLEDGED",
                "SUBJECT"
            ],
            &rows
        )
    );
    let kept: Vec<_> = list.iter().filter(|r| r.state == SendState::Kept).collect();
    if let Some(last) = kept.last() {
        outln!(
            "{} alert(s) could not be e-mailed and are kept (sent with the next message that goes); last error: {}",
            kept.len(),
            last.send_error.as_deref().unwrap_or("unknown")
        );
    }
    if ctx.config.email.is_none() {
        outln!("e-mail is off: set [email] in the home's config.toml to have alerts e-mailed");
    }
    outln!("acknowledge one: `systrade alerts ack ID`");
    Ok(0)
}

async fn acknowledge(ctx: &Ctx, a: AckArgs) -> anyhow::Result<i32> {
    if !ctx.store.acknowledge(a.id, ctx.clock.now()).await? {
        return Err(CliError::Invalid(format!(
            "no alert with id {} (see `systrade alerts --all`)",
            a.id
        ))
        .into());
    }
    if a.json {
        print_json(&json!({ "acknowledged": a.id }))?;
    } else {
        outln!("alert {} acknowledged", a.id);
    }
    Ok(0)
}

pub async fn email(opts: &GlobalOpts, a: EmailArgs) -> anyhow::Result<i32> {
    let EmailCommand::Test(flag) = a.command;
    let ctx = Ctx::open(opts).await?;
    let app = ctx.app();
    let Some(mailer) = app.mailer.clone() else {
        return Err(CliError::Invalid(AlertError::NotConfigured.to_string()).into());
    };
    let to = mailer.describe();
    let now = ctx.clock.now();
    let message = Message {
        subject: "systrade: test message".into(),
        text: format!(
            "This is a test message from systrade (home {}), sent at {}.\nE-mail works: alerts and reports will reach this address.\n",
            ctx.home.root.display(),
            now.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        ..Message::default()
    };
    match app.send_now(&message).await {
        Ok(flushed) => {
            if flag.json {
                print_json(&json!({ "sent": true, "to": to, "kept_alerts_sent": flushed }))?;
            } else {
                outln!("sent a test message through {to}");
                if !flushed.is_empty() {
                    outln!("and {} kept alert(s) with it", flushed.len());
                }
            }
            Ok(0)
        }
        Err(AlertError::Mail(e)) => {
            if flag.json {
                print_json(
                    &json!({ "sent": false, "to": to, "failure": e.failure, "error": e.detail }),
                )?;
            } else {
                eprintln!(
                    "error: the test message was not sent through {to}: {} failed: {}",
                    format!("{:?}", e.failure).to_lowercase(),
                    e.detail
                );
            }
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
