//! What most commands need: the resolved home, its config, the run store, the clock, logging.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use super::terminal::{Progress, TerminalLayer};
use super::CliError;
use crate::adapters::store::sqlite::{Durability as SqliteDurability, SqliteRunStore};
use crate::app::{App, WorkflowSource};
use crate::config::{Config, Durability};
use crate::engine::clock::{clock_from_env, Clock};
use crate::engine::executor::{Executor, RunObserver};
use crate::engine::logsink::{LogBuffer, StoreLogLayer};
use crate::engine::plan::Plan;
use crate::engine::process::ProcessIdentity;
use crate::engine::task::EngineEnv;
use crate::home::Home;

#[derive(Debug, Clone)]
pub struct GlobalOpts {
    pub home: Option<PathBuf>,
    pub verbose: bool,
    pub quiet: bool,
}

/// An opened home.
pub struct Ctx {
    pub home: Home,
    pub config: Config,
    pub store: Arc<SqliteRunStore>,
    pub clock: Arc<dyn Clock>,
    pub identity: ProcessIdentity,
    pub logs: LogBuffer,
    pub opts: GlobalOpts,
    /// The IB contract mapping, loaded (and checked) at start when `broker.kind = "ib"`.
    pub ib_contracts: Option<Arc<crate::adapters::ib::contracts::IbContractMap>>,
}

/// The home as the user named it, without creating anything.
pub fn resolve_home(opts: &GlobalOpts) -> anyhow::Result<Home> {
    Home::resolve(
        opts.home.as_deref(),
        std::env::var("SYSTRADE_HOME").ok().as_deref(),
    )
    .map_err(|e| CliError::Invalid(e).into())
}

/// Loads the config and registers its secret values, so nothing this process writes shows them.
pub fn load_config(home: &Home) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config = Config::load(&home.config_path(), &env)?;
    crate::engine::secrets::register(
        config
            .entries
            .iter()
            .filter(|(key, _)| crate::config::is_secret(key))
            .filter_map(|(_, (value, _))| value.as_str().map(str::to_string)),
    );
    // The e-mail password may come from `email.password_file`: its content is the secret.
    crate::engine::secrets::register(config.email.iter().filter_map(|e| e.password.clone()));
    Ok(config)
}

pub fn clock() -> anyhow::Result<Arc<dyn Clock>> {
    let v = std::env::var("SYSTRADE_NOW").ok();
    clock_from_env(v.as_deref())
        .map(Arc::from)
        .map_err(|e| CliError::Invalid(e).into())
}

/// Installs the terminal and run-store log layers (once per process).
pub fn init_logging(opts: &GlobalOpts, config_level: &str, logs: &LogBuffer) {
    let level = if opts.verbose {
        Level::DEBUG
    } else if opts.quiet {
        Level::WARN
    } else {
        config_level.parse().unwrap_or(Level::INFO)
    };
    let terminal = TerminalLayer {
        max_level: level,
        colour: std::io::stderr().is_terminal(),
    }
    .with_filter(
        Targets::new()
            .with_target("systrade", level)
            .with_default(Level::ERROR),
    );
    let store = StoreLogLayer::new(logs.clone())
        .with_filter(Targets::new().with_target("systrade", Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(terminal)
        .with(store)
        .with(
            // systrade's spans too (at info, as the run store's layer), so an alert finds its
            // run and node; the layer itself takes only `systrade::alert` events.
            crate::app::AlertLogLayer
                .with_filter(Targets::new().with_target("systrade", Level::INFO)),
        )
        .try_init();
}

/// How a command may treat the run store's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreMode {
    /// Every command: a damaged store is refused; a missing one is created only in a home that
    /// holds no other state (prices, backups).
    Existing,
    /// `systrade init`: a damaged store is moved aside and a new one created.
    Init,
}

/// The home's complete backups (`crate::backup`), newest first, and their destination.
fn backups(home: &Home, config: &Config) -> (PathBuf, Vec<PathBuf>) {
    let (dir, _) = crate::backup::destination(home, config.backup.destination.as_deref());
    let mut found: Vec<PathBuf> = crate::backup::list(&dir, u32::MAX, 0)
        .map(|l| l.backups.into_iter().map(|b| b.path).collect())
        .unwrap_or_default();
    found.reverse();
    (dir, found)
}

/// How to get a working run store back at `db` (`missing`: there is no file at all).
pub(super) fn restore_hint(home: &Home, config: &Config, missing: bool) -> String {
    let (dir, found) = backups(home, config);
    let restore = match found.first() {
        Some(newest) => format!(
            "restore the newest backup into a new home and look at it: `systrade restore {} \
             --home NEW`, then put it in place with `systrade restore {} --replace` (the old \
             home is kept aside)",
            newest.display(),
            newest.display()
        ),
        None => format!("no backup was found in {}", dir.display()),
    };
    let init = if missing {
        "or run `systrade init` to start a new, empty run store beside the existing data"
    } else {
        "or run `systrade init`, which moves the damaged file aside and starts a new, empty run store"
    };
    format!("{restore}; {init} (history, capital, positions and orders then start again)")
}

/// What in the home says a run store was in use there: its backups, or files only runs write
/// (strategy backtest states, reports). Prices alone are not: `import` writes them first.
pub(super) fn home_state(home: &Home, config: &Config) -> Vec<String> {
    let non_empty = |p: &Path| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some());
    let mut state = Vec::new();
    let (dir, found) = backups(home, config);
    if !found.is_empty() {
        state.push(format!("{} backups in {}", found.len(), dir.display()));
    }
    for dir in [home.backtests_dir(), home.reports_dir()] {
        if non_empty(&dir) {
            state.push(format!("files in {}", dir.display()));
        }
    }
    state
}

/// Checks the run store's file before it is opened (see `adapters::store::sqlite_file`); with
/// `StoreMode::Init` a damaged file is renamed `systrade.db.damaged-<time>` (with its -wal and
/// -shm files) and the rename is returned.
async fn check_store(
    home: &Home,
    config: &Config,
    mode: StoreMode,
) -> anyhow::Result<Option<String>> {
    use crate::adapters::store::sqlite_file::{inspect, StoreFile};
    let db = home.db_path();
    match inspect(&db).await {
        Ok(StoreFile::Usable) => Ok(None),
        // Whole, but of a newer systrade: not damage, so `init` does not move it aside either.
        Err(damage) if damage.newer.is_some() => anyhow::bail!(
            "the run store {} {}. Nothing was changed: this home stays as the newer systrade \
             left it",
            damage.path.display(),
            damage.detail
        ),
        Ok(StoreFile::Missing) => {
            let state = home_state(home, config);
            if mode == StoreMode::Existing && !state.is_empty() {
                anyhow::bail!(
                    "the run store {} is missing, but this home holds {}: it was deleted or \
                     moved, and a new empty one would lose its history, capital and positions. \
                     Nothing was changed. To repair: {}",
                    db.display(),
                    state.join(" and "),
                    restore_hint(home, config, true)
                );
            }
            Ok(None)
        }
        Err(damage) if mode == StoreMode::Init => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let aside = db.with_file_name(format!("systrade.db.damaged-{stamp}"));
            std::fs::rename(&db, &aside).with_context(|| {
                format!("cannot move {} aside to {}", db.display(), aside.display())
            })?;
            for ext in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{ext}", db.display()));
                if side.exists() {
                    let to = PathBuf::from(format!("{}{ext}", aside.display()));
                    std::fs::rename(&side, &to)
                        .with_context(|| format!("cannot move {} aside", side.display()))?;
                }
            }
            Ok(Some(format!(
                "{}; moved aside to {}",
                damage,
                aside.display()
            )))
        }
        Err(damage) => anyhow::bail!(
            "the run store is damaged: {damage}. Nothing was changed. To repair: {}",
            restore_hint(home, config, false)
        ),
    }
}

impl Ctx {
    /// Resolves and creates the home, loads config, checks and opens (and migrates) the run
    /// store: a damaged store, or a missing one in a home that was in use, is refused.
    pub async fn open(opts: &GlobalOpts) -> anyhow::Result<Ctx> {
        Ok(Self::open_as(opts, StoreMode::Existing).await?.0)
    }

    async fn open_as(opts: &GlobalOpts, mode: StoreMode) -> anyhow::Result<(Ctx, Option<String>)> {
        let home = resolve_home(opts)?;
        let config = load_config(&home)?;
        let moved = check_store(&home, &config, mode).await?;
        home.ensure()
            .with_context(|| format!("cannot create home directory {}", home.root.display()))?;
        let durability = match config.store.durability {
            Durability::Normal => SqliteDurability::Normal,
            Durability::Full => SqliteDurability::Full,
        };
        let store = SqliteRunStore::open(&home.db_path(), durability)
            .await
            .with_context(|| format!("cannot open the run store {}", home.db_path().display()))?;
        let logs = LogBuffer::default();
        init_logging(opts, &config.logging.level, &logs);
        let ib_contracts = match config.broker.kind {
            crate::config::BrokerKind::Ib => Some(Arc::new(
                crate::adapters::ib::contracts::IbContractMap::load(&home.reference_dir())
                    .context("the IB contract config is not valid")?,
            )),
            crate::config::BrokerKind::Sim => None,
        };
        let ctx = Ctx {
            ib_contracts,
            home,
            config,
            store: Arc::new(store),
            clock: clock()?,
            identity: ProcessIdentity::current(),
            logs,
            opts: opts.clone(),
        };
        Ok((ctx, moved))
    }

    /// The configured broker (`broker.kind`).
    pub fn broker(&self) -> Arc<dyn crate::domain::broker::Broker> {
        match self.config.broker.kind {
            crate::config::BrokerKind::Ib => Arc::new(self.ib_broker(
                self.ib_contracts.clone().unwrap_or_default(),
                &format!(
                    "systrade {}",
                    std::env::args().skip(1).collect::<Vec<_>>().join(" ")
                ),
            )),
            crate::config::BrokerKind::Sim => self.sim_broker(),
        }
    }

    /// The simulated broker, with the configured account value and faults (whatever
    /// `broker.kind` says: `broker fake-ib` serves its account).
    pub fn sim_broker(&self) -> Arc<dyn crate::domain::broker::Broker> {
        use crate::adapters::sim_broker::{SimBroker, SimFaults, StoredQuotes};
        let b = &self.config.broker;
        // Reference data that does not load leaves the broker able to value the account
        // but not to trade; the commands that trade report the reference data's errors.
        let reference = Arc::new(
            crate::adapters::reference_files::load_reference_data(&self.home.reference_dir())
                .unwrap_or_default(),
        );
        let prices: Arc<dyn crate::domain::ports::PriceStore> = Arc::new(
            crate::adapters::parquet::ParquetPriceStore::new(self.home.data_dir()),
        );
        Arc::new(SimBroker::new(
            self.store.pool().clone(),
            Arc::new(StoredQuotes::new(prices, reference.clone())),
            reference,
            self.clock.clone(),
            self.config.broker.sim_account_value,
            self.config.capital.base_currency.clone(),
            SimFaults {
                disconnect_at_call: b.sim_disconnect_at_call,
                reject_orders: b.sim_reject_orders,
                partial_fill: b.sim_partial_fill,
                late_fill_calls: b.sim_late_fill_calls,
                duplicate_executions: b.sim_duplicate_executions,
                stale_prices: b.sim_stale_prices,
            },
        ))
    }

    /// An IB broker with the configured connection settings.
    pub fn ib_broker(
        &self,
        contracts: Arc<crate::adapters::ib::contracts::IbContractMap>,
        purpose: &str,
    ) -> crate::adapters::ib::broker::IbBroker {
        use std::time::Duration;
        let ib = &self.config.broker.ib;
        crate::adapters::ib::broker::IbBroker::new(
            crate::adapters::ib::broker::IbSettings {
                host: ib.host.clone(),
                port: ib.port,
                account: ib.account.clone(),
                client_id_first: ib.client_id_first,
                client_id_last: ib.client_id_last,
                call_timeout: Duration::from_secs_f64(ib.call_timeout_seconds),
                connect_timeout: Duration::from_secs_f64(ib.connect_timeout_seconds),
                disconnect_alert: Duration::from_secs_f64(ib.disconnect_alert_seconds),
                messages_per_second: 45,
                purpose: purpose.to_string(),
            },
            contracts,
            self.store.clone(),
        )
    }

    pub fn app(&self) -> Arc<App> {
        Arc::new(App {
            home: self.home.clone(),
            config: self.config.clone(),
            clock: self.clock.clone(),
            metadata: self.store.clone(),
            capital: self.store.clone(),
            optimal: self.store.clone(),
            controls: self.store.clone(),
            orders: self.store.clone(),
            broker: self.broker(),
            runs: self.store.clone(),
            alerts: self.store.clone(),
            mailer: self.mailer(),
        })
    }

    /// The configured mailer (`[email]`), `None` when e-mail is off.
    pub fn mailer(&self) -> Option<Arc<dyn crate::domain::alerts::Mailer>> {
        crate::app::mailer(&self.config)
    }

    pub fn env(&self) -> Arc<EngineEnv> {
        Arc::new(EngineEnv {
            home: self.home.root.clone(),
            store: self.store.clone(),
            guard_exe: std::env::current_exe().ok(),
            host: self.identity.host.clone(),
        })
    }

    pub fn executor(
        &self,
        observer: Arc<dyn RunObserver>,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> Executor<App> {
        Executor {
            env: self.env(),
            app: self.app(),
            clock: self.clock.clone(),
            identity: self.identity.clone(),
            logs: Some(self.logs.clone()),
            observer,
            cancel,
        }
    }

    pub fn progress(&self, json: bool) -> Arc<dyn RunObserver> {
        Arc::new(Progress::new(!json && !self.opts.quiet))
    }

    pub fn resolve(&self, arg: &str) -> anyhow::Result<WorkflowSource> {
        Ok(crate::app::resolve_workflow(&self.home, arg)?)
    }

    pub fn plan(&self, source: &WorkflowSource) -> anyhow::Result<Plan<App>> {
        Ok(crate::app::plan_workflow(&self.home, source)?)
    }
}

/// A channel that turns true on the first Ctrl-C or SIGTERM; a second one exits at once.
pub fn cancel_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        let mut first = true;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if first {
                first = false;
                eprintln!("cancelling: stopping running nodes and recording the run (press Ctrl-C again to exit at once)");
                let _ = tx.send(true);
            } else {
                std::process::exit(130);
            }
        }
    });
    rx
}

const CONFIG_TEMPLATE: &str = "# systrade configuration for this home. Every key is optional; the shipped defaults\n\
# and their meaning are shown by `systrade config show`. Unknown keys are errors.\n\
#\n# [logging]\n# level = \"info\"\n# retention_days = 30\n#\n# [store]\n# durability = \"normal\"\n#\n\
# [scheduler]\n# poll_interval = \"1s\"\n# missed_window_alert_minutes = 15\n#\n# [backup]\n# keep_daily = 7\n# keep_weekly = 4\n# destination = \"\"\n";

/// `systrade init`.
pub async fn init(opts: &GlobalOpts, json: bool) -> anyhow::Result<i32> {
    let (ctx, moved) = Ctx::open_as(opts, StoreMode::Init).await?;
    if let Some(m) = &moved {
        tracing::warn!("the run store was damaged: {m}; a new, empty one was created");
    }
    let mut created = Vec::new();
    for dir in [
        ctx.home.workflows_dir(),
        ctx.home.tasks_dir(),
        ctx.home.logs_dir(),
    ] {
        if !dir.exists() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            created.push(dir.display().to_string());
        }
    }
    let cfg = ctx.home.config_path();
    if !cfg.exists() {
        std::fs::write(&cfg, CONFIG_TEMPLATE)
            .with_context(|| format!("cannot write {}", cfg.display()))?;
        created.push(cfg.display().to_string());
    }
    if json {
        super::output::print_json(
            &serde_json::json!({ "home": ctx.home.root, "database": ctx.home.db_path(), "created": created, "damaged_store_moved": moved }),
        )?;
    } else {
        outln!("home: {}", ctx.home.root.display());
        outln!("run store: {}", ctx.home.db_path().display());
        for c in &created {
            outln!("created {c}");
        }
        outln!("next: `systrade status`, `systrade run daily`, or `systrade demo`");
    }
    Ok(0)
}
