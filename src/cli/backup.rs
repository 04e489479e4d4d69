//! `systrade backup [--to DIR]`, `backup list`, `backup verify BACKUP` and `systrade restore
//! BACKUP --home NEW | --replace`: thin calls into `crate::backup`, with progress on stderr and
//! `--json` on stdout. Exit codes: 2 for damage found by verify, an unknown backup or a target
//! that is not empty; 3 when the home or the destination is in use.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{load_config, resolve_home, GlobalOpts};
use super::output::{local, print_json, table};
use super::{CliError, Ctx};
use crate::backup::{
    self, create_backup, destination, restore_new, restore_replace, verify_backup, BackupError,
    BackupRequest,
};
use crate::home::Home;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// Write the backup into DIR (created if missing) instead of backup.destination.
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// The backups in the destination, oldest first: name, time, kind (daily, weekly, or
    /// expired at the next backup), size, files, schema; and unfinished directories.
    List {
        /// List DIR instead of backup.destination.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a backup: every file's size and SHA-256 against the manifest, no file missing or
    /// extra, SQLite's integrity check of the store, every Parquet file read. Exit 2 naming each
    /// damaged file.
    Verify {
        /// A name from `backup list`, or the path of a backup directory.
        backup: String,
        /// Look names up in DIR instead of backup.destination.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A name from `systrade backup list` (of the home in SYSTRADE_HOME or the default home
    /// with --home NEW; of the home replaced with --replace), or the path of a backup directory.
    pub backup: String,
    /// Replace the home (--home, else SYSTRADE_HOME, else the default) with the backup: refused
    /// while any run, scheduler or stack handler of it is alive; the old home is kept aside as
    /// HOME.replaced-TIME. Without --replace, the global --home NEW names a new or empty
    /// directory to restore into.
    #[arg(long)]
    pub replace: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A library error with its exit code.
fn cli_error(e: BackupError) -> anyhow::Error {
    if e.is_refusal() {
        CliError::Refused(e.to_string()).into()
    } else if e.is_invalid_input()
        || matches!(
            e,
            BackupError::NewerSchema { .. }
                | BackupError::Damaged { .. }
                | BackupError::Manifest { .. }
        )
    {
        CliError::Invalid(e.to_string()).into()
    } else {
        e.into()
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

pub async fn backup(opts: &GlobalOpts, a: BackupArgs) -> anyhow::Result<i32> {
    match a.command {
        Some(BackupCommand::List { to, json }) => list(opts, to, json),
        Some(BackupCommand::Verify { backup, to, json }) => verify(opts, &backup, to, json).await,
        None => write(opts, a.to, a.json).await,
    }
}

/// The destination: `--to`, else the config's.
fn dest_of(home: &Home, config: &crate::config::Config, to: Option<PathBuf>) -> (PathBuf, bool) {
    match to {
        Some(dir) => (dir, true),
        None => destination(home, config.backup.destination.as_deref()),
    }
}

async fn write(opts: &GlobalOpts, to: Option<PathBuf>, json_out: bool) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let (dest, create_dest) = dest_of(&ctx.home, &ctx.config, to);
    let req = BackupRequest {
        home: ctx.home.clone(),
        dest,
        create_dest,
        keep_daily: ctx.config.backup.keep_daily,
        keep_weekly: ctx.config.backup.keep_weekly,
        now: ctx.clock.now(),
    };
    let bar = (!json_out && !opts.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "backing up [{bar:30}] {bytes}/{total_bytes} {elapsed}",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    });
    let progress: Option<backup::ProgressFn> = bar.clone().map(|b| {
        Arc::new(move |done: u64, total: u64| {
            b.set_length(total);
            b.set_position(done);
        }) as backup::ProgressFn
    });
    let result = create_backup(ctx.store.as_ref(), &req, progress).await;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let s = result.map_err(cli_error)?;
    if json_out {
        print_json(&json!({ "home": ctx.home.root, "backup": s }))?;
        return Ok(0);
    }
    outln!(
        "backed up {} to {}",
        ctx.home.root.display(),
        s.path.display()
    );
    outln!(
        "{} files ({} copied, {} hard-linked from the previous backup), {} in all, {} written, {:.2}s",
        s.files,
        s.copied,
        s.linked,
        mib(s.bytes),
        mib(s.bytes_copied),
        s.seconds
    );
    if !s.expired.is_empty() {
        outln!("expired backups deleted: {}", s.expired.join(", "));
    }
    if !s.leftovers_removed.is_empty() {
        outln!(
            "unfinished backups removed: {}",
            s.leftovers_removed.join(", ")
        );
    }
    if !s.left_out.is_empty() {
        outln!("not backed up: {}", s.left_out.join(", "));
    }
    Ok(0)
}

fn list(opts: &GlobalOpts, to: Option<PathBuf>, json_out: bool) -> anyhow::Result<i32> {
    let home = resolve_home(opts)?;
    let config = load_config(&home)?;
    let (dest, _) = dest_of(&home, &config, to);
    let listing = backup::list(&dest, config.backup.keep_daily, config.backup.keep_weekly)
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    if json_out {
        print_json(
            &json!({ "destination": dest, "backups": listing.backups, "incomplete": listing.incomplete }),
        )?;
        return Ok(0);
    }
    if listing.backups.is_empty() {
        outln!("no backups in {}", dest.display());
    } else {
        let rows: Vec<Vec<String>> = listing
            .backups
            .iter()
            .map(|b| {
                vec![
                    b.name.clone(),
                    local(b.created_at),
                    b.kind.as_str().to_string(),
                    mib(b.bytes),
                    format!("{} ({} linked)", b.files, b.linked),
                    b.schema_version.to_string(),
                ]
            })
            .collect();
        out!(
            "{}",
            table(&["NAME", "TIME", "KIND", "SIZE", "FILES", "SCHEMA"], &rows)
        );
    }
    for i in &listing.incomplete {
        outln!("not a backup: {} ({})", i.name, i.reason);
    }
    Ok(0)
}

async fn verify(
    opts: &GlobalOpts,
    arg: &str,
    to: Option<PathBuf>,
    json_out: bool,
) -> anyhow::Result<i32> {
    let home = resolve_home(opts)?;
    let dir = if arg.contains('/') {
        PathBuf::from(arg)
    } else {
        let config = load_config(&home)?;
        dest_of(&home, &config, to).0
    };
    let path = backup::resolve(&dir, arg).map_err(cli_error)?;
    let r = verify_backup(&path).await;
    let code = if r.ok() { 0 } else { 2 };
    if json_out {
        print_json(&json!({ "ok": r.ok(), "report": r }))?;
        return Ok(code);
    }
    if r.ok() {
        outln!(
            "{}: ok — {} files, {}, {} Parquet files ({} rows) read, store integrity ok, {:.2}s",
            path.display(),
            r.files,
            mib(r.bytes),
            r.parquet_files,
            r.parquet_rows,
            r.seconds
        );
    } else {
        outln!(
            "{}: DAMAGED — {} problems:",
            path.display(),
            r.problems.len()
        );
        for p in &r.problems {
            outln!("  {}: {}", p.path, p.detail);
        }
    }
    if r.newer_schema {
        outln!(
            "note: its store schema ({}) is newer than this systrade knows: restore refuses it",
            r.schema_version.unwrap_or_default()
        );
    }
    Ok(code)
}

pub async fn restore(opts: &GlobalOpts, a: RestoreArgs) -> anyhow::Result<i32> {
    let env_home = std::env::var("SYSTRADE_HOME").ok();
    // Where BACKUP names are looked up: the replaced home, or the user's usual home.
    let (target, source_home) = if a.replace {
        let home = resolve_home(opts)?;
        (home.clone(), home)
    } else {
        let Some(new) = &opts.home else {
            return Err(CliError::Invalid(
                "say where to restore: --home NEW (a new or empty directory), or --replace to \
                 replace the home with the backup"
                    .into(),
            )
            .into());
        };
        let source = Home::resolve(None, env_home.as_deref()).map_err(CliError::Invalid)?;
        let target = Home::resolve(Some(new), None).map_err(CliError::Invalid)?;
        (target, source)
    };
    let path = if a.backup.contains('/') {
        backup::resolve(std::path::Path::new("."), &a.backup).map_err(cli_error)?
    } else {
        let config = load_config(&source_home)
            .map_err(|e| anyhow::anyhow!("{e:#}; name the backup by its path instead"))?;
        let (dest, _) = destination(&source_home, config.backup.destination.as_deref());
        match backup::resolve(&dest, &a.backup) {
            Ok(p) => p,
            Err(e) if !a.replace => {
                return Err(CliError::Invalid(format!(
                    "{e}. With --home NEW, backup names are looked up in the backups of the \
                     home in SYSTRADE_HOME, else the default home ({}); or give the backup's path",
                    source_home.root.display()
                ))
                .into())
            }
            Err(e) => return Err(cli_error(e)),
        }
    };
    let now = super::context::clock()?.now();
    let s = if a.replace {
        let config = load_config(&target).ok();
        let (dest, _) = destination(
            &target,
            config
                .as_ref()
                .and_then(|c| c.backup.destination.as_deref()),
        );
        restore_replace(&path, &target, &dest, now).await
    } else {
        restore_new(&path, &target.root, now).await
    }
    .map_err(cli_error)?;
    if a.json {
        print_json(&json!({ "restore": s }))?;
        return Ok(0);
    }
    outln!(
        "restored {} into {}: {} files, {}, verified (checksums, store integrity {}, {} Parquet files read), {:.2}s",
        s.backup.display(),
        s.home.display(),
        s.files,
        mib(s.bytes),
        s.verify.store_integrity,
        s.verify.parquet_files,
        s.seconds
    );
    if let Some(old) = &s.old_home {
        outln!(
            "the old home is kept at {} (delete it once the restored home is right)",
            old.display()
        );
    }
    if !s.moved_in.is_empty() {
        outln!(
            "moved from the old home into the restored one: {}",
            s.moved_in.join(", ")
        );
    }
    Ok(0)
}
