//! `systrade report`: `list` the reports, run one (`report NAME`) to the terminal or a file, or
//! write every report into a directory (`report all --dir DIR`).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use serde_json::json;

use super::context::{Ctx, GlobalOpts};
use super::output::{print_json, table};
use super::CliError;
use crate::domain::reports::ReportOptions;
use crate::reports::render::{render, Format};
use crate::reports::{build, spec, write, ReportError, REPORTS};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The report (`systrade report list` shows them), `list`, or `all` (with --dir).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Only this instrument (reports that take it).
    #[arg(long, value_name = "CODE")]
    pub instrument: Option<String>,
    /// Only this strategy (reports that take it).
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Start of the period, YYYY-MM-DD (reports that take it).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// End of the period, YYYY-MM-DD, inclusive (reports that take it; default: now).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// text (default), json, html (one self-contained page) or csv (each table in turn).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The same as --format json (and for `list`: the list as JSON).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub output: Option<PathBuf>,
    /// With `all`: write each report as DIR/NAME_YYYY-MM-DD.EXT.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Also e-mail the report to [email] to (HTML body and attachment, text form for plain-text
    /// readers); a failed send is kept (`systrade alerts`) and does not fail the command.
    #[arg(long)]
    pub email: bool,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date YYYY-MM-DD ({e})"))
}

fn to_cli(e: ReportError) -> anyhow::Error {
    match e {
        ReportError::Invalid(m) => CliError::Invalid(m).into(),
        ReportError::Data(m) => anyhow::anyhow!(m),
    }
}

pub async fn report(opts: &GlobalOpts, a: ReportArgs) -> anyhow::Result<i32> {
    let format = if a.json {
        Format::Json
    } else {
        a.format.unwrap_or(Format::Text)
    };
    if a.name == "list" {
        return list(a.json);
    }
    let options = ReportOptions {
        instrument: a.instrument.clone(),
        strategy: a.strategy.clone(),
        from: a.from,
        to: a.to,
    };
    if a.name == "all" {
        let Some(dir) = &a.dir else {
            return Err(
                CliError::Invalid("`report all` writes files: give --dir DIR".into()).into(),
            );
        };
        return all(opts, dir, format, &options).await;
    }
    if a.dir.is_some() {
        return Err(CliError::Invalid(
            "--dir goes with `report all`; for one report use --output FILE".into(),
        )
        .into());
    }
    spec(&a.name).map_err(to_cli)?;
    let ctx = Ctx::open(opts).await?;
    if a.email && ctx.config.email.is_none() {
        let e = crate::domain::alerts::AlertError::NotConfigured;
        return Err(CliError::Invalid(format!("--email: {e}")).into());
    }
    let app = ctx.app();
    let report = build(&app, &a.name, &options).await.map_err(to_cli)?;
    if a.email {
        let sent = app.email_report(&report).await?;
        match &sent.error {
            None => tracing::info!("{} e-mailed", report.title),
            Some(e) => tracing::warn!("{} was not e-mailed (kept): {e}", report.title),
        }
    }
    let text = render(&report, format);
    match &a.output {
        Some(path) => {
            write::atomically(path, &text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            tracing::info!("{} written to {}", report.title, path.display());
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(0)
}

fn list(json_out: bool) -> anyhow::Result<i32> {
    if json_out {
        print_json(&json!({ "reports": REPORTS }))?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = REPORTS
        .iter()
        .map(|r| {
            vec![
                r.name.to_string(),
                r.options
                    .iter()
                    .map(|o| format!("--{o}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                r.about.to_string(),
            ]
        })
        .collect();
    out!("{}", table(&["REPORT", "OPTIONS", "WHAT IT SHOWS"], &rows));
    Ok(0)
}

/// Every report into `dir`; one failing report does not stop the others (exit 1 then).
async fn all(
    opts: &GlobalOpts,
    dir: &std::path::Path,
    format: Format,
    options: &ReportOptions,
) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let app = ctx.app();
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for (n, r) in REPORTS.iter().enumerate() {
        tracing::info!("report {} of {}: {}", n + 1, REPORTS.len(), r.name);
        let mut own = options.clone();
        // Each report gets the options it takes.
        if !r.options.contains(&"instrument") {
            own.instrument = None;
        }
        if !r.options.contains(&"strategy") {
            own.strategy = None;
        }
        if !r.options.contains(&"from") {
            own.from = None;
            own.to = None;
        }
        let result = match build(&app, r.name, &own).await {
            Ok(report) => {
                let path = write::path_in(dir, r.name, format, ctx.clock.now());
                write::atomically(&path, &render(&report, format))
                    .map(|_| path)
                    .map_err(|e| format!("cannot write: {e}"))
            }
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(path) => written.push(path.display().to_string()),
            Err(e) => {
                tracing::error!(report = r.name, "{}: {e}", r.name);
                failed.push(json!({ "report": r.name, "error": e }));
            }
        }
    }
    if format == Format::Json {
        print_json(&json!({ "written": written, "failed": failed }))?;
    } else {
        for w in &written {
            outln!("{w}");
        }
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}
