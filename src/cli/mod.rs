//! The `systrade` command line. Thin: parses arguments, opens the home, calls the library and
//! prints. Data and `--json` go to stdout, logs and progress to stderr.
//!
//! Exit codes: 0 success; 1 a run did not succeed, or an operational error; 2 invalid input
//! (validation, unknown workflow/node/run, bad arguments); 3 refused (already running, control
//! state STOP/NO-RUN, a large capital change awaiting confirmation); 130 cancelled by Ctrl-C /
//! SIGTERM.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[macro_use]
mod output;
mod alerts;
mod backtest;
mod backup;
mod bench;
mod broker;
mod capital;
mod clean;
mod context;
mod control;
mod controls;
mod demo;
mod doctor;
mod export;
mod import;
mod inspect;
mod orders;
mod positions;
mod prices;
mod report;
mod roll;
mod run;
mod scheduler;
mod scheduler_log;
mod settings;
mod terminal;

pub use context::Ctx;

#[derive(Parser, Debug)]
#[command(
    name = "systrade",
    version,
    about = "Production system for systematic futures trading: runs the daily pipeline as workflow DAGs",
    long_about = "systrade runs a trading firm's daily production pipeline as workflow DAGs of tasks.\n\n\
Workflows live in workflows/NAME.toml (shipped) or <home>/workflows/ (yours); task kinds in \
tasks/*.toml and <home>/tasks/. Every run, trigger and rerun is recorded in <home>/systrade.db.\n\n\
Exit codes: 0 success; 1 a run did not succeed or an error; 2 invalid input; 3 refused \
(already running, control STOP/NO-RUN); 130 cancelled."
)]
pub struct Cli {
    /// Home directory (run store, config, overrides). Default: $SYSTRADE_HOME, else the per-user data dir.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// More log output on the terminal (debug level).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Only warnings and errors on the terminal.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the home directory, its run store and a config template.
    Init(JsonFlag),
    /// Check a workflow (by name or file) and report every error with file and line.
    Validate(ValidateArgs),
    /// Run a workflow now (all nodes).
    Run(RunArgs),
    /// Run one node of a workflow by hand, optionally with its upstream or downstream nodes.
    Trigger(TriggerArgs),
    /// Re-run what did not succeed in an earlier run, reusing the outputs of what did.
    Rerun(RerunArgs),
    /// Draw a workflow's DAG (ascii, dot, mermaid or json), optionally coloured by a run's states.
    Dag(DagArgs),
    /// List recent runs.
    Runs(RunsArgs),
    /// Show one run: its nodes, attempts and errors.
    Show(ShowArgs),
    /// Every workflow: control state, whether it is running, its last run and its schedule.
    Status(JsonFlag),
    /// Show or set control states: go (default), stop (a running workflow's tasks are asked to stop within a second: sleeps end, commands get SIGTERM then SIGKILL after 5 s, the stack handler stops between passes; way-out nodes still run), no-run (no new starts).
    Control(control::ControlArgs),
    /// Show run logs.
    Logs(LogsArgs),
    /// The long-running scheduler: starts each workflow in its schedule window (no crontab needed).
    Scheduler(scheduler::SchedulerArgs),
    /// After a reboot or crash: mark runs whose runner is dead as crashed and release their locks.
    Startup(JsonFlag),
    /// Configuration.
    Config(settings::ConfigArgs),
    /// The cleaners of the daily workflow by hand: delete run log events, finished runs'
    /// attempts, archived orders, backtest states, reports and kept e-mail older than their
    /// retention ([cleaners] and logging.retention_days, strategies.backtest_keep_days);
    /// --dry-run lists what would go.
    Clean(clean::CleanArgs),
    /// List the task catalogue.
    Tasks(JsonFlag),
    /// Check a home and say what to do: the run store (integrity, schema), every price file,
    /// config and workflows, dead locks and runs, position breaks, disk space, the newest
    /// backup (its age, and verified), and with --broker the broker. Changes nothing. Exit 0
    /// healthy, 1 warnings, 2 damage.
    Doctor(doctor::DoctorArgs),
    /// Create a fresh home and run the daily workflow end to end on the embedded defaults.
    Demo(JsonFlag),
    /// Measure engine overhead, and with --prices DIR import and Panama regeneration (use a release build).
    Bench(bench::BenchArgs),
    /// Import data from another system (validated in full before anything is written).
    Import(import::ImportArgs),
    /// Write the stored data out in another system's format (so you can always go back).
    Export(export::ExportArgs),
    /// Back up the whole home (a consistent snapshot while runs go on), list the backups, or
    /// verify one. Backups go to backup.destination (default <home>/backups).
    Backup(backup::BackupArgs),
    /// Restore a backup into a new home (--home NEW) or in place of this one (--replace);
    /// the result is verified before it is used.
    Restore(backup::RestoreArgs),
    /// Prices: show series, list the store, regenerate adjusted prices, review spikes.
    Prices(prices::PricesArgs),
    /// Backtest a strategy config over the stored prices (chapter-15 stages and positions).
    Backtest(backtest::BacktestArgs),
    /// Positions: without a subcommand, the strategies', the system's (per contract) and the
    /// broker's side by side with any breaks and the instrument locks (exit 1 when the broker
    /// cannot be asked); `optimal` / `history`: the optimal positions run_systems stored.
    Positions(positions::PositionsArgs),
    /// The order stacks (instrument, contract, broker): list them or the archive, manual trades,
    /// balance trades (record a trade done outside the system), cancel, lock and unlock
    /// instruments, clear a stack, position breaks; a menu without a subcommand.
    Orders(orders::OrdersArgs),
    /// The broker: check the connection, client ids, and a fake IB Gateway to try the IB path.
    Broker(broker::BrokerArgs),
    /// Rolls: show an instrument's roll report, change its roll state, roll its prices.
    Roll(roll::RollArgs),
    /// Reports (status, P&L, trades, risk, costs, rolls, account curve and more; `report list`
    /// names them all): one to the terminal or a file (text, json, html, csv), or `all --dir DIR`.
    Report(report::ReportArgs),
    /// Alerts (a node failed, a run crashed, the broker down, ...): list the unacknowledged ones
    /// (--all: every one) with what happened to their e-mail, or `ack ID`.
    Alerts(alerts::AlertsArgs),
    /// E-mail: `test` sends a test message to the configured recipients.
    Email(alerts::EmailArgs),
    /// Capital: history, initialise, update from the broker, confirm large changes, deposits and
    /// withdrawals, strategy allocation (a menu without a subcommand).
    Capital(capital::CapitalArgs),
    /// Overrides (close, none, no-trading, reduce-only, or a multiplier) of strategies and
    /// instruments: list, set, delete; a menu without a subcommand.
    Overrides(controls::OverridesArgs),
    /// Position limits (contracts) of instruments and strategies' instruments: list, set, delete;
    /// a menu without a subcommand.
    Limits(controls::LimitsArgs),
    /// Trading controls applied when orders are sent: trade limits (contracts per period) of
    /// instruments and strategies' instruments, and their auto-populated values.
    Controls(controls::ControlsArgs),
    /// Internal: runs an external command and kills its process group if the runner dies.
    #[command(name = "__guard", hide = true)]
    Guard {
        /// The runner's pid: when it is gone, the command's process group is killed.
        #[arg(long)]
        parent: Option<i32>,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<String>,
    },
}

#[derive(Args, Debug, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Workflow name or path to a .toml file. Omit with --all.
    pub workflow: Option<String>,
    /// Validate every known workflow and the task catalogue.
    #[arg(long, conflicts_with = "workflow")]
    pub all: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Workflow name or path to a .toml file.
    pub workflow: String,
    /// Run even if the control state is STOP or NO-RUN.
    #[arg(long)]
    pub force: bool,
    /// Started by the scheduler (internal; records the trigger and honours the window's stop time).
    #[arg(long, hide = true)]
    pub scheduled: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TriggerArgs {
    /// Workflow name or path.
    pub workflow: String,
    /// The node to run.
    pub node: String,
    /// Also run every node it depends on.
    #[arg(long, conflicts_with = "with_downstream")]
    pub with_upstream: bool,
    /// Also run every node that depends on it.
    #[arg(long)]
    pub with_downstream: bool,
    /// Run even if the control state is STOP or NO-RUN.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RerunArgs {
    /// The run to re-run.
    #[arg(required_unless_present = "last", conflicts_with = "last")]
    pub run_id: Option<i64>,
    /// The most recent run (of --workflow, if given).
    #[arg(long)]
    pub last: bool,
    /// With --last: the most recent run of this workflow.
    #[arg(long, requires = "last")]
    pub workflow: Option<String>,
    /// Run even if the control state is STOP or NO-RUN.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DagArgs {
    /// Workflow name or path.
    pub workflow: String,
    /// How to draw it: ascii (the terminal), dot (Graphviz), mermaid, or json.
    #[arg(long, value_enum, default_value = "ascii")]
    pub format: DagFormatArg,
    /// Colour nodes by their state in this run.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<i64>,
}

/// `--format` of `systrade dag`.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum DagFormatArg {
    Ascii,
    Dot,
    Mermaid,
    Json,
}

impl From<DagFormatArg> for crate::engine::render::DagFormat {
    fn from(f: DagFormatArg) -> Self {
        use crate::engine::render::DagFormat;
        match f {
            DagFormatArg::Ascii => DagFormat::Ascii,
            DagFormatArg::Dot => DagFormat::Dot,
            DagFormatArg::Mermaid => DagFormat::Mermaid,
            DagFormatArg::Json => DagFormat::Json,
        }
    }
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    /// Only this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The run (its id in `systrade runs`).
    pub run_id: i64,
    /// Print the result as JSON on stdout (one document; for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Run id (default: the latest run).
    #[arg(long)]
    pub run: Option<i64>,
    /// Only this node.
    #[arg(long)]
    pub node: Option<String>,
    /// Minimum level: error, warn, info, debug, trace.
    #[arg(long, value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub level: Option<String>,
    /// Keep printing new events until the run ends (Ctrl-C to stop).
    #[arg(long, short)]
    pub follow: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// An error carrying its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: exit 2.
    #[error("{0}")]
    Invalid(String),
    /// Refused by control state or lock: exit 3.
    #[error("{0}")]
    Refused(String),
}

/// Exit code for an error, by what is in its chain.
fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<CliError>() {
            return match c {
                CliError::Invalid(_) => 2,
                CliError::Refused(_) => 3,
            };
        }
        if cause
            .downcast_ref::<crate::engine::diagnostic::Diagnostics>()
            .is_some()
        {
            return 2;
        }
        if let Some(crate::engine::executor::EngineError::AlreadyRunning { .. }) =
            cause.downcast_ref()
        {
            return 3;
        }
    }
    1
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if let Command::Guard { parent, argv } = &cli.command {
        return crate::engine::external::guard_main(*parent, argv);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return 0;
            }
            let text = crate::engine::secrets::mask_owned(format!("{err:#}"));
            if text.starts_with("error") {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            exit_code(&err)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let opts = context::GlobalOpts {
        home: cli.home.clone(),
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Init(a) => context::init(&opts, a.json).await,
        Command::Validate(a) => inspect::validate(&opts, a).await,
        Command::Run(a) => run::run(&opts, a).await,
        Command::Trigger(a) => run::trigger(&opts, a).await,
        Command::Rerun(a) => run::rerun(&opts, a).await,
        Command::Dag(a) => inspect::dag(&opts, a).await,
        Command::Runs(a) => inspect::runs(&opts, a).await,
        Command::Show(a) => inspect::show(&opts, a).await,
        Command::Status(a) => inspect::status(&opts, a.json).await,
        Command::Control(a) => control::control(&opts, a).await,
        Command::Logs(a) => inspect::logs(&opts, a).await,
        Command::Scheduler(a) => scheduler::scheduler(&opts, a).await,
        Command::Startup(a) => control::startup(&opts, a.json).await,
        Command::Config(a) => settings::config(&opts, a).await,
        Command::Clean(a) => clean::clean_command(&opts, a).await,
        Command::Tasks(a) => inspect::tasks(&opts, a.json).await,
        Command::Demo(a) => demo::demo(&opts, a.json).await,
        Command::Doctor(a) => doctor::doctor(&opts, a).await,
        Command::Bench(a) => bench::bench(&opts, a).await,
        Command::Import(a) => import::import(&opts, a).await,
        Command::Export(a) => export::export(&opts, a).await,
        Command::Backup(a) => backup::backup(&opts, a).await,
        Command::Restore(a) => backup::restore(&opts, a).await,
        Command::Prices(a) => prices::prices(&opts, a).await,
        Command::Roll(a) => roll::roll(&opts, a).await,
        Command::Capital(a) => capital::capital(&opts, a).await,
        Command::Overrides(a) => controls::overrides(&opts, a).await,
        Command::Limits(a) => controls::limits(&opts, a).await,
        Command::Controls(a) => controls::controls(&opts, a).await,
        Command::Backtest(a) => backtest::backtest(&opts, a).await,
        Command::Report(a) => report::report(&opts, a).await,
        Command::Alerts(a) => alerts::alerts(&opts, a).await,
        Command::Email(a) => alerts::email(&opts, a).await,
        Command::Positions(a) => positions::positions(&opts, a).await,
        Command::Orders(a) => orders::orders(&opts, a).await,
        Command::Broker(a) => broker::broker(&opts, a).await,
        Command::Guard { .. } => Ok(0),
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every command and every option a user can see has help text (`--json` included).
    #[test]
    fn every_visible_command_and_option_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.is_hide_set() || sub.get_name() == "help" {
                    continue;
                }
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{here} (the command)"));
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "systrade", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }
}
